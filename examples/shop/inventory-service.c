/* inventory-service (group `inventory`): consumes `orders`, reserves stock from an
 * in-memory table and produces inventory-reserved / inventory-rejected events to
 * `inventory-events`, keyed by order_id. Offsets are committed after the events are
 * delivered (at least once); an order delivered again is skipped (idempotent by order
 * id), so its stock is not reserved twice. Run one instance: the stock and the orders
 * seen live in this process's memory. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *item;
    long stock;
} stock[] = {{"mouse", 400}, {"keyboard", 300}, {"headphones", 250}, {"monitor", 150}, {"laptop", 60}};
#define NSTOCK (sizeof stock / sizeof stock[0])

static struct shop_opts opts;
static rd_kafka_t *producer;
static long reserved, rejected, redelivered;
static struct shop_seen seen; /* order ids handled */

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char order_id[32], customer[64], item[64], key[32], out[512];
    double qty, amount, oid;
    if (!json_num(v, m->len, "order_id", &oid) || !json_str(v, m->len, "customer_id", customer, sizeof customer) ||
        !json_str(v, m->len, "item", item, sizeof item) || !json_num(v, m->len, "qty", &qty) ||
        !json_num(v, m->len, "amount", &amount)) {
        shop_log(&opts, "skipping an unreadable order at orders[%d]@%lld", (int)m->partition, (long long)m->offset);
        return;
    }
    if (shop_seen_add(&seen, (unsigned long long)oid)) {
        redelivered++;
        shop_log(&opts, "order %.0f delivered again (orders[%d]@%lld): already handled", oid, (int)m->partition,
                 (long long)m->offset);
        return;
    }
    jfmt(order_id, sizeof order_id, "%.0f", oid);
    jfmt(key, sizeof key, "%s", order_id);
    long *level = NULL;
    for (size_t i = 0; i < NSTOCK; i++)
        if (!strcmp(stock[i].item, item)) level = &stock[i].stock;
    if (level && *level >= (long)qty) {
        *level -= (long)qty;
        reserved++;
        jfmt(out, sizeof out,
             "{\"type\":\"inventory-reserved\",\"order_id\":%s,\"customer_id\":\"%s\",\"item\":\"%s\",\"qty\":%.0f,"
             "\"amount\":%.2f,\"stock_left\":%ld}",
             order_id, customer, item, qty, amount, *level);
    } else {
        rejected++;
        char reason[128];
        if (level) jfmt(reason, sizeof reason, "out of stock: %.0f %s wanted, %ld left", qty, item, *level);
        else jfmt(reason, sizeof reason, "unknown item %s", item);
        jfmt(out, sizeof out,
             "{\"type\":\"inventory-rejected\",\"order_id\":%s,\"customer_id\":\"%s\",\"item\":\"%s\",\"qty\":%.0f,"
             "\"amount\":%.2f,\"reason\":\"%s\"}",
             order_id, customer, item, qty, amount, reason);
    }
    rd_kafka_resp_err_t e = shop_produce(producer, "inventory-events", key, out);
    if (e) shop_log(&opts, "produce: %s", rd_kafka_err2str(e));
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv, "[--bootstrap HOST:PORT]");
    shop_install_signals();
    static const char *const topics[] = {"orders", NULL};
    rd_kafka_t *k = shop_consumer(&opts, "inventory", topics);
    producer = shop_producer(&opts, shop_count_failures, false);
    shop_log(&opts, "started");
    shop_consume_loop(&opts, k, producer, handle);
    rd_kafka_flush(producer, 10000);
    shop_log(&opts, "stats: reserved=%ld rejected=%ld redelivered=%ld", reserved, rejected, redelivered);
    for (size_t i = 0; i < NSTOCK; i++) shop_log(&opts, "stock: %-10s %ld", stock[i].item, stock[i].stock);
    rd_kafka_destroy(k);
    rd_kafka_destroy(producer);
    free(seen.slots);
    return 0;
}
