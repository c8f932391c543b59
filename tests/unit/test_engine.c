/* tests/unit/test_engine.c: the storage engine through its public contract (engine.h),
 * on a real RocksDB in a temporary directory. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "engine.h"
#include "rnlog.h"

static char dir[64];

static rn_engine_options opts(size_t tail) {
    rn_engine_options o = {
        .data_dir = dir, .node_id = 1, .log_column_families = 2, .flush_sync = false,
        .tail_cache_bytes = tail, .default_retention_ms = -1, .default_retention_bytes = -1,
        .default_max_message_bytes = 1 << 20, .default_partitions = 1,
    };
    return o;
}

static rn_engine *open_engine(size_t tail) {
    rn_engine_options o = opts(tail);
    rn_engine *e;
    char err[256];
    cr_assert_eq(rn_engine_open(&o, &e, err, sizeof err), 0, "%s", err);
    return e;
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/runnel-unit-XXXXXX");
    cr_assert(mkdtemp(dir));
    rn_log_set_level(RN_LOG_ERROR);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A batch of n records "<tag>-<i>" with timestamps ts.. */
static size_t batch_of(uint8_t *buf, size_t cap, const char *tag, int n, int64_t ts,
                       int64_t pid, int16_t epoch, int32_t seq) {
    rn_record recs[64];
    static char vals[64][32];
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], sizeof vals[i], "%s-%d", tag, i);
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key = NULL;
        recs[i].key_len = -1;
        recs[i].value = (const uint8_t *)vals[i];
        recs[i].value_len = (int32_t)strlen(vals[i]);
        recs[i].timestamp = ts + i;
    }
    return rn_batch_build(buf, cap, 0, recs, n, pid, epoch, seq);
}

static int64_t append(rn_partition *p, const char *tag, int n, int64_t ts) {
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, tag, n, ts, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, buf, len, &r), 0);
    return r.base_offset;
}

typedef struct {
    int batches;
    int64_t first_base, last_base;
    size_t bytes;
} collect;

static int collect_sink(void *ctx, const uint8_t *b, size_t len) {
    collect *c = ctx;
    rn_batch_header h;
    cr_assert_eq(rn_batch_header_parse(b, len, &h), 0);
    size_t size;
    cr_assert_eq(rn_batch_validate(b, len, &size), 0, "served batches stay valid");
    if (!c->batches) c->first_base = h.base_offset;
    c->last_base = h.base_offset;
    c->batches++;
    c->bytes += len;
    return 0;
}

TestSuite(engine, .init = setup, .fini = teardown);

Test(engine, topics_records_offsets_survive_reopen) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.ms", "123456"}};
    cr_assert_eq(rn_engine_create_topic(e, "orders", 3, cfg, 1, false, NULL, 0), 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "orders", 2, &err);
    cr_assert(p);
    cr_assert_eq(append(p, "a", 5, 1000), 0);
    cr_assert_eq(append(p, "b", 3, 2000), 5);
    int64_t pid1;
    int16_t ep;
    cr_assert_eq(rn_engine_init_producer_id(e, &pid1, &ep), 0);
    char cid[64];
    snprintf(cid, sizeof cid, "%s", rn_engine_cluster_id(e));
    rn_engine_close(e);

    e = open_engine(1 << 20);
    cr_assert_str_eq(rn_engine_cluster_id(e), cid);
    p = rn_engine_partition(e, "orders", 2, &err);
    cr_assert(p);
    rn_partition_offsets off;
    rn_partition_offsets_get(p, &off);
    cr_assert_eq(off.high_watermark, 8);
    cr_assert_eq(off.log_end_offset, 8);
    cr_assert_eq(off.log_start_offset, 0);
    cr_assert_eq(append(p, "c", 1, 3000), 8, "appends continue after reopen");
    int64_t pid2;
    cr_assert_eq(rn_engine_init_producer_id(e, &pid2, &ep), 0);
    cr_assert_gt(pid2, pid1, "producer ids are never reused");
    rn_config_entry *ce;
    int n;
    cr_assert_eq(rn_engine_describe_topic_configs(e, "orders", &ce, &n), 0);
    bool found = false;
    for (int i = 0; i < n; i++)
        if (!strcmp(ce[i].name, "retention.ms")) found = !strcmp(ce[i].value, "123456") && !ce[i].is_default;
    cr_assert(found);
    rn_config_entries_free(ce, n);
    rn_engine_close(e);
}

