/* payment-service (group `payments`): consumes `inventory-events`; for each
 * inventory-reserved order it charges the customer, prints the charge on stdout and
 * produces payment-completed or payment-failed to `payment-updates`, keyed by order_id.
 * Several instances share the group and split the partitions.
 *
 * A charge's outcome depends on the order alone: it fails when the amount is over 900
 * (the card limit) or for a deterministic ~5% of orders (declined). That stands for a
 * payment provider called with the order id as its idempotency key: charging an order
 * again gives the first answer, not a second charge. So when an instance dies and its
 * uncommitted records are delivered again to another one, the second instance produces
 * an event identical to the first. --json prints the charges as JSON lines. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct shop_opts opts;
static rd_kafka_t *producer;
static long completed, failed, redelivered;
static struct shop_seen seen; /* order ids charged by this instance */

/* The payment provider's answer: NULL (paid) or why not. */
static const char *charge(unsigned long order_id, double amount)
{
    if (amount > 900) return "amount over the card limit of 900";
    if ((order_id * 2654435761UL) % 100 < 5) return "card declined";
    return NULL;
}

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char type[32], customer[64], key[32], out[512];
    double oid, amount;
    if (!json_str(v, m->len, "type", type, sizeof type) || strcmp(type, "inventory-reserved"))
        return; /* only reserved orders are charged */
    if (!json_num(v, m->len, "order_id", &oid) || !json_str(v, m->len, "customer_id", customer, sizeof customer) ||
        !json_num(v, m->len, "amount", &amount))
        return;
    unsigned long id = (unsigned long)oid;
    if (shop_seen_add(&seen, id)) { /* this instance's own event for it is already produced */
        redelivered++;
        shop_log(&opts, "order %lu delivered again (inventory-events[%d]@%lld): already charged", id,
                 (int)m->partition, (long long)m->offset);
        return;
    }
    const char *reason = charge(id, amount);
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
    if (opts.json)
        printf("{\"order_id\":%lu,\"customer_id\":\"%s\",\"amount\":%.2f,\"paid\":%s,\"partition\":%d,\"offset\":%lld}\n",
               id, customer, amount, reason ? "false" : "true", (int)m->partition, (long long)m->offset);
    else
        printf("order %lu for customer %s: %.2f %s%s\n", id, customer, amount, reason ? "declined: " : "charged",
               reason ? reason : "");
    rd_kafka_resp_err_t e = shop_produce(producer, "payment-updates", key, out);
    if (e) shop_log(&opts, "produce: %s", rd_kafka_err2str(e));
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv, "[--json] [--bootstrap HOST:PORT]");
    shop_install_signals();
    static const char *const topics[] = {"inventory-events", NULL};
    rd_kafka_t *k = shop_consumer(&opts, "payments", topics);
    producer = shop_producer(&opts, shop_count_failures, false);
    shop_log(&opts, "started");
    shop_consume_loop(&opts, k, producer, handle);
    rd_kafka_flush(producer, 10000);
    shop_log(&opts, "stats: completed=%ld failed=%ld redelivered=%ld", completed, failed, redelivered);
    rd_kafka_destroy(k);
    rd_kafka_destroy(producer);
    free(seen.slots);
    return 0;
}
