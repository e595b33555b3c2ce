//! Benchmarks only: see `benches/stages.rs` and `scripts/bench.sh`.
