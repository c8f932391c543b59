/* cli/bench.c: `runnel bench produce|consume TOPIC`: load generator and reader that
 * go as fast as the client allows, with a live progress line on stderr once a second
 * and a summary (records, bytes, seconds, rates, latency percentiles) at the end.
 * Produce latency is per record, enqueue to delivery report (the enqueue time rides in
 * the message opaque); consume latency is end to end, from the record's timestamp. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "json.h"

#define BENCH_DEFAULT_COUNT 1000000
#define BENCH_DEFAULT_SIZE 100
#define BENCH_MAX_SIZE (64 * 1024 * 1024)
#define BENCH_MESSAGE_TIMEOUT_MS "30000"
#define BENCH_IDLE_MS 30000 /* consume: safety net when stopping at the end */
#define BENCH_TICK_US 1000000

/* Ctrl-C / SIGTERM: stop early and still print the summary. */
static volatile sig_atomic_t stopping;
static void on_signal(int sig) { stopping = sig; }

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- latency samples: every latency in microseconds, sorted at the end ---- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} samples;

static void samples_add(samples *s, int64_t us) {
    if (us < 0) us = 0;
    if (us > (int64_t)UINT32_MAX) us = UINT32_MAX;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) abort();
    }
    s->v[s->n++] = (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile q (0..1] of n sorted values, in milliseconds. */
static double pct_ms(const uint32_t *sorted, size_t n, double q) {
    if (!n) return 0;
    size_t rank = (size_t)(q * (double)n);
    if ((double)rank < q * (double)n) rank++;
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1] / 1000.0;
}

typedef struct {
    double p50, p95, p99, max;
} percentiles;

static percentiles summarize(samples *s, size_t from) {
    percentiles p = {0, 0, 0, 0};
    size_t n = s->n - from;
    if (!n) return p;
    qsort(s->v + from, n, sizeof *s->v, cmp_u32);
    p.p50 = pct_ms(s->v + from, n, 0.50);
    p.p95 = pct_ms(s->v + from, n, 0.95);
    p.p99 = pct_ms(s->v + from, n, 0.99);
    p.max = s->v[from + n - 1] / 1000.0;
    return p;
}

/* 1234567 -> "1,234,567" */
static const char *thousands(char *buf, size_t size, int64_t v) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < size) buf[o++] = '-';
    for (int i = 0; i < n && o + 1 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 1 < size) buf[o++] = ',';
        if (o + 1 < size) buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* ---- the live progress line ---- */

typedef struct {
    int tty, shown;
    const char *latency_label; /* "" or "e2e " */
    int64_t start_us, last_us;
    int64_t last_records, last_bytes;
    size_t last_samples;
} progress;

static void progress_init(progress *p, const char *latency_label, int64_t now) {
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    p->latency_label = latency_label;
    p->start_us = p->last_us = now;
}

/* Once a second: the rates and latencies of the last interval. The interval's samples
 * are sorted in place, which is fine since the summary sorts them all again. */