Test(engine, reads_from_tail_and_store_agree) {
    rn_engine *e = open_engine(600); /* a tiny tail: most reads go to RocksDB */
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    for (int i = 0; i < 20; i++) append(p, "x", 10, 1000 + i);
    for (int64_t off = 0; off < 200; off += 7) {
        collect c = {0};
        size_t bytes;
        cr_assert_eq(rn_partition_read(p, off, SIZE_MAX, true, collect_sink, &c, NULL, &bytes), 0);
        cr_assert_eq(c.first_base, off / 10 * 10, "offset %lld starts at its batch", (long long)off);
        cr_assert_eq(c.last_base, 190);
        cr_assert_eq(c.batches, 20 - (int)(off / 10));
        cr_assert_eq(bytes, c.bytes);
    }
    rn_engine_close(e);
}

Test(engine, max_bytes_and_at_least_one) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    for (int i = 0; i < 5; i++) append(p, "y", 10, 1000);
    collect c = {0};
    size_t bytes;
    rn_partition_read(p, 0, 1, true, collect_sink, &c, NULL, &bytes);
    cr_assert_eq(c.batches, 1, "the first batch is given whole even over max_bytes");
    collect d = {0};
    rn_partition_read(p, 0, 1, false, collect_sink, &d, NULL, &bytes);
    cr_assert_eq(d.batches, 0);
    collect f = {0};
    rn_partition_read(p, 0, c.bytes * 2 + 1, true, collect_sink, &f, NULL, &bytes);
    cr_assert_eq(f.batches, 2);
    cr_assert_eq(rn_partition_read(p, 51, 100, true, collect_sink, &f, NULL, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    collect g = {0};
    cr_assert_eq(rn_partition_read(p, 50, 100, true, collect_sink, &g, NULL, &bytes), 0);
    cr_assert_eq(g.batches, 0, "at the high watermark: nothing yet");
    rn_engine_close(e);
}

Test(engine, idempotent_producer_dedup_gap_epoch) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    uint8_t b[4096];
    rn_append_result r;
    size_t n = batch_of(b, sizeof b, "s", 3, 1, 42, 0, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.base_offset == 0 && !r.duplicate);
    n = batch_of(b, sizeof b, "s", 2, 1, 42, 0, 3);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert_eq(r.base_offset, 3);
    /* a retry of the first batch: acknowledged with its original offset, not written */
    n = batch_of(b, sizeof b, "s", 3, 1, 42, 0, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.base_offset == 0 && r.duplicate);
    rn_partition_offsets off;
    rn_partition_offsets_get(p, &off);
    cr_assert_eq(off.high_watermark, 5);
    /* a gap */
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 0, 9);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* an unknown producer must start at 0 */
    n = batch_of(b, sizeof b, "s", 1, 1, 43, 0, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a new epoch restarts at 0; the old epoch is then fenced */
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 0, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_INVALID_PRODUCER_EPOCH);
    rn_engine_close(e);

    /* producer state is persisted with the records */
    e = open_engine(1 << 20);
    p = rn_engine_partition(e, "t", 0, &err);
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.duplicate && r.base_offset == 5, "dedup survives a restart");
    rn_engine_close(e);
}

