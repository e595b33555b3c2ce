#!/usr/bin/env bash
# make-fixtures.sh — record the small captures in testdata/ from real Debian software.
#
# Two network namespaces (whsrv, whcli) joined by a veth pair (10.77.0.1/24 fd77::1 on
# the server, 10.77.0.2/24 fd77::2 on the client). In whsrv run nginx (HTTP on :80,
# IPv4 and IPv6) and dnsmasq (authoritative answers for example.test, UDP and TCP :53);
# from whcli run curl (keep-alive, 404, IPv6, a 200 kB body), dig (A, AAAA, NXDOMAIN,
# TCP, MX) and ping (normal, and 3000-byte IPv4/IPv6 pings that are fragmented). tcpdump
# records on the server's veth with offloads off, so frames are <= 1514 bytes with real
# checksums. Everything stays inside the two namespaces; all are deleted on exit.
#
# Usage: sudo scripts/make-fixtures.sh [OUT.pcap]   (default testdata/http-dns-icmp.pcap)
# Needs: iproute2 nginx-light dnsmasq-base tcpdump curl bind9-dnsutils iputils-ping ethtool
set -euo pipefail
OUT=$(realpath -m "${1:-$(dirname "$0")/../testdata/http-dns-icmp.pcap}")
W=$(mktemp -d /tmp/wh-fixtures.XXXXXX)
chmod 755 "$W"
SRV=whsrv CLI=whcli
. "$(dirname "$0")/lib/netns-pair.sh"
for t in ip nginx dnsmasq tcpdump curl dig ping ethtool; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install iproute2 nginx-light dnsmasq-base tcpdump curl bind9-dnsutils iputils-ping ethtool)" >&2; exit 2; }
done
netns_pair $SRV $CLI whs0 whc0 10.77.0.1 10.77.0.2 fd77::1 fd77::2

# nginx: static files, one large enough to need many segments.
mkdir -p "$W/www/api/users/42"
echo '<html><body>wirehouse fixture</body></html>' > "$W/www/index.html"
echo '{"id":42,"name":"ada"}' > "$W/www/api/users/42/index.json"
head -c 200000 /dev/urandom | base64 > "$W/www/big.txt"
cat > "$W/nginx.conf" <<NGX
daemon off;
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx-error.log;
events { worker_connections 64; }
http {
  access_log $W/nginx-access.log;
  keepalive_timeout 30;
  server {
    listen 10.77.0.1:80;
    listen [fd77::1]:80;
    root $W/www;
    index index.html index.json;
  }
}
NGX
ip netns exec $SRV nginx -c "$W/nginx.conf" &
PIDS+=($!)
ip netns exec $SRV dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
  --listen-address=10.77.0.1 --port=53 --pid-file="$W/dnsmasq.pid" \
  --host-record=www.example.test,10.77.0.1,fd77::1 \
  --mx-host=example.test,mail.example.test,10 \
  --address=/mail.example.test/10.77.0.1 \
  --local=/example.test/ >"$W/dnsmasq.log" 2>&1 &
PIDS+=($!)
sleep 1

ip netns exec $SRV tcpdump -i whs0 -s 0 -U -w "$OUT.tmp" 2>"$W/tcpdump.log" &
TCPDUMP=$!
sleep 1

C="ip netns exec $CLI"
$C dig +short @10.77.0.1 www.example.test A
$C dig +short @10.77.0.1 www.example.test AAAA
$C dig @10.77.0.1 nosuch.example.test A | grep -o 'status: [A-Z]*'
$C dig +short @10.77.0.1 example.test MX
$C dig +tcp +short @10.77.0.1 www.example.test A
# One keep-alive connection with three requests (one 404), then separate connections.
$C curl -s -o /dev/null -o /dev/null -o /dev/null -w "%{http_code} " http://10.77.0.1/ http://10.77.0.1/api/users/42/ http://10.77.0.1/missing
$C curl -s -o /dev/null -w '%{http_code} ' -H 'User-Agent: wirehouse-fixture' http://10.77.0.1/big.txt
$C curl -s -o /dev/null -w '%{http_code} ' -I http://10.77.0.1/
$C curl -s -o /dev/null -w '%{http_code}\n' -g 'http://[fd77::1]/'
$C ping -c 2 -i 0.2 -q 10.77.0.1 >/dev/null
$C ping -c 1 -s 3000 -q 10.77.0.1 >/dev/null
$C ping -6 -c 1 -s 3000 -q fd77::1 >/dev/null
sleep 1
kill -INT $TCPDUMP
wait $TCPDUMP 2>/dev/null || true
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
