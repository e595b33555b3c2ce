#!/usr/bin/env bash
# bench-live.sh [-o FILE] [-e ENGINE] [-w WORKERS] CAPTURE [RATE_MBPS...]
#
# Live capture under load: CAPTURE is replayed with `tcpreplay --mbps=R` into a veth
# pair between two network namespaces this script creates, and `wirehouse capture`
# (ENGINE af-packet by default, 2 workers) captures the receiving end into Parquet.
# For each rate R (default: 250 500 750 1000 1500 2000 Mbit/s) it prints the rate
# tcpreplay achieved, packets sent and read, kernel drops (ring full), packets the
# receiving CPU's backlog dropped before any socket saw them (softnet), wirehouse's CPU
# seconds and peak RSS, and the sessions found beside those of an offline conversion of
# the same file. The highest R with zero drops is the sustainable rate. (af-packet reads
# fewer packets than were sent when the capture has IP fragments: the kernel's fanout
# reassembles them, one datagram for its fragments.)
# Frames must fit the veth MTU (make-traffic.sh captures do: 1514 bytes at most).
# Installs tcpreplay if missing. Needs root (namespaces, raw sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
OUTFILE=""; ENGINE=af-packet; WORKERS=2
while [[ ${1:-} == -* ]]; do
  case $1 in
    -o) OUTFILE=$2; shift 2;;
    -e) ENGINE=$2; shift 2;;
    -w) WORKERS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
CAP=$(realpath "${1:?usage: scripts/bench-live.sh [-o FILE] [-e af-packet|pcap] [-w N] CAPTURE [RATE_MBPS...]}")
shift
RATES=("$@"); ((${#RATES[@]})) || RATES=(250 500 750 1000 1500 2000)
command -v tcpreplay >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpreplay >/dev/null; }
cargo build --release --quiet -p wirehouse
BIN=$PWD/target/release/wirehouse
W=$(mktemp -d /tmp/wh-bench-live.XXXXXX)
TX=whbtx$$; RX=whbrx$$
cleanup() { ip netns del $TX 2>/dev/null || true; ip netns del $RX 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
ip netns add $TX; ip netns add $RX
ip link add wbt0 netns $TX type veth peer name wbr0 netns $RX
for ns in $TX $RX; do ip netns exec $ns ip link set lo up; done
ip netns exec $TX ip link set wbt0 up
ip netns exec $RX ip link set wbr0 up
for ns in $TX $RX; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
# The replayed frames are addressed to other machines: the receiver only sees them in
# promiscuous mode, which wirehouse sets; nothing routes or answers them.
cat "$CAP" >/dev/null

# The same capture converted offline: the sessions a lossless live capture must find.
"$BIN" convert -q -w "$WORKERS" "$CAP" -o "parquet:$W/ref" --stats-json "$W/ref.json" 2>/dev/null
REF_SESSIONS=$(python3 -c 'import json,sys; print(sum(json.load(open(sys.argv[1]))["sessions"].values()))' "$W/ref.json")
rm -rf "$W/ref"

softnet_drops() { awk '{s+=strtonum("0x"$2)} END{print s}' /proc/net/softnet_stat; }

rows=()
for R in "${RATES[@]}"; do
  rm -rf "$W/out" "$W/stats.json"
  ip netns exec $RX /usr/bin/time -f '%e %U %S %M' -o "$W/time" \
    "$BIN" -q capture -i wbr0 --engine "$ENGINE" -w "$WORKERS" -o "parquet:$W/out" \
    --stats-json "$W/stats.json" &
  WPID=$!
  sleep 2
  SD0=$(softnet_drops)
  ip netns exec $TX tcpreplay -q --mbps="$R" -i wbt0 "$CAP" >"$W/replay" 2>&1 || true
  sleep 2
  SD1=$(softnet_drops)
  # `time` is the parent; the capture is its child.
  pkill -INT -P $WPID || kill -INT $WPID
  wait $WPID || true
  SENT=$(awk '/Actual:/{print $2; exit}' "$W/replay")
  MBPS=$(awk '/Rated:/{for(i=1;i<=NF;i++) if($i ~ /Mbps/) {print $(i-1); exit}}' "$W/replay")
  read -r ELAPSED USR SYS RSS <"$W/time"
  read -r READ KDROPS SESSIONS < <(python3 -c '
import json,sys
s=json.load(open(sys.argv[1]))
print(s["packets"], sum(c["kernel_drops"] for c in s["capture"]), sum(s["sessions"].values()))' "$W/stats.json")
  CPU=$(echo "$USR + $SYS" | bc)
  rows+=("| $R | ${MBPS:-?} | ${SENT:-?} | $READ | $KDROPS | $((SD1 - SD0)) | $SESSIONS / $REF_SESSIONS | $CPU | $((RSS / 1024)) |")
  echo "${rows[-1]}" >&2
done
{
  echo "Live capture, $(basename "$CAP"), engine $ENGINE, $WORKERS workers ($(nproc) cores, $(date -u +%Y-%m-%d)):"
  echo
  echo "| target Mbit/s | tcpreplay Mbit/s | sent | read | kernel drops | backlog drops | sessions (live / offline) | wirehouse CPU s | peak RSS MiB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee -a "${OUTFILE:-/dev/null}"
