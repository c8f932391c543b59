#!/usr/bin/env bash
# setup.sh [HOST:PORT [HTTP_HOST:PORT]]: creates the shop's topics with their runnel Lua
# hooks, and its stream processors (through the broker's HTTP endpoint: the second
# argument, else RUNNEL_HTTP, else the bootstrap host on port 9644).
# The broker's plugins.dir must hold the repo's lua/ folder plus examples/shop/lua/ as
# shop/ (run.sh does this in a temp dir).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUNNEL="${RUNNEL:-$ROOT/build/runnel}"
BOOT="${1:-${RUNNEL_BOOTSTRAP:-localhost:9092}}"
export RUNNEL_BOOTSTRAP="$BOOT"
if [[ -n "${2:-}" ]]; then export RUNNEL_HTTP="$2"; fi
r() { "$RUNNEL" "$@" | sed 's/^/   /'; }
p() { "$RUNNEL" processor create "$@" | sed -n '1s/^/   /p'; } # its first line: "processor NAME: running"

# orders: placed by customer_id whatever the producer chose; malformed orders refused
r topic create orders --partitions 6 \
    --config partitioner.script=partitioners/json_field.lua \
    --config partitioner.field=customer_id \
    --config produce.filter.script=filters/require_json_fields.lua \
    --config produce.filter.fields=order_id,customer_id,item,qty,amount
r topic create inventory-events --partitions 3
r topic create payment-updates --partitions 3
# a read-only view of orders with only those over 500
r topic create orders.high-value \
    --config view.of=orders \
    --config view.filter.script=shop/amount_above.lua \
    --config view.filter.value=500

# --- stream processors: inside the broker, exactly once --------------------------------
r topic create orders-by-item --partitions 3
r topic create stock-levels --partitions 3
r topic create revenue-per-minute --partitions 1
# orders re-keyed by item (placed by murmur2 of the key), so each item is in one partition
p rekey-orders --script processors/router.lua \
    --input orders --output orders-by-item \
    --option route.field=item --option route.default=orders-by-item --option output.key.field=item
# stock per item, from the same initial stock as inventory-service
p stock --script processors/stock.lua \
    --input orders-by-item --output stock-levels \
    --option stock.initial.mouse=400 --option stock.initial.keyboard=300 \
    --option stock.initial.headphones=250 --option stock.initial.monitor=150 \
    --option stock.initial.laptop=60
# revenue per minute of event time (the orders' timestamps), 5 s of grace for late orders
p revenue --script processors/revenue_per_minute.lua \
    --input orders --output revenue-per-minute \
    --option window.size.ms=60000 --option window.grace.ms=5000
