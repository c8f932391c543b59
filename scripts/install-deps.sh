#!/usr/bin/env bash
# Install what runnel needs from Debian 12 (and kafkajs and playwright-core from npm for
# the tests). Fast and silent when everything is already there; needs root only when
# something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config liblua5.4-dev libevent-dev librocksdb-dev
          libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev libcriterion-dev librdkafka-dev
          kcat python3 python3-confluent-kafka python3-kafka python3-pytest python3-prometheus-client clang
          libclang-rt-14-dev lua-cjson libssl-dev openssl chromium libraft-dev libuv1-dev)
# Node: Debian's nodejs/npm only when no node is installed (a Node from elsewhere ships
# its own npm, which Debian's npm package conflicts with).
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "runnel needs these Debian packages: ${missing[*]}" >&2
        echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kafkajs and playwright-core (it drives Debian's chromium in the console's browser
# tests) for the integration tests, from the committed package-lock.json.
js=tests/integration/js
if [ -f "$js/package-lock.json" ] && { [ ! -d "$js/node_modules" ] || [ "$js/package-lock.json" -nt "$js/node_modules" ]; }; then
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && touch node_modules)
fi
