/* tests/unit/test_log.c: a partition's log through engine.h: append, read (tail and
 * RocksDB), offsets, idempotent producers, DeleteRecords, retention, time lookups,
 * watchers, concurrency. */
#include <pthread.h>
#include <time.h>

#include "engine_fixture.h"

TestSuite(log, .init = setup, .fini = teardown);

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every record offset served from `from` on, in order. */
static int record_offsets(rn_partition *p, int64_t from, int64_t *out, int cap) {
    collect c = read_all(p, from);
    int n = 0;
    for (size_t pos = 0; pos < c.bytes;) {
        rn_batch_header h;
        cr_assert_eq(rn_batch_header_parse(c.copy + pos, c.bytes - pos, &h), 0);
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        cr_assert_eq(h.partition_leader_epoch, 0, "the leader epoch is stamped on append");
        rn_batch_records *it;
        cr_assert_eq(rn_batch_records_open(c.copy + pos, size, 1 << 20, &it), 0);
        rn_record rec;
        while (rn_batch_records_next(it, &rec) == 1) {
            cr_assert_lt(n, cap);
            out[n++] = rec.offset;
        }
        rn_batch_records_close(it);
        pos += size;
    }
    free(c.copy);
    return n;
}

Test(log, offsets_are_dense_across_batches_and_sets) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    cr_assert_eq(append(p, "a", 3, 100), 0);
    cr_assert_eq(append(p, "b", 5, 200), 3);
    uint8_t set[8192];
    size_t n1 = batch_of(set, sizeof set, "c", 2, 300, -1, -1, -1);
    size_t n2 = batch_of(set + n1, sizeof set - n1, "d", 4, 400, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, set, n1 + n2, &r), 0, "two batches, one append");
    cr_assert_eq(r.base_offset, 8);
    cr_assert_eq(r.log_append_time, -1);
    cr_assert_eq(append(p, "e", 1, 500), 14);
    rn_partition_offsets off = offsets(p);
    cr_assert(off.high_watermark == 15 && off.log_end_offset == 15 && off.log_start_offset == 0);
    int64_t got[64];
    int n = record_offsets(p, 0, got, 64);
    cr_assert_eq(n, 15);
    for (int i = 0; i < n; i++) cr_assert_eq(got[i], i);
    rn_engine_close(e);
}

Test(log, a_bad_batch_rejects_the_whole_set) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    uint8_t set[8192];
    rn_append_result r;
    size_t n1 = batch_of(set, sizeof set, "ok", 2, 1, -1, -1, -1);
    size_t n2 = batch_of(set + n1, sizeof set - n1, "other", 2, 1, 7, 0, 0);
    size_t n3 = batch_of(set + n1 + n2, sizeof set - n1 - n2, "third", 1, 1, 8, 0, 0);
    cr_assert_eq(rn_partition_append(p, set, n1 + n2 + n3, &r), RN_KAFKA_INVALID_RECORD,
                 "one producer per record set");
    cr_assert_eq(rn_partition_append(p, set, n1 + 20, &r), RN_KAFKA_CORRUPT_MESSAGE,
                 "a partial batch at the end");
    /* last offset delta that disagrees with the record count would break dense offsets */
    uint8_t bad[4096];
    size_t nb = batch_of(bad, sizeof bad, "lie", 2, 1, -1, -1, -1);
    bad[26] = 9;
    cr_assert_eq(rn_partition_append(p, bad, nb, &r), RN_KAFKA_CORRUPT_MESSAGE);
    rn_config_alter small[] = {{"max.message.bytes", "100", RN_CONFIG_SET}};
    cr_assert_eq(rn_engine_alter_topic_configs(e, "t", small, 1, true, false, NULL, 0), 0);
    uint8_t mixed[8192];
    size_t m1 = batch_of(mixed, sizeof mixed, "s", 1, 1, -1, -1, -1);
    size_t m2 = batch_of(mixed + m1, sizeof mixed - m1, "a-much-larger-batch", 8, 1, -1, -1, -1);
    cr_assert_leq(m1, 100);
    cr_assert_gt(m2, 100);
    cr_assert_eq(rn_partition_append(p, mixed, m1 + m2, &r), RN_KAFKA_MESSAGE_TOO_LARGE);
    rn_partition_offsets off = offsets(p);
    cr_assert_eq(off.log_end_offset, 0, "nothing of a rejected set is written");
    cr_assert_eq(off.size_bytes, 0);
    cr_assert_eq(rn_partition_append(p, mixed, m1, &r), 0);
    cr_assert_eq(r.base_offset, 0);
    rn_engine_close(e);
}

