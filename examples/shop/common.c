/* common.c: see common.h. */
#include "common.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t shop_stop;

static void on_signal(int sig) { (void)sig; shop_stop = 1; }

void shop_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void shop_parse_args(struct shop_opts *o, int argc, char **argv, const char *usage)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *slash = strrchr(argv[0], '/');
    o->name = slash ? slash + 1 : argv[0];
    o->bootstrap = getenv("SHOP_BOOTSTRAP") ? getenv("SHOP_BOOTSTRAP") : "localhost:9092";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--bootstrap") && i + 1 < argc) o->bootstrap = argv[++i];
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--generate") && i + 1 < argc) o->generate = atol(argv[++i]);
        else if (!strcmp(a, "--rate") && i + 1 < argc) o->rate = atof(argv[++i]);
        else if (!strcmp(a, "--minutes") && i + 1 < argc) o->minutes = atof(argv[++i]);
        else if (!strcmp(a, "--http") && i + 1 < argc) o->http = argv[++i];
        else {
            fprintf(stderr, "usage: %s %s\n", o->name, usage);
            exit(strcmp(a, "--help") ? 2 : 0);
        }
    }
}

void shop_log(const struct shop_opts *o, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[%s] ", o->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "config %s=%s: %s\n", k, v, err);
        exit(1);
    }
}

rd_kafka_t *shop_producer(const struct shop_opts *o, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                          bool one_record_per_batch)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", o->bootstrap);
    set(c, "linger.ms", "5");
    /* Place keyed records by murmur2 of the key, as Java clients and the broker do (its
     * default placement, processors' emits, json_field.lua on orders' customer_id, the
     * key). Then a record is sent to the partition the broker puts it in, and each
     * partition gets its records in the order they were produced. With librdkafka's own
     * default (crc32), the broker re-places orders coming from several of the client's
     * partition queues, interleaved: a partition's order would not be the send order,
     * and event-time windows would see orders minutes late. */
    set(c, "partitioner", "murmur2_random");
    /* The broker refuses a whole batch when its produce filter rejects one record of it,
     * and librdkafka 2.0 fails every record of that batch: a producer whose records may
     * be rejected sends them one per batch so only the bad ones fail. */
    if (one_record_per_batch) set(c, "batch.num.messages", "1");
    if (dr_cb) rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!p) { fprintf(stderr, "producer: %s\n", err); exit(1); }
    return p;
}

/* What shop_consume_loop has handled but not yet committed, for rebalance_cb. */
static struct {
    rd_kafka_t *producer;
    int pending;  /* records handled since the last commit */
    double since; /* when the first of them was handled */
} batch;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void finish_batch(const struct shop_opts *o, rd_kafka_t *k, rd_kafka_t *p);

/* Logs every assignment, so a run shows how a group split the partitions. Before giving
 * partitions up it commits what was handled, so their next owner starts after it
 * instead of handling it again. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    const struct shop_opts *o = opaque;
    char buf[512];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && n < sizeof buf - 64; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s[%d]", i ? " " : "", parts->elems[i].topic,
                              (int)parts->elems[i].partition);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        shop_log(o, "assigned: %s", parts->cnt ? buf : "(nothing)");
        rd_kafka_assign(rk, parts);
    } else {
        shop_log(o, "revoked: %s", parts->cnt ? buf : "(nothing)");
        if (batch.pending) finish_batch(o, rk, batch.producer);
        batch.pending = 0;
        rd_kafka_assign(rk, NULL);
    }
}

rd_kafka_t *shop_consumer(const struct shop_opts *o, const char *group, const char *const *topics)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", o->bootstrap);
    set(c, "group.id", group);
    set(c, "enable.auto.commit", "false");
    set(c, "auto.offset.reset", "earliest");
    set(c, "session.timeout.ms", "6000"); /* the broker's minimum: a dead instance is noticed soon */
    set(c, "heartbeat.interval.ms", "2000");
    rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
    rd_kafka_conf_set_opaque(c, (void *)o);
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!k) { fprintf(stderr, "consumer: %s\n", err); exit(1); }
    rd_kafka_poll_set_consumer(k);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (const char *const *t = topics; *t; t++)
        rd_kafka_topic_partition_list_add(l, *t, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) { fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(e)); exit(1); }
    return k;
}

/* Finds "field": at the top level of a flat object; returns a pointer to the value's
 * first character, or NULL. Nested objects are not expected in the demo. */
