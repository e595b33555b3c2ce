#!/usr/bin/env bash
# make-dtls-capture.sh — record DTLS handshakes between OpenSSL's s_server and s_client.
#
# Two network namespaces (whdsrv, whdcli) joined by a veth pair (10.88.0.1/24 fd88::1 on
# the server, 10.88.0.2/24 fd88::2 on the client); tcpdump on the server's veth (offloads
# off), filter `udp`. Each handshake is one `s_server -naccept 1` and one `s_client` whose
# stdin ends a second after its handshake (it then sends close_notify):
#   1. DTLS 1.2, cookie exchange (`-listen`: HelloVerifyRequest), SNI, ALPN, ECDSA cert
#   2. DTLS 1.0 (security level 0), SNI, over IPv6
#   3. DTLS 1.2, RSA 4096 certificate chain with a 576-byte MTU: the certificate comes in
#      fragments spread over several datagrams
#   4. DTLS 1.2, no cipher in common: the server answers with a fatal handshake_failure
# Everything stays inside the two namespaces; both are deleted on exit.
#
# Usage: sudo scripts/make-dtls-capture.sh [OUT.pcap]   (default testdata/dtls-openssl.pcap)
# Needs: iproute2 openssl tcpdump ethtool
set -euo pipefail
OUT=$(realpath -m "${1:-$(dirname "$0")/../testdata/dtls-openssl.pcap}")
W=$(mktemp -d /tmp/wh-dtls.XXXXXX)
chmod 755 "$W"
SRV=whdsrv CLI=whdcli
. "$(dirname "$0")/lib/netns-pair.sh"
for t in ip openssl tcpdump ethtool; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install iproute2 openssl tcpdump ethtool)" >&2; exit 2; }
done
netns_pair $SRV $CLI whds0 whdc0 10.88.0.1 10.88.0.2 fd88::1 fd88::2

# Certificates: ECDSA self-signed; RSA 4096 leaf signed by an RSA 4096 CA.
cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -keyout ec.key -out ec.pem -subj "/C=DE/O=wirehouse test/CN=dtls.example.test" 2>/dev/null
openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -keyout ca.key -out ca.pem \
  -subj "/C=DE/O=wirehouse test/CN=wirehouse test CA" 2>/dev/null
openssl req -newkey rsa:4096 -nodes -keyout big.key -out big.csr \
  -subj "/C=DE/ST=Berlin/O=wirehouse test/OU=fragments/CN=big.example.test" 2>/dev/null
openssl x509 -req -in big.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out big.pem 2>/dev/null
cat big.pem ca.pem > big-chain.pem

ip netns exec $SRV tcpdump -i whds0 -s 0 -U -w "$W/out.pcap" udp 2>/dev/null &
PIDS+=($!)
sleep 1

# handshake ADDR PORT "SERVER ARGS" "CLIENT ARGS". Both quit at the end of their stdin: the
# server's stays open for the whole exchange, the client's for a second after its handshake.
handshake() {
  (sleep 4 | ip netns exec $SRV timeout 5 openssl s_server -naccept 1 -accept "$2" $3 >/dev/null 2>&1) &
  local s=$!
  sleep 0.5
  (sleep 1 | ip netns exec $CLI timeout 5 openssl s_client -connect "$1:$2" $4 >/dev/null 2>&1) || true
  wait $s 2>/dev/null || true
}
handshake 10.88.0.1 4433 "-dtls1_2 -listen -cert ec.pem -key ec.key -alpn coap" \
  "-dtls1_2 -servername dtls.example.test -alpn coap,h2"
handshake '[fd88::1]' 4434 "-dtls1 -cipher DEFAULT@SECLEVEL=0 -cert ec.pem -key ec.key" \
  "-dtls1 -cipher DEFAULT@SECLEVEL=0 -servername v6.example.test"
handshake 10.88.0.1 5684 "-dtls1_2 -mtu 576 -cert big.pem -key big.key -cert_chain big-chain.pem" \
  "-dtls1_2 -mtu 576 -servername big.example.test"
handshake 10.88.0.1 4435 "-dtls1_2 -cert ec.pem -key ec.key -cipher ECDHE-ECDSA-AES128-GCM-SHA256" \
  "-dtls1_2 -cipher AES256-SHA -servername nocipher.example.test"
sleep 0.5
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()
mkdir -p "$(dirname "$OUT")"
cp "$W/out.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