Test(log, tail_and_store_serve_the_same_bytes) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 20; i++) append(p, "x", 1 + i % 7, 1000 + i);
    collect from_tail = read_all(p, 0);
    rn_engine_close(e);
    e = open_engine(1 << 20); /* the tail starts empty: every read goes to RocksDB */
    p = partition(e, "t", 0);
    collect from_store = read_all(p, 0);
    cr_assert_eq(from_tail.batches, 20);
    cr_assert_eq(from_store.bytes, from_tail.bytes);
    cr_assert_eq(memcmp(from_store.copy, from_tail.copy, from_tail.bytes), 0);
    free(from_tail.copy);
    free(from_store.copy);
    rn_engine_close(e);
}

Test(log, reads_cross_from_store_to_tail) {
    rn_engine *e = open_engine(600); /* a tiny tail: most reads go to RocksDB */
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 20; i++) append(p, "x", 10, 1000 + i);
    for (int64_t off = 0; off < 200; off += 7) {
        collect c = read_all(p, off);
        cr_assert_eq(c.first_base, off / 10 * 10, "offset %lld starts at its batch", (long long)off);
        cr_assert_eq(c.last_base, 190);
        cr_assert_eq(c.batches, 20 - (int)(off / 10));
        free(c.copy);
    }
    rn_engine_close(e);
}

Test(log, max_bytes_and_at_least_one) {
    for (int tail = 0; tail < 2; tail++) {
        rn_engine *e = open_engine(tail ? 1 << 20 : 1);
        char name[8];
        snprintf(name, sizeof name, "t%d", tail);
        rn_engine_create_topic(e, name, 1, NULL, 0, false, NULL, 0);
        rn_partition *p = partition(e, name, 0);
        for (int i = 0; i < 5; i++) append(p, "y", 10, 1000);
        size_t bytes;
        collect c = {0}, d = {0}, f = {0};
        rn_partition_read(p, 0, 1, true, collect_sink, &c, NULL, &bytes);
        cr_assert_eq(c.batches, 1, "the first batch is given whole even over max_bytes");
        rn_partition_read(p, 0, 1, false, collect_sink, &d, NULL, &bytes);
        cr_assert_eq(d.batches, 0);
        cr_assert_eq(bytes, 0);
        rn_partition_read(p, 0, c.bytes * 2 + 1, true, collect_sink, &f, NULL, &bytes);
        cr_assert_eq(f.batches, 2, "stops before the batch that would pass max_bytes");
        cr_assert_eq(bytes, c.bytes * 2);
        free(c.copy);
        free(f.copy);
        rn_engine_close(e);
    }
}

static int stop_after_one(void *ctx, const uint8_t *b, size_t len) {
    (void)b;
    (void)len;
    ++*(int *)ctx;
    return 1;
}

Test(log, a_sink_can_stop_the_read) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 40; i++) append(p, "s", 1, 1); /* more than one chunk of the tail */
    int calls = 0;
    size_t bytes;
    cr_assert_eq(rn_partition_read(p, 0, SIZE_MAX, true, stop_after_one, &calls, NULL, &bytes), 0);
    cr_assert_eq(calls, 1);
    rn_engine_close(e);
}