static void progress_tick(progress *p, int64_t now, int64_t records, int64_t bytes, samples *lat) {
    if (now - p->last_us < BENCH_TICK_US) return;
    double dt = (double)(now - p->last_us) / 1e6;
    char rate[32], line[256];
    thousands(rate, sizeof rate, (int64_t)((double)(records - p->last_records) / dt));
    int n = snprintf(line, sizeof line, "%.1f s  %s rec/s  %.1f MB/s", (double)(now - p->start_us) / 1e6, rate,
                     (double)(bytes - p->last_bytes) / 1e6 / dt);
    if (lat->n > p->last_samples && n > 0 && (size_t)n < sizeof line) {
        percentiles q = summarize(lat, p->last_samples);
        snprintf(line + n, sizeof line - (size_t)n, "  %sp50 %.1f ms  p99 %.1f ms", p->latency_label, q.p50, q.p99);
    }
    if (p->tty)
        fprintf(stderr, "\r%s\033[K", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    p->shown = 1;
    p->last_us = now;
    p->last_records = records;
    p->last_bytes = bytes;
    p->last_samples = lat->n;
}

static void progress_done(progress *p) {
    if (p->tty && p->shown) fputc('\n', stderr);
}

/* ---- option parsing shared by both ---- */

typedef struct {
    int64_t count;       /* 0: not given */
    int64_t duration_us; /* 0: not given */
} bench_limit;

static int parse_limit(cli_args *a, bench_limit *l) {
    memset(l, 0, sizeof *l);
    const char *c = cli_opt(a, "count"), *d = cli_opt(a, "duration");
    if (c && d) return cli_usage_error(a->cmd, "--count and --duration do not go together");
    if (c && (cli_parse_int64(c, &l->count) || l->count < 1))
        return cli_usage_error(a->cmd, "--count wants a positive number, got '%s'", c);
    if (d) {
        char *end;
        errno = 0;
        double s = strtod(d, &end);
        if (!*d || *end || errno || !(s > 0) || s > 1e7)
            return cli_usage_error(a->cmd, "--duration wants a positive number of seconds, got '%s'", d);
        l->duration_us = (int64_t)(s * 1e6);
        if (l->duration_us < 1) l->duration_us = 1;
    }
    return CLI_OK;
}

static int opt_int(cli_args *a, const char *name, int lo, int hi, int *out, const char *what) {
    const char *v = cli_opt(a, name);
    if (v && cli_parse_int(v, lo, hi, out)) return cli_usage_error(a->cmd, "--%s wants %s, got '%s'", name, what, v);
    return CLI_OK;
}

static int check_choice(const char *v, const char *const *choices) {
    for (; *choices; choices++)
        if (!strcmp(v, *choices)) return 0;
    return -1;
}

static void json_double(cli_json *j, const char *key, double v) {
    cli_json_key(j, key);
    fprintf(j->f, "%.3f", v);
    j->after_key = 0;
}

typedef struct {
    const char *topic;
    int64_t records, bytes, errors;
    double seconds;
    percentiles lat;
} bench_result;

static void print_result(const cli_args *a, const bench_result *r, const char *verb, const char *latency_what) {
    double rps = r->seconds > 0 ? (double)r->records / r->seconds : 0;
    double mbps = r->seconds > 0 ? (double)r->bytes / 1e6 / r->seconds : 0;
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "topic");
        cli_json_string(&j, r->topic);
        cli_json_key(&j, "records");
        cli_json_int(&j, r->records);
        cli_json_key(&j, "bytes");
        cli_json_int(&j, r->bytes);
        json_double(&j, "seconds", r->seconds);
        json_double(&j, "records_per_sec", rps);
        json_double(&j, "mb_per_sec", mbps);
        json_double(&j, "latency_p50_ms", r->lat.p50);
        json_double(&j, "latency_p95_ms", r->lat.p95);
        json_double(&j, "latency_p99_ms", r->lat.p99);
        json_double(&j, "latency_max_ms", r->lat.max);
        cli_json_key(&j, "errors");
        cli_json_int(&j, r->errors);
        cli_json_end_object(&j);
        cli_json_newline(&j);
    } else {
        char recs[32], rate[32];
        printf("%s %s records (%.1f MB) %s %s in %.2f s\n", verb, thousands(recs, sizeof recs, r->records),
               (double)r->bytes / 1e6, !strcmp(verb, "produced") ? "to" : "from", r->topic, r->seconds);
        printf("throughput: %s rec/s, %.2f MB/s\n", thousands(rate, sizeof rate, (int64_t)rps), mbps);
        printf("%s ms: p50 %.2f  p95 %.2f  p99 %.2f  max %.2f\n", latency_what, r->lat.p50, r->lat.p95, r->lat.p99,
               r->lat.max);
        printf("errors: %lld\n", (long long)r->errors);
    }
    fflush(stdout);
}

/* ---- bench produce ---- */

typedef struct {
    int64_t delivered, failed, bytes;
    int64_t last_delivery_us;
    samples lat;
    char first_error[512];
} produce_stats;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    produce_stats *st = opaque;
    int64_t now = mono_us();
    st->last_delivery_us = now;
    if (m->err) {
        if (!st->failed) snprintf(st->first_error, sizeof st->first_error, "%s", rd_kafka_err2str(m->err));
        st->failed++;
        return;
    }
    st->delivered++;
    st->bytes += (int64_t)m->len;
    samples_add(&st->lat, now - (int64_t)(intptr_t)m->_private);
}