Test(engine, delete_records_and_retention) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.bytes", "300"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    for (int i = 0; i < 10; i++) append(p, "r", 2, 1000 * i);
    int64_t low;
    cr_assert_eq(rn_partition_delete_records(p, 3, &low), 0);
    cr_assert_eq(low, 3);
    cr_assert_eq(rn_partition_delete_records(p, 999, &low), RN_KAFKA_OFFSET_OUT_OF_RANGE);
    size_t bytes;
    collect c = {0};
    cr_assert_eq(rn_partition_read(p, 2, SIZE_MAX, true, collect_sink, &c, NULL, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_partition_read(p, 3, SIZE_MAX, true, collect_sink, &c, NULL, &bytes), 0);
    cr_assert_eq(c.first_base, 2, "the batch holding the new start is served whole");
    rn_engine_enforce_retention(e, 100000);
    rn_partition_offsets off;
    rn_partition_offsets_get(p, &off);
    cr_assert_leq(off.size_bytes, 300);
    cr_assert_gt(off.log_start_offset, 3);
    cr_assert_eq(off.log_start_offset % 2, 0, "retention removes whole batches");
    rn_engine_close(e);
    e = open_engine(1 << 20);
    p = rn_engine_partition(e, "t", 0, &err);
    rn_partition_offsets again;
    rn_partition_offsets_get(p, &again);
    cr_assert_eq(again.log_start_offset, off.log_start_offset, "log start is persisted");
    cr_assert_eq(again.size_bytes, off.size_bytes);
    rn_engine_close(e);
}

Test(engine, retention_by_time) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.ms", "5000"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    for (int i = 0; i < 10; i++) append(p, "t", 1, 1000 * i); /* max ts 0..9000 */
    rn_engine_enforce_retention(e, 12500); /* cutoff 7500: batches 0..7 go */
    rn_partition_offsets off;
    rn_partition_offsets_get(p, &off);
    cr_assert_eq(off.log_start_offset, 8);
    rn_engine_close(e);
}

Test(engine, offset_for_time) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    append(p, "a", 5, 1000); /* 1000..1004 */
    append(p, "b", 5, 2000); /* 2000..2004 */
    append(p, "c", 5, 1500); /* out of order: running max stays 2004 */
    int64_t off, ts;
    cr_assert_eq(rn_partition_offset_for_time(p, 0, &off, &ts), 0);
    cr_assert(off == 0 && ts == 1000);
    cr_assert_eq(rn_partition_offset_for_time(p, 1003, &off, &ts), 0);
    cr_assert(off == 3 && ts == 1003);
    cr_assert_eq(rn_partition_offset_for_time(p, 2002, &off, &ts), 0);
    cr_assert(off == 7 && ts == 2002);
    cr_assert_eq(rn_partition_offset_for_time(p, 9999, &off, &ts), 0);
    cr_assert(off == -1 && ts == -1);
    rn_engine_close(e);
}

Test(engine, delete_and_recreate_topic) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 2, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *old = rn_engine_partition(e, "t", 0, &err);
    append(old, "old", 4, 1);
    cr_assert_eq(rn_engine_delete_topic(e, "t"), 0);
    cr_assert_eq(rn_engine_delete_topic(e, "t"), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    rn_append_result r;
    uint8_t b[512];
    size_t n = batch_of(b, sizeof b, "z", 1, 1, -1, -1, -1);
    cr_assert_eq(rn_partition_append(old, b, n, &r), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_null(rn_engine_partition(e, "t", 0, &err));
    cr_assert_eq(rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0), 0);
    rn_partition *fresh = rn_engine_partition(e, "t", 0, &err);
    cr_assert_neq(fresh, old);
    rn_partition_offsets off;
    rn_partition_offsets_get(fresh, &off);
    cr_assert_eq(off.high_watermark, 0, "a recreated topic starts empty");
    rn_engine_close(e);
    e = open_engine(1 << 20);
    rn_topic_meta *tm;
    int count;
    rn_engine_topics(e, NULL, 0, &tm, &count);
    cr_assert_eq(count, 1);
    cr_assert_eq(tm[0].partition_count, 1);
    rn_topic_meta_free(tm, count);
    rn_engine_close(e);
}

