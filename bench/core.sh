#!/usr/bin/env bash
# bench/core.sh: the broker-core figures, measured in ONE run so they can be compared:
# rdkafka_performance producing N 100-byte messages and 2 GB of 1 KiB messages to runnel
# (log.flush.sync true and false) and consuming them back, beside librdkafka's in-memory
# mock cluster (the client-side ceiling, same client and settings). Writes a Markdown
# table to stdout (and bench/RESULTS-core.md).
#
#   bench/core.sh [--quick]      # --quick: 1 M small messages and 256 MB of 1 KiB
set -euo pipefail
cd "$(dirname "$0")/.."
small_count=5000000
large_bytes=$((2 * 1000 * 1000 * 1000))
if [ "${1:-}" = "--quick" ]; then small_count=1000000; large_bytes=$((256 * 1000 * 1000)); fi
large_count=$((large_bytes / 1024))

make -s build >/dev/null
perf=build/rdkafka_performance
bench/rdkafka_performance/build.sh "$perf" >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d /tmp/runnel-bench-XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_server() { # $1 = log.flush.sync
    rm -rf "$work/data"
    build/runnel-server -c conf/runnel.conf --set "listeners=PLAINTEXT://127.0.0.1:$port" \
        --set "data.dir=$work/data" --set http.listener= --set "log.flush.sync=$1" --set log.retention.ms=-1 \
        2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done
    echo "runnel-server did not start:"; cat "$work/server.log"; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" || true; server_pid=; }

# "msgs/s MB/s" from rdkafka_performance's summary line: the producer prints
# "... N msgs/s and X MB/s ...", the consumer "...: N msgs/s (X MB/s)".
rate() {
    local line; line=$(grep -E "msgs/s" "$1" | tail -1)
    echo "$(grep -oE '[0-9]+ msgs/s' <<<"$line" | tail -1 | cut -d' ' -f1) $(grep -oE '[0-9.]+ MB/s' <<<"$line" | tail -1 | cut -d' ' -f1)"
}

produce() { # $1 label, $2 count, $3 size, rest: extra args
    local label=$1 count=$2 size=$3; shift 3
    "$perf" -P -t bench -s "$size" -c "$count" -a -1 -q -X linger.ms=5 -X batch.size=1000000 \
        -X queue.buffering.max.kbytes=1048576 "$@" >"$work/$label.out" 2>&1 || { cat "$work/$label.out"; exit 1; }
    echo "$label $(rate "$work/$label.out")"
}
consume() { # $1 label, $2 count
    "$perf" -C -t bench -p 0 -o beginning -c "$2" -q -b "127.0.0.1:$port" \
        -X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=10485760 >"$work/$1.out" 2>&1 || { cat "$work/$1.out"; exit 1; }
    echo "$1 $(rate "$work/$1.out")"
}

results=()
for sync in true false; do
    start_server $sync
    "$perf" -P -t bench -p 0 -c 1 -s 10 -b "127.0.0.1:$port" -q >/dev/null 2>&1 # create the topic
    results+=("$(produce "runnel(sync=$sync) produce ${small_count}x100B" "$small_count" 100 -p 0 -b "127.0.0.1:$port")")
    results+=("$(consume "runnel(sync=$sync) consume ${small_count}x100B" "$small_count")")
    stop_server
    start_server $sync
    "$perf" -P -t bench -p 0 -c 1 -s 10 -b "127.0.0.1:$port" -q >/dev/null 2>&1
    results+=("$(produce "runnel(sync=$sync) produce ${large_count}x1KiB" "$large_count" 1024 -p 0 -b "127.0.0.1:$port")")
    results+=("$(consume "runnel(sync=$sync) consume ${large_count}x1KiB" "$large_count")")
    stop_server
done
results+=("$(produce "mock-cluster produce ${small_count}x100B" "$small_count" 100 -p 0 -X test.mock.num.brokers=1)")
results+=("$(produce "mock-cluster produce ${large_count}x1KiB" "$large_count" 1024 -p 0 -X test.mock.num.brokers=1)")

{
    echo "| workload | msgs/s | MB/s |"
    echo "|---|---|---|"
    for r in "${results[@]}"; do
        label=${r% * *}; nums=${r##"$label "}
        echo "| $label | ${nums% *} | ${nums#* } |"
    done
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; librdkafka $(pkg-config --modversion rdkafka); $(date -u +%F)."
    echo "Producer: rdkafka_performance -P -a -1 -X linger.ms=5 -X batch.size=1000000, one partition; consumer: -C -p 0 -o beginning."
} | tee bench/RESULTS-core.md
