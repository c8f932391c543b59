#!/usr/bin/env bash
# setup.sh [HOST:PORT]: creates the shop's topics with their runnel Lua hooks.
# The broker's plugins.dir must hold the repo's lua/ folder plus examples/shop/lua/ as
# shop/ (run.sh does this in a temp dir).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUNNEL="${RUNNEL:-$ROOT/build/runnel}"
BOOT="${1:-${RUNNEL_BOOTSTRAP:-localhost:9092}}"
export RUNNEL_BOOTSTRAP="$BOOT"
r() { "$RUNNEL" "$@" | sed 's/^/   /'; }

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