Test(log, offset_out_of_range) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    size_t bytes;
    collect c = {0};
    rn_partition_offsets off;
    cr_assert_eq(rn_partition_read(p, 0, 100, true, collect_sink, &c, &off, &bytes), 0,
                 "an empty log at its end");
    cr_assert(c.batches == 0 && off.high_watermark == 0);
    cr_assert_eq(rn_partition_read(p, 1, 100, true, collect_sink, &c, NULL, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_partition_read(p, -1, 100, true, collect_sink, &c, NULL, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    for (int i = 0; i < 5; i++) append(p, "o", 2, 1);
    cr_assert_eq(rn_partition_read(p, 11, 100, true, collect_sink, &c, NULL, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_partition_read(p, 10, 100, true, collect_sink, &c, &off, &bytes), 0);
    cr_assert(c.batches == 0 && off.high_watermark == 10, "at the high watermark: nothing yet");
    int64_t low;
    cr_assert_eq(rn_partition_delete_records(p, 5, &low), 0);
    cr_assert_eq(rn_partition_read(p, 3, 100, true, collect_sink, &c, &off, &bytes),
                 RN_KAFKA_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(off.log_start_offset, 5, "offsets are filled even on error");
    rn_engine_close(e);
}

Test(log, idempotent_producer_dedup_gap_epoch) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    uint8_t b[4096];
    rn_append_result r;
    size_t n = batch_of(b, sizeof b, "s", 3, 1, 42, 0, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.base_offset == 0 && !r.duplicate);
    n = batch_of(b, sizeof b, "s", 2, 1, 42, 0, 3);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert_eq(r.base_offset, 3);
    rn_partition_offsets before = offsets(p);
    /* a retry of the first batch: acknowledged with its original offset, not written */
    n = batch_of(b, sizeof b, "s", 3, 1, 42, 0, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.base_offset == 0 && r.duplicate);
    rn_partition_offsets after = offsets(p);
    cr_assert(after.log_end_offset == 5 && after.size_bytes == before.size_bytes);
    collect c = read_all(p, 0);
    cr_assert_eq(c.batches, 2);
    free(c.copy);
    /* a gap */
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 0, 9);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* an unknown producer must start at 0 */
    n = batch_of(b, sizeof b, "s", 1, 1, 43, 0, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    /* a new epoch restarts at 0, and only at 0; the old epoch is then fenced */
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 0, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), RN_KAFKA_INVALID_PRODUCER_EPOCH);
    rn_engine_close(e);

    /* producer state is persisted with the records */
    e = open_engine(1 << 20);
    p = partition(e, "t", 0);
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.duplicate && r.base_offset == 5, "dedup survives a restart");
    n = batch_of(b, sizeof b, "s", 1, 1, 42, 1, 1);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(!r.duplicate && r.base_offset == 6);
    rn_engine_close(e);
}

Test(log, idempotent_batches_in_a_mixed_set_keep_their_offsets) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    append(p, "pad", 2, 1); /* offsets 0..1 */
    uint8_t set[8192];
    rn_append_result r;
    size_t n1 = batch_of(set, sizeof set, "plain", 4, 1, -1, -1, -1);       /* 2..5 */
    size_t n2 = batch_of(set + n1, sizeof set - n1, "i", 3, 1, 9, 0, 0);   /* 6..8 */
    size_t n3 = batch_of(set + n1 + n2, sizeof set - n1 - n2, "j", 2, 1, 9, 0, 3); /* 9..10 */
    cr_assert_eq(rn_partition_append(p, set, n1 + n2 + n3, &r), 0);
    cr_assert_eq(r.base_offset, 2);
    uint8_t b[4096];
    size_t n = batch_of(b, sizeof b, "j", 2, 1, 9, 0, 3);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.duplicate && r.base_offset == 9, "got %lld", (long long)r.base_offset);
    n = batch_of(b, sizeof b, "i", 3, 1, 9, 0, 0);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.duplicate && r.base_offset == 6);
    n = batch_of(b, sizeof b, "k", 1, 1, 9, 0, 5);
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(!r.duplicate && r.base_offset == 11);
    rn_engine_close(e);
}