/* Creates the topic with the given partition count if the metadata does not have it. */
static int ensure_topic(rd_kafka_t *rk, const struct rd_kafka_metadata *md, const char *topic, int partitions) {
    const struct rd_kafka_metadata_topic *t = cli_find_topic(md, topic);
    if (t && !t->err && t->partition_cnt > 0) {
        if (partitions > 0 && t->partition_cnt != partitions)
            fprintf(stderr, "runnel: topic %s exists with %d partitions, --partitions %d ignored\n", topic,
                    t->partition_cnt, partitions);
        return CLI_OK;
    }
    if (partitions <= 0) {
        cli_error("topic %s does not exist (--partitions N creates it)", topic);
        return CLI_FAILED;
    }
    char err[512], what[512];
    snprintf(what, sizeof what, "cannot create topic %s", topic);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, err, sizeof err);
    if (!nt) {
        cli_error("%s: %s", what, err);
        return CLI_FAILED;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    int rc = CLI_FAILED;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (!e || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
            const char *m = rd_kafka_topic_result_error_string(tr[i]);
            cli_error("%s: %s", what, m && *m ? m : rd_kafka_err2str(e));
            rc = CLI_FAILED;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    if (rc == CLI_OK) fprintf(stderr, "runnel: created topic %s with %d partitions\n", topic, partitions);
    return rc;
}

/* Waits (a few seconds at most) until the client's metadata has a leader for every
 * partition, so a fresh topic's lookup is not counted in the first records' latency. */
static void wait_for_leaders(rd_kafka_t *rk, rd_kafka_topic_t *rkt) {
    int64_t deadline = mono_us() + 10 * 1000000;
    while (mono_us() < deadline && !stopping) {
        const struct rd_kafka_metadata *md = NULL;
        if (!rd_kafka_metadata(rk, 0, rkt, &md, 1000)) {
            int ready = md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0;
            for (int i = 0; ready && i < md->topics[0].partition_cnt; i++)
                if (md->topics[0].partitions[i].leader < 0 || md->topics[0].partitions[i].err) ready = 0;
            rd_kafka_metadata_destroy(md);
            if (ready) return;
        }
        rd_kafka_poll(rk, 100);
    }
}

static int bench_produce(cli_args *a) {
    const char *topic = a->positional[0];
    bench_limit lim;
    int rc = parse_limit(a, &lim);
    if (rc != CLI_OK) return rc;
    if (!lim.count && !lim.duration_us) lim.count = BENCH_DEFAULT_COUNT;
    int size = BENCH_DEFAULT_SIZE, keys = 0, partitions = 0, linger = -1, batch = -1;
    if ((rc = opt_int(a, "size", 0, BENCH_MAX_SIZE, &size, "a record size in bytes")) ||
        (rc = opt_int(a, "keys", 0, 1 << 30, &keys, "a number of distinct keys (0: none)")) ||
        (rc = opt_int(a, "partitions", 1, 1000000, &partitions, "a positive number")) ||
        (rc = opt_int(a, "linger-ms", 0, 900000, &linger, "milliseconds")) ||
        (rc = opt_int(a, "batch-size", 1, 2147483647, &batch, "a positive number of bytes")))
        return rc;
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
    static const char *const acks[] = {"0", "1", "all", "-1", NULL};
    const char *compression = cli_opt(a, "compression"), *ack = cli_opt(a, "acks");
    if (compression && check_choice(compression, codecs))
        return cli_usage_error(a->cmd, "--compression wants none|gzip|snappy|lz4|zstd, got '%s'", compression);
    if (ack && check_choice(ack, acks)) return cli_usage_error(a->cmd, "--acks wants 0|1|all, got '%s'", ack);

    produce_stats st = {0};
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    char lbuf[32], bbuf[32];
    snprintf(lbuf, sizeof lbuf, "%d", linger);
    snprintf(bbuf, sizeof bbuf, "%d", batch);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    if (cli_conf_set(conf, "message.timeout.ms", BENCH_MESSAGE_TIMEOUT_MS) ||
        (compression && cli_conf_set(conf, "compression.codec", compression)) ||
        (ack && cli_conf_set(conf, "acks", ack)) || (linger >= 0 && cli_conf_set(conf, "linger.ms", lbuf)) ||
        (batch > 0 && cli_conf_set(conf, "batch.size", bbuf))) {
        rd_kafka_conf_destroy(conf);
        return CLI_FAILED;
    }
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_PRODUCER, conf);
    if (!rk) return CLI_FAILED;
    rc = CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    char *payload = NULL;
    rd_kafka_topic_t *rkt = NULL;
    if (cli_check_reachable(a, rk, &md) != CLI_OK) goto out;
    if (ensure_topic(rk, md, topic, partitions) != CLI_OK) goto out;
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        cli_error("cannot use topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        goto out;
    }
    wait_for_leaders(rk, rkt);

    /* Printable pseudo-random bytes, twice the record size: each record is a window at
     * a different offset, so records differ without generating each one. */
    size_t span = (size_t)size * 2 + 1;
    payload = malloc(span);
    if (!payload) abort();
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < span; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        payload[i] = (char)(' ' + x % 95);
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t start = mono_us(), sent = 0, refused = 0;
    char refused_error[512] = "";
    progress pg;
    progress_init(&pg, "", start);
    while (!stopping && !refused) {
        int64_t now = mono_us();
        if (lim.count ? sent >= lim.count : now - start >= lim.duration_us) break;
        char key[32];
        int keylen = keys ? snprintf(key, sizeof key, "key-%d", (int)(sent % keys)) : 0;
        const char *value = payload + (size_t)(sent % (size + 1));
        for (;;) {
            now = mono_us();
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(keys ? key : NULL, (size_t)keylen), RD_KAFKA_V_VALUE((void *)value, (size_t)size),
                RD_KAFKA_V_OPAQUE((void *)(intptr_t)now), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stopping) {
                rd_kafka_poll(rk, 10);
                progress_tick(&pg, mono_us(), st.delivered, st.bytes, &st.lat);
                continue;
            }
            if (e) {
                snprintf(refused_error, sizeof refused_error, "%s", rd_kafka_err2str(e));
                refused++;
            } else {
                sent++;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
        progress_tick(&pg, now, st.delivered, st.bytes, &st.lat);
    }
    /* Every record gets its delivery report (message.timeout.ms bounds the wait). */
    while (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_flush(rk, 100);
        progress_tick(&pg, mono_us(), st.delivered, st.bytes, &st.lat);
    }
    rd_kafka_poll(rk, 0);
    progress_done(&pg);

    bench_result r = {topic, st.delivered, st.bytes, st.failed + refused, 0, {0, 0, 0, 0}};
    int64_t end = st.last_delivery_us > start ? st.last_delivery_us : mono_us();
    r.seconds = (double)(end - start) / 1e6;
    r.lat = summarize(&st.lat, 0);
    print_result(a, &r, "produced", "latency");
    if (r.errors)
        cli_error("%lld of %lld records to %s failed: %s", (long long)r.errors, (long long)(sent + refused), topic,
                  refused ? refused_error : st.first_error);
    rc = r.errors ? CLI_FAILED : CLI_OK;
out:
    free(payload);
    free(st.lat.v);
    if (rkt) rd_kafka_topic_destroy(rkt);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- bench consume ---- */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    cli_partition_ends_mark(opaque, parts, err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS);
    cli_rebalance_apply(rk, err, parts);
}

static int bench_consume(cli_args *a) {
    const char *topic = a->positional[0];
    const char *group = cli_opt(a, "group");
    bench_limit lim;
    int rc = parse_limit(a, &lim);
    if (rc != CLI_OK) return rc;
    if (group && !*group) return cli_usage_error(a->cmd, "--group must not be empty");
    int stop_at_end = !lim.count && !lim.duration_us;

    cli_partition_ends st = {0};
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    if (cli_conf_set(conf, "enable.partition.eof", "true") || cli_conf_set(conf, "auto.offset.reset", "earliest") ||
        /* librdkafka's assign() wants a group.id even though nothing joins or commits. */
        cli_conf_set(conf, "group.id", group ? group : "runnel-cli-bench") ||
        (!group && cli_conf_set(conf, "enable.auto.commit", "false"))) {
        rd_kafka_conf_destroy(conf);
        return CLI_FAILED;
    }
    if (group) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_CONSUMER, conf);
    if (!rk) return CLI_FAILED;

    rc = CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    samples lat = {0};
    if (cli_check_reachable(a, rk, &md) != CLI_OK) goto out;
    const struct rd_kafka_metadata_topic *t = cli_find_topic(md, topic);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0) {
        cli_error("topic %s does not exist", topic);
        goto out;
    }
    cli_partition_ends_init(&st, t);
    parts = rd_kafka_topic_partition_list_new(t->partition_cnt);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_resp_err_t err;
    if (group) {
        rd_kafka_topic_partition_list_add(parts, topic, RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(rk, parts);
    } else {
        for (int i = 0; i < t->partition_cnt; i++)
            rd_kafka_topic_partition_list_add(parts, topic, t->partitions[i].id)->offset = RD_KAFKA_OFFSET_BEGINNING;
        cli_partition_ends_mark(&st, parts, 1);
        err = rd_kafka_assign(rk, parts);
    }
    if (err) {
        cli_error("cannot %s %s: %s", group ? "subscribe to" : "assign the partitions of", topic,
                  rd_kafka_err2str(err));
        goto out;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int64_t start = mono_us(), first = -1, last = start, records = 0, bytes = 0, errors = 0;
    int failed = 0;
    progress pg;
    progress_init(&pg, "e2e ", start);
    while (!failed && !stopping) {
        int64_t now = mono_us();
        progress_tick(&pg, now, records, bytes, &lat);
        if (lim.duration_us && now - start >= lim.duration_us) break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (stop_at_end && mono_us() - last >= (int64_t)BENCH_IDLE_MS * 1000) {
                cli_error("no record for %d s, stopping", BENCH_IDLE_MS / 1000);
                break;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            cli_partition_ends_set(&st, m->partition, 1);
            rd_kafka_message_destroy(m);
            if (stop_at_end && cli_partition_ends_all(&st)) break;
            continue;
        }
        if (m->err) {
            cli_error("consuming %s: %s", topic, rd_kafka_message_errstr(m));
            errors++;
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || m->err == RD_KAFKA_RESP_ERR__FATAL ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
                failed = 1;
            rd_kafka_message_destroy(m);
            continue;
        }
        last = mono_us();
        if (first < 0) first = last;
        cli_partition_ends_set(&st, m->partition, 0);
        records++;
        bytes += (int64_t)m->len;
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts >= 0) samples_add(&lat, wall_us() - ts * 1000);
        rd_kafka_message_destroy(m);
        if (lim.count && records >= lim.count) break;
    }
    progress_done(&pg);
    rd_kafka_consumer_close(rk);

    bench_result r = {topic, records, bytes, errors, first >= 0 ? (double)(last - first) / 1e6 : 0, {0, 0, 0, 0}};
    r.lat = summarize(&lat, 0);
    print_result(a, &r, "consumed", "end-to-end latency (from record timestamps)");
    rc = failed ? CLI_FAILED : CLI_OK;
out:
    free(lat.v);
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (md) rd_kafka_metadata_destroy(md);
    cli_partition_ends_free(&st);
    rd_kafka_destroy(rk);
    return rc;
}

