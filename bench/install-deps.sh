#!/usr/bin/env bash
# bench/install-deps.sh: the Debian 12 packages bench/run.sh needs beyond runnel's own
# (scripts/install-deps.sh, which `make build` runs): the peers (Redis 7 with
# redis-benchmark, NATS server with JetStream), their C client libraries for the
# harnesses, iperf3 for the loopback limit and perf for the profiles. Fast and silent
# when everything is there; needs root only when something is missing.
set -euo pipefail

packages=(redis-server redis-tools nats-server libhiredis-dev libnats-dev iperf3 linux-perf
          librdkafka-dev librocksdb-dev pkg-config build-essential python3)
missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "bench needs these Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts redis-server as a system service on install; the benchmarks start their
# own instances on free ports, so a service this script just installed is stopped again.
if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null &&
    systemctl is-active --quiet redis-server 2>/dev/null; then
    systemctl stop redis-server || true
fi
