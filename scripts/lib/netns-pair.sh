# netns-pair.sh — sourced by the scripts that record captures in testdata/: two network
# namespaces joined by a veth pair, and their removal on exit.
#
# netns_pair SRV CLI SRV_IF CLI_IF SRV_IPV4 CLI_IPV4 [SRV_IPV6 CLI_IPV6]
#   creates namespaces SRV and CLI, the veth pair SRV_IF (in SRV) / CLI_IF (in CLI) with
#   the addresses given (/24, /64 without DAD), loopback and both ends up, and checksum
#   and segmentation offloads off, so tcpdump sees frames of at most the MTU with real
#   checksums. On exit every PID in PIDS is killed, both namespaces and the work
#   directory W (when set) are removed.
PIDS=()
NETNS_PAIR=()
netns_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for ns in "${NETNS_PAIR[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  [[ -n ${W:-} ]] && rm -rf "$W"
  return 0
}
trap netns_cleanup EXIT

netns_pair() {
  local srv=$1 cli=$2 sif=$3 cif=$4
  NETNS_PAIR=("$srv" "$cli")
  ip netns add "$srv"
  ip netns add "$cli"
  ip link add "$sif" type veth peer name "$cif"
  ip link set "$sif" netns "$srv"
  ip link set "$cif" netns "$cli"
  ip -n "$srv" link set lo up
  ip -n "$cli" link set lo up
  ip -n "$srv" addr add "$5/24" dev "$sif"
  ip -n "$cli" addr add "$6/24" dev "$cif"
  if (($# >= 8)); then
    ip -n "$srv" addr add "$7/64" dev "$sif" nodad
    ip -n "$cli" addr add "$8/64" dev "$cif" nodad
  fi
  ip -n "$srv" link set "$sif" up
  ip -n "$cli" link set "$cif" up
  ip netns exec "$srv" ethtool -K "$sif" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
  ip netns exec "$cli" ethtool -K "$cif" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}
