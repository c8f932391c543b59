/* notification-service (group `notifications`): consumes `payment-updates` and
 * `inventory-events` and prints one line per message to a customer: paid, payment
 * failed, or out of stock (inventory-reserved events need no message: the payment
 * outcome follows). --json prints JSON lines instead.
 *
 * Events can be in the log twice (a payment-service instance died after producing but
 * before committing, and another produced the same event again): a customer is told
 * once per order and outcome, whatever the number of copies. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *type;   /* the event */
    const char *status; /* what the customer is told, in --json */
} outcomes[] = {
    {"payment-completed", "paid"},
    {"payment-failed", "payment-failed"},
    {"inventory-rejected", "out-of-stock"},
};
#define NOUTCOMES (sizeof outcomes / sizeof outcomes[0])

static struct shop_opts opts;
static long notified, duplicates;
static struct shop_seen seen; /* order id * NOUTCOMES + outcome, told */

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char type[32], customer[64], reason[160] = "", text[256], line[512];
    double oid, amount = 0;
    if (!json_str(v, m->len, "type", type, sizeof type) || !json_num(v, m->len, "order_id", &oid) ||
        !json_str(v, m->len, "customer_id", customer, sizeof customer))
        return;
    size_t k = 0;
    while (k < NOUTCOMES && strcmp(type, outcomes[k].type)) k++;
    if (k == NOUTCOMES) return; /* inventory-reserved: nothing to tell yet */
    if (shop_seen_add(&seen, (unsigned long long)oid * NOUTCOMES + k)) {
        duplicates++;
        return;
    }
    json_num(v, m->len, "amount", &amount);
    json_str(v, m->len, "reason", reason, sizeof reason);
    if (k == 0) jfmt(text, sizeof text, "paid %.2f, will ship", amount);
    else if (k == 1) jfmt(text, sizeof text, "payment failed (%s), order cancelled", reason);
    else jfmt(text, sizeof text, "sorry, %s", reason);
    notified++;
    if (opts.json)
        jfmt(line, sizeof line, "{\"order_id\":%.0f,\"customer_id\":\"%s\",\"status\":\"%s\",\"message\":\"%s\"}", oid,
             customer, outcomes[k].status, text);
    else
        jfmt(line, sizeof line, "order %.0f for customer %s: %s", oid, customer, text);
    puts(line);
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv, "[--json] [--bootstrap HOST:PORT]");
    shop_install_signals();
    static const char *const topics[] = {"payment-updates", "inventory-events", NULL};
    rd_kafka_t *k = shop_consumer(&opts, "notifications", topics);
    shop_log(&opts, "started");
    shop_consume_loop(&opts, k, NULL, handle);
    shop_log(&opts, "stats: notified=%ld duplicates=%ld", notified, duplicates);
    rd_kafka_destroy(k);
    free(seen.slots);
    return 0;
}
