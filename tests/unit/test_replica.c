/* tests/unit/test_replica.c: the engine's replication primitives (engine.h's replication
 * section): two engines in two data dirs as leader (node 1) and follower (node 2). */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "engine_fixture.h"
#include "log.h"
#include "replica.h"

static char dir2[64];
static const uint8_t topic_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void setup2(void) {
    setup();
    snprintf(dir2, sizeof dir2, "/tmp/runnel-unit-XXXXXX");
    cr_assert(mkdtemp(dir2));
}

static void teardown2(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir2);
    cr_assert_eq(system(cmd), 0);
    teardown();
}

static rn_engine *open_node(const char *d, int32_t node, bool flush_sync) {
    rn_engine_options o = fixture_opts(1 << 20);
    o.data_dir = d;
    o.node_id = node;
    o.flush_sync = flush_sync;
    return open_with(&o);
}

static rn_partition *make_topic(rn_engine *e) {
    char msg[256] = "";
    rn_err err = rn_engine_create_topic_with_id(e, "t", topic_id, 1, NULL, 0, msg, sizeof msg);
    cr_assert_eq(err, 0, "%s", msg);
    return partition(e, "t", 0);
}

static const int32_t R12[] = {1, 2}, R123[] = {1, 2, 3}, R1[] = {1};

/* Everything from offset on, as a follower fetch gets it. */
static collect fetch_replica(rn_partition *p, int64_t from) {
    collect c = {0};
    size_t bytes;
    cr_assert_eq(rn_partition_read_replica(p, from, SIZE_MAX, collect_sink, &c, NULL, &bytes), 0);
    return c;
}

static int64_t append_idem(rn_partition *p, int64_t pid, int32_t seq, bool *dup) {
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "idem", 2, 5000, pid, 0, seq);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(p, buf, len, &r), 0);
    *dup = r.duplicate;
    return r.base_offset;
}

TestSuite(replica, .init = setup2, .fini = teardown2);

