#!/usr/bin/env bash
# setup.sh [demo|test] — installs what wirehouse's demo or tests need on a fresh Debian 12
# machine (run as root, or with sudo available): Debian packages through apt-get, and a
# Python virtual environment with the Parquet readers used to show and check the output.
# The Rust toolchain itself (cargo, rustfmt, clippy) is expected on the machine.
# Idempotent: installs only what is missing.
set -euo pipefail
MODE=${1:-test}
VENV=${WIREHOUSE_VENV:-$HOME/.cache/wirehouse-venv}
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v cc >/dev/null || need+=(gcc)
# libpcap: `wirehouse capture --engine pcap` and --bpf filters (the build links it).
[[ -e /usr/include/pcap/pcap.h ]] || need+=(libpcap-dev)
if [[ $MODE == test ]]; then
  command -v tshark >/dev/null || need+=(tshark)
  command -v ip >/dev/null || need+=(iproute2)
  # Live-capture tests: real servers and clients in network namespaces, and tcpdump.
  [[ -x /usr/sbin/nginx ]] || need+=(nginx)
  [[ -x /usr/sbin/unbound ]] || need+=(unbound)
  command -v dig >/dev/null || need+=(bind9-dnsutils)
  command -v curl >/dev/null || need+=(curl)
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v tcpreplay >/dev/null || need+=(tcpreplay)
fi
if ((${#need[@]})); then
  echo "setup: apt-get install ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo is not installed (install Rust with rustup)" >&2; exit 2; }

pkgs=(duckdb)
# pip name, or pip-name=module-name when they differ.
[[ $MODE == test ]] && pkgs+=(pyarrow chdb pyyaml=yaml)
if [[ ! -x $VENV/bin/python ]]; then
  python3 -m venv "$VENV"
fi
missing=()
for p in "${pkgs[@]}"; do
  "$VENV/bin/python" -c "import ${p#*=}" 2>/dev/null || missing+=("${p%%=*}")
done
if ((${#missing[@]})); then
  echo "setup: pip install ${missing[*]} into $VENV" >&2
  "$VENV/bin/pip" install -q "${missing[@]}"
fi
