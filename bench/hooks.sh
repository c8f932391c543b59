#!/usr/bin/env bash
# bench/hooks.sh: what broker-side Lua hooks cost on produce, measured in ONE run: N keyed
# JSON records (distinct keys) produced to a topic without hooks, then the same workload
# to a topic with partitioner.script (partitioners/murmur2.lua) and produce.filter.script
# (filters/require_json_fields.lua, produce.filter.fields=id,region), every record
# passing the filter. Both with the same producer (bench/hooks_produce.c: librdkafka,
# linger.ms=5, batch.size=1000000, murmur2_random partitioner), each on a freshly started
# release broker (log.flush.sync=true, empty data dir). Checks that the hooked topic's
# high watermarks add up to N and that a non-JSON record is refused. Writes a Markdown
# table and the hooked/plain ratio to stdout and to bench/RESULTS-hooks.md (--out).
#
#   bench/hooks.sh [--quick] [--profile] [--count N] [--value-bytes B] [--partitions P]
#                  [--acks all|1] [--server PATH] [--out FILE|-]
#     defaults: 1 M records of 200 bytes, 4 partitions, acks=all; --quick: 200 k records
#     --profile: perf record the broker 10 s into the hooked run, top symbols on stderr
#     --server: use this runnel-server instead of building one (bench/run.sh passes it)
#     --out: where the Markdown goes besides stdout (default bench/RESULTS-hooks.md; - none)
# bench/run.sh runs it as workload 8: workload 1's shape (100-byte values, 6 partitions,
# acks=1) through the hooks.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=1000000
value_bytes=200
partitions=4
acks=all
profile=
server=
out=bench/RESULTS-hooks.md
while [ $# -gt 0 ]; do
    case $1 in
        --quick) count=200000 ;;
        --profile) profile=1 ;;
        --count) count=$2; shift ;;
        --value-bytes) value_bytes=$2; shift ;;
        --partitions) partitions=$2; shift ;;
        --acks) acks=$2; shift ;;
        --server) server=$2; shift ;;
        --out) out=$2; shift ;;
        *) echo "usage: $0 [--quick] [--profile] [--count N] [--value-bytes B] [--partitions P]" \
                "[--acks all|1] [--server PATH] [--out FILE|-]" >&2; exit 2 ;;
    esac
    shift
done

# The release broker from `make -s build`. Should that build fail (at the time of writing,
# gcc 12's -Wformat-truncation, an error under -Werror, stopped plugins/vm.c at -O2), the
# same RelWithDebInfo build with only that warning kept a warning, outside the tree.
if [ -n "$server" ]; then
    build_note="$server"
else
    server=build/runnel-server
    build_note="build/runnel-server from \`make -s build\` (RelWithDebInfo)"
    if ! make -s build >"${TMPDIR:-/tmp}/runnel-hooks-make.log" 2>&1; then
        alt=${TMPDIR:-/tmp}/runnel-hooks-release
        echo "hooks.sh: \`make -s build\` failed (${TMPDIR:-/tmp}/runnel-hooks-make.log); building" \
            "RelWithDebInfo with -Wno-error=format-truncation in $alt" >&2
        grep -m3 'error:' "${TMPDIR:-/tmp}/runnel-hooks-make.log" >&2 || true
        cmake -S . -B "$alt" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DCMAKE_C_FLAGS=-Wno-error=format-truncation >/dev/null
        cmake --build "$alt" -j"$(nproc)" --target runnel-server >/dev/null 2>&1 ||
            { cmake --build "$alt" --target runnel-server; exit 1; }
        server=$alt/runnel-server
        build_note="\`make -s build\` failed, so $server: RelWithDebInfo, -Wno-error=format-truncation"
    fi
fi
make -s -C bench "$PWD/build/bench/hooks_produce" >/dev/null
prod=build/bench/hooks_produce
work=$(mktemp -d /tmp/runnel-bench-hooks-XXXXXX)
perf_pid=
cleanup() {
    [ -n "$perf_pid" ] && kill "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null
    bench_cleanup
    rm -rf "$work"
}
trap cleanup EXIT
port=$(bench_free_port)
broker=127.0.0.1:$port

