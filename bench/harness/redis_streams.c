/* bench/harness/redis_streams.c: the Redis Streams side of the benchmarks (hiredis):
 * STREAMS stream keys PREFIX0..PREFIX<STREAMS-1> stand in for a topic's partitions, one
 * connection stands in for one client, records are XADD entries with one field "v"
 * holding SIZE bytes.
 *
 *   redis_streams HOST PORT create  PREFIX STREAMS              empty streams (XADD MAXLEN 0)
 *   redis_streams HOST PORT produce PREFIX STREAMS COUNT SIZE DEPTH
 *                 XADD round robin, DEPTH commands in flight (a pipeline window)
 *   redis_streams HOST PORT read    PREFIX STREAMS COUNT        catch-up XREAD from 0
 *   redis_streams HOST PORT group   PREFIX STREAMS COUNT        XREADGROUP from 0 + XACK
 *   redis_streams HOST PORT latency PREFIX STREAMS RATE SECONDS SIZE
 *                 fixed-rate XADD on one connection, XREAD BLOCK on another
 *
 * Prints one "result" line (see common.h). Any error reply fails the run. */
#include <pthread.h>
#include <stdatomic.h>

#include <hiredis/hiredis.h>

#include "common.h"

#define READ_COUNT "10000" /* entries per stream per XREAD/XREADGROUP */
#define GROUP "bench"

static const char *host;
static int port;

static redisContext *connect_redis(void) {
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) bench_die("connect", c ? c->errstr : "out of memory");
    return c;
}

static redisReply *get_reply(redisContext *c) {
    void *r = NULL;
    if (redisGetReply(c, &r) != REDIS_OK || !r) bench_die("reply", c->errstr);
    redisReply *rr = r;
    if (rr->type == REDIS_REPLY_ERROR) bench_die("redis", rr->str);
    return rr;
}

static void key_name(char *buf, size_t n, const char *prefix, long long i) { snprintf(buf, n, "%s%lld", prefix, i); }

static int cmd_create(const char *prefix, long long streams) {
    redisContext *c = connect_redis();
    int64_t t0 = bench_now_ns();
    long long inflight = 0;
    for (long long i = 0; i < streams; i++) {
        char key[256];
        key_name(key, sizeof key, prefix, i);
        const char *argv[] = {"XADD", key, "MAXLEN", "0", "*", "v", ""};
        redisAppendCommandArgv(c, 7, argv, NULL);
        if (++inflight == 1000) {
            for (; inflight; inflight--) freeReplyObject(get_reply(c));
        }
    }
    for (; inflight; inflight--) freeReplyObject(get_reply(c));
    printf("result streams=%lld seconds=%.3f\n", streams, (double)(bench_now_ns() - t0) / 1e9);
    redisFree(c);
    return 0;
}

static int cmd_produce(const char *prefix, long long streams, long long count, size_t size, long long depth) {
    redisContext *c = connect_redis();
    char *payload = malloc(size * 2 + 1);
    if (!payload) abort();
    bench_fill(payload, size * 2 + 1);
    char (*keys)[64] = calloc((size_t)streams, 64);
    if (!keys) abort();
    for (long long i = 0; i < streams; i++) key_name(keys[i], 64, prefix, i);
    int64_t t0 = bench_now_ns();
    long long inflight = 0;
    for (long long i = 0; i < count; i++) {
        const char *argv[] = {"XADD", keys[i % streams], "*", "v", payload + i % (long long)(size + 1)};
        size_t lens[] = {4, strlen(keys[i % streams]), 1, 1, size};
        redisAppendCommandArgv(c, 5, argv, lens);
        if (++inflight >= depth) {
            freeReplyObject(get_reply(c));
            inflight--;
        }
    }
    for (; inflight; inflight--) freeReplyObject(get_reply(c));
    bench_print_rate(count, count * (long long)size, bench_now_ns() - t0);
    free(keys);
    free(payload);
    redisFree(c);
    return 0;
}

/* Walks an XREAD/XREADGROUP reply: [[key, [[id, [field, value]], ...]], ...]. For each
 * stream index it records the last id (into last_ids) and, when ack_c is set, appends an
 * XACK of every id read. Returns the number of entries; adds the value bytes to *bytes. */