Test(replica, leader_to_follower) {
    rn_engine *le = open_node(dir, 1, false), *fe = open_node(dir2, 2, false);
    rn_partition *l = make_topic(le), *f = make_topic(fe);
    cr_assert_eq(rn_partition_become_leader(l, 1, R12, 2, R12, 2), 0);
    cr_assert_eq(rn_partition_become_follower(f, 1, 1), 0);
    rn_partition_replication rl, rf;
    rn_partition_replication_get(l, &rl);
    rn_partition_replication_get(f, &rf);
    cr_assert_eq(rl.role, RN_ROLE_LEADER);
    cr_assert_eq(rl.leader, 1);
    cr_assert_eq(rl.nisr, 2);
    cr_assert_eq(rf.role, RN_ROLE_FOLLOWER);
    cr_assert_eq(rf.leader, 1);
    cr_assert_eq(rf.leader_epoch, 1);

    append(l, "a", 2, 1000);
    append(l, "b", 3, 2000);
    rn_partition_offsets o = offsets(l);
    cr_assert_eq(o.log_end_offset, 5);
    cr_assert_eq(o.high_watermark, 0, "follower 2 has nothing yet");
    collect c = read_all(l, 0);
    cr_assert_eq(c.batches, 0, "clients do not see past the high watermark");
    free(c.copy);

    c = fetch_replica(l, 0);
    cr_assert_eq(c.batches, 2);
    cr_assert_eq(rn_partition_append_replica(f, c.copy, c.bytes, 0), 0);
    cr_assert_eq(offsets(f).log_end_offset, 5);
    cr_assert_eq(offsets(f).high_watermark, 0);
    cr_assert_eq(rn_partition_append_replica(f, c.copy, c.bytes, 0), RN_KAFKA_OFFSET_OUT_OF_RANGE,
                 "the first batch must start at the log end");
    /* A flipped byte inside a batch's CRC range. */
    uint8_t *bad = malloc(c.bytes);
    memcpy(bad, c.copy, c.bytes);
    rn_batch_set_base_offset(bad, 5);
    bad[c.bytes - 1] ^= 0x55;
    cr_assert_eq(rn_partition_append_replica(f, bad, c.bytes, 0), RN_KAFKA_CORRUPT_MESSAGE);
    free(bad);

    collect fc = fetch_replica(f, 0);
    cr_assert_eq(fc.bytes, c.bytes);
    cr_assert_eq(memcmp(fc.copy, c.copy, c.bytes), 0, "stored exactly as the leader sent them");
    rn_batch_header h;
    cr_assert_eq(rn_batch_header_parse(fc.copy, fc.bytes, &h), 0);
    cr_assert_eq(h.partition_leader_epoch, 1);
    cr_assert_eq(rn_partition_latest_epoch(f), 1, "the follower learnt the epoch");
    free(fc.copy);
    free(c.copy);

    /* The follower's fetch at its log end lets the leader's high watermark move. */
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 5, 100), 0);
    cr_assert_eq(offsets(l).high_watermark, 5);
    rn_partition_set_leader_high_watermark(f, 5);
    cr_assert_eq(offsets(f).high_watermark, 5);
    c = read_all(f, 0);
    cr_assert_eq(c.batches, 2);
    free(c.copy);

    /* Followers refuse local appends; leaders refuse replica appends. */
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "x", 1, 1, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append(f, buf, len, &r), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(rn_partition_append_nowait(f, buf, len, &r), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(rn_partition_append_replica(l, buf, len, 0), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(rn_partition_follower_fetched(f, 1, 0, 0), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(rn_partition_follower_fetched(l, 7, 0, 0), RN_KAFKA_NOT_LEADER_OR_FOLLOWER,
                 "not a replica");
    rn_engine_close(le);
    rn_engine_close(fe);
}

Test(replica, high_watermark_waits_for_every_isr_member) {
    rn_engine *le = open_node(dir, 1, false);
    rn_partition *l = make_topic(le);
    cr_assert_eq(rn_partition_become_leader(l, 0, R123, 3, R123, 3), 0);
    append(l, "a", 3, 1000);
    append(l, "b", 3, 2000);
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 6, 10), 0);
    cr_assert_eq(offsets(l).high_watermark, 0, "replica 3 has not fetched");
    cr_assert_eq(rn_partition_follower_fetched(l, 3, 3, 10), 0);
    cr_assert_eq(offsets(l).high_watermark, 3);
    cr_assert_eq(rn_partition_follower_fetched(l, 3, 6, 20), 0);
    cr_assert_eq(offsets(l).high_watermark, 6);
    cr_assert_eq(rn_partition_follower_fetched(l, 3, 2, 30), 0);
    cr_assert_eq(offsets(l).high_watermark, 6, "never back");
    /* An ISR of the leader alone: the local durable end. */
    cr_assert_eq(rn_partition_become_leader(l, 0, R123, 3, R1, 1), 0);
    append(l, "c", 1, 3000);
    cr_assert_eq(offsets(l).high_watermark, 7);
    rn_engine_close(le);
}

typedef struct {
    rn_durable_wait w;
    rn_partition *parts[1];
    int64_t ends[1];
    atomic_int calls;
    atomic_int err;
} waiter;

static void waiter_done(rn_durable_wait *w, rn_err err) {
    waiter *x = w->ctx;
    atomic_store(&x->err, err);
    atomic_fetch_add(&x->calls, 1);
}

static void waiter_start(rn_engine *e, waiter *x, rn_partition *p, int64_t end) {
    memset(x, 0, sizeof *x);
    x->parts[0] = p;
    x->ends[0] = end;
    x->w = (rn_durable_wait){.done = waiter_done, .ctx = x, .parts = x->parts, .ends = x->ends,
                             .n = 1, .replicated = true};
    rn_engine_when_durable(e, &x->w);
}

static bool waiter_wait(waiter *x, int ms) {
    for (int i = 0; i < ms && !atomic_load(&x->calls); i++) usleep(1000);
    return atomic_load(&x->calls) != 0;
}

