#!/usr/bin/env bash
# test.sh — installs what the tests need and runs every test: formatting and lints, the
# unit, corpus and end-to-end tests (tshark comparisons included), and a check that the
# Parquet output is read identically by pyarrow, DuckDB and ClickHouse (chDB), and the
# README's demo (scripts/demo.sh).
# The corpus is read from WIREHOUSE_CORPUS (default ../shared/corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WIREHOUSE_VENV:-$HOME/.cache/wirehouse-venv}
bash scripts/setup.sh test
# Prerequisites are installed above, so a test that finds one missing must fail, not skip.
export CI=${CI:-true}

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== l7_sessions vs suricata-verify checks and zeek baselines in the corpus"
"$VENV/bin/python" scripts/check-l7-corpus.py ./target/debug/wirehouse "${WIREHOUSE_CORPUS:-../shared/corpus}"
echo "== a short fuzz run of the decoders and parsers (scripts/fuzz.sh runs longer)"
mapfile -t caps < <(find "${WIREHOUSE_CORPUS:-../shared/corpus}" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
cargo run -q -p wirehouse-fuzz -- 20 "${caps[@]}"
echo "== Parquet readers (pyarrow, DuckDB, chDB) on a conversion of the sample capture"
OUT=$(mktemp -d /tmp/wirehouse-readers.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
./target/debug/wirehouse convert testdata/http-dns-icmp.pcap -o "parquet:$OUT" --no-progress -q
"$VENV/bin/python" scripts/check-readers.py "$OUT"
echo "== the README's demo (scripts/demo.sh: release build, the shipped sample to Parquet, its rows)"
bash scripts/demo.sh testdata/http-dns-icmp.pcap "$OUT/demo" >"$OUT/demo.txt" 2>&1 || { cat "$OUT/demo.txt"; exit 1; }
for want in "rows written: flows" "Application sessions" "│ http " "│ dns "; do
  grep -q "$want" "$OUT/demo.txt" || { cat "$OUT/demo.txt"; echo "demo: no '$want' in its output" >&2; exit 1; }
done
echo "demo: ok ($(grep -o 'rows written: .*' "$OUT/demo.txt"))"