static long long walk_reply(redisReply *r, const char *prefix, long long streams, char (*last_ids)[64],
                            long long *bytes, redisContext *ack_c, long long *acks) {
    long long n = 0;
    if (r->type != REDIS_REPLY_ARRAY) return 0;
    size_t plen = strlen(prefix);
    for (size_t s = 0; s < r->elements; s++) {
        redisReply *st = r->element[s];
        if (st->type != REDIS_REPLY_ARRAY || st->elements != 2) continue;
        long long idx = strtoll(st->element[0]->str + plen, NULL, 10);
        if (idx < 0 || idx >= streams) continue;
        redisReply *entries = st->element[1];
        const char **argv = NULL;
        size_t *lens = NULL;
        if (ack_c && entries->elements) {
            argv = malloc((entries->elements + 3) * sizeof *argv);
            lens = malloc((entries->elements + 3) * sizeof *lens);
            if (!argv || !lens) abort();
            argv[0] = "XACK", argv[1] = st->element[0]->str, argv[2] = GROUP;
            lens[0] = 4, lens[1] = st->element[0]->len, lens[2] = strlen(GROUP);
        }
        for (size_t e = 0; e < entries->elements; e++) {
            redisReply *entry = entries->element[e];
            redisReply *id = entry->element[0], *fields = entry->element[1];
            if (fields->type == REDIS_REPLY_ARRAY && fields->elements >= 2) *bytes += (long long)fields->element[1]->len;
            if (e + 1 == entries->elements) snprintf(last_ids[idx], 64, "%s", id->str);
            if (argv) argv[3 + e] = id->str, lens[3 + e] = id->len;
            n++;
        }
        if (argv) {
            redisAppendCommandArgv(ack_c, (int)entries->elements + 3, argv, lens);
            (*acks)++;
            free(argv);
            free(lens);
        }
    }
    return n;
}

/* XREAD (group == 0) or XREADGROUP ... > with XACK (group == 1) until COUNT entries or
 * until a read returns nothing. */
static int cmd_read(const char *prefix, long long streams, long long count, int group) {
    redisContext *c = connect_redis();
    char (*keys)[64] = calloc((size_t)streams, 64), (*ids)[64] = calloc((size_t)streams, 64);
    if (!keys || !ids) abort();
    for (long long i = 0; i < streams; i++) {
        key_name(keys[i], 64, prefix, i);
        snprintf(ids[i], 64, "0-0");
        if (group) {
            const char *argv[] = {"XGROUP", "CREATE", keys[i], GROUP, "0"};
            freeReplyObject(redisCommandArgv(c, 5, argv, NULL));
        }
    }
    int argc0 = group ? 7 : 4, argc = argc0 + 2 * (int)streams;
    const char **argv = malloc((size_t)argc * sizeof *argv);
    if (!argv) abort();
    if (group) {
        const char *head[] = {"XREADGROUP", "GROUP", GROUP, "c1", "COUNT", READ_COUNT, "STREAMS"};
        memcpy(argv, head, sizeof head);
    } else {
        const char *head[] = {"XREAD", "COUNT", READ_COUNT, "STREAMS"};
        memcpy(argv, head, sizeof head);
    }
    for (long long i = 0; i < streams; i++) {
        argv[argc0 + i] = keys[i];
        argv[argc0 + streams + i] = group ? ">" : ids[i];
    }
    long long got = 0, bytes = 0, acks = 0;
    int64_t t0 = bench_now_ns();
    redisAppendCommandArgv(c, argc, argv, NULL);
    while (got < count) {
        /* The acks of the previous read go before this read's reply is taken. */
        for (; acks; acks--) freeReplyObject(get_reply(c));
        redisReply *r = get_reply(c);
        long long n = walk_reply(r, prefix, streams, ids, &bytes, group ? c : NULL, &acks);
        freeReplyObject(r);
        if (n == 0) break;
        got += n;
        if (got < count) redisAppendCommandArgv(c, argc, argv, NULL);
    }
    for (; acks; acks--) freeReplyObject(get_reply(c));
    bench_print_rate(got, bytes, bench_now_ns() - t0);
    free(argv);
    free(keys);
    free(ids);
    redisFree(c);
    return got < count;
}

/* ---- latency ---- */

static const char *lat_prefix;
static long long lat_streams, lat_total, lat_warm;
static atomic_int lat_done;
static int64_t lat_done_ns;
static bench_samples lat;

