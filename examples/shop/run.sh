#!/usr/bin/env bash
# run.sh: the whole shop demo in one command. Builds what's missing, starts a runnel
# broker on a free port with a temp data dir, creates the topics (setup.sh), starts the
# services (two payment-service instances sharing the group), sends a burst of orders,
# waits until the notifications stop, prints a summary and stops everything.
#   ORDERS=200 RATE=0 KEEP=1 examples/shop/run.sh    (KEEP=1 keeps the temp dir)
# RUNNEL_BUILD=DIR takes runnel and runnel-server from DIR instead of build/.
set -eu

SHOP="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$SHOP/../.." && pwd)"
ORDERS="${ORDERS:-200}"
RATE="${RATE:-0}"
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
# plugins.dir: the repo's lua/ plus the shop's scripts under shop/
mkdir -p "$WORK/lua/shop" "$WORK/logs"
cp -r "$ROOT/lua/." "$WORK/lua/"
cp "$SHOP"/lua/*.lua "$WORK/lua/shop/"
PORT="$(free_port)"
BOOT="127.0.0.1:$PORT"
export RUNNEL_BOOTSTRAP="$BOOT"
echo "== starting runnel-server on $BOOT (data in $WORK/data, plugins.dir $WORK/lua)"
"$SERVER" --set "listeners=PLAINTEXT://$BOOT" --set "data.dir=$WORK/data" \
    --set "http.listener=" --set "plugins.dir=$WORK/lua" \
    --set "group.initial.rebalance.delay.ms=1000" >"$WORK/logs/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    "$RUNNEL" topic list >/dev/null 2>&1 && break
    sleep 0.2
done
"$RUNNEL" topic list >/dev/null

# --- topics ----------------------------------------------------------------------------
echo "== creating topics"
RUNNEL="$RUNNEL" "$SHOP/setup.sh" "$BOOT"

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
echo "== sending $ORDERS orders"
"$B/order-service" --bootstrap "$BOOT" --generate "$ORDERS" --rate "$RATE" \
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
grep -h "stock:" "$L/inventory.err" | sed 's/^\[inventory-service\] /   /'
