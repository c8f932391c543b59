#!/usr/bin/env bash
# Build rdkafka_performance from the example source Debian's librdkafka-dev ships, with
# the two-header shim beside this script. Output: $1 (default build/rdkafka_performance).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/rdkafka_performance}
src=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/examples"
cp "$here/rd.h" "$here/rdtime.h" "$tmp/src/"
cp "$src" "$tmp/examples/"
gcc -O2 -w -D_GNU_SOURCE -I"$tmp/src" -I/usr/include/librdkafka "$tmp/examples/rdkafka_performance.c" \
    -o "$out" -lrdkafka -lm -lpthread
echo "$out"