static void replicated_wait(bool flush_sync) {
    rn_engine *le = open_node(dir, 1, flush_sync);
    rn_partition *l = make_topic(le);
    cr_assert_eq(rn_partition_become_leader(l, 1, R12, 2, R12, 2), 0);
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "a", 4, 1000, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append_nowait(l, buf, len, &r), 0);
    waiter x;
    waiter_start(le, &x, l, r.log_end_offset);
    cr_assert_not(waiter_wait(&x, 100), "the follower has not fetched");
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 2, 10), 0);
    cr_assert_not(waiter_wait(&x, 50), "the follower has half of it");
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 4, 20), 0);
    cr_assert(waiter_wait(&x, 2000));
    cr_assert_eq(atomic_load(&x.err), 0);
    cr_assert_eq(atomic_load(&x.calls), 1);

    /* Cancelled while pending: never called. */
    len = batch_of(buf, sizeof buf, "b", 1, 2000, -1, -1, -1);
    cr_assert_eq(rn_partition_append_nowait(l, buf, len, &r), 0);
    waiter y;
    waiter_start(le, &y, l, r.log_end_offset);
    usleep(20000);
    rn_engine_durable_cancel(le, &y.w);
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 5, 30), 0);
    usleep(50000);
    cr_assert_eq(atomic_load(&y.calls), 0);

    /* Losing the leadership fails what waits. */
    len = batch_of(buf, sizeof buf, "c", 1, 3000, -1, -1, -1);
    cr_assert_eq(rn_partition_append_nowait(l, buf, len, &r), 0);
    waiter z;
    waiter_start(le, &z, l, r.log_end_offset);
    cr_assert_not(waiter_wait(&z, 50));
    cr_assert_eq(rn_partition_become_follower(l, 2, 2), 0);
    cr_assert(waiter_wait(&z, 2000));
    cr_assert_eq(atomic_load(&z.err), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    rn_engine_close(le);
}

Test(replica, replicated_wait_without_flush_sync) { replicated_wait(false); }
Test(replica, replicated_wait_with_flush_sync) { replicated_wait(true); }

Test(replica, replicated_wait_on_unreplicated_partition_is_as_before) {
    rn_engine *e = open_node(dir, 1, true);
    rn_partition *p = make_topic(e);
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "a", 1, 1000, -1, -1, -1);
    rn_append_result r;
    cr_assert_eq(rn_partition_append_nowait(p, buf, len, &r), 0);
    waiter x;
    waiter_start(e, &x, p, r.log_end_offset);
    cr_assert(waiter_wait(&x, 2000));
    cr_assert_eq(atomic_load(&x.err), 0);
    cr_assert_eq(offsets(p).high_watermark, 1);
    rn_engine_close(e);
}

static int wakes;
static void count_wake(rn_watcher *w) {
    (void)w;
    wakes++;
}

Test(replica, isr_shrinks_and_grows) {
    rn_engine *le = open_node(dir, 1, false);
    rn_partition *l = make_topic(le);
    int32_t isr[16];
    cr_assert_eq(rn_partition_become_leader(l, 1, R123, 3, R12, 2), 0);
    rn_watcher w = {.notify = count_wake};
    rn_partition_watch(l, &w);
    append(l, "a", 3, 1000);
    cr_assert_eq(rn_partition_isr_proposal(l, 1000, 100, isr), 0, "judged from now on");
    int before = wakes;
    cr_assert_eq(rn_partition_follower_fetched(l, 2, 3, 1000), 0);
    cr_assert_gt(wakes, before, "the high watermark moved: watchers woken");
    cr_assert_eq(offsets(l).high_watermark, 3);
    /* Replica 3 catches up: it may join. */
    cr_assert_eq(rn_partition_follower_fetched(l, 3, 3, 1010), 0);
    int n = rn_partition_isr_proposal(l, 1050, 100, isr);
    cr_assert_eq(n, 3);
    cr_assert_eq(isr[2], 3);
    cr_assert_eq(rn_partition_become_leader(l, 1, R123, 3, isr, n), 0);
    cr_assert_eq(rn_partition_isr_proposal(l, 1060, 100, isr), 0);
    /* Replica 2 stops fetching, 3 goes on: 2 leaves, never the leader. */
    append(l, "b", 2, 2000);
    cr_assert_eq(rn_partition_follower_fetched(l, 3, 5, 1150), 0);
    n = rn_partition_isr_proposal(l, 1200, 100, isr);
    cr_assert_eq(n, 2);
    cr_assert_eq(isr[0], 1);
    cr_assert_eq(isr[1], 3);
    cr_assert_eq(offsets(l).high_watermark, 3, "2 still counts until the ISR changes");
    cr_assert_eq(rn_partition_become_leader(l, 1, R123, 3, isr, n), 0);
    cr_assert_eq(offsets(l).high_watermark, 5);
    rn_partition_unwatch(l, &w);
    rn_engine_close(le);
}

