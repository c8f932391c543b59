#!/usr/bin/env bash
# bench/run.sh: runnel beside its peers and the machine's limits, in ONE run (issue 8).
#
#   bench/run.sh [--quick]      # full: under 30 min on 2 cores; --quick: under 5 min
#
# Installs what it needs from Debian (bench/install-deps.sh), builds runnel (`make build`)
# and the harnesses (bench/Makefile -> build/bench/), then runs workloads 1-8 of issue 8
# against each system, all on loopback with free ports and temporary data dirs under /tmp:
#   runnel (log.flush.sync=true, the default; and false), librdkafka's in-memory mock
#   cluster (the client-side ceiling, same client and settings), Redis 7 Streams
#   (appendonly yes, appendfsync everysec), NATS JetStream (file storage), and the
#   limits: sequential disk writes with fdatasync, raw RocksDB blob writes of the same
#   bytes, loopback TCP.
# Writes bench/RESULTS.md: the machine, the versions, a table per workload with each
# system's figure and the ratios, perf profiles of the broker under W1 and W2, each
# target met or missed, and the exact commands. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

quick=
for arg in "$@"; do
    case $arg in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: bench/run.sh [--quick]" >&2; exit 2 ;;
    esac
done

# ---- sizes: the same message sizes and counts for every system ----
PARTS=6                 # partitions (Redis: stream keys, NATS: streams) in W1-W4, W7
if [ -n "$quick" ]; then
    W1_COUNT=1000000; W2_BYTES=256000000; W4_SECONDS=5; W5_COUNT=500000; W8_COUNT=200000; W5_TOPICS=2
    PROFILE_W1=500000; PROFILE_W2_BYTES=128000000; TCP_SECONDS=2
else
    W1_COUNT=5000000; W2_BYTES=2000000000; W4_SECONDS=30; W5_COUNT=2000000; W8_COUNT=1000000; W5_TOPICS=10
    PROFILE_W1=2000000; PROFILE_W2_BYTES=512000000; TCP_SECONDS=5
fi
W2_COUNT=$((W2_BYTES / 1024))
PROFILE_W2=$((PROFILE_W2_BYTES / 1024))
W4_RATE=20000
W5_PER_TOPIC=1000; W5_PARTITIONS=$((W5_TOPICS * W5_PER_TOPIC))
W6_CONNS=1000
REDIS_DEPTH=1000        # hiredis: XADDs in flight on the one connection
NATS_DEPTH=20000        # libnats: async publishes awaiting their PubAck
# rdkafka_performance's producer settings, as in bench/core.sh and MEASURED.md.
RDK_PRODUCER=(-X linger.ms=5 -X batch.size=1000000 -X queue.buffering.max.kbytes=1048576)
RDK_CONSUMER=(-X max.partition.fetch.bytes=10485760)

# Formatting for the tables (also used in notes written while measuring).
g() { echo "${R[$1]:-n/a}"; }
isnum() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
num() { # thousands separators for integers, other values as they are
    isnum "$1" || { echo "$1"; return; }
    awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); n = length(s); o = "";
        for (i = 1; i <= n; i++) { o = o substr(s, i, 1); if ((n - i) % 3 == 0 && i < n) o = o "," } print o }'
}
ratio() { # a / b, two decimals, or n/a
    if isnum "$1" && isnum "$2" && awk -v b="$2" 'BEGIN {exit !(b > 0)}'; then
        awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'
    else echo "n/a"; fi
}
mib() { isnum "$1" && awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}' || echo "$1"; }
say() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
t_start=$(bench_now)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

