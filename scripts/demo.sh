#!/usr/bin/env bash
# demo.sh [CAPTURE] [OUTDIR] — the main job on a sample capture: installs what it needs,
# builds wirehouse (release), converts the capture (default: the sample shipped in
# testdata/) to Parquet, then shows where the files are and a few rows.
set -euo pipefail
cd "$(dirname "$0")/.."
CAPTURE=${1:-testdata/http-dns-icmp.pcap}
OUT=${2:-wirehouse-out}
VENV=${WIREHOUSE_VENV:-$HOME/.cache/wirehouse-venv}
bash scripts/setup.sh demo
cargo build --release --quiet -p wirehouse
rm -rf "$OUT"
./target/release/wirehouse convert "$CAPTURE" -o "parquet:$OUT" --stats-json "$OUT.stats.json"
echo
echo "Parquet files:"
find "$OUT" -name '*.parquet' | sort | sed 's/^/  /'
echo "Run summary: $OUT.stats.json"
echo
"$VENV/bin/python" - "$OUT" <<'PY'
import sys, duckdb
d = sys.argv[1]
flows = f"read_parquet('{d}/flows/**/*.parquet')"
# An IPv6 address in brackets before its port, as in a URL: [fd77::1]:80, not fd77::1:80.
def endpoint(side):
    ip = f"{side}_ip"
    return f"if(contains({ip}, ':'), '[' || {ip} || ']', {ip}) || ':' || {side}_port"
print("Flows (first 10 by start time):")
print(duckdb.sql(f"""SELECT strftime(start_time, '%H:%M:%S.%g') AS start, ip_proto AS proto,
    {endpoint('client')} AS client, {endpoint('server')} AS server,
    client_packets AS c_pkts, server_packets AS s_pkts, client_bytes AS c_bytes,
    server_bytes AS s_bytes, handshake_rtt_us AS rtt_us, close_reason
  FROM {flows} ORDER BY start_time LIMIT 10"""))
print("Top talkers by bytes:")
print(duckdb.sql(f"""SELECT server_ip, server_port, ip_proto, count(*) AS flows,
    sum(client_bytes + server_bytes) AS bytes FROM {flows}
  GROUP BY ALL ORDER BY bytes DESC LIMIT 5"""))
sessions = f"read_parquet('{d}/l7_sessions/**/*.parquet')"
print("Application sessions (l7_sessions):")
print(duckdb.sql(f"""SELECT l7_protocol AS proto, request_type AS type, request_domain AS domain,
    request_resource AS resource, response_status AS status, response_code AS code,
    response_time_us AS rt_us FROM {sessions} ORDER BY time LIMIT 12"""))
PY
