#!/usr/bin/env bash
# run.sh: the whole shop demo in one command. Builds what's missing, starts a runnel
# broker on a free port with a temp data dir, creates the topics and the stream
# processors (setup.sh), starts the services (two payment-service instances sharing the
# group), sends a burst of orders stamped over the last MINUTES minutes, waits until the
# notifications stop and the processors have caught up, prints a summary and stops
# everything.
#   ORDERS=200 RATE=0 MINUTES=10 KEEP=1 examples/shop/run.sh    (KEEP=1 keeps the temp dir)
# RUNNEL_BUILD=DIR takes runnel and runnel-server from DIR instead of build/.
set -eu

SHOP="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$SHOP/../.." && pwd)"
ORDERS="${ORDERS:-200}"
RATE="${RATE:-0}"
MINUTES="${MINUTES:-10}"
BUILD="${RUNNEL_BUILD:-$ROOT/build}"
RUNNEL="$BUILD/runnel"
SERVER="$BUILD/runnel-server"

# --- build -----------------------------------------------------------------------------
if [[ ! -x "$RUNNEL" || ! -x "$SERVER" ]]; then
    [[ -z "${RUNNEL_BUILD:-}" ]] || { echo "no runnel or runnel-server in $BUILD" >&2; exit 1; }
    echo "== building runnel (make build)"
    make -C "$ROOT" build >/dev/null
fi
echo "== building the shop services"
make -s -C "$SHOP" >/dev/null

# --- cleanup: every child is stopped on exit -------------------------------------------
WORK="$(mktemp -d /tmp/runnel-shop.XXXXXX)"
PIDS=()
BROKER_PID=""
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n "$BROKER_PID" ]]; then
        kill -TERM "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    if [[ -n "${KEEP:-}" ]]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- broker ----------------------------------------------------------------------------
# plugins.dir: the repo's lua/ plus the shop's scripts under shop/; the HTTP listener is
# where `runnel processor ...` creates and shows the stream processors
mkdir -p "$WORK/lua/shop" "$WORK/logs"
cp -r "$ROOT/lua/." "$WORK/lua/"
cp "$SHOP"/lua/*.lua "$WORK/lua/shop/"
PORT="$(free_port)"
BOOT="127.0.0.1:$PORT"
HTTP="127.0.0.1:$(free_port)"
export RUNNEL_BOOTSTRAP="$BOOT" RUNNEL_HTTP="$HTTP"
echo "== starting runnel-server on $BOOT, HTTP on $HTTP (data in $WORK/data, plugins.dir $WORK/lua)"
"$SERVER" --set "listeners=PLAINTEXT://$BOOT" --set "data.dir=$WORK/data" \
    --set "http.listener=$HTTP" --set "plugins.dir=$WORK/lua" \
    --set "group.initial.rebalance.delay.ms=1000" >"$WORK/logs/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    "$RUNNEL" topic list >/dev/null 2>&1 && break
    sleep 0.2
done
"$RUNNEL" topic list >/dev/null

# --- topics ----------------------------------------------------------------------------
echo "== creating topics and stream processors"
RUNNEL="$RUNNEL" "$SHOP/setup.sh" "$BOOT" "$HTTP"

# --- services --------------------------------------------------------------------------
B="$SHOP/bin"
start() { # start NAME LOGNAME ARGS...
    local name=$1 log=$2; shift 2
    "$B/$name" --bootstrap "$BOOT" "$@" >"$WORK/logs/$log.out" 2>"$WORK/logs/$log.err" &
    PIDS+=($!)
}
echo "== starting the services"
start inventory-service inventory
start payment-service payment-1
start payment-service payment-2
start notification-service notifications
start fraud-check fraud
# wait until every consumer has its partitions
for _ in $(seq 100); do
    n=$(grep -l "assigned:" "$WORK"/logs/*.err 2>/dev/null | wc -l)
    [[ $n -ge 5 ]] && break
    sleep 0.2
done
sleep 1
grep -h "assigned:" "$WORK"/logs/*.err | sed 's/^/   /'

# --- orders ----------------------------------------------------------------------------
echo "== sending $ORDERS orders, stamped over the last $MINUTES minutes"
"$B/order-service" --bootstrap "$BOOT" --generate "$ORDERS" --rate "$RATE" --minutes "$MINUTES" \
    >"$WORK/logs/orders.out" 2>"$WORK/logs/orders.err"
grep -h "rejected by the broker" "$WORK/logs/orders.err" | head -4 | sed 's/^/   /'
echo "-- the broker's reasons (broker log; librdkafka 2.0 doesn't pass them to the producer):"
grep -h "refused by a hook" "$WORK/logs/broker.log" | head -4 | sed 's/^[^ ]* /   /'
cat "$WORK/logs/orders.out" | sed 's/^/   /'

echo "== waiting until the notifications stop"
last=-1
for _ in $(seq 120); do
    n=$(wc -l <"$WORK/logs/notifications.out")
    [[ $n -gt 0 && $n -eq $last ]] && break
    last=$n
    sleep 2
done
echo "-- first charges (payment-1):"
head -3 "$WORK/logs/payment-1.out" | sed 's/^/   /'
echo "-- first notifications:"
head -5 "$WORK/logs/notifications.out" | sed 's/^/   /'
echo "-- first fraud-check flags:"
head -3 "$WORK/logs/fraud.out" | sed 's/^/   /'
echo "== waiting until the stream processors have caught up"
for _ in $(seq 60); do
    "$RUNNEL" processor list --json >"$WORK/processors.json"
    python3 -c 'import json,sys; sys.exit(any(p["lag"] for p in json.load(open(sys.argv[1]))["processors"]))' \
        "$WORK/processors.json" && break
    sleep 0.5
done
"$RUNNEL" consume stock-levels --timeout-ms 3000 --format '%k %v\n' >"$WORK/logs/stock-levels.txt"
"$RUNNEL" consume revenue-per-minute --timeout-ms 3000 --format '%k %v\n' >"$WORK/logs/revenue.txt"
"$RUNNEL" consume orders --timeout-ms 3000 --format '%p %t %v\n' >"$WORK/logs/orders.txt"
"$RUNNEL" processor status revenue --json >"$WORK/logs/revenue-status.json"
echo "-- first results of the stock processor (stock-levels, keyed by item):"
head -3 "$WORK/logs/stock-levels.txt" | sed 's/^/   /'
echo "-- first results of the revenue processor (revenue-per-minute, keyed by the minute's start):"
head -3 "$WORK/logs/revenue.txt" | sed 's/^/   /'

echo "== runnel group describe payments"
"$RUNNEL" group describe payments | sed 's/^/   /'

# --- stop the services, collect their counters -----------------------------------------
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

stat() { # stat KEY FILES...: sum of KEY=N over the stats lines
    local key=$1; shift
    cat "$@" | grep -o "stats:.*" | grep -o "$key=[0-9]*" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}
L="$WORK/logs"
sent=$(grep -o "sent=[0-9]*" "$L/orders.out" | cut -d= -f2)
filt=$(grep -o "rejected=[0-9]*" "$L/orders.out" | cut -d= -f2)
p1=$(stat completed "$L/payment-1.err"); p2=$(stat completed "$L/payment-2.err")
f1=$(stat failed "$L/payment-1.err"); f2=$(stat failed "$L/payment-2.err")
echo "== summary"
printf '   %-34s %s\n' \
    "orders sent" "$sent" \
    "rejected by the broker filter" "$filt" \
    "reserved by inventory" "$(stat reserved "$L/inventory.err")" \
    "rejected by inventory (stock)" "$(stat rejected "$L/inventory.err")" \
    "paid" "$((p1 + p2)) (payment-1: $p1, payment-2: $p2)" \
    "payment failed" "$((f1 + f2)) (payment-1: $f1, payment-2: $f2)" \
    "notified" "$(stat notified "$L/notifications.err") ($(wc -l <"$L/notifications.out") lines, $(stat duplicates "$L/notifications.err") duplicates skipped)" \
    "flagged by fraud-check (> 500)" "$(stat flagged "$L/fraud.err")"

# --- what the processors computed, beside the services' -------------------------------
grep -h "stock:" "$L/inventory.err" | sed 's/^\[inventory-service\] stock: *//' >"$L/inventory-stock.txt"
python3 - "$L" <<'PY'
import json, sys, time
from collections import defaultdict
L = sys.argv[1]
# stock: the last result per item is its level; inventory-service logged its own at exit
inv = dict(line.split() for line in open(L + "/inventory-stock.txt"))
left, count = {}, defaultdict(lambda: {"reserved": 0, "rejected": 0})
for line in open(L + "/stock-levels.txt"):
    r = json.loads(line.split(" ", 1)[1])
    left[r["sku"]] = r["left"]
    count[r["sku"]][r["status"]] += 1
