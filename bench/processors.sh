#!/usr/bin/env bash
# bench/processors.sh: stream processor throughput beside the broker's raw produce
# throughput, measured in ONE run. For each log.flush.sync setting (true, the default,
# then false), on a freshly started release broker (empty data dir): N keyed JSON records
# ({"id":i,"region":"eu|us|ap","pad":...}, distinct keys, bench/hooks_produce.c:
# librdkafka, acks=all, linger.ms=5) are produced to a topic of P partitions and the
# produce rate measured; then, over that already-written input and one after the other,
#   map     a stateless map: processors/bench_map.lua (written into a temporary copy of
#           lua/ used as plugins.dir) emits every record unchanged to another topic
#   window  a stateful windowed count: processors/windowed_aggregate.lua, 1 s tumbling
#           event-time windows counted per JSON field "region"
# are created and timed from the create request to the first status that shows every
# record taken and no lag (GET /v1/processors/NAME, polled every 20 ms), and deleted.
# Then both again with processors.step.records at each of --steps (--quick: only with
# log.flush.sync=true), each on the broker restarted with that value on the same data
# (after a restart the input comes from RocksDB, not the in-memory tail, so these rows
# compare among themselves). Checks that each processor took N records with no dead
# letter and that every map wrote N records. Prints a Markdown table (records, seconds,
# records/s, ratio to the raw produce rate of the same broker setting, steps, the
# broker's CPU seconds and records per CPU second) to stdout and to
# bench/RESULTS-processors.md (--out).
#
#   bench/processors.sh [--quick] [--count N] [--partitions P] [--steps "A B C"]
#                       [--server PATH] [--out FILE|-]
#     defaults: 1 M records of 100 bytes, 4 partitions, --steps "200 2000 20000";
#     --quick: 200 k records, step.records rows with log.flush.sync=true only (under a
#     minute on 2 idle cores; the full run takes about 3 minutes)
#     --server: use this runnel-server instead of building one
#     --out: where the Markdown goes besides stdout (default bench/RESULTS-processors.md)
# bench/run.sh includes the Markdown in bench/RESULTS.md (workload 8).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=1000000
value_bytes=100
partitions=4
steps="200 2000 20000"
sweep_syncs="true false" # the log.flush.sync settings that get the step.records rows
server=
out=bench/RESULTS-processors.md
while [ $# -gt 0 ]; do
    case $1 in
        --quick) count=200000; sweep_syncs=true ;;
        --count) count=$2; shift ;;
        --partitions) partitions=$2; shift ;;
        --steps) steps=$2; shift ;;
        --server) server=$2; shift ;;
        --out) out=$2; shift ;;
        *) echo "usage: $0 [--quick] [--count N] [--partitions P] [--steps \"A B C\"]" \
                "[--server PATH] [--out FILE|-]" >&2; exit 2 ;;
    esac
    shift
done

if [ -n "$server" ]; then
    build_note="$server"
else
    server=build/runnel-server
    build_note="build/runnel-server from \`make -s build\` (RelWithDebInfo)"
    log=${TMPDIR:-/tmp}/runnel-processors-make.log
    if ! make -s build >"$log" 2>&1; then
        # Someone else's half-done change can break the tree's build: measure the broker
        # built last, and say so.
        echo "processors.sh: \`make -s build\` failed ($log):" >&2
        grep -m3 'error' "$log" >&2 || tail -5 "$log" >&2
        [ -x "$server" ] || exit 1
        build_note="\`make -s build\` FAILED, so the $server built before it ($(date -u -r "$server" '+%F %H:%M') UTC)"
    fi
fi
make -s -C bench "$PWD/build/bench/hooks_produce" >/dev/null
work=$(mktemp -d /tmp/runnel-bench-processors-XXXXXX)
# Our own copies: a rebuild by someone else mid-run cannot change what is measured.
cp "$server" "$work/runnel-server"
cp build/bench/hooks_produce "$work/hooks_produce"
server=$work/runnel-server
prod=$work/hooks_produce
cleanup() {
    bench_cleanup
    rm -rf "$work"
}
trap cleanup EXIT

# plugins.dir: the shipped scripts plus the map.
cp -r lua "$work/lua"
cat >"$work/lua/processors/bench_map.lua" <<'EOF'
-- processors/bench_map.lua: a stateless map for bench/processors.sh: every record goes
-- to the first output unchanged (key, value, headers), placed by its key.
function process(record, ctx)
    ctx:emit(ctx.outputs[1], record.key, record.value, record.headers)
