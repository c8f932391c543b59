/* common.h: what the shop services share: command-line config, librdkafka setup,
 * JSON building with snprintf and a tiny reader for the flat JSON objects the demo uses. */
#ifndef SHOP_COMMON_H
#define SHOP_COMMON_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

extern volatile sig_atomic_t shop_stop; /* set by SIGINT/SIGTERM */

struct shop_opts {
    const char *bootstrap; /* --bootstrap, default localhost:9092 */
    bool json;             /* --json */
    long generate;         /* --generate N */
    double rate;           /* --rate R (records/s, 0: as fast as possible) */
    double minutes;        /* --minutes M (order-service: event time spread over M minutes) */
    const char *http;      /* --http HOST:PORT (order-service) */
    const char *name;      /* the program's name, for logs */
};

/* Parses --bootstrap, --json, --generate, --rate, --minutes, --http; exits 2 on anything else.
 * Also makes stdout line-buffered: a line a service prints is a thing it has done, and
 * must not be lost in a buffer when the process is killed. */
void shop_parse_args(struct shop_opts *o, int argc, char **argv, const char *usage);
void shop_install_signals(void);

/* A producer / a consumer in group `group` subscribed to the topics (NULL-terminated).
 * The consumer does not commit by itself: the caller commits after its work is done.
 * Its session timeout is 6 s: a killed instance's partitions move to the others after
 * that long. */
rd_kafka_t *shop_producer(const struct shop_opts *o, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                          bool one_record_per_batch);
rd_kafka_t *shop_consumer(const struct shop_opts *o, const char *group, const char *const *topics);

/* Tiny JSON field reader for flat objects: the raw text of a top-level field.
 * json_str copies a string field (no escape handling beyond \" and \\); json_num parses a
 * number. Both return false when the field is absent or of another kind. */
bool json_str(const char *json, size_t len, const char *field, char *out, size_t outlen);
bool json_num(const char *json, size_t len, const char *field, double *out);

/* snprintf into a buffer, exits on truncation (the demo's objects are small). */
int jfmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Produce a value with a key; returns 0 or the librdkafka error. The record's timestamp
 * is the time of the call, or with shop_produce_at timestamp_ms (0: the time of the call):
 * its event time, which the broker keeps (CreateTime) and stream processors' windows use. */
rd_kafka_resp_err_t shop_produce(rd_kafka_t *p, const char *topic, const char *key, const char *value);
rd_kafka_resp_err_t shop_produce_at(rd_kafka_t *p, const char *topic, const char *key, const char *value,
                                    long long timestamp_ms);

void shop_log(const struct shop_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The consume loop every consumer service runs: handle(m) for each record; after a
 * burst (or 100 records, or a second), and before partitions are taken away in a rebalance, the
 * producer `p` (if any) is flushed and, only if all its records were delivered, the
 * consumer's positions are committed: at least once. Records handled after the last
 * commit are delivered again (to this instance or another) when the process dies.
 * Returns on SIGINT/SIGTERM (after a last flush and commit) or exits 1 on a failed
 * delivery. */
void shop_consume_loop(const struct shop_opts *o, rd_kafka_t *k, rd_kafka_t *p,
                       void (*handle)(const rd_kafka_message_t *m));
/* A delivery callback for shop_consume_loop's producers: counts failures. */
void shop_count_failures(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* The keys (order ids) a consumer has acted on, so that a record delivered again changes
 * nothing: the consumers are idempotent by order id. In memory: it lasts as long as the
 * process (a record delivered to another instance is covered by deterministic outcomes,
 * see README.md). Start from a zeroed struct. */
struct shop_seen {
    unsigned long long *slots; /* open addressing; 0 is an empty slot, a key k is k + 1 */
    size_t cap, count;
};
/* Adds key; returns true when it was already there. */
bool shop_seen_add(struct shop_seen *s, unsigned long long key);

#endif
