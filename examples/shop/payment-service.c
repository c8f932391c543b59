/* payment-service (group `payments`): consumes `inventory-events`; for each
 * inventory-reserved order it charges the customer and produces payment-completed or
 * payment-failed to `payment-updates`, keyed by order_id. A charge fails when the amount
 * is over 900 (the card limit) or for a deterministic ~5% of orders (declined). Several
 * instances share the group and split the partitions. */
#include "common.h"

#include <stdio.h>
#include <string.h>

static struct shop_opts opts;
static rd_kafka_t *producer;
static long completed, failed;

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char type[32], customer[64], out[512];
    double oid, amount;
    if (!json_str(v, m->len, "type", type, sizeof type) || strcmp(type, "inventory-reserved"))
        return; /* only reserved orders are charged */
    if (!json_num(v, m->len, "order_id", &oid) || !json_str(v, m->len, "customer_id", customer, sizeof customer) ||
        !json_num(v, m->len, "amount", &amount))
        return;
    unsigned long id = (unsigned long)oid;
    const char *reason = NULL;
    if (amount > 900) reason = "amount over the card limit of 900";
    else if ((id * 2654435761UL) % 100 < 5) reason = "card declined";
    char key[32];
    jfmt(key, sizeof key, "%lu", id);
    if (reason) {
        failed++;
        jfmt(out, sizeof out,
             "{\"type\":\"payment-failed\",\"order_id\":%lu,\"customer_id\":\"%s\",\"amount\":%.2f,\"reason\":\"%s\"}",
             id, customer, amount, reason);
    } else {
        completed++;
        jfmt(out, sizeof out, "{\"type\":\"payment-completed\",\"order_id\":%lu,\"customer_id\":\"%s\",\"amount\":%.2f}",
             id, customer, amount);
    }
    rd_kafka_resp_err_t e = shop_produce(producer, "payment-updates", key, out);
    if (e) shop_log(&opts, "produce: %s", rd_kafka_err2str(e));
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv, "[--bootstrap HOST:PORT]");
    shop_install_signals();
    static const char *const topics[] = {"inventory-events", NULL};
    rd_kafka_t *k = shop_consumer(&opts, "payments", topics);
    producer = shop_producer(&opts, shop_count_failures, false);
    shop_log(&opts, "started");
    shop_consume_loop(&opts, k, producer, handle);
    rd_kafka_flush(producer, 10000);
    shop_log(&opts, "stats: completed=%ld failed=%ld", completed, failed);
    rd_kafka_destroy(k);
    rd_kafka_destroy(producer);
    return 0;
}