end
EOF

# Creates a processor from form fields, waits until it has taken $want records and has
# no lag, prints "seconds records_in records_out dead_letters steps cpu_seconds" (cpu:
# the broker's user+system time over the same interval), and deletes the processor (its
# topics stay), so that it does not run again after a restart.
cat >"$work/catchup.py" <<'EOF'
import json, os, sys, time, urllib.parse, urllib.request
base, pid, want, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
form = dict(kv.split("=", 1) for kv in sys.argv[5:])
form["name"] = name
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
def status():
    with urllib.request.urlopen(base + "/v1/processors/" + name, timeout=30) as r:
        return json.load(r)
c0, t0 = cpu(), time.monotonic()
req = urllib.request.Request(base + "/v1/processors", data=urllib.parse.urlencode(form).encode())
try:
    urllib.request.urlopen(req, timeout=30).read()
except urllib.error.HTTPError as e:
    sys.exit("create %s: %s" % (name, e.read().decode()))
while True:
    s = status()
    if s["lag"] == 0 and s["records_in"] >= want:
        break
    if s["status"] != "running" or time.monotonic() - t0 > 600:
        sys.exit("%s: %s after %.0f s: %s" % (name, s["status"], time.monotonic() - t0, json.dumps(s)))
    time.sleep(0.02)
t1, c1 = time.monotonic(), cpu()
urllib.request.urlopen(urllib.request.Request(base + "/v1/processors/" + name, method="DELETE"),
                       timeout=30).read()
print("%.3f %d %d %d %d %.2f" % (t1 - t0, s["records_in"], s["records_out"], s["dead_letters"],
                                 s["steps"], c1 - c0))
EOF

port=$(bench_free_port)
hport=$(bench_free_port)
broker=127.0.0.1:$port
http=http://127.0.0.1:$hport

start() { # $1 log.flush.sync, $2 processors.step.records; data kept if it exists
    bench_runnel_start "$server" "$port" "$work/data" "$1" "http.listener=127.0.0.1:$hport" \
        "plugins.dir=$work/lua" "processors.step.records=$2"
    bench_wait_port "$hport" 30 "$RUNNEL_PID" || { echo "no HTTP listener" >&2; exit 1; }
}

rows=() # "sync|step|workload|records|seconds|rec/s|ratio|steps|cpu"
tick=$(getconf CLK_TCK)
# The broker's user+system CPU seconds so far.
broker_cpu() { awk -v t="$tick" '{printf "%.2f", ($14 + $15) / t}' "/proc/$RUNNEL_PID/stat"; }

# Times one processor and appends its row; $1 sync, $2 step, $3 label, $4 name, $5 the raw
# produce rate, rest: form fields.
measure() {
    local sync=$1 step=$2 label=$3 name=$4 raw=$5; shift 5
    local r
    r=$(/usr/bin/python3 "$work/catchup.py" "$http" "$RUNNEL_PID" "$count" "$name" "$@") ||
        { tail -20 "$work/data.log" >&2; exit 1; }
    read -r secs rin rout dead nsteps cpu <<<"$r"
    [ "$dead" = 0 ] || { echo "$name: $dead dead letters" >&2; exit 1; }
    [ "$rin" = "$count" ] || { echo "$name: took $rin records, expected $count" >&2; exit 1; }
    local rate; rate=$(awk -v n="$count" -v s="$secs" 'BEGIN {printf "%d", n / s}')
    echo "$label (sync=$sync, step.records=$step): $count records in $secs s, $rate rec/s," \
        "$rout out, $nsteps steps, broker CPU $cpu s" >&2
    rows+=("$sync|$step|$label|$count|$secs|$rate|$(awk -v a="$rate" -v b="$raw" 'BEGIN {printf "%.2f", a / b}')|$nsteps|$cpu")
}