static const char *find_value(const char *j, size_t len, const char *field)
{
    const char *end = j + len, *p = j;
    size_t flen = strlen(field);
    while (p < end && isspace((unsigned char)*p)) p++;
    if (p >= end || *p != '{') return NULL;
    p++;
    for (;;) {
        while (p < end && (isspace((unsigned char)*p) || *p == ',')) p++;
        if (p >= end || *p != '"') return NULL;
        const char *k = ++p;
        while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
        if (p >= end) return NULL;
        size_t klen = (size_t)(p - k);
        p++;
        while (p < end && (isspace((unsigned char)*p) || *p == ':')) p++;
        if (p >= end) return NULL;
        if (klen == flen && !memcmp(k, field, flen)) return p;
        /* skip the value */
        if (*p == '"') {
            p++;
            while (p < end && *p != '"') p += (*p == '\\') ? 2 : 1;
            p++;
        } else {
            while (p < end && *p != ',' && *p != '}') p++;
        }
    }
}

bool json_str(const char *json, size_t len, const char *field, char *out, size_t outlen)
{
    const char *end = json + len, *p = find_value(json, len, field);
    if (!p || *p != '"' || outlen == 0) return false;
    size_t n = 0;
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\' && p + 1 < end) p++;
        if (n + 1 < outlen) out[n++] = *p;
    }
    out[n] = '\0';
    return p < end;
}

bool json_num(const char *json, size_t len, const char *field, double *out)
{
    const char *p = find_value(json, len, field);
    if (!p) return false;
    char tmp[64];
    size_t n = 0;
    const char *end = json + len;
    while (p < end && n < sizeof tmp - 1 && (isdigit((unsigned char)*p) || strchr("+-.eE", *p))) tmp[n++] = *p++;
    tmp[n] = '\0';
    if (n == 0) return false;
    char *e;
    *out = strtod(tmp, &e);
    return *e == '\0';
}

int jfmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "jfmt: %d bytes do not fit in %zu\n", n, len);
        exit(1);
    }
    return n;
}

rd_kafka_resp_err_t shop_produce(rd_kafka_t *p, const char *topic, const char *key, const char *value)
{
    return shop_produce_at(p, topic, key, value, 0);
}

rd_kafka_resp_err_t shop_produce_at(rd_kafka_t *p, const char *topic, const char *key, const char *value,
                                    long long timestamp_ms)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) return e;
        rd_kafka_poll(p, 100); /* the local queue is full: let deliveries drain */
    }
}

static long delivery_failures;

void shop_count_failures(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        delivery_failures++;
        fprintf(stderr, "delivery to %s failed: %s\n", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

static void finish_batch(const struct shop_opts *o, rd_kafka_t *k, rd_kafka_t *p)
{
    fflush(stdout);
    if (p) {
        if (rd_kafka_flush(p, 30000) || delivery_failures) {
            shop_log(o, "could not deliver the outputs: exiting without committing (they are consumed again)");
            exit(1);
        }
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(k, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) shop_log(o, "commit: %s", rd_kafka_err2str(e));
}

void shop_consume_loop(const struct shop_opts *o, rd_kafka_t *k, rd_kafka_t *p,
                       void (*handle)(const rd_kafka_message_t *m))
{
    batch.producer = p;
    batch.pending = 0;
    while (!shop_stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 200);
        if (m) {
            if (!m->err) {
                handle(m);
                if (!batch.pending++) batch.since = now_s();
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                shop_log(o, "consume: %s", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        if (p) rd_kafka_poll(p, 0);
        /* a burst is over, or 100 records or a second's worth are waiting */
        if (batch.pending && (!m || batch.pending >= 100 || now_s() - batch.since >= 1.0)) {
            finish_batch(o, k, p);
            batch.pending = 0;
        }
    }
    if (batch.pending) finish_batch(o, k, p);
    batch.pending = 0;
    rd_kafka_consumer_close(k);
}

bool shop_seen_add(struct shop_seen *s, unsigned long long key)
{
    if (2 * (s->count + 1) > s->cap) { /* at most half full, so probes stay short */
        struct shop_seen bigger = {0};
        bigger.cap = s->cap ? 2 * s->cap : 1024;
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        if (!bigger.slots) { fprintf(stderr, "out of memory\n"); exit(1); }
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i]) shop_seen_add(&bigger, s->slots[i] - 1);
        free(s->slots);
        *s = bigger;
    }
    size_t i = (size_t)((key + 1) * 0x9E3779B97F4A7C15ULL) & (s->cap - 1); /* cap: a power of 2 */
    for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
        if (s->slots[i] == key + 1) return true;
    s->slots[i] = key + 1;
    s->count++;
    return false;
}
