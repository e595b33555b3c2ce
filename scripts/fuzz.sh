#!/usr/bin/env bash
# fuzz.sh [SECONDS] [CAPTURE...] — mutation-fuzzes the frame decoder and every
# application-protocol parser (crates/fuzz) for SECONDS (default 300), seeded with the
# payloads of the given captures (default: every capture in the corpus). Runs on the
# stable toolchain; a panic leaves the input in wirehouse-fuzz-crash.bin and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}
shift || true
CORPUS=${WIREHOUSE_CORPUS:-../shared/corpus}
cargo build --release -q -p wirehouse-fuzz
if (($# == 0)); then
  mapfile -t caps < <(find "$CORPUS" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.trace' \) | sort)
  set -- "${caps[@]}"
fi
exec ./target/release/wirehouse-fuzz "$SECS" "$@"
