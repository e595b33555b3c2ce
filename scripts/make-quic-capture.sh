#!/usr/bin/env bash
# make-quic-capture.sh — record QUIC handshakes between aioquic's client and server.
#
# Two network namespaces (whqsrv, whqcli) joined by a veth pair (10.89.0.1/24 fd89::1 on
# the server, 10.89.0.2/24 fd89::2 on the client); tcpdump on the server's veth (offloads
# off), filter `udp`. Handshakes, each its own client connection (python3 + aioquic from
# PyPI, installed into ~/.cache/wirehouse-quic-venv):
#   1. QUIC v1, SNI quic.example.test, ALPN h3, port 443, IPv4; a little data, then close
#   2. QUIC v2 (RFC 9369), SNI v2.example.test, port 4443, IPv6
#   3. QUIC v1 with a Retry first (address validation), SNI retry.example.test, port 8443
#   4. QUIC v1, ALPN the server does not speak: it closes with CRYPTO_ERROR
#      no_application_protocol, port 443
#   5. QUIC v1 with a ClientHello of about 2,000 bytes (80 ALPN names): two Initial
#      packets carry it, port 443
# Everything stays inside the two namespaces; both are deleted on exit.
#
# Usage: sudo scripts/make-quic-capture.sh [OUT.pcap]   (default testdata/quic-aioquic.pcap)
# Needs: iproute2 openssl tcpdump ethtool python3-venv, and PyPI (aioquic)
set -euo pipefail
OUT=$(realpath -m "${1:-$(dirname "$0")/../testdata/quic-aioquic.pcap}")
VENV=${QUIC_VENV:-$HOME/.cache/wirehouse-quic-venv}
[[ -x $VENV/bin/python ]] || { python3 -m venv "$VENV" && "$VENV/bin/pip" -q install 'aioquic==1.*'; }
W=$(mktemp -d /tmp/wh-quic.XXXXXX)
chmod 755 "$W"
SRV=whqsrv CLI=whqcli
. "$(dirname "$0")/lib/netns-pair.sh"
for t in ip openssl tcpdump ethtool; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install iproute2 openssl tcpdump ethtool)" >&2; exit 2; }
done
netns_pair $SRV $CLI whqs0 whqc0 10.89.0.1 10.89.0.2 fd89::1 fd89::2

cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
  -keyout key.pem -out cert.pem -subj "/C=DE/O=wirehouse test/CN=quic.example.test" 2>/dev/null
cat > quic.py <<'PY'
import asyncio, ssl, sys
from aioquic.asyncio import connect, serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion

class Echo(QuicConnectionProtocol):
    def quic_event_received(self, event):
        if type(event).__name__ == "StreamDataReceived":
            self._quic.send_stream_data(event.stream_id, event.data, end_stream=True)
            self.transmit()

async def server(host, port, retry):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=["h3"],
                            supported_versions=[QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2])
    cfg.load_cert_chain("cert.pem", "key.pem")
    await serve(host, int(port), configuration=cfg, create_protocol=Echo, retry=retry == "retry")
    await asyncio.sleep(3600)

async def client(host, port, sni, version, alpn):
    names = alpn.split(",")
    if names == ["many"]:
        names = ["h3"] + [f"x-wirehouse-test-{i:02d}" for i in range(79)]
    v = {"1": QuicProtocolVersion.VERSION_1, "2": QuicProtocolVersion.VERSION_2}[version]
    cfg = QuicConfiguration(is_client=True, alpn_protocols=names, server_name=sni,
                            verify_mode=ssl.CERT_NONE, original_version=v, supported_versions=[v])
    try:
        async with connect(host, int(port), configuration=cfg, wait_connected=True) as c:
            r, w = await c.create_stream()
            w.write(b"ping")
            w.write_eof()
            await asyncio.wait_for(r.read(), 2)
    except Exception as e:
        print("client:", type(e).__name__, e, file=sys.stderr)

if sys.argv[1] == "server":
    asyncio.run(server(*sys.argv[2:]))
else:
    asyncio.run(asyncio.wait_for(client(*sys.argv[2:]), 5))
PY

ip netns exec $SRV tcpdump -i whqs0 -s 0 -U -w "$W/out.pcap" udp 2>/dev/null &
PIDS+=($!)
ip netns exec $SRV "$VENV/bin/python" quic.py server :: 443 noretry &
PIDS+=($!)
ip netns exec $SRV "$VENV/bin/python" quic.py server :: 4443 noretry &
PIDS+=($!)
ip netns exec $SRV "$VENV/bin/python" quic.py server :: 8443 retry &
PIDS+=($!)
sleep 2
q() { ip netns exec $CLI "$VENV/bin/python" quic.py client "$@" || true; sleep 0.5; }
q 10.89.0.1 443 quic.example.test 1 h3
q fd89::1 4443 v2.example.test 2 h3
q 10.89.0.1 8443 retry.example.test 1 h3
q 10.89.0.1 443 noalpn.example.test 1 smtp
q 10.89.0.1 443 big.example.test 1 many
sleep 1
kill "${PIDS[@]}" 2>/dev/null || true
wait 2>/dev/null || true
PIDS=()
mkdir -p "$(dirname "$OUT")"
cp "$W/out.pcap" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