# The map, then the windowed count; $1 sync, $2 step, $3 name suffix, $4 label suffix.
both() {
    "$prod" "$broker" create "mapped-$3" "$partitions" >/dev/null
    measure "$1" "$2" "stateless map (bench_map.lua)$4" "map-$3" "$raw" \
        script=processors/bench_map.lua inputs=in "outputs=mapped-$3"
    local sum; sum=$("$prod" "$broker" watermarks "mapped-$3" 2>/dev/null)
    [ "$sum" = "$count" ] || { echo "map-$3: wrote $sum records, expected $count" >&2; exit 1; }
    measure "$1" "$2" "windowed count (windowed_aggregate.lua, 1 s, by region)$4" "window-$3" \
        "$raw" script=processors/windowed_aggregate.lua inputs=in "outputs=counts-$3" \
        option.window.size.ms=1000 option.key.field=region
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
for sync in true false; do
    rm -rf "$work/data" "$work/data.log"
    start "$sync" 2000
    "$prod" "$broker" create in "$partitions" >/dev/null
    cpu0=$(broker_cpu)
    "$prod" "$broker" produce in "$count" "$value_bytes" all >"$work/produce.out" 2>&1 ||
        { cat "$work/produce.out" >&2; exit 1; }
    cpu=$(awk -v a="$(broker_cpu)" -v b="$cpu0" 'BEGIN {printf "%.2f", a - b}')
    raw=$(grep -oE '[0-9]+ msgs/s' "$work/produce.out" | tail -1 | cut -d' ' -f1)
    raw_secs=$(grep -oE 'in [0-9.]+ s' "$work/produce.out" | tail -1 | awk '{print $2}')
    sum=$("$prod" "$broker" watermarks in 2>/dev/null)
    [ "$sum" = "$count" ] || { echo "produce: high watermarks add up to $sum, expected $count" >&2; exit 1; }
    echo "raw produce (sync=$sync): $count records in $raw_secs s, $raw rec/s, broker CPU $cpu s" >&2
    rows+=("$sync|-|raw produce (hooks_produce, acks=all)|$count|$raw_secs|$raw|1.00|-|$cpu")
    "$prod" "$broker" create mapped "$partitions" >/dev/null
    both "$sync" 2000 "$sync" ""
    for step in $steps; do
        [[ " $sweep_syncs " == *" $sync "* ]] || break
        bench_stop "$RUNNEL_PID"
        start "$sync" "$step"
        both "$sync" "$step" "step-$step" ", after a restart"
    done
    bench_stop "$RUNNEL_PID"
done

[ "$out" = - ] && out=/dev/null
{
    echo "| log.flush.sync | processors.step.records | workload | records | seconds | records/s | ratio to raw produce | steps | broker CPU s | records per broker CPU s |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for r in "${rows[@]}"; do
        IFS='|' read -r sync step label n secs rate ratio nsteps cpu <<<"$r"
        per=$(awk -v n="$n" -v c="$cpu" 'BEGIN {if (c > 0) printf "%d", n / c; else print "-"}')
        echo "| $sync | $step | $label | $n | $secs | $rate | $ratio | $nsteps | $cpu | $per |"
    done
    echo
    echo "Records: $count keyed JSON values of $value_bytes bytes (distinct keys) in $partitions partitions, produced by bench/hooks_produce.c (librdkafka, acks=all, linger.ms=5, batch.size=1000000) to a fresh broker for each log.flush.sync setting. A processor's time runs from its create request (POST /v1/processors) to the first status (polled every 20 ms) showing every record taken and lag 0, over input already written: catch-up throughput, one processor at a time, its $partitions tasks taking turns on the processor's one thread. The ratio divides by the raw produce rate of the same broker setting. The map writes every record to another topic; the windowed count keeps one count per region and 1 s window in state and emits a record when a window closes. Broker CPU: the broker's user+system CPU seconds during the produce or the catch-up (it may use both cores); on a loaded machine records per CPU second moves less than records per second."
    echo
    echo "processors.step.records (the most records a task takes in one atomic step; default 2000): the rows \"after a restart\" ran both processors again over the same input on the broker restarted with the value shown, so they compare among themselves (the input then comes from RocksDB rather than the in-memory tail). Every step is one commit: one RocksDB write batch and, with log.flush.sync=true, one WAL fsync."
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; librdkafka $(pkg-config --modversion rdkafka); $(date -u +%F); 1-min load average $load_before before the run, $(cut -d' ' -f1 /proc/loadavg) after (a shared machine: compare ratios within one run)."
    echo "Broker: $build_note; plugins.dir a copy of lua/ plus processors/bench_map.lua; client and broker on the same machine."
} | tee "$out"