Test(log, delete_records) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 10; i++) append(p, "r", 2, 1000 * i);
    int64_t low;
    cr_assert_eq(rn_partition_delete_records(p, 3, &low), 0);
    cr_assert_eq(low, 3);
    cr_assert_eq(rn_partition_delete_records(p, 999, &low), RN_KAFKA_OFFSET_OUT_OF_RANGE);
    cr_assert_eq(rn_partition_delete_records(p, 1, &low), 0, "below the start: nothing to do");
    cr_assert_eq(low, 3);
    collect c = read_all(p, 3);
    cr_assert_eq(c.first_base, 2, "the batch holding the new start is served whole");
    free(c.copy);
    cr_assert_eq(offsets(p).size_bytes, (int64_t)c.bytes, "the straddling batch is kept");
    cr_assert_eq(rn_partition_delete_records(p, -1, &low), 0, "-1: up to the high watermark");
    cr_assert_eq(low, 20);
    rn_partition_offsets off = offsets(p);
    cr_assert(off.log_start_offset == 20 && off.size_bytes == 0);
    cr_assert_eq(append(p, "after", 1, 1), 20);
    rn_engine_close(e);
    e = open_engine(1 << 20);
    p = partition(e, "t", 0);
    off = offsets(p);
    cr_assert(off.log_start_offset == 20 && off.log_end_offset == 21 && off.high_watermark == 21);
    c = read_all(p, 20);
    cr_assert(c.batches == 1 && c.first_base == 20);
    free(c.copy);
    rn_engine_close(e);
}

Test(log, retention_by_size) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.bytes", "300"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 10; i++) append(p, "r", 2, 1000 * i);
    rn_engine_enforce_retention(e, 100000);
    rn_partition_offsets off = offsets(p);
    cr_assert_leq(off.size_bytes, 300);
    cr_assert_gt(off.log_start_offset, 0);
    cr_assert_eq(off.log_start_offset % 2, 0, "retention removes whole batches");
    collect c = read_all(p, off.log_start_offset);
    cr_assert_eq((int64_t)c.bytes, off.size_bytes);
    cr_assert_gt(c.bytes + 100, 300, "no more removed than needed");
    free(c.copy);
    rn_engine_close(e);
    e = open_engine(1 << 20);
    p = partition(e, "t", 0);
    rn_partition_offsets again = offsets(p);
    cr_assert_eq(again.log_start_offset, off.log_start_offset, "log start is persisted");
    cr_assert_eq(again.size_bytes, off.size_bytes);
    rn_engine_close(e);
}

Test(log, retention_by_time_and_broker_default) {
    rn_engine_options o = fixture_opts(1 << 20);
    o.default_retention_ms = 5000;
    rn_engine *e = open_with(&o);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_config_kv forever[] = {{"retention.ms", "-1"}};
    rn_engine_create_topic(e, "kept", 1, forever, 1, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0), *k = partition(e, "kept", 0);
    for (int i = 0; i < 10; i++) {
        append(p, "t", 1, 1000 * i); /* max ts 0..9000 */
        append(k, "t", 1, 1000 * i);
    }
    append(p, "late", 1, 0); /* older than the cutoff, but behind a newer batch: kept */
    rn_engine_enforce_retention(e, 12500); /* cutoff 7500: batches 0..7 go */
    cr_assert_eq(offsets(p).log_start_offset, 8);
    cr_assert_eq(offsets(k).log_start_offset, 0, "the topic's -1 beats the broker default");
    rn_engine_enforce_retention(e, 1000000);
    cr_assert_eq(offsets(p).log_start_offset, 11, "never past the high watermark");
    rn_engine_close(e);
}