Test(replica, epoch_cache_persists) {
    rn_engine *e = open_node(dir, 1, false);
    rn_partition *p = make_topic(e);
    cr_assert_eq(rn_partition_latest_epoch(p), -1);
    cr_assert_eq(rn_partition_become_leader(p, 1, R1, 1, R1, 1), 0);
    append(p, "a", 2, 1000);
    cr_assert_eq(rn_partition_become_leader(p, 3, R1, 1, R1, 1), 0);
    append(p, "b", 2, 2000);
    rn_engine_close(e);

    e = open_node(dir, 1, false);
    p = partition(e, "t", 0);
    cr_assert_eq(rn_partition_latest_epoch(p), 3);
    cr_assert_eq(offsets(p).leader_epoch, 3);
    int32_t ep;
    int64_t end;
    rn_partition_epoch_end_offset(p, 1, &ep, &end);
    cr_assert(ep == 1 && end == 2);
    rn_partition_epoch_end_offset(p, 2, &ep, &end);
    cr_assert(ep == 1 && end == 2);
    rn_partition_epoch_end_offset(p, 3, &ep, &end);
    cr_assert(ep == 3 && end == 4);
    rn_partition_epoch_end_offset(p, 0, &ep, &end);
    cr_assert(ep == 0 && end == 0, "older than every epoch: the first one's start");
    rn_partition_epoch_end_offset(p, -1, &ep, &end);
    cr_assert(ep == -1 && end == -1);
    cr_assert_eq(rn_partition_become_leader(p, 2, R1, 1, R1, 1), RN_KAFKA_FENCED_LEADER_EPOCH);

    /* Deleting the topic removes its epoch entries with everything else. */
    cr_assert_eq(rn_engine_delete_topic(e, "t"), 0);
    rn_epoch_cache c = {0};
    cr_assert_eq(rn_epoch_cache_load(p->store, p->id, &c), 0);
    cr_assert_eq(c.n, 0);
    rn_epoch_cache_free(&c);
    rn_engine_close(e);
}

Test(replica, truncate_removes_divergent_batches) {
    rn_engine *e = open_node(dir, 1, false);
    rn_partition *p = make_topic(e);
    cr_assert_eq(rn_partition_become_leader(p, 1, R1, 1, R1, 1), 0);
    append(p, "a", 2, 1000);                 /* 0-1 */
    cr_assert_eq(rn_partition_become_leader(p, 2, R1, 1, R1, 1), 0);
    bool dup;
    cr_assert_eq(append_idem(p, 77, 0, &dup), 2); /* 2-3, ts 5000 */
    append(p, "c", 2, 9000);                 /* 4-5 */
    cr_assert_eq(rn_partition_latest_epoch(p), 2);

    cr_assert_eq(rn_partition_become_follower(p, 3, 2), 0);
    cr_assert_eq(rn_partition_truncate(p, 3), 0, "inside the batch 2-3: it goes whole");
    rn_partition_offsets o = offsets(p);
    cr_assert_eq(o.log_end_offset, 2);
    cr_assert_eq(o.high_watermark, 2);
    cr_assert_eq(rn_partition_latest_epoch(p), 1, "epoch 2 started at 2: gone");
    collect c = fetch_replica(p, 0);
    cr_assert_eq(c.batches, 1);
    free(c.copy);
    int64_t off, ts;
    cr_assert_eq(rn_partition_offset_for_time(p, 4000, &off, &ts), 0);
    cr_assert_eq(off, -1, "the time index lost the removed batches");

    /* Leader again: the producer's retry is new, not a duplicate. */
    cr_assert_eq(rn_partition_become_leader(p, 4, R1, 1, R1, 1), 0);
    cr_assert_eq(append_idem(p, 77, 0, &dup), 2);
    cr_assert_not(dup);
    cr_assert_eq(append_idem(p, 77, 0, &dup), 2);
    cr_assert(dup, "and its own retry is one");
    rn_engine_close(e);

    e = open_node(dir, 1, false);
    p = partition(e, "t", 0);
    o = offsets(p);
    cr_assert_eq(o.log_end_offset, 4);
    cr_assert_eq(o.size_bytes > 0, 1);
    cr_assert_eq(rn_partition_latest_epoch(p), 4);
    rn_engine_close(e);
}