print("-- stock per item: inventory-service (C, in memory) and the stock processor (Lua, in the broker)")
print("   %-11s %-18s %s" % ("ITEM", "INVENTORY-SERVICE", "STOCK PROCESSOR (ORDERS RESERVED / REJECTED)"))
for item in inv:
    print("   %-11s %-18s %-4s (%d / %d)" % (item, inv[item], left.get(item, "-"), count[item]["reserved"],
                                            count[item]["rejected"]))
print("   %d results for %d orders accepted" % (sum(c["reserved"] + c["rejected"] for c in count.values()),
                                               sum(1 for _ in open(L + "/orders.txt"))))
# revenue: a minute is complete once every partition's stream time passed its end + grace
status = json.load(open(L + "/revenue-status.json"))
grace = int(status["options"].get("window.grace.ms", 0))
got = defaultdict(lambda: [0, 0, 0])  # window start -> orders, cents, partitions reported
for line in open(L + "/revenue.txt"):
    r = json.loads(line.split(" ", 1)[1])
    g = got[r["window_start"]]
    g[0] += r["orders"]
    g[1] += round(float(r["revenue"]) * 100)
    g[2] += 1
recount = defaultdict(lambda: [0, 0, set()])  # window start -> orders, cents, partitions
for line in open(L + "/orders.txt"):
    partition, ts, value = line.split(" ", 2)
    start = int(ts) - int(ts) % 60000
    recount[start][0] += 1
    recount[start][1] += round(json.loads(value)["amount"] * 100)
    recount[start][2].add(partition)
print("-- revenue per minute (processor revenue; event time, UTC; a minute closes when every")
print("   partition of orders has an order stamped after its end + %d s)" % (grace // 1000))
print("   %-6s %7s %10s   %s" % ("MINUTE", "ORDERS", "REVENUE", "RECOUNTED FROM orders"))
for start in sorted(recount):
    n, cents, partitions = recount[start]
    when = time.strftime("%H:%M", time.gmtime(start / 1000))
    if start + 60000 + grace <= status["stream_time"]:
        g = got[start]
        print("   %-6s %7d %10.2f   %d orders, %.2f%s" % (when, g[0], g[1] / 100, n, cents / 100,
                                                       "" if (g[0], g[1]) == (n, cents) else "  DIFFERENT"))
    else:
        print("   %-6s %7s %10s   %d orders, %.2f (closed in %d of the %d partitions with orders in it)" % (
            when, "open", "", n, cents / 100, got[start][2] if start in got else 0, len(partitions)))
PY
echo "== runnel processor list"
"$RUNNEL" processor list | sed 's/^/   /'