Test(log, offset_for_time) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    append(p, "a", 5, 1000); /* 1000..1004 */
    append(p, "b", 5, 2000); /* 2000..2004 */
    append(p, "c", 5, 1500); /* out of order: running max stays 2004 */
    int64_t off, ts;
    cr_assert_eq(rn_partition_offset_for_time(p, 0, &off, &ts), 0);
    cr_assert(off == 0 && ts == 1000);
    cr_assert_eq(rn_partition_offset_for_time(p, 1003, &off, &ts), 0);
    cr_assert(off == 3 && ts == 1003);
    cr_assert_eq(rn_partition_offset_for_time(p, 1005, &off, &ts), 0);
    cr_assert(off == 5 && ts == 2000, "to the next batch when none in the first is late enough");
    cr_assert_eq(rn_partition_offset_for_time(p, 2002, &off, &ts), 0);
    cr_assert(off == 7 && ts == 2002);
    cr_assert_eq(rn_partition_offset_for_time(p, 9999, &off, &ts), 0);
    cr_assert(off == -1 && ts == -1);
    int64_t low;
    rn_partition_delete_records(p, 7, &low);
    cr_assert_eq(rn_partition_offset_for_time(p, 0, &off, &ts), 0);
    cr_assert(off == 7 && ts == 2002, "never below the log start");
    rn_engine_close(e);
    e = open_engine(1 << 20);
    p = partition(e, "t", 0);
    /* Were the running max (2004) not recovered, 1800 would get a time-index entry and
     * a lookup for 1700 would land on it, past offset 7 (2002). */
    append(p, "d", 2, 1800);
    cr_assert_eq(rn_partition_offset_for_time(p, 1700, &off, &ts), 0);
    cr_assert(off == 7 && ts == 2002, "got %lld", (long long)off);
    append(p, "e", 2, 3000);
    cr_assert_eq(rn_partition_offset_for_time(p, 2500, &off, &ts), 0);
    cr_assert(off == 17 && ts == 3000);
    rn_engine_close(e);
}

Test(log, log_append_time) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"message.timestamp.type", "LogAppendTime"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    uint8_t b[4096];
    size_t n = batch_of(b, sizeof b, "l", 3, 5, -1, -1, -1);
    int64_t before = wall_ms();
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, b, n, &r), 0);
    cr_assert(r.log_append_time >= before && r.log_append_time <= wall_ms());
    collect c = read_all(p, 0); /* collect_sink validates the CRC */
    rn_batch_header h;
    rn_batch_header_parse(c.copy, c.bytes, &h);
    cr_assert(h.attributes & RN_BATCH_TIMESTAMP_LOG_APPEND);
    cr_assert_eq(h.max_timestamp, r.log_append_time);
    free(c.copy);
    int64_t off, ts;
    cr_assert_eq(rn_partition_offset_for_time(p, before, &off, &ts), 0);
    cr_assert(off == 0 && ts == r.log_append_time);
    rn_engine_close(e);
}

static int notified;
static void on_notify(rn_watcher *w) {
    (void)w;
    __atomic_add_fetch(&notified, 1, __ATOMIC_SEQ_CST);
}

Test(log, watchers) {
    rn_engine *e = open_engine(1 << 20);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    rn_watcher w = {.notify = on_notify}, w2 = {.notify = on_notify};
    notified = 0;
    rn_partition_watch(p, &w);
    append(p, "w", 1, 1);
    cr_assert_eq(notified, 1);
    rn_partition_unwatch(p, &w);
    append(p, "w", 1, 1);
    cr_assert_eq(notified, 1, "no call after unwatch");
    rn_partition_watch(p, &w2);
    cr_assert_eq(rn_engine_delete_topic(e, "t"), 0);
    cr_assert_eq(notified, 2, "a deleted partition wakes its watchers");
    rn_partition_unwatch(p, &w2);
    rn_engine_close(e);
}

/* ---- concurrency ------------------------------------------------------------------- */

#define APPENDERS 4
#define APPENDS 200

static void *appender(void *arg) {
    rn_partition *p = arg;
    for (int i = 0; i < APPENDS; i++) append(p, "c", 3, 1);
    return NULL;
}

static int64_t bases[APPENDERS * APPENDS + 8];
static int nbases;
static int base_sink(void *ctx, const uint8_t *b, size_t len) {
    (void)ctx;
    rn_batch_header h;
    rn_batch_header_parse(b, len, &h);
    bases[nbases++] = h.base_offset;
    return 0;
}