work=$(mktemp -d /tmp/runnel-bench-XXXXXX)
cleanup() { bench_cleanup; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
declare -A R            # results: "w1.rn.rate" -> figure
touch "$work/commands"

# ---- the exact commands, deduplicated, with ports and the work dir normalised ----
section() { echo "# $*" >>"$work/commands"; say "$*"; }
log_cmd() {
    local s
    s=$(printf '%q ' "$@")
    s=${s% }
    s=${s//"$work"/\$WORK}
    s=${s//' \| '/' | '}
    s=${s//\\,/,}
    s=$(sed -E 's/127\.0\.0\.1([: ])[0-9]{4,5}/127.0.0.1\1PORT/g; s/(-p|--port) [0-9]{4,5}/\1 PORT/g' <<<"$s")
    grep -qxF -- "$s" "$work/commands" || echo "$s" >>"$work/commands"
}
x() { log_cmd "$@"; "$@"; }

# ---- install, build ----
section "setup: Debian packages, builds"
bench/install-deps.sh >&2
build_note="build/runnel-server and build/runnel from \`make build\` (RelWithDebInfo)"
if ! make -s build >"$work/build.log" 2>&1; then
    # Others may be mid-change in the tree (a test that does not compile, say); the two
    # programs measured here may still build, and failing that a previous build still
    # measures something.
    if cmake --build build -j"$(nproc)" --target runnel-server runnel >>"$work/build.log" 2>&1; then
        build_note="\`make build\` failed on other targets at run time (work in progress in the tree); runnel-server and runnel built with \`cmake --build build --target runnel-server runnel\`"
        say "make build failed on other targets; runnel-server and runnel built"
    else
        [ -x build/runnel-server ] && [ -x build/runnel ] || { tail -20 "$work/build.log" >&2; exit 1; }
        build_note="\`make build\` FAILED at run time (work in progress in the tree); the previous build/runnel-server was used"
        say "make build failed; using the existing build/runnel-server"
    fi
fi
make -s -C bench >/dev/null
# Copies: other engineers rebuild build/ while this runs, and every row must measure the
# same binary.
mkdir -p "$work/bin"
cp build/runnel-server build/runnel "$work/bin/"
server=$work/bin/runnel-server
cli=$work/bin/runnel
B=build/bench
rdkp=$B/rdkafka_performance
payload100=$(head -c 100 /dev/zero | tr '\0' x)

# ---- starting and stopping each system ----
SYS_PID=
BOOT=

# runnel: $1 = rn (log.flush.sync=true) | rnf (false); rest: TOPIC:PARTITIONS to create.
runnel_up() {
    local sync=true; [ "$1" = rnf ] && sync=false
    shift
    rm -rf "$work/rn" "$work/rn.log"
    local port; port=$(bench_free_port)
    log_cmd "$server" -c conf/runnel.conf --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "data.dir=$work/rn" \
        --set http.listener= --set "log.flush.sync=$sync" --set log.retention.ms=-1
    bench_runnel_start "$server" "$port" "$work/rn" "$sync"
    SYS_PID=$RUNNEL_PID BOOT=127.0.0.1:$port
    local t
    for t in "$@"; do x "$cli" topic create "${t%:*}" --partitions "${t#*:}" --bootstrap "$BOOT" >/dev/null; done
}
mock_up() { # TOPIC:PARTITIONS ...
    log_cmd "$B/mock_cluster" "$@"
    bench_spawn SYS_PID "$B/mock_cluster" "$@" >"$work/mock.out" 2>"$work/mock.err"
    for ((i = 0; i < 500; i++)); do grep -q '^bootstrap' "$work/mock.out" 2>/dev/null && break; sleep 0.02; done
    BOOT=$(awk '/^bootstrap/ {print $2}' "$work/mock.out")
    [ -n "$BOOT" ] || { cat "$work/mock.err" >&2; return 1; }
}
kafka_up() { # rn|rnf|mock TOPIC:PARTITIONS ...
    local sys=$1; shift
    if [ "$sys" = mock ]; then mock_up "$@"; else runnel_up "$sys" "$@"; fi
}
REDIS_PORT=
redis_up() { # $1 = keep: reuse the data dir (a restart)
    [ "${1:-}" = keep ] || rm -rf "$work/redis"
    mkdir -p "$work/redis"
    REDIS_PORT=$(bench_free_port)
    x_spawn SYS_PID redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes \
        --appendfsync everysec --daemonize no --logfile "$work/redis.log"
    bench_wait_port "$REDIS_PORT" 120 "$SYS_PID"
}
redis_ready() { # PONG, not -LOADING
    for ((i = 0; i < 12000; i++)); do
        [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.01
    done
    return 1
}
NATS_URL=
nats_up() { # $1 = keep
    [ "${1:-}" = keep ] || rm -rf "$work/nats"
    local port; port=$(bench_free_port)
    NATS_URL=nats://127.0.0.1:$port
    x_spawn SYS_PID nats-server -a 127.0.0.1 -p "$port" -js -sd "$work/nats" -l "$work/nats.log"
    bench_wait_port "$port" 120 "$SYS_PID"
}
x_spawn() { local var=$1; shift; log_cmd "$@"; bench_spawn "$var" "$@"; }
down() { bench_stop "$SYS_PID"; SYS_PID=; rm -rf "$work/rn" "$work/redis" "$work/nats"; }

# ---- the measurements; each stores its figures in R, "failed" when it failed ----
fail() { R[$1]=failed; say "FAILED: $1 ($2)"; [ -f "${3:-}" ] && tail -5 "$3" >&2; return 0; }

# rdkafka_performance producer: $1 key, $2 topic, $3 count, $4 size, $5 acks, rest: extra.
rdk_produce() {
    local key=$1 topic=$2 count=$3 size=$4 acks=$5; shift 5
    if x timeout -k 5 900 "$rdkp" -P -t "$topic" -s "$size" -c "$count" -a "$acks" -q "${RDK_PRODUCER[@]}" \
        -b "$BOOT" "$@" >"$work/out" 2>&1 && grep -q "$count delivered.* 0 failed" "$work/out"; then
        local ms; ms=$(grep -oE 'in [0-9]+ms' "$work/out" | tail -1 | grep -oE '[0-9]+')
        R[$key.rate]=$(awk -v n="$count" -v ms="$ms" 'BEGIN {printf "%.0f", n / (ms / 1000)}')
        R[$key.mbps]=$(awk -v n="$count" -v s="$size" -v ms="$ms" 'BEGIN {printf "%.1f", n * s / 1e6 / (ms / 1000)}')
    else
        fail "$key.rate" "rdkafka_performance" "$work/out"
    fi
}
# rdkafka_performance consumer over W1's topic until every partition reports its end:
# $1 key, rest: the mode (-C -p 0 ... -o beginning, or -G GROUP).
rdk_consume() {
    local key=$1; shift
    if x timeout -k 5 900 "$rdkp" "$@" -t w1 -e -c "$W1_COUNT" -q -b "$BOOT" "${RDK_CONSUMER[@]}" \
        >"$work/out" 2>&1 && grep -q 'consumed in' "$work/out"; then
        local n ms
        read -r n ms < <(grep -E 'messages \(.*consumed in [0-9]+ms' "$work/out" | tail -1 |
            sed -E 's/^% ([0-9]+) messages.* in ([0-9]+)ms.*/\1 \2/')
        R[$key.records]=$n
        R[$key.rate]=$(awk -v n="$n" -v ms="$ms" 'BEGIN {printf "%.0f", n / (ms / 1000)}')
        R[$key.mbps]=$(awk -v n="$n" -v ms="$ms" 'BEGIN {printf "%.1f", n * 100 / 1e6 / (ms / 1000)}')
    else
        fail "$key.rate" "rdkafka_performance $1" "$work/out"
    fi
}
# runnel bench (produce or consume) with --json: $1 key, rest: arguments after `bench`.
rnbench() {
    local key=$1; shift
    if x timeout -k 5 900 "$cli" bench "$@" --json --bootstrap "$BOOT" >"$work/out" 2>"$work/err"; then
        read -r R[$key.rate] R[$key.mbps] R[$key.records] < <(python3 -c 'import json,sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print("%.0f %.1f %d" % (d["records_per_sec"], d["mb_per_sec"], d["records"]))' "$work/out")
    else
        fail "$key.rate" "runnel bench $*" "$work/err"
    fi
}
# A harness that prints a "result" line: $1 key, $2 timeout, rest: the command. Every
# name=value of the line lands in R as key.name.
harness() {
    local key=$1 limit=$2; shift 2
    if x timeout -k 5 "$limit" "$@" >"$work/out" 2>"$work/err"; then
        local kv
        for kv in $(grep -E '^result ' "$work/out" | tail -1 | cut -d' ' -f2-); do R[$key.${kv%%=*}]=${kv#*=}; done
    else
        fail "$key.rate" "$(basename "$1")" "$work/err"
        local kv # latency harnesses print their figures even when records were lost
        for kv in $(grep -E '^result ' "$work/out" | tail -1 | cut -d' ' -f2-); do R[$key.${kv%%=*}]=${kv#*=}; done
    fi
}

# ======================================================================================
section "limits: disk, RocksDB, loopback TCP"
dd_mbps() { awk '/copied/ {b = $1; split($0, a, "copied, "); split(a[2], c, " "); printf "%.1f", b / c[1] / 1e6}' "$1"; }
mb=$((W2_BYTES / 1048576))
if x dd if=/dev/zero of="$work/dd" bs=1M count="$mb" conv=fdatasync 2>"$work/dd.err"; then
    R[lim.dd_end.mbps]=$(dd_mbps "$work/dd.err")
else fail lim.dd_end.mbps dd "$work/dd.err"; fi
rm -f "$work/dd"
if x dd if=/dev/zero of="$work/dd" bs=1M count="$mb" oflag=dsync 2>"$work/dd.err"; then
    R[lim.dd_each.mbps]=$(dd_mbps "$work/dd.err")
else fail lim.dd_each.mbps dd "$work/dd.err"; fi
rm -f "$work/dd"
for sync in 1 0; do
    rm -rf "$work/rdb"
    harness "lim.rdb$sync" 900 "$B/rocksdb_write" "$work/rdb" "$W2_BYTES" 65536 1048576 "$PARTS" "$sync" 2
done
rm -rf "$work/rdb"
port=$(bench_free_port)
# (no probe connection: iperf3 would take it for a test)
x_spawn IPERF_PID iperf3 -s -B 127.0.0.1 -p "$port" >"$work/iperf-server.out" 2>&1
for ((i = 0; i < 500; i++)); do grep -q 'listening' "$work/iperf-server.out" && break; sleep 0.02; done
if x iperf3 -c 127.0.0.1 -p "$port" -t "$TCP_SECONDS" -J >"$work/iperf.json" 2>"$work/err"; then
    R[lim.tcp.mbps]=$(python3 -c 'import json,sys
print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 8e6))' "$work/iperf.json")
else fail lim.tcp.mbps iperf3 "$work/err"; fi
bench_stop "$IPERF_PID"

# ======================================================================================
section "W1 produce ${W1_COUNT}x100 B, $PARTS partitions, acks=1; W3 read it back"
for sys in rn rnf mock; do
    kafka_up "$sys" "w1:$PARTS"
    rdk_produce "w1.$sys" w1 "$W1_COUNT" 100 1
    all_partitions=()
    for ((p = 0; p < PARTS; p++)); do all_partitions+=(-p "$p"); done
    rdk_consume "w3.$sys.read" -C "${all_partitions[@]}" -o beginning
    rdk_consume "w3.$sys.group" -G w3 -X auto.offset.reset=earliest
    down
done
redis_up
if x redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -n "$W1_COUNT" -P 100 -r "$PARTS" --csv \
    XADD 'rb:__rand_int__' '*' v "$payload100" >"$work/out" 2>/dev/null; then
    R[w1.rb.rate]=$(tail -1 "$work/out" | awk -F'","' '{printf "%.0f", $2}')
    R[w1.rb.mbps]=$(awk -v r="${R[w1.rb.rate]}" 'BEGIN {printf "%.1f", r * 100 / 1e6}')
else fail w1.rb.rate redis-benchmark; fi
harness w1.rh 900 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" produce w1: "$PARTS" "$W1_COUNT" 100 "$REDIS_DEPTH"
harness w3.rh.read 900 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" read w1: "$PARTS" "$W1_COUNT"
harness w3.rh.group 900 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" group w1: "$PARTS" "$W1_COUNT"
R[w1.redis.rss]=$(bench_rss_kb "$SYS_PID")
down
nats_up
harness w1.nats.create 120 "$B/nats_js" "$NATS_URL" create w1_ "$PARTS"
harness w1.nats 900 "$B/nats_js" "$NATS_URL" produce w1_ "$PARTS" "$W1_COUNT" 100 "$NATS_DEPTH"
harness w3.nats.read 900 "$B/nats_js" "$NATS_URL" read w1_ "$PARTS"
harness w3.nats.group 900 "$B/nats_js" "$NATS_URL" group w1_ "$PARTS"
down

# ======================================================================================
section "W2 produce ${W2_COUNT}x1 KiB (${W2_BYTES} B), $PARTS partitions, acks=all"
for sys in rn rnf mock; do
    kafka_up "$sys" "w2:$PARTS"
    rdk_produce "w2.$sys" w2 "$W2_COUNT" 1024 -1
    down
done
redis_up
harness w2.rh 900 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" produce w2: "$PARTS" "$W2_COUNT" 1024 "$REDIS_DEPTH"
down
nats_up
harness w2.nats.create 120 "$B/nats_js" "$NATS_URL" create w2_ "$PARTS"
harness w2.nats 900 "$B/nats_js" "$NATS_URL" produce w2_ "$PARTS" "$W2_COUNT" 1024 "$NATS_DEPTH"
down

# ======================================================================================
section "W4 end-to-end latency, $W4_RATE records/s of 1 KiB for $W4_SECONDS s"
for sys in rn rnf mock; do
    kafka_up "$sys" "w4:$PARTS"
    harness "w4.$sys" $((W4_SECONDS + 120)) "$B/kafka_latency" "$BOOT" w4 "$W4_RATE" "$W4_SECONDS" 1024
    down
done
redis_up
harness w4.rh $((W4_SECONDS + 120)) "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" latency w4: "$PARTS" "$W4_RATE" \
    "$W4_SECONDS" 1024
down
nats_up
harness w4.nats.create 120 "$B/nats_js" "$NATS_URL" create w4_ "$PARTS"
harness w4.nats $((W4_SECONDS + 120)) "$B/nats_js" "$NATS_URL" latency w4_ "$PARTS" "$W4_RATE" "$W4_SECONDS" 1024
down

# ======================================================================================
section "W5 $W5_PARTITIONS partitions: create, restart, memory, produce over $W5_PER_TOPIC"
w5_topics=()
for ((t = 0; t < W5_TOPICS; t++)); do w5_topics+=("p$t:$W5_PER_TOPIC"); done
# runnel: create, restart (time until a Metadata request lists every topic), produce.
runnel_up rn
t0=$(bench_now)
for spec in "${w5_topics[@]}"; do
    x "$cli" topic create "${spec%:*}" --partitions "${spec#*:}" --bootstrap "$BOOT" >/dev/null || fail w5.rn.create topic
done
R[w5.rn.create_s]=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN {printf "%.2f", b - a}')
bench_stop "$SYS_PID"
port=${BOOT##*:}
t0=$(bench_now)
bench_runnel_start "$server" "$port" "$work/rn" true
SYS_PID=$RUNNEL_PID
for ((i = 0; i < 3000; i++)); do
    n=$("$cli" topic list --json --bootstrap "$BOOT" 2>/dev/null | grep -o '"partitions":' | wc -l || true)
    [ "$n" -ge "$W5_TOPICS" ] && break
    sleep 0.02
done
R[w5.rn.start_s]=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN {printf "%.2f", b - a}')
sleep 1
R[w5.rn.rss_start]=$(bench_rss_kb "$SYS_PID")
rdk_produce w5.rn p0 "$W5_COUNT" 100 1
R[w5.rn.rss_after]=$(bench_rss_kb "$SYS_PID")
down
# The mock: the topics exist when it is up.
t0=$(bench_now)
mock_up "${w5_topics[@]}"
R[w5.mock.start_s]=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN {printf "%.2f", b - a}')
R[w5.mock.create_s]=$(bench_field ready_s "$work/mock.out")
sleep 1
R[w5.mock.rss_start]=$(bench_rss_kb "$SYS_PID")
rdk_produce w5.mock p0 "$W5_COUNT" 100 1
R[w5.mock.rss_after]=$(bench_rss_kb "$SYS_PID")
down
# Redis: 10,000 empty streams, restart (time until PING answers PONG, not LOADING).
redis_up
harness w5.rh.c 600 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" create p: "$W5_PARTITIONS"
R[w5.rh.create_s]=${R[w5.rh.c.seconds]:-failed}
bench_stop "$SYS_PID"
t0=$(bench_now)
redis_up keep
redis_ready || fail w5.rh.start_s "redis did not load"
R[w5.rh.start_s]=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN {printf "%.2f", b - a}')
sleep 1
R[w5.rh.rss_start]=$(bench_rss_kb "$SYS_PID")
harness w5.rh 900 "$B/redis_streams" 127.0.0.1 "$REDIS_PORT" produce p: "$W5_PER_TOPIC" "$W5_COUNT" 100 "$REDIS_DEPTH"
R[w5.rh.rss_after]=$(bench_rss_kb "$SYS_PID")
down
# NATS: 10,000 streams, restart (time until JetStream reports all of them).
nats_up
harness w5.nats.c 900 "$B/nats_js" "$NATS_URL" create p "$W5_PARTITIONS"
R[w5.nats.create_s]=${R[w5.nats.c.seconds]:-failed}
made=${R[w5.nats.c.streams]:-0}
if [ "$made" -lt "$W5_PARTITIONS" ]; then
    R[w5.nats.note]="NATS stopped at $(num "$made") streams: $(tail -1 "$work/err" | cut -c1-200)"
    grep -q 'too many open files' "$work/nats.log" &&
        R[w5.nats.note]+="; its log says \"$(grep -m1 -o 'Error creating[^(]*too many open files' "$work/nats.log" |
            sed "s#$work#\$WORK#g")\""
fi
bench_stop "$SYS_PID"
t0=$(bench_now)
nats_up keep
deadline=$(awk -v t="$(bench_now)" 'BEGIN {print t + 600}')
while :; do
    n=$("$B/nats_js" "$NATS_URL" ping 2>/dev/null | sed -n 's/^result streams=//p' || true)
    [ "${n:-0}" -ge "$made" ] && break
    awk -v t="$(bench_now)" -v d="$deadline" 'BEGIN {exit !(t > d)}' && { fail w5.nats.start_s "restart"; break; }
    sleep 0.05
done
R[w5.nats.start_s]=$(awk -v a="$t0" -v b="$(bench_now)" 'BEGIN {printf "%.2f", b - a}')
sleep 1
R[w5.nats.rss_start]=$(bench_rss_kb "$SYS_PID")
harness w5.nats 900 "$B/nats_js" "$NATS_URL" produce p "$W5_PER_TOPIC" "$W5_COUNT" 100 "$NATS_DEPTH"
R[w5.nats.rss_after]=$(bench_rss_kb "$SYS_PID")
down

# ======================================================================================
section "W6 $W6_CONNS concurrent connections"
w6() { # $1 key, $2 protocol, $3 port
    sleep 1
    R[$1.rss_before]=$(bench_rss_kb "$SYS_PID")
    log_cmd "$B/conns" 127.0.0.1 "$3" "$W6_CONNS" "$2"
    local cpid
    bench_spawn cpid "$B/conns" 127.0.0.1 "$3" "$W6_CONNS" "$2" >"$work/conns.out" 2>"$work/conns.err"
    for ((i = 0; i < 3000; i++)); do
        grep -q '^result' "$work/conns.out" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.02
    done
    if grep -q '^result' "$work/conns.out"; then
        sleep 1
        R[$1.rss_with]=$(bench_rss_kb "$SYS_PID")
        R[$1.connect_s]=$(bench_field seconds "$work/conns.out")
        R[$1.per_conn]=$(awk -v a="${R[$1.rss_before]}" -v b="${R[$1.rss_with]}" -v n="$W6_CONNS" \
            'BEGIN {printf "%.1f", (b - a) / n}')
    else
        fail "$1.per_conn" conns "$work/conns.err"
    fi
    bench_stop "$cpid"
}
runnel_up rn
w6 w6.rn kafka "${BOOT##*:}"
down
mock_up w6:1
w6 w6.mock kafka "${BOOT##*:}"
down
redis_up
w6 w6.rh redis "$REDIS_PORT"
down
nats_up
w6 w6.nats nats "${NATS_URL##*:}"
down

# ======================================================================================
section "W7 compression: W2 (${W2_COUNT}x1 KiB, acks=all) with none, lz4, zstd"
for codec in none lz4 zstd; do
    for sys in rn mock; do
        kafka_up "$sys" "w7:$PARTS"
        rnbench "w7.$sys.$codec" produce w7 --count "$W2_COUNT" --size 1024 --acks all --compression "$codec" \
            --linger-ms 5 --batch-size 1000000
        [ "$sys" = rn ] && R[w7.rn.$codec.disk]=$(du -sm "$work/rn" | cut -f1)
        down
    done
done

# ======================================================================================
section "W8 Lua: W1 through a partitioner and a produce filter; stream processors"
hooks_args=(--count "$W8_COUNT" --value-bytes 100 --partitions "$PARTS" --acks 1 --server "$server" --out -)
log_cmd bench/hooks.sh "${hooks_args[@]}"
if ! bench/hooks.sh "${hooks_args[@]}" >"$work/hooks.md" 2>"$work/hooks.err"; then
    { echo "bench/hooks.sh failed:"; echo '```'; tail -15 "$work/hooks.err"; echo '```'; } >"$work/hooks.md"
fi
processors_md=
if [ -x bench/processors.sh ]; then
    # --quick always; the same broker binary and no results file of its own when its usage
    # line offers --server and --out.
    proc_args=(${quick:+--quick})
    grep -q -- '--server PATH' bench/processors.sh && proc_args+=(--server "$server")
    grep -q -- '--out FILE' bench/processors.sh && proc_args+=(--out -)
    # Its --quick alone takes a minute or two on a loaded machine; half that keeps this
    # quick run under five minutes.
    [ -n "$quick" ] && grep -q -- '--count N' bench/processors.sh && proc_args+=(--count 200000)
    log_cmd bench/processors.sh "${proc_args[@]}"
    limit=900; [ -n "$quick" ] && limit=150
    if timeout -k 10 "$limit" bench/processors.sh "${proc_args[@]}" >"$work/processors.md" 2>"$work/processors.err"; then
        processors_md=$work/processors.md
    else
        rc=$?
        { echo "bench/processors.sh ${proc_args[*]//$work/\$WORK} failed (exit $rc; 124 = timed out after $limit s):"
          echo '```'; tail -15 "$work/processors.err"; echo '```'; cat "$work/processors.md"; } >"$work/processors.fail"
        processors_md=$work/processors.fail
    fi
fi

# ======================================================================================
section "CPU profiles of the broker (log.flush.sync=true) under W1 and W2"
perf_ok=1
if ! perf record -o "$work/perf.probe" -- true >/dev/null 2>"$work/perf.err"; then
    perf_ok=; perf_error=$(tail -3 "$work/perf.err")
fi
profile() { # $1 name, $2 count, $3 size, $4 acks
    runnel_up rn "$1:$PARTS"
    log_cmd perf record -F 999 --call-graph dwarf,16384 -p BROKER_PID -o "$work/perf-$1.data"
    local ppid
    bench_spawn ppid perf record -F 999 --call-graph dwarf,16384 -p "$SYS_PID" -o "$work/perf-$1.data" \
        >"$work/perf-$1.log" 2>&1
    sleep 1
    rdk_produce "prof.$1" "$1" "$2" "$3" "$4"
    kill -INT "$ppid" 2>/dev/null || true
    for ((i = 0; i < 3000; i++)); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.02; done
    bench_stop "$ppid"
    down
    # Self time by function, and inclusive time (a function with what it calls).
    log_cmd perf report -i "$work/perf-$1.data" --no-children --sort dso,symbol -g none --stdio "|" bench/perf_top.py 18
    perf report -i "$work/perf-$1.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
        bench/perf_top.py 18 >"$work/prof-$1-self.txt" || true
    log_cmd perf report -i "$work/perf-$1.data" --children --sort dso,symbol -g none --stdio --percent-limit 2 "|" \
        bench/perf_top.py --children 22
    perf report -i "$work/perf-$1.data" --children --sort dso,symbol -g none --stdio --percent-limit 2 2>/dev/null |
        bench/perf_top.py --children 22 >"$work/prof-$1-incl.txt" || true
    perf report -i "$work/perf-$1.data" --no-children --sort dso -g none --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -8 | sed -E 's/ +- +- *$//; s/ +$//' >"$work/prof-$1-dso.txt" || true
    rm -f "$work/perf-$1.data"
}
if [ -n "$perf_ok" ]; then
    profile pw1 "$PROFILE_W1" 100 1
    profile pw2 "$PROFILE_W2" 1024 -1
fi

t_end=$(bench_now)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN {printf "%.0f", b - a}')
say "measurements done in $elapsed s; writing bench/RESULTS.md"

# ======================================================================================
# RESULTS.md
declare -A NAME=(
    [rn]="runnel (log.flush.sync=true, default)" [rnf]="runnel (log.flush.sync=false)"
    [mock]="librdkafka mock cluster (in-memory ceiling)" [rb]="Redis 7 Streams, redis-benchmark (50 conns, -P 100)"
    [rh]="Redis 7 Streams, hiredis harness (1 conn)" [nats]="NATS JetStream, libnats harness (1 conn)"
)
rate_row() { # $1 workload, $2 system
    local r; r=$(g "$1.$2.rate")
    echo "| ${NAME[$2]} | $(num "$r") | $(g "$1.$2.mbps") | $(ratio "$(g "$1.rn.rate")" "$r") | $(ratio "$(g "$1.rnf.rate")" "$r") |"
}
verdict() { # $1 ratio, $2 op (ge: at least the bound; lt: under it), $3 bound
    isnum "$1" || { echo "not measured"; return; }
    if awk -v r="$1" -v b="$3" -v op="$2" 'BEGIN {exit !(op == "ge" ? r >= b : r < b)}'; then
        echo "**met**"
    elif [ "$2" = ge ]; then
        awk -v r="$1" -v b="$3" 'BEGIN {printf "**missed** by %.0f%% (%.2fx short of %.2fx)", (b - r) / b * 100, b / r, b}'
    else
        awk -v r="$1" 'BEGIN {printf "**missed**: %.2fx the bound", r}'
    fi
}
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
mem_gib=$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
disk=$(findmnt -no SOURCE,FSTYPE -T /tmp | tr -s ' ')
dev=$(basename "$(findmnt -no SOURCE -T /tmp)")
rota=$(cat "/sys/block/${dev%%[0-9]*}/queue/rotational" 2>/dev/null || echo "?")
[ "$rota" = 0 ] && rota="non-rotational" || { [ "$rota" = 1 ] && rota="rotational"; }
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
runnel_rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git status --porcelain --untracked-files=no -- engine net plugins server cli lua CMakeLists.txt 2>/dev/null | wc -l)

w1_rn=$(g w1.rn.rate); w1_mock=$(g w1.mock.rate)
w1_redis=$(awk -v a="$(g w1.rb.rate)" -v b="$(g w1.rh.rate)" 'BEGIN {a += 0; b += 0; m = a > b ? a : b; if (m > 0) print m; else print "n/a"}')
r_t1a=$(ratio "$w1_rn" "$w1_redis"); r_t1b=$(ratio "$w1_rn" "$w1_mock")
r_t2=$(ratio "$(g w2.rn.mbps)" "$(g lim.rdb1.mbps)"); r_t2f=$(ratio "$(g w2.rnf.mbps)" "$(g lim.rdb0.mbps)")
r_t3=$(ratio "$(g w3.rn.read.rate)" "$w1_rn")
p99=$(g w4.rn.p99_ms)
p99_ratio=$(isnum "$p99" && awk -v p="$p99" 'BEGIN {printf "%.2f", p / 5}' || echo n/a)
start_ratio=$(isnum "$(g w5.rn.start_s)" && awk -v s="$(g w5.rn.start_s)" 'BEGIN {printf "%.3f", s / 5}' || echo n/a)
w5_scope=; [ "$W5_PARTITIONS" -ne 10000 ] && w5_scope=" (this run: $(num "$W5_PARTITIONS") partitions; judge on a full run)"
rss_ratio=$(isnum "$(g w5.rn.rss_after)" && awk -v k="$(g w5.rn.rss_after)" 'BEGIN {printf "%.3f", k / 1048576}' || echo n/a)

{
echo "# runnel benchmarks: beside its peers and the machine's limits"
echo
echo "Written by \`bench/run.sh${quick:+ --quick}\` on $(date -u '+%F %H:%M') UTC in $elapsed s.$([ -n "$quick" ] && echo " **Quick run: smaller counts; the full run is \`bench/run.sh\`.**")"
echo "Client and servers share the machine; every system ran on loopback, one at a time, freshly started on an"
echo "empty data dir under /tmp for each workload. Ratios are runnel's figure divided by the other system's"
echo "(above 1: runnel ahead), except where a column says otherwise."
echo
echo "## Machine and versions"
echo
echo "- CPU: $(nproc) cores ($cpu_model); memory $mem_gib GiB; disk for /tmp: $disk, $rota; kernel $(uname -r); Debian $(cat /etc/debian_version)."
echo "- Load average (1, 5, 15 min) before: $load_before; after: $load_after.$(awk -v l="${load_before%% *}" 'BEGIN {exit !(l > 0.3)}' && echo " **The machine was shared**: other engineers were building and running tests at the same time, so figures are noisy; read ratios from this one run, not absolute figures.")"
echo "- runnel $runnel_rev$([ "$dirty" -gt 0 ] && echo " plus uncommitted changes in the tree ($dirty tracked source files modified by work in progress)"); $build_note."
echo "- librdkafka $(pkg-config --modversion rdkafka) (client, mock cluster, rdkafka_performance from its Debian example source); RocksDB $(pkg-config --modversion rocksdb)."
echo "- Redis $(redis-server --version | grep -oE 'v=[0-9.]+' | cut -d= -f2) (Debian $(ver redis-server)), hiredis $(pkg-config --modversion hiredis); NATS server $(nats-server --version | grep -oE '[0-9.]+$') (Debian $(ver nats-server)), libnats $(pkg-config --modversion libnats)."
echo "- iperf3 $(ver iperf3); perf $(perf --version 2>/dev/null | awk '{print $3}'); gcc $(gcc -dumpfullversion)."
echo
echo "Peers in their durable defaults: Redis with \`appendonly yes\`, \`appendfsync everysec\` (an XADD is acknowledged"
echo "before its fsync, at most a second of writes lost on power failure); NATS 2.9 JetStream with file storage, R1"
echo "(a PubAck follows the write to the OS, no fsync per message: nats-server 2.9 has no sync option); runnel's default"
echo "log.flush.sync=true acknowledges acks=1/all only after the group-committed fsync of the RocksDB WAL, and"
echo "log.flush.sync=false after the unsynced WAL write, the like-for-like setting beside Redis and NATS."
echo "A partition is a stream key in Redis and a stream in NATS (each its own ordered log); a producer is one client"
echo "connection. Kafka side: rdkafka_performance (\`-X linger.ms=5 -X batch.size=1000000\`, random partitioner, no"
echo "keys) for W1, W2, W5 and its consumer for W3; \`runnel bench produce\` for W7."
echo
echo "## Limits of this machine"
echo
echo "| limit | MB/s | W2 runnel (default) ÷ it | W2 runnel (sync=false) ÷ it |"
echo "|---|---|---|---|"
for l in "dd_end|sequential write, 1 MiB blocks, one fdatasync at the end (dd conv=fdatasync), $W2_BYTES B" \
         "dd_each|sequential write, fdatasync after every 1 MiB (dd oflag=dsync)" \
         "rdb1|raw RocksDB, runnel's blob options, 64 KiB values in 1 MiB write batches, each synced (WAL fsync), 2 writer threads" \
         "rdb0|raw RocksDB, same bytes, WAL not synced" \
         "tcp|loopback TCP, one stream (iperf3, $TCP_SECONDS s)"; do
    k=${l%%|*}
    echo "| ${l#*|} | $(num "$(g lim.$k.mbps)") | $(ratio "$(g w2.rn.mbps)" "$(g lim.$k.mbps)") | $(ratio "$(g w2.rnf.mbps)" "$(g lim.$k.mbps)") |"
done
echo
echo "## W1: produce $(num "$W1_COUNT") records of 100 B, $PARTS partitions, acks=1"
echo
echo "| system | records/s | MB/s | runnel (default) ÷ it | runnel (sync=false) ÷ it |"
echo "|---|---|---|---|---|"
for s in rn rnf mock rb rh nats; do rate_row w1 "$s"; done
echo
echo "Redis via redis-benchmark: \`XADD rb:__rand_int__ * v <100 B>\` with \`-r $PARTS\` (six stream keys), 50 connections,"
echo "pipeline 100. Redis via hiredis: one connection, $REDIS_DEPTH XADDs in flight, round robin over $PARTS keys. NATS: one"
echo "connection, async publish with up to $NATS_DEPTH PubAcks outstanding, round robin over $PARTS streams."
echo
echo "## W2: produce $(num "$W2_COUNT") records of 1 KiB ($(awk -v b="$W2_BYTES" 'BEGIN {printf "%.2f GB", b / 1e9}')), $PARTS partitions, acks=all"
echo
echo "| system | records/s | MB/s | runnel (default) ÷ it | runnel (sync=false) ÷ it |"
echo "|---|---|---|---|---|"
for s in rn rnf mock rh nats; do rate_row w2 "$s"; done
for l in "rdb1|limit: raw RocksDB blob writes, synced" "rdb0|limit: raw RocksDB blob writes, WAL not synced" \
         "dd_end|limit: disk, fdatasync at the end"; do
    k=${l%%|*}
    echo "| ${l#*|} | | $(num "$(g lim.$k.mbps)") | $(ratio "$(g w2.rn.mbps)" "$(g lim.$k.mbps)") | $(ratio "$(g w2.rnf.mbps)" "$(g lim.$k.mbps)") |"
done
echo
echo "## W3: consume W1's records from the start (catch-up), and in a consumer group"
echo
echo "| system | catch-up records/s | MB/s | runnel ÷ it | group records/s | MB/s | runnel ÷ it | records read |"
echo "|---|---|---|---|---|---|---|---|"
for s in rn rnf mock rh nats; do
    rr=$(g w3.$s.read.rate) gr=$(g w3.$s.group.rate)
    echo "| ${NAME[$s]} | $(num "$rr") | $(g w3.$s.read.mbps) | $(ratio "$(g w3.rn.read.rate)" "$rr") | $(num "$gr") | $(g w3.$s.group.mbps) | $(ratio "$(g w3.rn.group.rate)" "$gr") | $(num "$(g w3.$s.read.records)") |"
done
echo
echo "Kafka side: rdkafka_performance \`-C -p 0 ... -p $((PARTS - 1)) -o beginning -e\` (every partition from the start until"
echo "each reports its end) and \`-G w3 -e\` (a consumer group with auto commit), \`-X max.partition.fetch.bytes=10485760\`;"
echo "its clock starts at the first record, so the group join is not counted. The mock keeps only about 5 MB of each"
echo "partition's log, so it serves fewer records than W1 produced (last column), and it is no ceiling for reads: its"
echo "Fetch path is not built for speed. Redis: XREAD COUNT 10000 over the $PARTS keys; group: XREADGROUP COUNT 10000 + XACK of every"
echo "id read. NATS: a pull consumer per stream (fetch batches of 1000, one thread each); ephemeral with AckNone for"
echo "catch-up, durable with AckAll and one ack per batch for the group."
echo
echo "## W4: end-to-end latency at $(num "$W4_RATE") records/s of 1 KiB, $W4_SECONDS s"
echo
echo "| system | p50 ms | p99 ms | p99.9 ms | max ms | p99 ÷ runnel's | sent records/s | lost |"
echo "|---|---|---|---|---|---|---|---|"
for s in rn rnf mock rh nats; do
    echo "| ${NAME[$s]} | $(g w4.$s.p50_ms) | $(g w4.$s.p99_ms) | $(g w4.$s.p999_ms) | $(g w4.$s.max_ms) | $(ratio "$(g w4.$s.p99_ms)" "$p99") | $(num "$(g w4.$s.sent_rate)") | $(g w4.$s.lost) |"
done
echo
echo "One process produces on a fixed schedule ($PARTS partitions/streams) and consumes in another thread; latency runs from"
echo "each record's scheduled send time to its arrival, so a late send counts against the system; the first second is"
echo "warm-up. Kafka: bench/harness/kafka_latency.c (acks=all, linger.ms=1; the consumer assigned to every partition,"
echo "client defaults otherwise). The mock answers a fetch that finds no data only after fetch.wait.max.ms (500 ms), so"
echo "its figures are the client's fetch wait, not a latency ceiling. Redis: XADD pipelined per 200 µs tick, XREAD BLOCK"
echo "on a second connection. NATS: async publish, push consumers (AckNone, deliver new)."
echo
echo "## W5: $(num "$W5_PARTITIONS") partitions ($W5_TOPICS topics of $(num "$W5_PER_TOPIC")), restart, memory, produce over $(num "$W5_PER_TOPIC") of them"
echo
echo "| system | create s | start with them s | RSS after start MiB | produce records/s (100 B, acks=1) | runnel ÷ it | RSS after produce MiB |"
echo "|---|---|---|---|---|---|---|"
for s in rn mock rh nats; do
    echo "| ${NAME[$s]} | $(g w5.$s.create_s) | $(g w5.$s.start_s) | $(mib "$(g w5.$s.rss_start)") | $(num "$(g w5.$s.rate)") | $(ratio "$(g w5.rn.rate)" "$(g w5.$s.rate)") | $(mib "$(g w5.$s.rss_after)") |"
done
echo
echo "runnel: \`runnel topic create\` $W5_TOPICS times, SIGTERM, start again on the same data dir; start time runs until a"
echo "Metadata request lists every topic. $(num "$W5_COUNT") records produced to one $(num "$W5_PER_TOPIC")-partition topic."
echo "Mock: topics made at start (its create time is the cluster's setup); start = process start to bootstrap printed."
echo "Redis: $(num "$W5_PARTITIONS") empty streams (\`XADD key MAXLEN 0 * v ''\`), restart until PING answers PONG (AOF loaded);"
echo "produce round robin over $(num "$W5_PER_TOPIC") keys. NATS: $(num "$W5_PARTITIONS") file-storage streams, restart until JetStream"
echo "reports all of them; produce round robin over $(num "$W5_PER_TOPIC") streams."
if [ -n "${R[w5.nats.note]:-}" ]; then
    echo
    echo "${R[w5.nats.note]}. nats-server 2.9 keeps two files open per stream (msgs/1.blk and 1.idx), and this container's"
    echo "hard limit on open files is $(ulimit -Hn) (\`ulimit -Hn\`; root here may not raise it), so NATS's create, start and memory"
    echo "figures are for the streams it could make."
fi
echo
echo "## W6: $(num "$W6_CONNS") concurrent client connections"
echo
echo "| system | RSS before MiB | RSS with them MiB | KiB per connection | ÷ runnel's | connect s |"
echo "|---|---|---|---|---|---|"
for s in rn mock rh nats; do
    echo "| ${NAME[$s]} | $(mib "$(g w6.$s.rss_before)") | $(mib "$(g w6.$s.rss_with)") | $(g w6.$s.per_conn) | $(ratio "$(g w6.$s.per_conn)" "$(g w6.rn.per_conn)") | $(g w6.$s.connect_s) |"
done
echo
echo "bench/harness/conns.c opens the connections one after another and does each protocol's opening exchange"
echo "(Kafka ApiVersions, Redis PING, NATS CONNECT + PING), then holds them; RSS is read 1 s later."
echo
echo "## W7: compression, W2 ($(num "$W2_COUNT") x 1 KiB, acks=all) compressed by the producer"
echo
echo "| codec | runnel records/s | MB/s | runnel data dir MB | mock records/s | MB/s | runnel ÷ mock | runnel ÷ runnel uncompressed |"
echo "|---|---|---|---|---|---|---|---|"
for c in none lz4 zstd; do
    echo "| $c | $(num "$(g w7.rn.$c.rate)") | $(g w7.rn.$c.mbps) | $(g w7.rn.$c.disk) | $(num "$(g w7.mock.$c.rate)") | $(g w7.mock.$c.mbps) | $(ratio "$(g w7.rn.$c.rate)" "$(g w7.mock.$c.rate)") | $(ratio "$(g w7.rn.$c.rate)" "$(g w7.rn.none.rate)") |"
done
echo
echo "\`runnel bench produce w7 --size 1024 --acks all --compression CODEC --linger-ms 5 --batch-size 1000000\`. Its"
echo "values are windows at shifting offsets into one buffer of printable pseudo-random bytes, so the records of a batch"
echo "repeat each other and LZ-family codecs find long matches: the data dir column shows how far the batches shrank,"
echo "far more than real data would; read the rows as the codecs' CPU cost with a best case for bytes written. The"
echo "data dir holds the RocksDB WAL files beside the blob files: RocksDB keeps every WAL file until all column"
echo "families with writes in it have flushed, so right after a run the WAL is about as large as the data. MB/s"
echo "counts uncompressed value bytes. Redis and NATS have no producer-side compression."
echo
echo "## W8: Lua hooks"
echo
echo "W1's shape (100-byte JSON values, $PARTS partitions, acks=1, $(num "$W8_COUNT") records, distinct keys) without hooks and"
echo "through a partitioner (partitioners/murmur2.lua) and a produce filter (filters/require_json_fields.lua), from"
echo "bench/hooks.sh:"
echo
sed "s#$work#\$WORK#g" "$work/hooks.md"
echo
echo "### Stream processors"
echo
echo "<!-- stream processor figures: bench/processors.sh (another engineer's) when it exists and is executable -->"
if [ -n "$processors_md" ]; then
    echo "From \`bench/processors.sh ${proc_args[*]//$work/\$WORK}\` (its own Markdown, as it printed it):"
    echo
    sed "s#$work#\$WORK#g" "$processors_md"
else
    echo "Not measured: bench/processors.sh did not exist (or was not executable) when this run started."
fi
echo
echo "## CPU profiles of the broker"
echo
if [ -z "$perf_ok" ]; then
    echo "perf could not run in this container: $perf_error"
else
    for p in "pw1|W1 ($(num "$PROFILE_W1") x 100 B, acks=1)" "pw2|W2 ($(num "$PROFILE_W2") x 1 KiB, acks=all)"; do
        k=${p%%|*}
        echo "### ${p#*|}: $(num "$(g prof.$k.rate)") records/s, $(g prof.$k.mbps) MB/s under perf"
        echo
        echo "\`perf record -F 999 --call-graph dwarf,16384 -p <broker>\` for the whole produce run (log.flush.sync=true),"
        echo "$(grep -oE '[0-9]+ samples' "$work/perf-$k.log" | head -1 || echo "? samples")."
        echo "Share of samples by object:"
        echo
        echo '```'; cat "$work/prof-$k-dso.txt"; echo '```'
        echo
        echo "Top functions by self time (object, function):"
        echo
        echo '```'; cat "$work/prof-$k-self.txt"; echo '```'
        echo
        echo "Inclusive time (a function and all it calls; thread start, event loop and syscall entry left out; a run"
        echo "of frames with the same share, a call chain, folded into one row):"
        echo
        echo '```'; cat "$work/prof-$k-incl.txt"; echo '```'
        echo
    done
fi
echo "## Targets (issue 8)"
echo
echo "| target | figure | ratio to the bound | verdict |"
echo "|---|---|---|---|"
echo "| W1 at least 2x Redis Streams | runnel $(num "$w1_rn") vs Redis's best $(num "$w1_redis") records/s | $r_t1a | $(verdict "$r_t1a" ge 2) |"
echo "| W1 at least 0.6x the in-memory mock ceiling | runnel $(num "$w1_rn") vs mock $(num "$w1_mock") records/s | $r_t1b | $(verdict "$r_t1b" ge 0.6) |"
echo "| W2 at least 0.7x raw RocksDB blob writes of the same bytes | runnel $(g w2.rn.mbps) vs raw RocksDB (synced) $(g lim.rdb1.mbps) MB/s; sync=false: $(g w2.rnf.mbps) vs unsynced $(g lim.rdb0.mbps) MB/s | $r_t2 (sync=false: $r_t2f) | $(verdict "$r_t2" ge 0.7) (sync=false: $(verdict "$r_t2f" ge 0.7)) |"
echo "| W3 catch-up read at least 3x W1's produce rate | read $(num "$(g w3.rn.read.rate)") vs produce $(num "$w1_rn") records/s | $r_t3 | $(verdict "$r_t3" ge 3) |"
echo "| W4 p99 under 5 ms | p99 $p99 ms | $p99_ratio of 5 ms | $(verdict "$p99_ratio" lt 1) |"
echo "| W5 10,000 partitions: start under 5 s$w5_scope | $(g w5.rn.start_s) s | $start_ratio of 5 s | $(verdict "$start_ratio" lt 1) |"
echo "| W5 10,000 partitions: resident memory under 1 GiB$w5_scope | $(mib "$(g w5.rn.rss_after)") MiB after start and produce | $rss_ratio of 1 GiB | $(verdict "$rss_ratio" lt 1) |"
echo
prof_line() { # $1 profile: its object shares and top three functions, one line
    [ -s "$work/prof-$1-dso.txt" ] || { echo "no profile"; return; }
    echo "by object $(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1}' "$work/prof-$1-dso.txt" | head -c 400);"
    echo "top self time: $(head -3 "$work/prof-$1-self.txt" | sed -E 's/^ *//; s/  +/ /g' | paste -sd ';' | sed 's/;/; /g')."
}
echo "What the profiles show, for reading the misses: W1 (acks=1): $(prof_line pw1) W2 (acks=all): $(prof_line pw2)"
echo "How to read them: bench/README.md, \"Reading the profiles\"."
echo
echo "## Commands"
echo
echo "Exactly as run, in order; \$WORK is the run's temporary directory (removed at the end), PORT a free loopback"
echo "port, BROKER_PID the broker's pid; \$WORK/bin holds copies of build/runnel-server and build/runnel made at the start."
echo
echo '```sh'
cat "$work/commands"
echo '```'
} >bench/RESULTS.md
say "wrote bench/RESULTS.md ($elapsed s)"
