/* tests/unit/engine_fixture.h: what the engine tests share: a fresh data dir per test,
 * opening the engine, building and appending batches, collecting what a read serves. */
#ifndef RN_TEST_ENGINE_FIXTURE_H
#define RN_TEST_ENGINE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "engine.h"
#include "rnlog.h"

static char dir[64];

static rn_engine_options fixture_opts(size_t tail) {
    rn_engine_options o = {
        .data_dir = dir, .node_id = 1, .log_column_families = 2, .flush_sync = false,
        .tail_cache_bytes = tail, .default_retention_ms = -1, .default_retention_bytes = -1,
        .default_max_message_bytes = 1 << 20, .default_partitions = 1,
    };
    return o;
}

static rn_engine *open_with(const rn_engine_options *o) {
    rn_engine *e = NULL;
    char err[256] = "";
    cr_assert_eq(rn_engine_open(o, &e, err, sizeof err), 0, "%s", err);
    return e;
}

static rn_engine *open_engine(size_t tail) {
    rn_engine_options o = fixture_opts(tail);
    return open_with(&o);
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

/* A batch of n records "<tag>-<i>" with timestamps ts, ts+1, ... */
static size_t batch_of(uint8_t *buf, size_t cap, const char *tag, int n, int64_t ts,
                       int64_t pid, int16_t epoch, int32_t seq) {
    rn_record recs[64];
    char vals[64][32];
    cr_assert_leq(n, 64);
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], sizeof vals[i], "%s-%d", tag, i);
        memset(&recs[i], 0, sizeof recs[i]);
        recs[i].key_len = -1;
        recs[i].value = (const uint8_t *)vals[i];
        recs[i].value_len = (int32_t)strlen(vals[i]);
        recs[i].timestamp = ts + i;
    }
    size_t len = rn_batch_build(buf, cap, 0, recs, n, pid, epoch, seq);
    cr_assert_gt(len, 0);
    return len;
}

static int64_t append(rn_partition *p, const char *tag, int n, int64_t ts) {
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, tag, n, ts, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, buf, len, &r), 0);
    return r.base_offset;
}

static rn_partition *partition(rn_engine *e, const char *topic, int32_t index) {
    rn_err err;
    rn_partition *p = rn_engine_partition(e, topic, index, &err);
    cr_assert(p, "%s-%d: %s", topic, index, rn_err_name(err));
    return p;
}

static rn_partition_offsets offsets(rn_partition *p) {
    rn_partition_offsets off;
    cr_assert_eq(rn_partition_offsets_get(p, &off), 0);
    return off;
}

/* What a read served: batch count, first and last base offsets, and the bytes. */
typedef struct {
    int batches;
    int64_t first_base, last_base;
    size_t bytes;
    uint8_t *copy; /* every served byte, in order (free it) */
} collect;

static int collect_sink(void *ctx, const uint8_t *b, size_t len) {
    collect *c = ctx;
    rn_batch_header h;
    cr_assert_eq(rn_batch_header_parse(b, len, &h), 0);
    size_t size;
    cr_assert_eq(rn_batch_validate(b, len, &size), 0, "served batches stay valid");
    cr_assert_eq(size, len);
    if (!c->batches) c->first_base = h.base_offset;
    c->last_base = h.base_offset;
    c->batches++;
    c->copy = realloc(c->copy, c->bytes + len);
    memcpy(c->copy + c->bytes, b, len);
    c->bytes += len;
    return 0;
}

static collect read_all(rn_partition *p, int64_t from) {
    collect c = {0};
    size_t bytes;
    cr_assert_eq(rn_partition_read(p, from, SIZE_MAX, true, collect_sink, &c, NULL, &bytes), 0);
    cr_assert_eq(bytes, c.bytes);
    return c;
}

#endif