static void *lat_consume(void *arg) {
    (void)arg;
    redisContext *c = connect_redis();
    char (*keys)[64] = calloc((size_t)lat_streams, 64), (*ids)[64] = calloc((size_t)lat_streams, 64);
    int argc = 6 + 2 * (int)lat_streams;
    const char **argv = malloc((size_t)argc * sizeof *argv);
    if (!keys || !ids || !argv) abort();
    const char *head[] = {"XREAD", "BLOCK", "100", "COUNT", "1000", "STREAMS"};
    memcpy(argv, head, sizeof head);
    for (long long i = 0; i < lat_streams; i++) {
        key_name(keys[i], 64, lat_prefix, i);
        snprintf(ids[i], 64, "0-0");
        argv[6 + i] = keys[i];
        argv[6 + lat_streams + i] = ids[i];
    }
    size_t plen = strlen(lat_prefix);
    long long got = 0;
    while (got < lat_total - lat_warm) {
        if (atomic_load(&lat_done) && bench_now_ns() > lat_done_ns + 10LL * 1000000000) break;
        redisReply *r = redisCommandArgv(c, argc, argv, NULL);
        if (!r) bench_die("XREAD", c->errstr);
        int64_t now = bench_now_ns();
        for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
            redisReply *st = r->element[s];
            long long idx = strtoll(st->element[0]->str + plen, NULL, 10);
            redisReply *entries = st->element[1];
            for (size_t e = 0; e < entries->elements; e++) {
                redisReply *entry = entries->element[e], *fields = entry->element[1];
                int64_t due;
                long long seq;
                if (fields->elements >= 2 &&
                    !bench_unstamp(fields->element[1]->str, fields->element[1]->len, &due, &seq) && seq >= lat_warm &&
                    seq < lat_total) {
                    bench_samples_add(&lat, now - due);
                    got++;
                }
                if (e + 1 == entries->elements) snprintf(ids[idx], 64, "%s", entry->element[0]->str);
            }
        }
        freeReplyObject(r);
    }
    free(argv);
    free(keys);
    free(ids);
    redisFree(c);
    return NULL;
}

static int cmd_latency(const char *prefix, long long streams, long long rate, long long seconds, size_t size) {
    if (rate < 1 || seconds < 2 || size < 16) bench_die("usage", "RATE >= 1, SECONDS >= 2, SIZE >= 16");
    lat_prefix = prefix, lat_streams = streams, lat_total = rate * seconds, lat_warm = rate;
    pthread_t th;
    pthread_create(&th, NULL, lat_consume, NULL);
    redisContext *c = connect_redis();
    char *buf = malloc(size);
    char (*keys)[64] = calloc((size_t)streams, 64);
    if (!buf || !keys) abort();
    bench_fill(buf, size);
    for (long long i = 0; i < streams; i++) key_name(keys[i], 64, prefix, i);
    bench_pacer pace;
    bench_pacer_init(&pace, (double)rate);
    long long sent = 0;
    while (sent < lat_total) {
        long long due = bench_pacer_wait(&pace, sent), batch = 0;
        for (; sent < due && sent < lat_total; sent++, batch++) {
            bench_stamp(buf, size, bench_pacer_due_ns(&pace, sent), sent);
            const char *argv[] = {"XADD", keys[sent % streams], "*", "v", buf};
            size_t lens[] = {4, strlen(keys[sent % streams]), 1, 1, size};
            redisAppendCommandArgv(c, 5, argv, lens);
        }
        for (; batch; batch--) freeReplyObject(get_reply(c));
    }
    double sent_rate = (double)sent / ((double)(bench_now_ns() - pace.start_ns) / 1e9);
    lat_done_ns = bench_now_ns();
    atomic_store(&lat_done, 1);
    pthread_join(th, NULL);
    long long lost = lat_total - lat_warm - (long long)lat.n;
    bench_print_latency(&lat, "lost=%lld sent_rate=%.0f", lost, sent_rate);
    free(buf);
    free(keys);
    free(lat.v);
    redisFree(c);
    return lost != 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: redis_streams HOST PORT create|produce|read|group|latency PREFIX STREAMS ...\n");
        return 2;
    }
    host = argv[1];
    port = (int)bench_arg(argv[2], "PORT");
    const char *cmd = argv[3], *prefix = argv[4];
    long long streams = bench_arg(argv[5], "STREAMS");
    if (streams < 1) bench_die("STREAMS", "at least 1");
    if (!strcmp(cmd, "create") && argc == 6) return cmd_create(prefix, streams);
    if (!strcmp(cmd, "produce") && argc == 9)
        return cmd_produce(prefix, streams, bench_arg(argv[6], "COUNT"), (size_t)bench_arg(argv[7], "SIZE"),
                           bench_arg(argv[8], "DEPTH") ? bench_arg(argv[8], "DEPTH") : 1);
    if ((!strcmp(cmd, "read") || !strcmp(cmd, "group")) && argc == 7)
        return cmd_read(prefix, streams, bench_arg(argv[6], "COUNT"), !strcmp(cmd, "group"));
    if (!strcmp(cmd, "latency") && argc == 9)
        return cmd_latency(prefix, streams, bench_arg(argv[6], "RATE"), bench_arg(argv[7], "SECONDS"),
                           (size_t)bench_arg(argv[8], "SIZE"));
    fprintf(stderr, "redis_streams: bad arguments for %s\n", cmd);
    return 2;
}
