#!/usr/bin/env bash
# make-registry-capture.sh — record OCI / Docker registry API traffic (distribution spec)
# between skopeo and the Debian docker-registry (distribution 2.8), plain HTTP.
#
# Two network namespaces (whoreg, whocli) joined by a veth pair (10.99.0.1/24 on the
# registry side, 10.99.0.2/24 on the client side). In whoreg run `docker-registry serve`
# on 10.99.0.1:5000 (storage in a temp dir, no auth, deletes enabled) and tcpdump on the
# registry's veth (offloads off: frames <= 1514 bytes, real checksums). From whocli:
#   push an image (one manifest) and a 2-platform image index (linux/amd64,
#   linux/arm64/v8), pull both, list tags, read the catalog, copy the image into a second
#   repository inside the registry (cross-repository blob mount), delete that copy, and
#   ask for a tag that does not exist (404).
# The images are tiny OCI layouts built here with python3 (deterministic: fixed mtimes,
# gzip mtime 0), so the digests in the capture are those of the layout, which is kept.
# Everything stays inside the two namespaces; both are deleted on exit.
#
# Usage: sudo scripts/make-registry-capture.sh [OUT.pcap [LAYOUT_DIR [VARIANT]]]
#   default OUT = testdata/registry-push-pull.pcap, LAYOUT_DIR = testdata/registry-layout,
#   VARIANT = main. VARIANT=heldout builds different images (repository heldout/app,
#   tags 2.3 and multi-2.3, three layers) for a capture the tests never see.
# Needs: iproute2 docker-registry skopeo tcpdump curl ethtool python3
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
OUT=$(realpath -m "${1:-$HERE/../testdata/registry-push-pull.pcap}")
LAYOUT=$(realpath -m "${2:-$HERE/../testdata/registry-layout}")
VARIANT=${3:-main}
W=$(mktemp -d /tmp/wh-registry.XXXXXX)
chmod 755 "$W"
REG=whoreg CLI=whocli
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  ip netns del $REG 2>/dev/null || true
  ip netns del $CLI 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
for t in ip docker-registry skopeo tcpdump curl ethtool python3; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install iproute2 docker-registry skopeo tcpdump curl ethtool python3)" >&2; exit 2; }
done

case $VARIANT in
  main) REPO=wirehouse/demo TAG=1.0 MULTI=multi COPY=wirehouse/scratch NLAYERS=1 ;;
  heldout) REPO=heldout/app TAG=2.3 MULTI=multi-2.3 COPY=heldout/tmp/copy NLAYERS=3 ;;
  *) echo "unknown variant $VARIANT" >&2; exit 2 ;;
esac

# --- the OCI layout: image TAG (one manifest) and MULTI (index of two manifests) ---
rm -rf "$LAYOUT"
python3 - "$LAYOUT" "$TAG" "$MULTI" "$NLAYERS" "$VARIANT" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
root, tag, multi, nlayers, variant = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
def layer(name, text):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        b = text.encode()
        ti = tarfile.TarInfo(name); ti.size = len(b); ti.mtime = 1700000000; ti.mode = 0o644
        ti.uname = ti.gname = "root"
        t.addfile(ti, io.BytesIO(b))
    tar = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="") as g:
        g.write(tar)
    dig, size = put(gz.getvalue())
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dig, "size": size}, "sha256:" + hashlib.sha256(tar).hexdigest()
def image(arch, variant_=None, tagline=""):
    layers, diffs = [], []
    for i in range(nlayers):
        l, d = layer(f"etc/wirehouse-{i}.txt", f"wirehouse {variant} layer {i} {arch}{tagline}\n")
        layers.append(l); diffs.append(d)
    cfg = {"architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
           "config": {"Cmd": ["/bin/true"]},
           "rootfs": {"type": "layers", "diff_ids": diffs}}
    if variant_:
        cfg["variant"] = variant_
    cdig, csize = put(json.dumps(cfg, separators=(",", ":")).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": csize},
           "layers": layers}
    mdig, msize = put(json.dumps(man, indent=2).encode())
    plat = {"architecture": arch, "os": "linux"}
    if variant_:
        plat["variant"] = variant_
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig, "size": msize, "platform": plat}
single = image("amd64", tagline=" single")
amd, arm = image("amd64"), image("arm64", "v8")
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [amd, arm]}
idig, isize = put(json.dumps(idx, indent=2).encode())
top = dict(single); top.pop("platform")
top["annotations"] = {"org.opencontainers.image.ref.name": tag}
topi = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idig, "size": isize,
        "annotations": {"org.opencontainers.image.ref.name": multi}}
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [top, topi]}, f, indent=2)
with open(os.path.join(root, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
PY

# --- namespaces, registry, capture ---
ip netns add $REG
ip netns add $CLI
ip link add who0 type veth peer name who1
ip link set who0 netns $REG
ip link set who1 netns $CLI
for ns in $REG $CLI; do ip -n $ns link set lo up; done
ip -n $REG addr add 10.99.0.1/24 dev who0
ip -n $CLI addr add 10.99.0.2/24 dev who1
ip -n $REG link set who0 up
ip -n $CLI link set who1 up
ip netns exec $REG ethtool -K who0 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
ip netns exec $CLI ethtool -K who1 tso off gso off gro off tx off rx off >/dev/null 2>&1 || true

mkdir -p "$W/storage"
cat > "$W/config.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/storage
  delete:
    enabled: true
http:
  addr: 10.99.0.1:5000
YML
ip netns exec $REG docker-registry serve "$W/config.yml" >"$W/registry.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do
  ip netns exec $CLI curl -s -o /dev/null http://10.99.0.1:5000/v2/ && break
  sleep 0.2
done

ip netns exec $REG tcpdump -i who0 -s 0 -U -w "$OUT.tmp" 'tcp port 5000' 2>"$W/tcpdump.log" &
TCPDUMP=$!
PIDS+=($TCPDUMP)
sleep 1

C="ip netns exec $CLI"
R=10.99.0.1:5000
SK="skopeo --insecure-policy"
$C $SK copy -q --dest-tls-verify=false "oci:$LAYOUT:$TAG" "docker://$R/$REPO:$TAG"
$C $SK copy -q --all --dest-tls-verify=false "oci:$LAYOUT:$MULTI" "docker://$R/$REPO:$MULTI"
$C $SK copy -q --src-tls-verify=false "docker://$R/$REPO:$TAG" "oci:$W/pulled:$TAG"
$C $SK copy -q --all --src-tls-verify=false "docker://$R/$REPO:$MULTI" "oci:$W/pulled:$MULTI"
$C $SK list-tags --tls-verify=false "docker://$R/$REPO"
$C curl -s "http://$R/v2/_catalog"; echo
# Same registry, another repository: blobs are mounted (POST ...?mount=&from=).
$C $SK copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$R/$REPO:$TAG" "docker://$R/$COPY:tmp"
$C $SK delete --tls-verify=false "docker://$R/$COPY:tmp"
$C $SK inspect --raw --tls-verify=false "docker://$R/$REPO:nosuchtag" 2>/dev/null || echo "404 as expected"
sleep 1
kill -INT $TCPDUMP
wait $TCPDUMP 2>/dev/null || true
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes), layout $LAYOUT"