Test(engine, create_partitions_and_validation) {
    rn_engine *e = open_engine(1 << 20);
    char msg[256];
    cr_assert_eq(rn_engine_create_topic(e, "bad name", 1, NULL, 0, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_TOPIC_EXCEPTION);
    cr_assert_eq(rn_engine_create_topic(e, "t", 0, NULL, 0, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_PARTITIONS);
    rn_config_kv bad[] = {{"retention.ms", "soon"}};
    cr_assert_eq(rn_engine_create_topic(e, "t", 1, bad, 1, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    cr_assert(strstr(msg, "retention.ms"));
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, true, NULL, 0), 0);
    rn_err err;
    cr_assert_null(rn_engine_partition(e, "t", 0, &err), "validate_only creates nothing");
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, false, NULL, 0), 0);
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, false, NULL, 0),
                 RN_KAFKA_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(rn_engine_create_partitions(e, "t", 2, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_PARTITIONS);
    cr_assert_eq(rn_engine_create_partitions(e, "t", 5, false, msg, sizeof msg), 0);
    cr_assert(rn_engine_partition(e, "t", 4, &err));
    rn_engine_close(e);
    e = open_engine(1 << 20);
    cr_assert(rn_engine_partition(e, "t", 4, &err), "new partitions persist");
    cr_assert_null(rn_engine_partition(e, "t", 5, &err));
    rn_engine_close(e);
}

Test(engine, alter_configs_atomic) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    char msg[256];
    rn_config_alter ops[] = {{"retention.ms", "1000", RN_CONFIG_SET}, {"nope", "1", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", ops, 2, true, false, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    rn_config_entry *ce;
    int n;
    rn_engine_describe_topic_configs(e, "t", &ce, &n);
    for (int i = 0; i < n; i++)
        if (!strcmp(ce[i].name, "retention.ms")) cr_assert(ce[i].is_default, "nothing changed");
    rn_config_entries_free(ce, n);
    rn_config_alter ok[] = {{"retention.ms", "1000", RN_CONFIG_SET},
                            {"max.message.bytes", "100", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", ok, 2, true, false, msg, sizeof msg), 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    uint8_t b[4096];
    size_t len = batch_of(b, sizeof b, "big", 20, 1, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, b, len, &r), RN_KAFKA_MESSAGE_TOO_LARGE);
    rn_config_alter del[] = {{"max.message.bytes", NULL, RN_CONFIG_DELETE}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", del, 1, true, false, msg, sizeof msg), 0);
    cr_assert_eq(rn_partition_append(p, b, len, &r), 0);
    rn_engine_close(e);
}

static int notified;
static void on_notify(rn_watcher *w) {
    (void)w;
    __atomic_add_fetch(&notified, 1, __ATOMIC_SEQ_CST);
}

Test(engine, watcher_notified_on_append) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    rn_watcher w = {.notify = on_notify};
    notified = 0;
    rn_partition_watch(p, &w);
    append(p, "w", 1, 1);
    cr_assert_eq(notified, 1);
    rn_partition_unwatch(p, &w);
    append(p, "w", 1, 1);
    cr_assert_eq(notified, 1, "no call after unwatch");
    rn_engine_close(e);
}

static void *appender(void *arg) {
    rn_partition *p = arg;
    for (int i = 0; i < 200; i++) append(p, "c", 3, 1);
    return NULL;
}

static int64_t bases[4 * 200 + 8];
static int nbases;
static int base_sink(void *ctx, const uint8_t *b, size_t len) {
    (void)ctx;
    rn_batch_header h;
    rn_batch_header_parse(b, len, &h);
    bases[nbases++] = h.base_offset;
    return 0;
}

Test(engine, concurrent_appends_are_dense) {
    rn_engine *e = open_engine(64 << 10);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", 0, &err);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, appender, p);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    rn_partition_offsets off;
    rn_partition_offsets_get(p, &off);
    cr_assert_eq(off.high_watermark, 4 * 200 * 3);
    nbases = 0;
    size_t bytes;
    rn_partition_read(p, 0, SIZE_MAX, true, base_sink, NULL, NULL, &bytes);
    cr_assert_eq(nbases, 800);
    for (int i = 0; i < nbases; i++) cr_assert_eq(bases[i], 3 * i);
    rn_engine_close(e);
}
