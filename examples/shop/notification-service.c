/* notification-service (group `notifications`): consumes `payment-updates` and
 * `inventory-events` and prints one line per message to a customer: paid, payment
 * failed, or out of stock (inventory-reserved events need no message: the payment
 * outcome follows). --json prints JSON lines instead. */
#include "common.h"

#include <stdio.h>
#include <string.h>

static struct shop_opts opts;
static long notified;

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char type[32], customer[64], reason[160] = "", text[256], line[512];
    double oid, amount = 0;
    if (!json_str(v, m->len, "type", type, sizeof type) || !json_num(v, m->len, "order_id", &oid) ||
        !json_str(v, m->len, "customer_id", customer, sizeof customer))
        return;
    json_num(v, m->len, "amount", &amount);
    json_str(v, m->len, "reason", reason, sizeof reason);
    const char *status;
    if (!strcmp(type, "payment-completed")) {
        status = "paid";
        jfmt(text, sizeof text, "paid %.2f, will ship", amount);
    } else if (!strcmp(type, "payment-failed")) {
        status = "payment-failed";
        jfmt(text, sizeof text, "payment failed (%s), order cancelled", reason);
    } else if (!strcmp(type, "inventory-rejected")) {
        status = "out-of-stock";
        jfmt(text, sizeof text, "sorry, %s", reason);
    } else {
        return;
    }
    notified++;
    if (opts.json)
        jfmt(line, sizeof line, "{\"order_id\":%.0f,\"customer_id\":\"%s\",\"status\":\"%s\",\"message\":\"%s\"}", oid,
             customer, status, text);
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
    shop_log(&opts, "stats: notified=%ld", notified);
    rd_kafka_destroy(k);
    return 0;
}
