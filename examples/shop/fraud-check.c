/* fraud-check (group `fraud`): consumes the view topic `orders.high-value`, which the
 * broker filters with lua/amount_above.lua: only orders whose amount is over the view's
 * view.filter.value reach this service. It prints each flagged order once, however
 * often it is delivered. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

static struct shop_opts opts;
static long flagged, duplicates;
static struct shop_seen seen; /* order ids flagged */

static void handle(const rd_kafka_message_t *m)
{
    const char *v = m->payload;
    char customer[64] = "?", item[64] = "?";
    double oid = 0, amount = 0;
    json_num(v, m->len, "order_id", &oid);
    json_num(v, m->len, "amount", &amount);
    json_str(v, m->len, "customer_id", customer, sizeof customer);
    json_str(v, m->len, "item", item, sizeof item);
    if (shop_seen_add(&seen, (unsigned long long)oid)) {
        duplicates++;
        return;
    }
    flagged++;
    if (opts.json) printf("{\"flagged\":%.*s}\n", (int)m->len, v);
    else printf("FLAGGED order %.0f customer %s: %s for %.2f (orders[%d]@%lld)\n", oid, customer, item, amount,
                (int)m->partition, (long long)m->offset);
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv, "[--json] [--bootstrap HOST:PORT]");
    shop_install_signals();
    static const char *const topics[] = {"orders.high-value", NULL};
    rd_kafka_t *k = shop_consumer(&opts, "fraud", topics);
    shop_log(&opts, "started");
    shop_consume_loop(&opts, k, NULL, handle);
    shop_log(&opts, "stats: flagged=%ld duplicates=%ld", flagged, duplicates);
    rd_kafka_destroy(k);
    free(seen.slots);
    return 0;
}