Test(replica, reset_to) {
    rn_engine *e = open_node(dir, 2, false);
    rn_partition *p = make_topic(e);
    cr_assert_eq(rn_partition_become_follower(p, 1, 1), 0);
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "a", 2, 1000, -1, -1, -1);
    rn_batch_set_leader_epoch(buf, 1);
    cr_assert_eq(rn_partition_append_replica(p, buf, len, 2), 0);
    cr_assert_eq(rn_partition_reset_to(p, 100), 0);
    rn_partition_offsets o = offsets(p);
    cr_assert(o.log_start_offset == 100 && o.log_end_offset == 100 && o.high_watermark == 100);
    cr_assert_eq(o.size_bytes, 0);
    cr_assert_eq(rn_partition_latest_epoch(p), -1);
    rn_batch_set_base_offset(buf, 100);
    cr_assert_eq(rn_partition_append_replica(p, buf, len, 102), 0);
    cr_assert_eq(offsets(p).high_watermark, 102);
    collect c = read_all(p, 100);
    cr_assert_eq(c.batches, 1);
    cr_assert_eq(c.first_base, 100);
    free(c.copy);
    rn_engine_close(e);
    e = open_node(dir, 2, false);
    o = offsets(partition(e, "t", 0));
    cr_assert(o.log_start_offset == 100 && o.log_end_offset == 102);
    rn_engine_close(e);
}

Test(replica, check_leader_and_stop) {
    rn_engine *e = open_node(dir, 1, false);
    rn_partition *p = make_topic(e);
    cr_assert_eq(rn_partition_check_leader(p, -1), 0, "no role: served as always");
    cr_assert_eq(rn_partition_check_leader(p, 0), 0);
    cr_assert_eq(rn_partition_check_leader(p, 1), RN_KAFKA_UNKNOWN_LEADER_EPOCH);
    cr_assert_eq(rn_partition_become_leader(p, 5, R12, 2, R1, 1), 0);
    cr_assert_eq(rn_partition_check_leader(p, 5), 0);
    cr_assert_eq(rn_partition_check_leader(p, 4), RN_KAFKA_FENCED_LEADER_EPOCH);
    cr_assert_eq(rn_partition_check_leader(p, 6), RN_KAFKA_UNKNOWN_LEADER_EPOCH);
    cr_assert_eq(rn_partition_become_follower(p, 4, 2), RN_KAFKA_FENCED_LEADER_EPOCH);
    cr_assert_eq(rn_partition_become_follower(p, 6, 2), 0);
    cr_assert_eq(rn_partition_check_leader(p, 6), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    rn_partition_stop_replica(p);
    rn_partition_replication r;
    rn_partition_replication_get(p, &r);
    cr_assert_eq(r.role, RN_ROLE_NONE);
    cr_assert_eq(r.leader, -1);
    cr_assert_eq(rn_partition_check_leader(p, -1), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    uint8_t buf[4096];
    size_t len = batch_of(buf, sizeof buf, "x", 1, 1, -1, -1, -1);
    rn_append_result ar;
    cr_assert_eq(rn_partition_append(p, buf, len, &ar), RN_KAFKA_NOT_LEADER_OR_FOLLOWER);
    cr_assert_eq(rn_partition_become_leader(p, 7, R12, 2, R1, 1), 0);
    cr_assert_eq(rn_partition_append(p, buf, len, &ar), 0);
    rn_engine_close(e);
}

Test(replica, create_topic_with_id) {
    rn_engine *e = open_engine(1 << 20);
    char msg[256] = "";
    cr_assert_eq(rn_engine_create_topic_with_id(e, "t", topic_id, 3, NULL, 0, msg, sizeof msg), 0);
    rn_topic_meta *m;
    int n;
    const char *names[] = {"t"};
    cr_assert_eq(rn_engine_topics(e, names, 1, &m, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(memcmp(m[0].topic_id, topic_id, 16), 0);
    cr_assert_eq(m[0].partition_count, 3);
    rn_topic_meta_free(m, n);
    cr_assert_eq(rn_engine_create_topic_with_id(e, "t", topic_id, 3, NULL, 0, msg, sizeof msg),
                 RN_KAFKA_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(rn_engine_create_topic_with_id(e, "u", topic_id, -1, NULL, 0, msg, sizeof msg),
                 RN_KAFKA_INVALID_PARTITIONS, "no num.partitions default");
    rn_config_kv bad = {"retention.ms", "soon"};
    cr_assert_eq(rn_engine_create_topic_with_id(e, "u", topic_id, 1, &bad, 1, msg, sizeof msg),
                 RN_KAFKA_INVALID_CONFIG);
    rn_engine_close(e);
}