static void appenders_give_dense_offsets(bool flush_sync) {
    rn_engine_options o = fixture_opts(64 << 10);
    o.flush_sync = flush_sync;
    rn_engine *e = open_with(&o);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    pthread_t t[APPENDERS];
    for (int i = 0; i < APPENDERS; i++) pthread_create(&t[i], NULL, appender, p);
    for (int i = 0; i < APPENDERS; i++) pthread_join(t[i], NULL);
    rn_partition_offsets off = offsets(p);
    cr_assert_eq(off.high_watermark, APPENDERS * APPENDS * 3);
    cr_assert_eq(off.log_end_offset, off.high_watermark);
    nbases = 0;
    size_t bytes;
    rn_partition_read(p, 0, SIZE_MAX, true, base_sink, NULL, NULL, &bytes);
    cr_assert_eq(nbases, APPENDERS * APPENDS);
    for (int i = 0; i < nbases; i++) cr_assert_eq(bases[i], 3 * i);
    rn_engine_close(e);
}

Test(log, concurrent_appends_are_dense) { appenders_give_dense_offsets(false); }
Test(log, concurrent_synced_appends_are_dense) { appenders_give_dense_offsets(true); }

typedef struct {
    rn_partition *p;
    int64_t served; /* records seen, checked dense */
    bool bad;
} reader_state;

static int dense_sink(void *ctx, const uint8_t *b, size_t len) {
    reader_state *r = ctx;
    rn_batch_header h;
    if (rn_batch_header_parse(b, len, &h) || h.base_offset > r->served) r->bad = true;
    r->served = h.base_offset + h.last_offset_delta + 1;
    return 0;
}

static void *reader(void *arg) {
    reader_state *r = arg;
    while (r->served < APPENDERS * APPENDS * 3 && !r->bad) {
        size_t bytes;
        rn_err err = rn_partition_read(r->p, r->served, 700, true, dense_sink, r, NULL, &bytes);
        if (err) r->bad = true;
    }
    return NULL;
}

/* Readers following appenders through a tail that drops entries under them. */
Test(log, readers_follow_concurrent_appends) {
    rn_engine *e = open_engine(2048);
    rn_engine_create_topic(e, "t", 1, NULL, 0, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    pthread_t a[APPENDERS], rd[2];
    reader_state rs[2] = {{p, 0, false}, {p, 0, false}};
    for (int i = 0; i < 2; i++) pthread_create(&rd[i], NULL, reader, &rs[i]);
    for (int i = 0; i < APPENDERS; i++) pthread_create(&a[i], NULL, appender, p);
    for (int i = 0; i < APPENDERS; i++) pthread_join(a[i], NULL);
    for (int i = 0; i < 2; i++) pthread_join(rd[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert(!rs[i].bad);
        cr_assert_eq(rs[i].served, APPENDERS * APPENDS * 3);
    }
    rn_engine_close(e);
}

typedef struct {
    rn_engine *e;
    rn_partition *p;
} trim_args;

static void *delete_records_loop(void *arg) {
    trim_args *a = arg;
    for (int64_t off = 1; off <= 300; off += 3) {
        int64_t low;
        rn_partition_delete_records(a->p, off, &low);
    }
    return NULL;
}

static void *retention_loop(void *arg) {
    trim_args *a = arg;
    for (int i = 0; i < 100; i++) rn_engine_enforce_retention(a->e, 1000000 + i * 100000);
    return NULL;
}

/* Removals from two sides at once must not count a removed batch twice. */
Test(log, concurrent_removals_keep_size_exact) {
    rn_engine *e = open_engine(1 << 20);
    rn_config_kv cfg[] = {{"retention.bytes", "2000"}};
    rn_engine_create_topic(e, "t", 1, cfg, 1, false, NULL, 0);
    rn_partition *p = partition(e, "t", 0);
    for (int i = 0; i < 150; i++) append(p, "z", 2, i);
    trim_args a = {e, p};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, delete_records_loop, &a);
    pthread_create(&t2, NULL, retention_loop, &a);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    rn_partition_offsets off = offsets(p);
    collect c = read_all(p, off.log_start_offset);
    int64_t first = c.batches ? c.first_base : off.log_start_offset;
    cr_assert_leq(first, off.log_start_offset);
    cr_assert_eq(off.size_bytes, (int64_t)c.bytes, "size %lld, stored %zu",
                 (long long)off.size_bytes, c.bytes);
    free(c.copy);
    rn_engine_close(e);
}