static const cli_option produce_options[] = {
    {"count", "N", "produce N records (default 1000000)"},
    {"duration", "S", "produce for S seconds instead"},
    {"size", "BYTES", "value size of each record (default 100)"},
    {"keys", "N", "cycle through N distinct keys (default 0: no keys)"},
    {"acks", "ACKS", "0|1|all (default all)"},
    {"compression", "CODEC", "none|gzip|snappy|lz4|zstd (default none)"},
    {"linger-ms", "MS", "librdkafka linger.ms (default the client's)"},
    {"batch-size", "BYTES", "librdkafka batch.size (default the client's)"},
    {"partitions", "N", "create the topic with N partitions if it does not exist"},
    {NULL, NULL, NULL},
};

const cli_command cli_bench_produce = {
    "bench produce", "TOPIC [--count N | --duration S] [--size BYTES] [--keys N]",
    "produce records as fast as possible and measure",
    "Records are produced as fast as the client accepts them. Latency is per record,\n"
    "from enqueue to its delivery report. Once a second a progress line (the last\n"
    "second's rec/s, MB/s and latency p50/p99) goes to stderr; at the end a summary:\n"
    "records and bytes delivered (bytes count values only; MB = 10^6 bytes), seconds\n"
    "from the first send to the last delivery, rates, latency p50/p95/p99/max and\n"
    "delivery errors; with --json one object on stdout. Exit status 1 if any record\n"
    "failed. Without --partitions the topic must exist.\n",
    produce_options, 1, 1, bench_produce,
};

static const cli_option consume_options[] = {
    {"count", "N", "stop after N records"},
    {"duration", "S", "stop after S seconds"},
    {"group", "G", "join group G (subscribe, committed offsets) instead of reading all partitions"},
    {NULL, NULL, NULL},
};

const cli_command cli_bench_consume = {
    "bench consume", "TOPIC [--count N | --duration S] [--group G]",
    "consume records as fast as possible and measure",
    "Without --group every partition is read from the beginning; with --group the\n"
    "consumer joins the group (committed offsets, else the beginning). It stops after\n"
    "--count records, after --duration seconds, or, with neither, when every partition\n"
    "reached its end. Progress and summary as for bench produce; bytes count values;\n"
    "seconds run from the first record to the last; latency is end to end, from each\n"
    "record's timestamp (for records older than the run, that is their age).\n",
    consume_options, 1, 1, bench_consume,
};