# "msgs/s MB/s" from hooks_produce's "... N msgs/s and X MB/s" line.
rate() {
    local line; line=$(grep -E "msgs/s" "$1" | tail -1)
    echo "$(grep -oE '[0-9]+ msgs/s' <<<"$line" | cut -d' ' -f1) $(grep -oE '[0-9.]+ MB/s' <<<"$line" | cut -d' ' -f1)"
}

# Sets $result to "label msgs/s MB/s" (not a $(...) subshell: cleanup must see the pids).
run() { # $1 label, $2 topic, rest: topic configs
    local label=$1 topic=$2; shift 2
    rm -rf "$work/data"
    bench_runnel_start "$server" "$port" "$work/data" true
    "$prod" "$broker" create "$topic" "$partitions" "$@"
    if [ -n "$profile" ] && [ -n "$*" ]; then
        (sleep 3; perf record -g -o "$work/perf.data" -p "$RUNNEL_PID" -- sleep 10 >/dev/null 2>&1) &
        perf_pid=$!
    fi
    "$prod" "$broker" produce "$topic" "$count" "$value_bytes" "$acks" >"$work/$topic.out" 2>&1 ||
        { cat "$work/$topic.out" >&2; exit 1; }
    if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; perf_pid=; fi
    local sum; sum=$("$prod" "$broker" watermarks "$topic" 2>"$work/$topic.wm")
    if [ "$sum" != "$count" ]; then
        echo "$label: high watermarks add up to $sum, expected $count:" >&2; cat "$work/$topic.wm" >&2; exit 1
    fi
    if [ -n "$*" ]; then
        # Placement: the broker's murmur2 must leave no partition empty with distinct keys.
        if grep -q 'high watermark 0$' "$work/$topic.wm"; then
            echo "$label: a partition got no records:" >&2; cat "$work/$topic.wm" >&2; exit 1
        fi
        "$prod" "$broker" bad "$topic" >"$work/bad.out" 2>&1 ||
            { echo "$label: a non-JSON record was not refused:" >&2; cat "$work/bad.out" >&2; exit 1; }
        sum=$("$prod" "$broker" watermarks "$topic" 2>/dev/null)
        [ "$sum" = "$count" ] || { echo "$label: the refused record moved the watermarks to $sum" >&2; exit 1; }
        echo "$label: sanity: $(cat "$work/bad.out")" >&2
    fi
    bench_stop "$RUNNEL_PID"
    result="$label $(rate "$work/$topic.out")"
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
n_label="${count}x${value_bytes}B JSON, distinct keys, $partitions partitions, acks=$acks"
run "plain: $n_label" plain
plain=$result
run "hooked (murmur2.lua + require_json_fields.lua): $n_label" hooked \
    partitioner.script=partitioners/murmur2.lua produce.filter.script=filters/require_json_fields.lua \
    produce.filter.fields=id,region
hooked=$result
plain_rate=$(awk '{print $(NF-1)}' <<<"$plain")
hooked_rate=$(awk '{print $(NF-1)}' <<<"$hooked")

if [ -n "$profile" ] && [ -f "$work/perf.data" ]; then
    echo "--- perf: broker, 10 s of the hooked run (self time) ---" >&2
    perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -25 >&2 || true
fi

[ "$out" = - ] && out=/dev/null
{
    echo "| workload | msgs/s | MB/s |"
    echo "|---|---|---|"
    for r in "$plain" "$hooked"; do
        label=${r% * *}; nums=${r##"$label "}
        echo "| $label | ${nums% *} | ${nums#* } |"
    done
    echo
    awk -v h="$hooked_rate" -v p="$plain_rate" 'BEGIN {
        printf "Ratio hooked/plain: %.2f. Through the hooks: %d records/s, i.e. %d Lua calls/s (one filter and one partitioner call per record).\n", h / p, h, 2 * h }'
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; librdkafka $(pkg-config --modversion rdkafka); $(date -u +%F); 1-min load average $load_before before the run, $(cut -d' ' -f1 /proc/loadavg) after."
    echo "Producer: bench/hooks_produce.c (librdkafka), acks=$acks, linger.ms=5, batch.size=1000000, partitioner murmur2_random, no compression; MB = value bytes."
    echo "Broker: $build_note; log.flush.sync=true, restarted on an empty data dir for each row; client and broker on the same machine."
    [ -z "$profile" ] || echo "This run was profiled (perf record on the broker for 10 s of the hooked row): the hooked figure is pessimistic."
} | tee "$out"
