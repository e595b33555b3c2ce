#!/usr/bin/env bash
# bench.sh CAPTURE — wirehouse against its peers on the same capture, in the same run.
#
# Builds wirehouse (release), then runs on CAPTURE, cached in memory (see BENCH_CACHE
# below): `wirehouse convert` with 1 and 2 workers (and -w 1 pinned to one core, see
# below); `suricata -r` (runmode single, no rules, eve logging of flow/http/dns/tls);
# `tshark -T fields` with a few L7 fields; `ndpiReader -i`; and `cat CAPTURE > /dev/null`.
# For each: wall seconds, CPU seconds, peak RSS, packets/s, Gbit/s, and packets per
# CPU-second relative to wirehouse -w 1.
# On a machine of two or more cores it also runs `wirehouse -w 1` pinned to one core
# (taskset): reading, the worker and the sink then share that core, so -w 2 against it is
# what a second core adds to the whole pipeline. (-w 1 unpinned already encodes Parquet on
# the second core; the -w 2 / -w 1 target compares against that.)
# It also runs `wirehouse -w 1` and `-w 2` with `-o null` (everything parsed, the rows
# counted and dropped): the pipeline's own scaling, without the Parquet encoder.
# Every tool but tshark runs REPEAT times (default 3), taking turns; the table shows the
# medians. Prints a Markdown table and, below it, the performance targets (packets per
# CPU-second, the multiple of Suricata, -w 2 against -w 1, peak RSS) met or missed, and
# where wirehouse's CPU went by thread (from --stats-json), with the best -w 2 / -w 1 ratio
# that work allows on this machine's cores; with -o FILE also appends all of it (with
# machine and date) to FILE.
#
# BENCH_CACHE: how the capture gets into the page cache before the runs. `reread` (the
# default): its cached pages are dropped (fsync, then POSIX_FADV_DONTNEED) and it is read
# once with `cat`, as when an archive is read from disk. `keep`: what is cached stays, and
# `cat` only reads in what is missing. It matters to wirehouse, which maps the file: a
# file read from disk is cached in large folios (seen on ext4 with Linux 6.18), which the
# kernel maps up to 2 MiB per page fault; a file just written (make-traffic.sh, cp) stays
# cached in 4 KiB pages, and mapping and unmapping those page by page cost wirehouse
# about 7 % more CPU at -w 1 on mix.pcap (benches/RESULTS.md, 2026-12-06 third session).
#
# Installs what the build and the peers need (Debian 12: libpcap-dev; suricata from
# bookworm-backports, tshark, libndpi-bin for ndpiReader). A large realistic capture:
# ../shared/tools/make-traffic.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTFILE=""
REPEAT=${REPEAT:-3}
if [[ ${1:-} == -o ]]; then OUTFILE=$2; shift 2; fi
CAP=$(realpath "${1:?usage: scripts/bench.sh [-o benches/RESULTS.md] CAPTURE}")
W=$(mktemp -d /tmp/wh-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo

need=()
# The build links libpcap (`wirehouse capture --engine pcap`, --bpf filters).
[[ -e /usr/include/pcap/pcap.h ]] || need+=(libpcap-dev)
command -v tshark >/dev/null || need+=(tshark)
command -v ndpiReader >/dev/null || need+=(libndpi-bin)
command -v capinfos >/dev/null || need+=(tshark)
if ((${#need[@]})); then $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; fi
if ! command -v suricata >/dev/null; then
  if ! apt-cache policy suricata | grep -q 'Candidate: [0-9]'; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/wirehouse-backports.list >/dev/null
    $SUDO apt-get update -qq
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports suricata >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq suricata >/dev/null
fi
cargo build --release --quiet -p wirehouse
BIN=$PWD/target/release/wirehouse

PKTS=$(capinfos -c -M "$CAP" | awk '/Number of packets/{print $4}')
BYTES=$(stat -c %s "$CAP")
CACHE=${BENCH_CACHE:-reread}
case $CACHE in
  reread) sync "$CAP"; dd if="$CAP" iflag=nocache count=0 status=none ;;
  keep) ;;
  *) echo "BENCH_CACHE must be reread or keep, not $CACHE" >&2; exit 2 ;;
esac
cat "$CAP" > /dev/null   # every tool reads from memory

# Minimal suricata config: no rules, eve.json with flow/http/dns/tls only.
cat > "$W/suricata.yaml" <<YAML
%YAML 1.1
---
default-log-dir: $W/suri
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [flow, http, dns, tls]
logging:
  outputs:
    - console:
        enabled: no
app-layer:
  protocols:
    http: {enabled: yes}
    dns: {tcp: {enabled: yes}, udp: {enabled: yes}}
    tls: {enabled: yes}
YAML
mkdir -p "$W/suri"

# run NAME CMD... : /usr/bin/time -v; appends wall and cpu seconds to the NAME's lists
# and keeps its largest peak RSS. A run that exits non-zero is counted in FAILED and left
# out of the lists: a tool that stops at once must not look fast.
declare -A WALLS CPUS RSS FAILED
RUNS=0
run() {
  local name=$1; shift
  RUNS=$((RUNS + 1))
  local t="$W/time.$RUNS" o="$W/out.$RUNS" rc=0
  rm -rf "$W/wh1" "$W/wh2" "$W/suri"/*
  /usr/bin/time -v -o "$t" "$@" >"$o" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "$name failed (exit $rc), left out of the table's figures:"
    tail -5 "$o" | sed 's/^/    /'
    FAILED[$name]=$((${FAILED[$name]:-0} + 1))
    return 0
  fi
  WALLS[$name]+=" $(awk -F': ' '/Elapsed/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$t")"
  CPUS[$name]+=" $(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$t")"
  local r; r=$(awk -F': ' '/Maximum resident/{print int($2/1024)}' "$t")
  ((r > ${RSS[$name]:-0})) && RSS[$name]=$r
  return 0
}
sorted() { tr ' ' '\n' <<<"$1" | grep . | sort -g; }
median() { sorted "$1" | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# The one-core run needs a second core to compare with, and taskset (util-linux).
ONE_CORE=false
(($(nproc) >= 2)) && command -v taskset >/dev/null && ONE_CORE=true
# The VM's speed drifts from minute to minute: every tool but tshark (a minute a run) runs
# REPEAT times, the tools taking turns, and the table shows the median of each.
for ((round = 1; round <= REPEAT; round++)); do
  run "wirehouse -w 1" "$BIN" convert "$CAP" -w 1 -o "parquet:$W/wh1" --no-progress -q --stats-json "$W/cpu1.$round.json"
  run "wirehouse -w 2" "$BIN" convert "$CAP" -w 2 -o "parquet:$W/wh2" --no-progress -q --stats-json "$W/cpu2.$round.json"
  if $ONE_CORE; then
    run "wirehouse -w 1, one core" taskset -c 0 "$BIN" convert "$CAP" -w 1 -o "parquet:$W/wh1" --no-progress -q
  fi
  run "wirehouse -w 1 -o null" "$BIN" convert "$CAP" -w 1 -o null --no-progress -q
  run "wirehouse -w 2 -o null" "$BIN" convert "$CAP" -w 2 -o null --no-progress -q
  run "suricata --runmode single" suricata -r "$CAP" --runmode single -c "$W/suricata.yaml" -S /dev/null -l "$W/suri" -k none
  ((round == 1)) && run "tshark -T fields" tshark -n -r "$CAP" -T fields -e frame.number -e ip.src -e tcp.stream -e http.request.method -e dns.qry.name -e tls.handshake.extensions_server_name
  run "ndpiReader -i" ndpiReader -i "$CAP" -q
  run "cat > /dev/null" sh -c 'cat "$0" > /dev/null' "$CAP"
done
declare -A WALL CPU SPREAD
for n in "${!CPUS[@]}"; do
  WALL[$n]=$(median "${WALLS[$n]}")
  CPU[$n]=$(median "${CPUS[$n]}")
  SPREAD[$n]=$(sorted "${CPUS[$n]}" | awk 'NR==1{lo=$1} {hi=$1} END{printf "%.2f–%.2f", lo, hi}')
done

# Where wirehouse's CPU went, from --stats-json (thread CPU clocks): the parts of each
# run, then the median of each part over the runs.
cpu_parts() { # FILE... : one line per file: total readers sink other busiest-worker workers-sum
  for f in "$@"; do
    [[ -e $f ]] || continue # the glob matched nothing: every run of that -w failed
    awk '/"cpu_seconds"/{c=1} !c{next} /"total"/{t=$2+0} /"readers"/{r=$2+0} /"sink"/{s=$2+0}
      /"other"/{o=$2+0} /"workers"/{w=1; next} w&&/\]/{w=0} w{x=$1+0; sum+=x; if (x>mx) mx=x}
      END{printf "%s %s %s %s %s %s\n", t, r, s, o, mx+0, sum+0}' "$f"
  done
}
col_median() { median "$(cut -d' ' -f"$1" <<<"$2" | tr '\n' ' ')"; }
C1=$(cpu_parts "$W"/cpu1.*.json); C2=$(cpu_parts "$W"/cpu2.*.json)
cpu1=$(printf "total %.2f = reading, dispatch and the worker %.2f + sink %.2f + other %.2f" \
  "$(col_median 1 "$C1")" "$(col_median 2 "$C1")" "$(col_median 3 "$C1")" "$(col_median 4 "$C1")")
cpu2=$(printf "total %.2f = reading and dispatch %.2f + workers %.2f (busiest %.2f) + sink %.2f + Parquet encode pool and other %.2f" \
  "$(col_median 1 "$C2")" "$(col_median 2 "$C2")" "$(col_median 6 "$C2")" "$(col_median 5 "$C2")" \
  "$(col_median 3 "$C2")" "$(col_median 4 "$C2")")
# The best -w 2 could do on this machine with the work it did: no faster than its busiest
# thread, nor than its total CPU spread over every core without a gap.
bound=$(awk -v w1="${WALL[wirehouse -w 1]:-}" -v t="$(col_median 1 "$C2")" -v r="$(col_median 2 "$C2")" \
  -v mx="$(col_median 5 "$C2")" -v n="$(nproc)" 'BEGIN{
  b = t / n; if (r > b) b = r; if (mx > b) b = mx; printf "%.2f", (b > 0 ? w1 / b : 0)}')

base=$(awk -v p="$PKTS" -v c="${CPU[wirehouse -w 1]:-}" 'BEGIN{print (c > 0 ? p / c : 0)}')
table=$(
  echo "| tool | wall s | CPU s | CPU s, all runs | peak RSS MiB | packets/s (wall) | Gbit/s (wall) | packets per CPU-s | wirehouse -w 1 is × faster per CPU-s |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for n in "wirehouse -w 1" "wirehouse -w 2" "wirehouse -w 1, one core" "wirehouse -w 1 -o null" "wirehouse -w 2 -o null" "suricata --runmode single" "tshark -T fields" "ndpiReader -i" "cat > /dev/null"; do
    f=${FAILED[$n]:-0}
    if [[ -z ${WALL[$n]:-} ]]; then
      ((f > 0)) && echo "| $n: failed in every run | - | - | - | - | - | - | - | - |"
      continue
    fi
    ((f > 0)) && n_shown="$n (failed runs left out: $f)" || n_shown=$n
    awk -v n="$n_shown" -v w="${WALL[$n]}" -v c="${CPU[$n]}" -v sp="${SPREAD[$n]}" -v r="${RSS[$n]}" -v p="$PKTS" -v b="$BYTES" -v base="$base" 'BEGIN{
      # /usr/bin/time counts in hundredths: a run under 0.01 s has no rate to show.
      pw = (w > 0 ? sprintf("%.0f", p/w) : "-"); gw = (w > 0 ? sprintf("%.2f", b*8/w/1e9) : "-");
      pc = (c > 0 ? sprintf("%.0f", p/c) : "-"); x = (c > 0 && base > 0 ? sprintf("%.1f", base/(p/c)) : "-");
      printf "| %s | %.2f | %.2f | %s | %d | %s | %s | %s | %s |\n", n, w, c, sp, r, pw, gw, pc, x}'
  done
)
header="Capture: $(basename "$CAP"), $PKTS packets, $((BYTES / 1000000)) MB. Page cache: $([[ $CACHE == reread ]] && echo "dropped and re-read" || echo "as found"). Median of $REPEAT runs (tshark: 1). Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r). Date: $(date -u +%Y-%m-%d). suricata $(suricata -V 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1), tshark $(tshark -v 2>/dev/null | head -1 | grep -o '[0-9][0-9.]*' | head -1), ndpiReader $(dpkg-query -W -f='${Version}' libndpi-bin 2>/dev/null)."
# The targets of the performance issue, read off the medians above.
targets=$(awk -v p="$PKTS" -v c1="${CPU[wirehouse -w 1]:-}" -v w1="${WALL[wirehouse -w 1]:-}" \
  -v w2="${WALL[wirehouse -w 2]:-}" -v cs="${CPU[suricata --runmode single]:-}" \
  -v r1="${RSS[wirehouse -w 1]:-}" -v r2="${RSS[wirehouse -w 2]:-}" -v bound="$bound" \
  -v w1c="${WALL[wirehouse -w 1, one core]:-0}" \
  -v n1="${WALL[wirehouse -w 1 -o null]:-0}" -v n2="${WALL[wirehouse -w 2 -o null]:-0}" '
  # why NAME FIGURE UNIT: why a figure is missing from the targets. These tools run in
  # every round, so a figure with no value means that every run of the tool failed.
  function why(name, x, unit) { return x == "" ? name " failed in every run" : name " took under 0.01 " unit }
  BEGIN{
  verdict = "met"; miss = "MISSED";
  if (w1 != "" && w1 < 0.5) printf "- the -w 1 run took %.2f s: too short for these figures to mean much (start-up and the timer'"'"'s 0.01 s steps weigh in); use a capture of a few hundred MB\n", w1;
  pc = (c1 > 0 ? p / c1 : 0); sur = (cs > 0 ? p / cs : 0);
  if (pc > 0) printf "- -w 1 packets per CPU-second >= 2.0 M: %.2f M (%s)\n", pc / 1e6, pc >= 2e6 ? verdict : miss;
  else printf "- -w 1 packets per CPU-second >= 2.0 M: not measured (%s)\n", why("-w 1", c1, "CPU-s");
  if (pc > 0 && sur > 0) printf "- >= 6x Suricata per CPU-second: %.1fx (%s)\n", pc / sur, pc >= 6 * sur ? verdict : miss;
  else printf "- >= 6x Suricata per CPU-second: not measured (%s)\n", (pc > 0 ? why("suricata", cs, "CPU-s") : why("-w 1", c1, "CPU-s"));
  if (w1 > 0 && w2 > 0) printf "- -w 2 packets/s (wall) >= 1.8x -w 1: %.2fx (%s); the most this machine allows for the work -w 2 does: %sx\n", w1 / w2, w1 / w2 >= 1.8 ? verdict : miss, bound;
  else printf "- -w 2 packets/s (wall) >= 1.8x -w 1: not measured (%s)\n", (w1 > 0 ? why("-w 2", w2, "s") : why("-w 1", w1, "s"));
  if (w1c > 0 && w2 > 0) printf "- one core to two: -w 2 is %.2fx the packets/s of -w 1 pinned to one core (not a target; -w 1 unpinned encodes Parquet on the second core)\n", w1c / w2;
  if (n1 > 0 && n2 > 0) printf "- the pipeline without the Parquet encoder (-o null): -w 2 is %.2fx -w 1 (not a target; what reading, dispatch and the workers scale to)\n", n1 / n2;
  if (r1 != "" && r2 != "") printf "- peak RSS <= 512 MiB: %d / %d MiB at -w 1 / -w 2 (%s)\n", r1, r2, (r1 <= 512 && r2 <= 512) ? verdict : miss;
  else printf "- peak RSS <= 512 MiB: not measured (%s)\n", (r1 == "" ? why("-w 1", r1, "s") : why("-w 2", r2, "s"));
}')
echo "$header"
echo
echo "$table"
echo
echo "$targets"
cpu="wirehouse CPU seconds by thread (--stats-json, medians): -w 1: $cpu1. -w 2: $cpu2."
echo
echo "$cpu"
if [[ -n $OUTFILE ]]; then
  { echo; echo "## $(date -u +%Y-%m-%d) — $(basename "$CAP")"; echo; echo "$header"; echo; echo "$table"; echo; echo "$targets"; echo; echo "$cpu"; } >> "$OUTFILE"
fi
