/* tests/unit/test_group.c: the group coordinator (engine/group.h) through its C API, on a
 * real engine in a temporary directory, with no timer thread: time is stepped with
 * rn_coordinator_tick (monotonic) and rn_group_expire_offsets (wall clock). Covers
 * JoinGroup (MEMBER_ID_REQUIRED, protocol selection, validation), SyncGroup, Heartbeat,
 * LeaveGroup, static membership, session and sync expiry, waiter cancellation,
 * OffsetCommit/Fetch, persistence across a reopen, DeleteGroups, OffsetDelete, offsets
 * retention and topic deletion. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "group_internal.h"
#include "rnlog.h"

static char data_dir[64];
static rn_engine *eng;
static rn_coordinator *co;

static rn_group_options group_opts(void) {
    rn_group_options g = {
        .min_session_timeout_ms = 10, .max_session_timeout_ms = 600000,
        .initial_rebalance_delay_ms = 0, .max_size = 0, .offsets_retention_ms = 3600000,
        .offsets_retention_check_interval_ms = 0, .offset_metadata_max_bytes = 4096,
    };
    return g;
}

static rn_engine_options engine_opts(const rn_group_options *g) {
    rn_engine_options o = {
        .data_dir = data_dir, .node_id = 1, .log_column_families = 2, .flush_sync = false,
        .tail_cache_bytes = 1 << 20, .default_retention_ms = -1, .default_retention_bytes = -1,
        .default_max_message_bytes = 1 << 20, .default_partitions = 1, .groups = *g,
        .coordinator_thread = false,
    };
    return o;
}

static void open_with(const rn_group_options *g) {
    rn_engine_options o = engine_opts(g);
    char err[256] = "";
    cr_assert_eq(rn_engine_open(&o, &eng, err, sizeof err), 0, "%s", err);
    co = rn_engine_coordinator(eng);
    cr_assert(co);
}

static void reopen_with(const rn_group_options *g) {
    rn_engine_close(eng);
    eng = NULL;
    co = NULL;
    open_with(g);
}

static void reopen(void) {
    rn_group_options g = group_opts();
    reopen_with(&g);
}

static void setup(void) {
    snprintf(data_dir, sizeof data_dir, "/tmp/runnel-group-XXXXXX");
    cr_assert(mkdtemp(data_dir));
    rn_log_set_level(RN_LOG_ERROR);
    rn_group_options g = group_opts();
    open_with(&g);
}

static void teardown(void) {
    if (eng) rn_engine_close(eng);
    eng = NULL;
    co = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", data_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(group, .init = setup, .fini = teardown);

/* ---- helpers ----------------------------------------------------------------------- */

/* A waiter that counts its callbacks. */
typedef struct {
    rn_group_waiter w;
    int calls;
} tw;

static void tw_done(rn_group_waiter *w) { ((tw *)w->ctx)->calls++; }

static void tw_init(tw *t) {
    memset(t, 0, sizeof *t);
    t->w.done = tw_done;
    t->w.ctx = t;
}

static void step(int64_t ahead_ms) { rn_coordinator_tick(co, rn_group_now_ms() + ahead_ms); }

/* Tick exactly at the group's join deadline, a few ms after the rebalance started, so
 * that deadlines the completion sets (from the real clock) lie after this tick. */
static void tick_at_join_deadline(const char *group) {
    usleep(5000);
    pthread_mutex_lock(&co->lock);
    rn_group *g = rn_group_find(co, group);
    int64_t d = g ? g->join_deadline : 0;
    pthread_mutex_unlock(&co->lock);
    cr_assert(d > 0, "%s has a join deadline", group);
    rn_coordinator_tick(co, d);
}

/* Tick at an absolute monotonic time, a few ms from now so that deadlines set during the
 * tick (from the real clock) lie after it. */
static void tick_at(int64_t when) {
    usleep(5000);
    rn_coordinator_tick(co, when);
}

/* The initial rebalance of a group that got more than one member: with a delay of 0 the
 * first expiry extends it by 0 ms because a member arrived during it (Kafka's
 * InitialDelayedJoin does the same), the next completes it. */
static void settle(void) {
    step(0);
    step(0);
}

static void expire_at(int64_t wall_ms) {
    pthread_mutex_lock(&co->lock);
    rn_group_expire_offsets(co, wall_ms);
    pthread_mutex_unlock(&co->lock);
}

#define PROTO(name, meta) {(name), (const uint8_t *)(meta), sizeof(meta) - 1}

static rn_join_request jreq(const char *group, const char *member, const rn_group_protocol *p,
                            int n) {
    rn_join_request rq = {
        .group_id = group, .member_id = member, .group_instance_id = NULL,
        .protocol_type = "consumer", .client_id = "client", .client_host = "/127.0.0.1",
        .session_timeout_ms = 30000, .rebalance_timeout_ms = 60000, .protocols = p,
        .nprotocols = n, .require_known_member_id = false,
    };
    return rq;
}

static void join(const rn_join_request *rq, tw *t) {
    tw_init(t);
    rn_coordinator_join(co, rq, &t->w);
}

/* A join that must be answered at once with err; the answer is freed. */
static void join_fails(const rn_join_request *rq, rn_err err) {
    tw t;
    join(rq, &t);
    cr_assert_eq(t.calls, 1, "answered at once");
    cr_assert_eq(t.w.join.error, err, "join error %d, expected %d", t.w.join.error, err);
    cr_assert_eq(t.w.join.generation_id, -1);
    rn_join_result_free(&t.w.join);
}

/* A new member through the MEMBER_ID_REQUIRED handshake: returns its (malloc'd) id. */
static char *member_id_required(rn_join_request rq) {
    rq.member_id = "";
    rq.require_known_member_id = true;
    tw t;
    join(&rq, &t);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.error, RN_KAFKA_MEMBER_ID_REQUIRED);
    cr_assert_eq(t.w.join.generation_id, -1);
    cr_assert(t.w.join.member_id && t.w.join.member_id[0], "a member id is handed out");
    char *id = strdup(t.w.join.member_id);
    rn_join_result_free(&t.w.join);
    return id;
}

static void sync_req(const char *group, const char *member, const char *instance, int32_t gen,
                     const rn_group_assignment *a, int n, tw *t) {
    rn_sync_request rq = {
        .group_id = group, .member_id = member, .group_instance_id = instance,
        .generation_id = gen, .protocol_type = NULL, .protocol_name = NULL,
        .assignments = a, .nassignments = n,
    };
    tw_init(t);
    rn_coordinator_sync(co, &rq, &t->w);
}

static void assert_bytes(const uint8_t *p, size_t n, const char *s) {
    size_t sl = strlen(s);
    cr_assert_eq(n, sl, "length %zu, expected %zu (\"%s\")", n, sl, s);
    if (n) cr_assert(p && memcmp(p, s, n) == 0, "bytes differ from \"%s\"", s);
}

/* Sync that completes at once with the given assignment. */
static void sync_gets(const char *group, const char *member, const char *instance, int32_t gen,
                      const rn_group_assignment *a, int n, const char *expect) {
    tw t;
    sync_req(group, member, instance, gen, a, n, &t);
    cr_assert_eq(t.calls, 1, "sync answered at once");
    cr_assert_eq(t.w.sync.error, RN_KAFKA_NONE, "sync error %d", t.w.sync.error);
    assert_bytes(t.w.sync.assignment, t.w.sync.assignment_len, expect);
    rn_sync_result_free(&t.w.sync);
}

static void sync_fails(const char *group, const char *member, const char *instance, int32_t gen,
                       rn_err err) {
    tw t;
    sync_req(group, member, instance, gen, NULL, 0, &t);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.sync.error, err, "sync error %d, expected %d", t.w.sync.error, err);
    rn_sync_result_free(&t.w.sync);
}

static rn_group_description describe(const char *group) {
    rn_group_description d;
    cr_assert_eq(rn_coordinator_describe(co, group, &d), 0);
    return d;
}

static void assert_state(const char *group, const char *state, int32_t gen, int nmembers) {
    rn_group_description d = describe(group);
    const char *st = d.state; /* static */
    int32_t g = d.generation_id;
    int n = d.nmembers;
    rn_group_description_clear(&d);
    cr_assert_str_eq(st, state, "%s: state %s, expected %s", group, st, state);
    cr_assert_eq(g, gen, "%s: generation %d, expected %d", group, g, gen);
    cr_assert_eq(n, nmembers, "%s: %d members, expected %d", group, n, nmembers);
}

/* One member alone in its group (no handshake), through the initial rebalance (delay 0)
 * and its own sync: Stable, generation 1 for a new group. Returns its id. */
static char *solo_member_rq(const rn_join_request *rq, const char *asg) {
    tw t;
    join(rq, &t);
    cr_assert_eq(t.calls, 0, "waits for the initial rebalance delay");
    step(0);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.error, RN_KAFKA_NONE);
    char *id = strdup(t.w.join.member_id);
    int32_t gen = t.w.join.generation_id;
    rn_join_result_free(&t.w.join);
    rn_group_assignment a = {id, (const uint8_t *)asg, strlen(asg)};
    sync_gets(rq->group_id, id, NULL, gen, &a, 1, asg);
    return id;
}

static char *solo_member(const char *group, const rn_group_protocol *p, int n, const char *asg) {
    rn_join_request rq = jreq(group, "", p, n);
    return solo_member_rq(&rq, asg);
}

static rn_committed_offset committed(const char *group, const char *topic, int32_t partition) {
    rn_committed_offset o;
    cr_assert_eq(rn_coordinator_committed(co, group, topic, partition, &o), 0);
    return o;
}

static int64_t committed_offset(const char *group, const char *topic, int32_t partition) {
    rn_committed_offset o = committed(group, topic, partition);
    int64_t v = o.offset;
    rn_committed_offset_clear(&o);
    return v;
}

static int count_committed(const char *group) {
    rn_committed_offset *all;
    int n;
    cr_assert_eq(rn_coordinator_committed_all(co, group, &all, &n), 0);
    rn_committed_offsets_free(all, n);
    return n;
}

static rn_err commit1(const char *group, int32_t gen, const char *member, const char *topic,
                      int32_t partition, int64_t offset) {
    rn_offset_commit e = {topic, partition, offset, -1, NULL, -1};
    rn_err err = rn_coordinator_commit(co, group, gen, member, NULL, &e, 1);
    if (!err) cr_assert_eq(e.error, RN_KAFKA_NONE, "entry error %d", e.error);
    return err;
}

static void create_topic(const char *name, int32_t partitions) {
    cr_assert_eq(rn_engine_create_topic(eng, name, partitions, NULL, 0, false, NULL, 0), 0);
}

/* ConsumerProtocolSubscription v0: topics, null user data. Returns its length. */
static size_t subscription(uint8_t *buf, const char *const *topics, int n) {
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = (uint8_t)(n >> 24);
    buf[k++] = (uint8_t)(n >> 16);
    buf[k++] = (uint8_t)(n >> 8);
    buf[k++] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(topics[i]);
        buf[k++] = (uint8_t)(l >> 8);
        buf[k++] = (uint8_t)l;
        memcpy(buf + k, topics[i], l);
        k += l;
    }
    memset(buf + k, 0xFF, 4);
    return k + 4;
}

/* ---- membership ------------------------------------------------------------------- */

Test(group, single_member_join_sync_heartbeat_describe) {
    rn_group_protocol p[] = {PROTO("range", "sub-A")};
    rn_join_request rq = jreq("g1", "", p, 1);
    char *id = member_id_required(rq);
    cr_assert(strncmp(id, "client-", 7) == 0, "member ids start with the client id: %s", id);
    assert_state("g1", "Empty", 0, 0);

    rq.member_id = id;
    rq.require_known_member_id = true;
    tw t;
    join(&rq, &t);
    cr_assert_eq(t.calls, 0, "the initial rebalance completes on the timer");
    assert_state("g1", "PreparingRebalance", 0, 1);
    step(0);
    cr_assert_eq(t.calls, 1);
    rn_join_result *r = &t.w.join;
    cr_assert_eq(r->error, RN_KAFKA_NONE);
    cr_assert_eq(r->generation_id, 1);
    cr_assert_str_eq(r->member_id, id);
    cr_assert_str_eq(r->leader, id);
    cr_assert_str_eq(r->protocol_type, "consumer");
    cr_assert_str_eq(r->protocol_name, "range");
    cr_assert_eq(r->nmembers, 1);
    cr_assert_str_eq(r->members[0].member_id, id);
    cr_assert_null(r->members[0].group_instance_id);
    assert_bytes(r->members[0].metadata, r->members[0].metadata_len, "sub-A");
    rn_join_result_free(r);
    assert_state("g1", "CompletingRebalance", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g1", id, NULL, 1), RN_KAFKA_NONE,
                 "heartbeats are fine while the leader computes assignments");

    rn_group_assignment a = {id, (const uint8_t *)"asg-A", 5};
    tw s;
    sync_req("g1", id, NULL, 1, &a, 1, &s);
    cr_assert_eq(s.calls, 1);
    cr_assert_eq(s.w.sync.error, RN_KAFKA_NONE);
    cr_assert_str_eq(s.w.sync.protocol_type, "consumer");
    cr_assert_str_eq(s.w.sync.protocol_name, "range");
    assert_bytes(s.w.sync.assignment, s.w.sync.assignment_len, "asg-A");
    rn_sync_result_free(&s.w.sync);

    cr_assert_eq(rn_coordinator_heartbeat(co, "g1", id, NULL, 1), RN_KAFKA_NONE);
    rn_group_description d = describe("g1");
    cr_assert_str_eq(d.group_id, "g1");
    cr_assert_str_eq(d.state, "Stable");
    cr_assert_str_eq(d.protocol_type, "consumer");
    cr_assert_str_eq(d.protocol_name, "range");
    cr_assert_eq(d.generation_id, 1);
    cr_assert_eq(d.nmembers, 1);
    cr_assert_str_eq(d.members[0].member_id, id);
    cr_assert_null(d.members[0].group_instance_id);
    cr_assert_str_eq(d.members[0].client_id, "client");
    cr_assert_str_eq(d.members[0].client_host, "/127.0.0.1");
    assert_bytes(d.members[0].metadata, d.members[0].metadata_len, "sub-A");
    assert_bytes(d.members[0].assignment, d.members[0].assignment_len, "asg-A");
    rn_group_description_clear(&d);

    /* A retried sync in Stable gets the same assignment; a follower-style rejoin in
     * Stable with the same protocols is answered at once, no rebalance. */
    sync_gets("g1", id, NULL, 1, NULL, 0, "asg-A");

    rn_group_listing *l;
    int n;
    cr_assert_eq(rn_coordinator_list(co, &l, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(l[0].group_id, "g1");
    cr_assert_str_eq(l[0].protocol_type, "consumer");
    cr_assert_str_eq(l[0].state, "Stable");
    rn_group_listings_free(l, n);
    free(id);
}

Test(group, unknown_group_is_dead) {
    assert_state("nobody", "Dead", -1, 0);
    rn_group_description d = describe("nobody");
    cr_assert_str_eq(d.protocol_type, "");
    cr_assert_str_eq(d.protocol_name, "");
    rn_group_description_clear(&d);
    cr_assert_eq(rn_coordinator_heartbeat(co, "nobody", "x", NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_leave(co, "nobody", "x", NULL), RN_KAFKA_UNKNOWN_MEMBER_ID);
    sync_fails("nobody", "x", NULL, 1, RN_KAFKA_UNKNOWN_MEMBER_ID);
    rn_group_protocol p[] = {PROTO("range", "m")};
    rn_join_request rq = jreq("nobody", "some-member", p, 1);
    join_fails(&rq, RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "", "x", NULL, 1), RN_KAFKA_INVALID_GROUP_ID);
    cr_assert_eq(rn_coordinator_leave(co, "", "x", NULL), RN_KAFKA_INVALID_GROUP_ID);
    sync_fails("", "x", NULL, 1, RN_KAFKA_INVALID_GROUP_ID);
}

Test(group, protocol_selection_and_join_validation) {
    rn_group_protocol pa[] = {PROTO("range", "A-range"), PROTO("roundrobin", "A-rr")};
    rn_group_protocol pb[] = {PROTO("roundrobin", "B-rr")};
    rn_join_request ra = jreq("g2", "", pa, 2), rb = jreq("g2", "", pb, 1);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    cr_assert_eq(ta.calls + tb.calls, 0);
    settle();
    cr_assert_eq(ta.calls, 1);
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(ta.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb.w.join.error, RN_KAFKA_NONE);
    cr_assert_str_eq(ta.w.join.protocol_name, "roundrobin", "the one protocol both support");
    cr_assert_str_eq(tb.w.join.protocol_name, "roundrobin");
    cr_assert_eq(ta.w.join.generation_id, 1);
    cr_assert_eq(tb.w.join.generation_id, 1);
    cr_assert_str_eq(ta.w.join.leader, ta.w.join.member_id, "the first to join leads");
    cr_assert_str_eq(tb.w.join.leader, ta.w.join.member_id);
    cr_assert_eq(ta.w.join.nmembers, 2);
    cr_assert_eq(tb.w.join.nmembers, 0, "only the leader gets the members");
    cr_assert_str_eq(ta.w.join.members[0].member_id, ta.w.join.member_id);
    assert_bytes(ta.w.join.members[0].metadata, ta.w.join.members[0].metadata_len, "A-rr");
    cr_assert_str_eq(ta.w.join.members[1].member_id, tb.w.join.member_id);
    assert_bytes(ta.w.join.members[1].metadata, ta.w.join.members[1].metadata_len, "B-rr");
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);

    rn_group_protocol pc[] = {PROTO("roundrobin", "C-rr")};
    rn_join_request rc = jreq("g2", "", pc, 1);
    rc.protocol_type = "other";
    join_fails(&rc, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    rc.protocol_type = "";
    join_fails(&rc, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    rn_group_protocol prange[] = {PROTO("range", "C-range")};
    rn_join_request rr = jreq("g2", "", prange, 1);
    join_fails(&rr, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL); /* B does not support range */
    rn_join_request rnone = jreq("g2", "", pc, 0);
    join_fails(&rnone, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    rn_join_request rs = jreq("g2", "", pc, 1);
    rs.session_timeout_ms = 9;
    join_fails(&rs, RN_KAFKA_INVALID_SESSION_TIMEOUT);
    rs.session_timeout_ms = 600001;
    join_fails(&rs, RN_KAFKA_INVALID_SESSION_TIMEOUT);
    rn_join_request rg = jreq("", "", pc, 1);
    join_fails(&rg, RN_KAFKA_INVALID_GROUP_ID);
    /* A new group accepts any non-empty type, but not an empty one. */
    rn_join_request rne = jreq("g2-new", "", pc, 1);
    rne.protocol_type = "";
    join_fails(&rne, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    assert_state("g2", "CompletingRebalance", 1, 2);
}

Test(group, vote_prefers_what_most_members_rank_first) {
    /* Both support both; A prefers range, B and C roundrobin: roundrobin wins 2 to 1. */
    rn_group_protocol pa[] = {PROTO("range", "a1"), PROTO("roundrobin", "a2")};
    rn_group_protocol pb[] = {PROTO("roundrobin", "b2"), PROTO("range", "b1")};
    rn_join_request ra = jreq("gv", "", pa, 2), rb = jreq("gv", "", pb, 2), rc = jreq("gv", "", pb, 2);
    tw ta, tb, tc;
    join(&ra, &ta);
    join(&rb, &tb);
    join(&rc, &tc);
    settle();
    cr_assert_eq(ta.calls + tb.calls + tc.calls, 3);
    cr_assert_str_eq(ta.w.join.protocol_name, "roundrobin");
    cr_assert_eq(ta.w.join.nmembers, 3);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_join_result_free(&tc.w.join);
}

Test(group, second_member_triggers_rebalance_follower_waits_for_leader) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    char *a = solo_member("g3", pa, 1, "a-only");
    rn_join_request rb = jreq("g3", "", pb, 1);
    tw tb;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0, "waits for the existing member to rejoin");
    assert_state("g3", "PreparingRebalance", 1, 2);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", a, NULL, 1), RN_KAFKA_REBALANCE_IN_PROGRESS);
    sync_fails("g3", a, NULL, 1, RN_KAFKA_REBALANCE_IN_PROGRESS);

    rn_join_request ra = jreq("g3", a, pa, 1);
    tw ta;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 1, "everyone has joined: the rebalance completes at once");
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(ta.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_eq(tb.w.join.generation_id, 2);
    cr_assert_str_eq(ta.w.join.leader, tb.w.join.leader);
    cr_assert_str_eq(ta.w.join.leader, a, "the old leader stays leader");
    cr_assert_str_eq(ta.w.join.member_id, a);
    cr_assert((ta.w.join.nmembers == 2) != (tb.w.join.nmembers == 2),
              "exactly one gets the members list");
    cr_assert_eq(ta.w.join.nmembers, 2);
    cr_assert_eq(tb.w.join.nmembers, 0);
    char *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    assert_state("g3", "CompletingRebalance", 2, 2);

    tw sb;
    sync_req("g3", b, NULL, 2, NULL, 0, &sb);
    cr_assert_eq(sb.calls, 0, "a follower waits for the leader's assignments");
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", b, NULL, 2), RN_KAFKA_NONE);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"asg-A", 5}, {b, (const uint8_t *)"asg-B", 5}};
    tw sa;
    sync_req("g3", a, NULL, 2, asg, 2, &sa);
    cr_assert_eq(sa.calls, 1);
    cr_assert_eq(sb.calls, 1);
    cr_assert_eq(sa.w.sync.error, RN_KAFKA_NONE);
    cr_assert_eq(sb.w.sync.error, RN_KAFKA_NONE);
    assert_bytes(sa.w.sync.assignment, sa.w.sync.assignment_len, "asg-A");
    assert_bytes(sb.w.sync.assignment, sb.w.sync.assignment_len, "asg-B");
    cr_assert_str_eq(sb.w.sync.protocol_name, "range");
    rn_sync_result_free(&sa.w.sync);
    rn_sync_result_free(&sb.w.sync);
    assert_state("g3", "Stable", 2, 2);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", a, NULL, 2), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", b, NULL, 2), RN_KAFKA_NONE);

    /* Stale generation, unknown member, wrong generation in a sync. */
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", a, NULL, 1), RN_KAFKA_ILLEGAL_GENERATION);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g3", "nobody", NULL, 2),
                 RN_KAFKA_UNKNOWN_MEMBER_ID);
    sync_fails("g3", b, NULL, 1, RN_KAFKA_ILLEGAL_GENERATION);
    sync_fails("g3", b, NULL, 3, RN_KAFKA_ILLEGAL_GENERATION);
    sync_fails("g3", "nobody", NULL, 2, RN_KAFKA_UNKNOWN_MEMBER_ID);
    rn_join_request rx = jreq("g3", "nobody", pa, 1);
    join_fails(&rx, RN_KAFKA_UNKNOWN_MEMBER_ID);
    /* A sync naming another protocol is inconsistent. */
    rn_sync_request bad = {.group_id = "g3", .member_id = b, .generation_id = 2,
                           .protocol_type = "consumer", .protocol_name = "roundrobin"};
    tw tbad;
    tw_init(&tbad);
    rn_coordinator_sync(co, &bad, &tbad.w);
    cr_assert_eq(tbad.calls, 1);
    cr_assert_eq(tbad.w.sync.error, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL);
    rn_sync_result_free(&tbad.w.sync);
    free(a);
    free(b);
}

Test(group, a_join_during_sync_phase_sends_waiting_followers_back) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g4", "", pa, 1), rb = jreq("g4", "", pb, 1);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    cr_assert_eq(ta.calls + tb.calls, 2);
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    cr_assert_str_eq(ta.w.join.leader, a);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    tw sb;
    sync_req("g4", b, NULL, 1, NULL, 0, &sb);
    cr_assert_eq(sb.calls, 0);
    /* A third member arrives before the leader syncs. */
    rn_join_request rc = jreq("g4", "", pb, 1);
    tw tc;
    join(&rc, &tc);
    cr_assert_eq(sb.calls, 1, "the waiting follower is told to rejoin");
    cr_assert_eq(sb.w.sync.error, RN_KAFKA_REBALANCE_IN_PROGRESS);
    rn_sync_result_free(&sb.w.sync);
    cr_assert_eq(tc.calls, 0);
    assert_state("g4", "PreparingRebalance", 1, 3);
    /* The old leader's sync for the old generation is rejected now. */
    sync_fails("g4", a, NULL, 1, RN_KAFKA_REBALANCE_IN_PROGRESS);
    ra.member_id = a;
    rb.member_id = b;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 0);
    join(&rb, &tb);
    cr_assert_eq(ta.calls + tb.calls + tc.calls, 3);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_eq(ta.w.join.nmembers, 3);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_join_result_free(&tc.w.join);
    free(a);
    free(b);
}

Test(group, leader_leaving_during_sync_phase_answers_followers) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g5", "", pa, 1), rb = jreq("g5", "", pb, 1);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    tw sb;
    sync_req("g5", b, NULL, 1, NULL, 0, &sb);
    cr_assert_eq(sb.calls, 0);
    cr_assert_eq(rn_coordinator_leave(co, "g5", a, NULL), RN_KAFKA_NONE);
    cr_assert_eq(sb.calls, 1);
    cr_assert_eq(sb.w.sync.error, RN_KAFKA_REBALANCE_IN_PROGRESS);
    rn_sync_result_free(&sb.w.sync);
    assert_state("g5", "PreparingRebalance", 1, 1);
    rb.member_id = b;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(tb.w.join.generation_id, 2);
    cr_assert_str_eq(tb.w.join.leader, b, "the remaining member leads");
    cr_assert_eq(tb.w.join.nmembers, 1);
    rn_join_result_free(&tb.w.join);
    free(a);
    free(b);
}

Test(group, session_expiry_removes_the_silent_member) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g6", "", pa, 1), rb = jreq("g6", "", pb, 1);
    ra.session_timeout_ms = 30000;
    ra.rebalance_timeout_ms = 60000;
    rb.session_timeout_ms = 10000;
    rb.rebalance_timeout_ms = 10000;
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    cr_assert_eq(ta.calls + tb.calls, 2);
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    tw sb;
    sync_req("g6", b, NULL, 1, NULL, 0, &sb);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A0", 2}, {b, (const uint8_t *)"B0", 2}};
    sync_gets("g6", a, NULL, 1, asg, 2, "A0");
    cr_assert_eq(sb.calls, 1);
    rn_sync_result_free(&sb.w.sync);
    assert_state("g6", "Stable", 1, 2);

    step(9000);
    assert_state("g6", "Stable", 1, 2);
    step(10000 + 1);
    assert_state("g6", "PreparingRebalance", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g6", b, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g6", a, NULL, 1), RN_KAFKA_REBALANCE_IN_PROGRESS);
    ra.member_id = a;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 1);
    cr_assert_eq(ta.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_str_eq(ta.w.join.leader, a);
    cr_assert_eq(ta.w.join.nmembers, 1);
    cr_assert_str_eq(ta.w.join.members[0].member_id, a);
    rn_join_result_free(&ta.w.join);
    sync_gets("g6", a, NULL, 2, asg, 1, "A0");
    assert_state("g6", "Stable", 2, 1);
    free(a);
    free(b);
}

Test(group, rebalance_timeout_drops_members_that_do_not_rejoin) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g7", "", pa, 1);
    ra.session_timeout_ms = 30000;
    ra.rebalance_timeout_ms = 20000;
    char *a = solo_member_rq(&ra, "x");
    rn_join_request rb = jreq("g7", "", pb, 1);
    rb.rebalance_timeout_ms = 5000;
    tw tb;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0);
    /* A never rejoins; the rebalance ends at the largest rebalance timeout (20 s). */
    step(19000);
    cr_assert_eq(tb.calls, 0);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g7", a, NULL, 1), RN_KAFKA_REBALANCE_IN_PROGRESS);
    step(20000 + 1);
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(tb.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb.w.join.generation_id, 2);
    cr_assert_str_eq(tb.w.join.leader, tb.w.join.member_id, "the one that rejoined leads");
    cr_assert_eq(tb.w.join.nmembers, 1);
    rn_join_result_free(&tb.w.join);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g7", a, NULL, 2), RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(a);
}

Test(group, deadlines_set_by_a_tick_count_from_that_tick) {
    /* rn_coordinator_tick(now) steps time to now; what the tick starts (here the sync
     * phase of the new generation) must get deadlines from that now, or the same tick
     * already finds them expired and unravels the generation it just made. */
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g7b", "", pa, 1);
    ra.rebalance_timeout_ms = 20000;
    char *a = solo_member_rq(&ra, "x");
    rn_join_request rb = jreq("g7b", "", pb, 1);
    rb.rebalance_timeout_ms = 5000;
    tw tb;
    join(&rb, &tb);
    step(20000 + 1); /* A did not rejoin: generation 2 is B alone, B must sync within 5 s */
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(tb.w.join.generation_id, 2);
    rn_join_result_free(&tb.w.join);
    free(a);
    assert_state("g7b", "CompletingRebalance", 2, 1);
}

Test(group, members_that_never_sync_are_removed) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("g8", "", pa, 1), rb = jreq("g8", "", pb, 1);
    ra.rebalance_timeout_ms = rb.rebalance_timeout_ms = 5000;
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {b, (const uint8_t *)"B", 1}};
    sync_gets("g8", a, NULL, 1, asg, 2, "A");
    assert_state("g8", "Stable", 1, 2);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g8", b, NULL, 1), RN_KAFKA_NONE);
    step(5000 + 1); /* B heartbeats (session 30 s) but never sent SyncGroup */
    assert_state("g8", "PreparingRebalance", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g8", b, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(a);
    free(b);
}

Test(group, pending_member_id_expires) {
    rn_group_protocol p[] = {PROTO("range", "A")};
    rn_join_request rq = jreq("g9", "", p, 1);
    rq.session_timeout_ms = 1000;
    char *id = member_id_required(rq);
    step(1000 + 1);
    rq.member_id = id;
    join_fails(&rq, RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(id);
}

Test(group, leave_the_only_member_empties_the_group) {
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("g10", p, 1, "x");
    assert_state("g10", "Stable", 1, 1);
    cr_assert_eq(rn_coordinator_leave(co, "g10", "nobody", NULL), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_leave(co, "g10", a, NULL), RN_KAFKA_NONE);
    assert_state("g10", "Empty", 2, 0);
    rn_group_description d = describe("g10");
    cr_assert_str_eq(d.protocol_type, "consumer");
    cr_assert_str_eq(d.protocol_name, "");
    rn_group_description_clear(&d);
    cr_assert_eq(rn_coordinator_leave(co, "g10", a, NULL), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "g10", a, NULL, 2), RN_KAFKA_UNKNOWN_MEMBER_ID);
    sync_fails("g10", a, NULL, 2, RN_KAFKA_UNKNOWN_MEMBER_ID);
    /* An Empty group takes any protocol type again. */
    rn_join_request rq = jreq("g10", "", p, 1);
    rq.protocol_type = "connect";
    tw t;
    join(&rq, &t);
    step(0);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(t.w.join.generation_id, 3);
    cr_assert_str_eq(t.w.join.protocol_type, "connect");
    rn_join_result_free(&t.w.join);
    free(a);
}

Test(group, initial_rebalance_delay_waits_for_more_members) {
    rn_group_options g = group_opts();
    g.initial_rebalance_delay_ms = 3000;
    reopen_with(&g);
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gd", "", pa, 1), rb = jreq("gd", "", pb, 1);
    ra.rebalance_timeout_ms = rb.rebalance_timeout_ms = 10000;
    tw ta, tb;
    join(&ra, &ta);
    step(0);
    step(2000);
    cr_assert_eq(ta.calls, 0, "the delay has not passed");
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0, "all joined, but the initial delay still applies");
    int64_t t0 = rn_group_now_ms();
    rn_coordinator_tick(co, t0 + 3001);
    cr_assert_eq(ta.calls + tb.calls, 0, "a member arrived during the delay: it is extended");
    rn_coordinator_tick(co, t0 + 3001 + 2999);
    cr_assert_eq(ta.calls + tb.calls, 0);
    rn_coordinator_tick(co, t0 + 3001 + 3000);
    cr_assert_eq(ta.calls + tb.calls, 2);
    cr_assert_eq(ta.w.join.generation_id, 1);
    cr_assert_eq(ta.w.join.nmembers, 2);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
}

Test(group, max_size_refuses_more_members) {
    rn_group_options g = group_opts();
    g.max_size = 1;
    reopen_with(&g);
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("gm", p, 1, "x");
    rn_join_request rq = jreq("gm", "", p, 1);
    join_fails(&rq, RN_KAFKA_GROUP_MAX_SIZE_REACHED);
    rq.require_known_member_id = true;
    join_fails(&rq, RN_KAFKA_GROUP_MAX_SIZE_REACHED);
    assert_state("gm", "Stable", 1, 1);
    free(a);
}

Test(group, join_handshake_in_a_stable_group_does_not_rebalance_until_the_rejoin) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    char *a = solo_member("gh", pa, 1, "x");
    rn_join_request rb = jreq("gh", "", pb, 1);
    char *b = member_id_required(rb);
    assert_state("gh", "Stable", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gh", a, NULL, 1), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gh", b, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    /* A pending member may give up (LeaveGroup with its id). */
    cr_assert_eq(rn_coordinator_leave(co, "gh", b, NULL), RN_KAFKA_NONE);
    rb.member_id = b;
    rb.require_known_member_id = true;
    join_fails(&rb, RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(b);
    b = member_id_required(rb);
    rb.member_id = b;
    tw tb;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0);
    assert_state("gh", "PreparingRebalance", 1, 2);
    rn_join_request ra = jreq("gh", a, pa, 1);
    tw ta;
    join(&ra, &ta);
    cr_assert_eq(ta.calls + tb.calls, 2);
    cr_assert_str_eq(tb.w.join.member_id, b);
    cr_assert_eq(tb.w.join.generation_id, 2);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    free(a);
    free(b);
}

Test(group, rejoins_in_stable_leader_rebalances_follower_only_when_changed) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gr", "", pa, 1), rb = jreq("gr", "", pb, 1);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {b, (const uint8_t *)"B", 1}};
    tw sb;
    sync_req("gr", b, NULL, 1, NULL, 0, &sb);
    sync_gets("gr", a, NULL, 1, asg, 2, "A");
    rn_sync_result_free(&sb.w.sync);
    ra.member_id = a;
    rb.member_id = b;

    /* An unchanged follower: the current generation again, no members list. */
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(tb.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb.w.join.generation_id, 1);
    cr_assert_str_eq(tb.w.join.leader, a);
    cr_assert_eq(tb.w.join.nmembers, 0);
    rn_join_result_free(&tb.w.join);
    assert_state("gr", "Stable", 1, 2);

    /* The leader rejoining makes the group reassign. */
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 0);
    assert_state("gr", "PreparingRebalance", 1, 2);
    join(&rb, &tb);
    cr_assert_eq(ta.calls + tb.calls, 2);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_eq(ta.w.join.nmembers, 2);
    /* A retried join while the leader computes assignments: the same answer. */
    tw ta2;
    join(&ra, &ta2);
    cr_assert_eq(ta2.calls, 1);
    cr_assert_eq(ta2.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(ta2.w.join.generation_id, 2);
    cr_assert_str_eq(ta2.w.join.leader, a);
    cr_assert_eq(ta2.w.join.nmembers, 2);
    rn_join_result_free(&ta2.w.join);
    assert_state("gr", "CompletingRebalance", 2, 2);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    sync_req("gr", b, NULL, 2, NULL, 0, &sb);
    sync_gets("gr", a, NULL, 2, asg, 2, "A");
    cr_assert_eq(sb.calls, 1);
    rn_sync_result_free(&sb.w.sync);

    /* A follower with a new subscription makes the group reassign. */
    rn_group_protocol pb2[] = {PROTO("range", "B-changed")};
    rn_join_request rb2 = jreq("gr", b, pb2, 1);
    join(&rb2, &tb);
    cr_assert_eq(tb.calls, 0);
    assert_state("gr", "PreparingRebalance", 2, 2);
    join(&ra, &ta);
    cr_assert_eq(ta.calls + tb.calls, 2);
    cr_assert_eq(ta.w.join.generation_id, 3);
    cr_assert_eq(ta.w.join.nmembers, 2);
    assert_bytes(ta.w.join.members[1].metadata, ta.w.join.members[1].metadata_len, "B-changed");
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    free(a);
    free(b);
}

Test(group, a_new_leader_when_the_leader_does_not_rejoin) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gl", "", pa, 1), rb = jreq("gl", "", pb, 1);
    ra.rebalance_timeout_ms = rb.rebalance_timeout_ms = 10000;
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    cr_assert_str_eq(ta.w.join.leader, a);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {b, (const uint8_t *)"B", 1}};
    tw sb;
    sync_req("gl", b, NULL, 1, NULL, 0, &sb);
    sync_gets("gl", a, NULL, 1, asg, 2, "A");
    rn_sync_result_free(&sb.w.sync);
    /* B rejoins with a new subscription (the leader does not): at the rebalance timeout
     * A is gone and B leads. */
    rn_group_protocol pb2[] = {PROTO("range", "B2")};
    rb = jreq("gl", b, pb2, 1);
    rb.rebalance_timeout_ms = 10000;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0);
    tick_at_join_deadline("gl");
    cr_assert_eq(tb.calls, 1);
    cr_assert_eq(tb.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb.w.join.generation_id, 2);
    cr_assert_str_eq(tb.w.join.leader, b);
    cr_assert_eq(tb.w.join.nmembers, 1);
    rn_join_result_free(&tb.w.join);
    assert_state("gl", "CompletingRebalance", 2, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gl", a, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    sync_gets("gl", b, NULL, 2, asg + 1, 1, "B");
    assert_state("gl", "Stable", 2, 1);
    free(a);
    free(b);
}

Test(group, cancelling_a_rejoin_counts_as_not_rejoined) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gx", "", pa, 1), rb = jreq("gx", "", pb, 1);
    ra.rebalance_timeout_ms = rb.rebalance_timeout_ms = 10000;
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {b, (const uint8_t *)"B", 1}};
    tw sb;
    sync_req("gx", b, NULL, 1, NULL, 0, &sb);
    sync_gets("gx", a, NULL, 1, asg, 2, "A");
    rn_sync_result_free(&sb.w.sync);
    rn_join_request rc = jreq("gx", "", pb, 1);
    rc.rebalance_timeout_ms = 10000;
    tw tc;
    join(&rc, &tc);
    ra.member_id = a;
    rb.member_id = b;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 0, "waits for B");
    rn_coordinator_cancel(co, &ta.w); /* A's connection closes */
    join(&rb, &tb);
    cr_assert_eq(tb.calls + tc.calls, 0, "A counts as not rejoined");
    tick_at_join_deadline("gx");
    cr_assert_eq(ta.calls, 0);
    cr_assert_eq(tb.calls + tc.calls, 2);
    cr_assert_eq(tb.w.join.generation_id, 2);
    cr_assert_str_eq(tb.w.join.leader, b);
    cr_assert_eq(tb.w.join.nmembers, 2);
    rn_join_result_free(&tb.w.join);
    rn_join_result_free(&tc.w.join);
    assert_state("gx", "CompletingRebalance", 2, 2);
    free(a);
    free(b);
}

Test(group, a_static_member_that_does_not_rejoin_keeps_its_place) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, ps[] = {PROTO("range", "S")};
    rn_join_request ra = jreq("gk", "", pa, 1), rs = jreq("gk", "", ps, 1);
    rs.group_instance_id = "static-1";
    ra.rebalance_timeout_ms = rs.rebalance_timeout_ms = 10000;
    tw ta, ts;
    join(&ra, &ta);
    join(&rs, &ts);
    settle();
    char *a = strdup(ta.w.join.member_id), *sid = strdup(ts.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&ts.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {sid, (const uint8_t *)"S", 1}};
    tw ss;
    sync_req("gk", sid, "static-1", 1, NULL, 0, &ss);
    sync_gets("gk", a, NULL, 1, asg, 2, "A");
    rn_sync_result_free(&ss.w.sync);
    /* A new member; A rejoins, the static member does not (it is restarting). */
    rn_join_request rc = jreq("gk", "", pa, 1);
    rc.rebalance_timeout_ms = 10000;
    tw tc;
    join(&rc, &tc);
    ra.member_id = a;
    join(&ra, &ta);
    cr_assert_eq(ta.calls + tc.calls, 0);
    tick_at_join_deadline("gk");
    cr_assert_eq(ta.calls + tc.calls, 2);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_eq(ta.w.join.nmembers, 3, "the static member is still counted");
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tc.w.join);
    assert_state("gk", "CompletingRebalance", 2, 3);
    /* It comes back with its instance id and syncs into the new generation. */
    cr_assert_eq(rn_coordinator_heartbeat(co, "gk", sid, "static-1", 1),
                 RN_KAFKA_ILLEGAL_GENERATION);
    free(a);
    free(sid);
}

Test(group, static_member_replacement_survives_reopen) {
    rn_group_protocol p[] = {PROTO("range", "S")};
    rn_join_request rq = jreq("gsr", "", p, 1);
    rq.group_instance_id = "inst";
    char *old = solo_member_rq(&rq, "asg");
    tw t;
    join(&rq, &t);
    cr_assert_eq(t.calls, 1);
    char *now = strdup(t.w.join.member_id);
    rn_join_result_free(&t.w.join);
    reopen();
    rn_group_description d = describe("gsr");
    cr_assert_str_eq(d.state, "Stable");
    cr_assert_eq(d.generation_id, 1);
    cr_assert_eq(d.nmembers, 1);
    cr_assert_str_eq(d.members[0].member_id, now);
    cr_assert_str_eq(d.members[0].group_instance_id, "inst");
    rn_group_description_clear(&d);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gsr", now, "inst", 1), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gsr", old, "inst", 1), RN_KAFKA_FENCED_INSTANCE_ID);
    sync_gets("gsr", now, "inst", 1, NULL, 0, "asg");
    /* The new id leads: its rejoin makes a rebalance that it completes alone. */
    rq.member_id = now;
    join(&rq, &t);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.generation_id, 2);
    cr_assert_str_eq(t.w.join.leader, now);
    rn_join_result_free(&t.w.join);
    free(old);
    free(now);
}

Test(group, commit_edge_cases) {
    create_topic("ce", 1);
    cr_assert_eq(rn_coordinator_commit(co, "ce-g", -1, "", NULL, NULL, 0), RN_KAFKA_NONE);
    rn_group_protocol p[] = {PROTO("range", "S")};
    rn_join_request rq = jreq("ce-s", "", p, 1);
    rq.group_instance_id = "inst";
    char *s = solo_member_rq(&rq, "x");
    rn_offset_commit e = {"ce", 0, 77, 1, "", -1};
    cr_assert_eq(rn_coordinator_commit(co, "ce-s", 1, s, "inst", &e, 1), RN_KAFKA_NONE);
    cr_assert_eq(e.error, RN_KAFKA_NONE);
    rn_committed_offset o = committed("ce-s", "ce", 0);
    cr_assert_eq(o.offset, 77);
    cr_assert_str_eq(o.metadata, "", "empty metadata is not null metadata");
    rn_committed_offset_clear(&o);
    cr_assert_eq(rn_coordinator_commit(co, "ce-s", 1, s, "other-inst", &e, 1),
                 RN_KAFKA_UNKNOWN_MEMBER_ID);
    /* After everyone left, a commit without a generation is allowed again. */
    cr_assert_eq(rn_coordinator_leave(co, "ce-s", s, "inst"), RN_KAFKA_NONE);
    cr_assert_eq(commit1("ce-s", -1, "", "ce", 0, 78), RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("ce-s", "ce", 0), 78);
    cr_assert_eq(commit1("ce-s", 1, s, "ce", 0, 79), RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(s);
}

Test(group, leader_that_never_syncs_sends_the_waiting_follower_back) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gn", "", pa, 1), rb = jreq("gn", "", pb, 1);
    ra.rebalance_timeout_ms = rb.rebalance_timeout_ms = 5000;
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    cr_assert_str_eq(ta.w.join.leader, a);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    /* Kafka shows no protocol or member metadata until the group is Stable. */
    rn_group_description d = describe("gn");
    cr_assert_str_eq(d.state, "CompletingRebalance");
    cr_assert_str_eq(d.protocol_type, "consumer");
    cr_assert_str_eq(d.protocol_name, "");
    cr_assert_eq(d.nmembers, 2);
    cr_assert_eq(d.members[0].metadata_len, 0);
    cr_assert_eq(d.members[0].assignment_len, 0);
    rn_group_description_clear(&d);
    tw sb;
    sync_req("gn", b, NULL, 1, NULL, 0, &sb);
    cr_assert_eq(sb.calls, 0);
    pthread_mutex_lock(&co->lock);
    int64_t deadline = rn_group_find(co, "gn")->sync_deadline;
    pthread_mutex_unlock(&co->lock);
    tick_at(deadline - 1);
    cr_assert_eq(sb.calls, 0);
    tick_at(deadline);
    cr_assert_eq(sb.calls, 1, "the leader did not sync in time: the follower must rejoin");
    cr_assert_eq(sb.w.sync.error, RN_KAFKA_REBALANCE_IN_PROGRESS);
    rn_sync_result_free(&sb.w.sync);
    assert_state("gn", "PreparingRebalance", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gn", a, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gn", b, NULL, 1), RN_KAFKA_REBALANCE_IN_PROGRESS);
    free(a);
    free(b);
}

Test(group, a_group_emptied_by_expiry_is_stored_empty) {
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("ge", p, 1, "x");
    step(30000 + 1);
    assert_state("ge", "Empty", 2, 0);
    reopen();
    assert_state("ge", "Empty", 2, 0);
    cr_assert_eq(rn_coordinator_heartbeat(co, "ge", a, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    /* A new member starts generation 3. */
    rn_join_request rq = jreq("ge", "", p, 1);
    tw t;
    join(&rq, &t);
    step(0);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.generation_id, 3);
    rn_join_result_free(&t.w.join);
    free(a);
}

Test(group, groups_are_listed_in_order) {
    create_topic("lt", 1);
    cr_assert_eq(commit1("zeta", -1, "", "lt", 0, 1), RN_KAFKA_NONE);
    cr_assert_eq(commit1("alpha", -1, "", "lt", 0, 1), RN_KAFKA_NONE);
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("mid", p, 1, "x");
    rn_group_listing *l;
    int n;
    cr_assert_eq(rn_coordinator_list(co, &l, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(l[0].group_id, "alpha");
    cr_assert_str_eq(l[0].state, "Empty");
    cr_assert_str_eq(l[0].protocol_type, "");
    cr_assert_str_eq(l[1].group_id, "mid");
    cr_assert_str_eq(l[1].state, "Stable");
    cr_assert_str_eq(l[2].group_id, "zeta");
    rn_group_listings_free(l, n);
    reopen();
    cr_assert_eq(rn_coordinator_list(co, &l, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(l[0].group_id, "alpha");
    cr_assert_str_eq(l[1].group_id, "mid");
    cr_assert_str_eq(l[2].group_id, "zeta");
    rn_group_listings_free(l, n);
    free(a);
}

/* With the timer thread: done comes from that thread, with the lock held. */
static int calls_locked(tw *t) {
    pthread_mutex_lock(&co->lock);
    int n = t->calls;
    pthread_mutex_unlock(&co->lock);
    return n;
}

Test(group, the_timer_thread_completes_the_initial_rebalance) {
    rn_engine_close(eng);
    eng = NULL;
    rn_group_options g = group_opts();
    g.initial_rebalance_delay_ms = 50;
    rn_engine_options o = engine_opts(&g);
    o.coordinator_thread = true;
    char err[256] = "";
    cr_assert_eq(rn_engine_open(&o, &eng, err, sizeof err), 0, "%s", err);
    co = rn_engine_coordinator(eng);
    rn_group_protocol p[] = {PROTO("range", "A")};
    rn_join_request rq = jreq("gt", "", p, 1);
    rq.session_timeout_ms = 200;
    tw t;
    join(&rq, &t);
    for (int i = 0; i < 400 && calls_locked(&t) == 0; i++) usleep(5000);
    cr_assert_eq(calls_locked(&t), 1);
    cr_assert_eq(t.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(t.w.join.generation_id, 1);
    char *a = strdup(t.w.join.member_id);
    rn_join_result_free(&t.w.join);
    /* Silence: the thread expires the member (session 200 ms, sync deadline too). */
    int state = 0;
    for (int i = 0; i < 400 && !state; i++) {
        usleep(5000);
        rn_group_description d = describe("gt");
        state = strcmp(d.state, "Empty") == 0;
        rn_group_description_clear(&d);
    }
    cr_assert(state, "the silent member was removed by the timer thread");
    free(a);
}

/* ---- static membership -------------------------------------------------------------- */

Test(group, static_member_rejoins_without_rebalance) {
    rn_group_protocol p[] = {PROTO("range", "S")};
    rn_join_request rq = jreq("gs", "", p, 1);
    rq.group_instance_id = "instance-1";
    rq.require_known_member_id = true; /* static members skip the handshake */
    tw t;
    join(&rq, &t);
    cr_assert_eq(t.calls, 0);
    step(0);
    cr_assert_eq(t.calls, 1);
    cr_assert_eq(t.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(t.w.join.generation_id, 1);
    char *old = strdup(t.w.join.member_id);
    cr_assert_str_eq(t.w.join.leader, old);
    cr_assert_eq(t.w.join.nmembers, 1);
    cr_assert_str_eq(t.w.join.members[0].group_instance_id, "instance-1");
    rn_join_result_free(&t.w.join);
    rn_group_assignment a = {old, (const uint8_t *)"static-asg", 10};
    sync_gets("gs", old, "instance-1", 1, &a, 1, "static-asg");
    assert_state("gs", "Stable", 1, 1);

    /* The consumer restarts: same instance id, no member id. */
    join(&rq, &t);
    cr_assert_eq(t.calls, 1, "answered at once: no rebalance");
    cr_assert_eq(t.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(t.w.join.generation_id, 1, "same generation");
    char *now = strdup(t.w.join.member_id);
    cr_assert_str_neq(now, old, "a new member id");
    cr_assert_str_eq(t.w.join.leader, old, "the answer names the old leader id");
    cr_assert_eq(t.w.join.nmembers, 0, "so the restarted leader does not reassign");
    cr_assert_str_eq(t.w.join.protocol_name, "range");
    rn_join_result_free(&t.w.join);
    assert_state("gs", "Stable", 1, 1);
    rn_group_description d = describe("gs");
    cr_assert_str_eq(d.members[0].member_id, now);
    cr_assert_str_eq(d.members[0].group_instance_id, "instance-1");
    assert_bytes(d.members[0].assignment, d.members[0].assignment_len, "static-asg");
    rn_group_description_clear(&d);

    sync_gets("gs", now, "instance-1", 1, NULL, 0, "static-asg");
    cr_assert_eq(rn_coordinator_heartbeat(co, "gs", old, "instance-1", 1),
                 RN_KAFKA_FENCED_INSTANCE_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gs", old, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(rn_coordinator_heartbeat(co, "gs", now, "instance-1", 1), RN_KAFKA_NONE);
    sync_fails("gs", old, "instance-1", 1, RN_KAFKA_FENCED_INSTANCE_ID);
    rn_offset_commit e = {"no-such-topic", 0, 1, -1, NULL, -1};
    cr_assert_eq(rn_coordinator_commit(co, "gs", 1, old, "instance-1", &e, 1),
                 RN_KAFKA_FENCED_INSTANCE_ID);
    cr_assert_eq(rn_coordinator_leave(co, "gs", old, "instance-1"), RN_KAFKA_FENCED_INSTANCE_ID);
    /* The static member leaves by its instance id alone. */
    cr_assert_eq(rn_coordinator_leave(co, "gs", "", "instance-1"), RN_KAFKA_NONE);
    assert_state("gs", "Empty", 2, 0);
    free(old);
    free(now);
}

Test(group, static_member_rejoin_fences_its_waiting_old_self) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, ps[] = {PROTO("range", "S")};
    char *a = solo_member("gs2", pa, 1, "x");
    rn_join_request rs = jreq("gs2", "", ps, 1);
    rs.group_instance_id = "inst";
    tw t1;
    join(&rs, &t1);
    cr_assert_eq(t1.calls, 0);
    assert_state("gs2", "PreparingRebalance", 1, 2);
    /* The same instance restarts before the rebalance ends: the old join is fenced. */
    tw t2;
    join(&rs, &t2);
    cr_assert_eq(t1.calls, 1);
    cr_assert_eq(t1.w.join.error, RN_KAFKA_FENCED_INSTANCE_ID);
    rn_join_result_free(&t1.w.join);
    cr_assert_eq(t2.calls, 0);
    assert_state("gs2", "PreparingRebalance", 1, 2);
    rn_join_request ra = jreq("gs2", a, pa, 1);
    tw ta;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 1);
    cr_assert_eq(t2.calls, 1);
    cr_assert_eq(t2.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(t2.w.join.generation_id, 2);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&t2.w.join);
    free(a);
}

/* ---- cancellation ----------------------------------------------------------------------- */

Test(group, cancelled_join_waiter_is_never_called) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    char *a = solo_member("gc", pa, 1, "x");
    rn_join_request rb = jreq("gc", "", pb, 1);
    tw tb;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 0);
    rn_coordinator_cancel(co, &tb.w);
    assert_state("gc", "PreparingRebalance", 1, 1); /* the new member is forgotten */
    rn_join_request ra = jreq("gc", a, pa, 1);
    tw ta;
    join(&ra, &ta);
    cr_assert_eq(ta.calls, 1);
    cr_assert_eq(ta.w.join.generation_id, 2);
    cr_assert_eq(ta.w.join.nmembers, 1);
    rn_join_result_free(&ta.w.join);
    step(120000);
    cr_assert_eq(tb.calls, 0, "never called back");
    rn_coordinator_cancel(co, &tb.w); /* harmless twice */
    rn_coordinator_cancel(co, &ta.w); /* harmless once completed */
    cr_assert_eq(tb.calls, 0);
    free(a);
}

Test(group, cancelled_initial_join_leaves_an_empty_group) {
    rn_group_protocol p[] = {PROTO("range", "A")};
    rn_join_request rq = jreq("gc2", "", p, 1);
    tw t;
    join(&rq, &t);
    rn_coordinator_cancel(co, &t.w);
    step(0);
    step(120000);
    cr_assert_eq(t.calls, 0);
    assert_state("gc2", "Empty", 1, 0);
}

Test(group, cancelled_sync_waiter_is_never_called) {
    rn_group_protocol pa[] = {PROTO("range", "A")}, pb[] = {PROTO("range", "B")};
    rn_join_request ra = jreq("gc3", "", pa, 1), rb = jreq("gc3", "", pb, 1);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    tw sb;
    sync_req("gc3", b, NULL, 1, NULL, 0, &sb);
    cr_assert_eq(sb.calls, 0);
    rn_coordinator_cancel(co, &sb.w);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"A", 1}, {b, (const uint8_t *)"B", 1}};
    sync_gets("gc3", a, NULL, 1, asg, 2, "A");
    cr_assert_eq(sb.calls, 0);
    sync_gets("gc3", b, NULL, 1, NULL, 0, "B"); /* a retry gets it */
    free(a);
    free(b);
}

/* ---- offsets ------------------------------------------------------------------------ */

Test(group, commit_and_fetch_offsets) {
    create_topic("orders", 2);
    int64_t before = rn_group_wall_ms();
    char big[4098];
    memset(big, 'x', 4097);
    big[4097] = 0;
    char max[4097];
    memset(max, 'y', 4096);
    max[4096] = 0;
    rn_offset_commit e[] = {
        {"orders", 0, 10, 3, "m0", -1},
        {"orders", 1, 20, -1, NULL, -1},
        {"nosuch", 0, 5, -1, NULL, -1},
        {"orders", 7, 1, -1, NULL, -1},
    };
    cr_assert_eq(rn_coordinator_commit(co, "og", -1, "", NULL, e, 4), RN_KAFKA_NONE);
    cr_assert_eq(e[0].error, RN_KAFKA_NONE);
    cr_assert_eq(e[1].error, RN_KAFKA_NONE);
    cr_assert_eq(e[2].error, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(e[3].error, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    int64_t after = rn_group_wall_ms();
    rn_group_description d = describe("og");
    cr_assert_str_eq(d.state, "Empty", "a commit creates the group");
    cr_assert_str_eq(d.protocol_type, "");
    cr_assert_eq(d.generation_id, 0);
    cr_assert_eq(d.nmembers, 0);
    rn_group_description_clear(&d);

    rn_committed_offset o = committed("og", "orders", 0);
    cr_assert_str_eq(o.topic, "orders");
    cr_assert_eq(o.partition, 0);
    cr_assert_eq(o.offset, 10);
    cr_assert_eq(o.leader_epoch, 3);
    cr_assert_str_eq(o.metadata, "m0");
    cr_assert(o.commit_timestamp >= before && o.commit_timestamp <= after);
    rn_committed_offset_clear(&o);
    o = committed("og", "orders", 1);
    cr_assert_eq(o.offset, 20);
    cr_assert_eq(o.leader_epoch, -1);
    cr_assert_null(o.metadata);
    rn_committed_offset_clear(&o);
    o = committed("og", "nosuch", 0);
    cr_assert_eq(o.offset, -1);
    cr_assert_eq(o.leader_epoch, -1);
    cr_assert_null(o.metadata);
    rn_committed_offset_clear(&o);
    cr_assert_eq(committed_offset("other-group", "orders", 0), -1);

    rn_offset_commit m[] = {{"orders", 0, 11, 4, big, -1}, {"orders", 1, 21, 4, max, -1}};
    cr_assert_eq(rn_coordinator_commit(co, "og", -1, "", NULL, m, 2), RN_KAFKA_NONE);
    cr_assert_eq(m[0].error, RN_KAFKA_OFFSET_METADATA_TOO_LARGE);
    cr_assert_eq(m[1].error, RN_KAFKA_NONE, "exactly offset.metadata.max.bytes is fine");
    cr_assert_eq(committed_offset("og", "orders", 0), 10, "the too-large one is not stored");
    o = committed("og", "orders", 1);
    cr_assert_eq(o.offset, 21);
    cr_assert_str_eq(o.metadata, max);
    rn_committed_offset_clear(&o);

    rn_committed_offset *all;
    int n;
    cr_assert_eq(rn_coordinator_committed_all(co, "og", &all, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(all[0].topic, "orders");
    cr_assert_eq(all[0].partition, 0);
    cr_assert_eq(all[0].offset, 10);
    cr_assert_eq(all[0].leader_epoch, 3);
    cr_assert_str_eq(all[0].metadata, "m0");
    cr_assert_str_eq(all[1].topic, "orders");
    cr_assert_eq(all[1].partition, 1);
    cr_assert_eq(all[1].offset, 21);
    rn_committed_offsets_free(all, n);
    cr_assert_eq(count_committed("other-group"), 0);

    rn_offset_commit one = {"orders", 0, 1, -1, NULL, -1};
    cr_assert_eq(rn_coordinator_commit(co, "", -1, "", NULL, &one, 1), RN_KAFKA_INVALID_GROUP_ID);
    cr_assert_eq(rn_coordinator_commit(co, "absent", 3, "m", NULL, &one, 1),
                 RN_KAFKA_ILLEGAL_GENERATION, "a generation for a group that does not exist");
    assert_state("absent", "Dead", -1, 0);
}

Test(group, committed_all_is_sorted_by_topic_then_partition) {
    /* group.h: "Every committed offset of the group, sorted by topic and partition". */
    create_topic("zz", 2);
    create_topic("aaa", 1);
    create_topic("b", 1);
    rn_offset_commit e[] = {{"zz", 1, 4, -1, NULL, -1}, {"zz", 0, 3, -1, NULL, -1},
                            {"b", 0, 2, -1, NULL, -1}, {"aaa", 0, 1, -1, NULL, -1}};
    cr_assert_eq(rn_coordinator_commit(co, "sorted", -1, "", NULL, e, 4), RN_KAFKA_NONE);
    rn_committed_offset *all;
    int n;
    cr_assert_eq(rn_coordinator_committed_all(co, "sorted", &all, &n), 0);
    cr_assert_eq(n, 4);
    char got[128] = "";
    for (int i = 0; i < n; i++) {
        char one[32];
        snprintf(one, sizeof one, "%s%s/%d", i ? " " : "", all[i].topic, all[i].partition);
        strncat(got, one, sizeof got - strlen(got) - 1);
    }
    rn_committed_offsets_free(all, n);
    cr_assert_str_eq(got, "aaa/0 b/0 zz/0 zz/1");
}

Test(group, member_commits_are_checked_against_the_generation) {
    create_topic("t", 1);
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("mg", p, 1, "x");
    cr_assert_eq(commit1("mg", 1, a, "t", 0, 42), RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("mg", "t", 0), 42);
    cr_assert_eq(commit1("mg", 2, a, "t", 0, 43), RN_KAFKA_ILLEGAL_GENERATION);
    cr_assert_eq(commit1("mg", 0, a, "t", 0, 43), RN_KAFKA_ILLEGAL_GENERATION);
    cr_assert_eq(commit1("mg", -1, "", "t", 0, 43), RN_KAFKA_UNKNOWN_MEMBER_ID,
                 "no generation while the group has members");
    cr_assert_eq(commit1("mg", 1, "bogus", "t", 0, 43), RN_KAFKA_UNKNOWN_MEMBER_ID);
    cr_assert_eq(committed_offset("mg", "t", 0), 42, "nothing refused was stored");
    /* During a rebalance: PreparingRebalance accepts the current generation,
     * CompletingRebalance asks to rejoin. */
    rn_join_request rb = jreq("mg", "", p, 1);
    tw tb;
    join(&rb, &tb);
    cr_assert_eq(commit1("mg", 1, a, "t", 0, 44), RN_KAFKA_NONE);
    rn_join_request ra = jreq("mg", a, p, 1);
    tw ta;
    join(&ra, &ta);
    cr_assert_eq(ta.calls + tb.calls, 2);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    cr_assert_eq(commit1("mg", 2, a, "t", 0, 45), RN_KAFKA_REBALANCE_IN_PROGRESS);
    cr_assert_eq(committed_offset("mg", "t", 0), 44);
    free(a);
}

/* ---- persistence ---------------------------------------------------------------------- */

Test(group, stable_group_and_offsets_survive_reopen) {
    create_topic("pt", 2);
    rn_group_protocol pa[] = {PROTO("range", "meta-A")}, pb[] = {PROTO("range", "meta-B")};
    rn_join_request ra = jreq("pg", "", pa, 1), rb = jreq("pg", "", pb, 1);
    rb.client_id = "other-client";
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    char *a = strdup(ta.w.join.member_id), *b = strdup(tb.w.join.member_id);
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{a, (const uint8_t *)"asg-A", 5}, {b, (const uint8_t *)"asg-B", 5}};
    tw sb;
    sync_req("pg", b, NULL, 1, NULL, 0, &sb);
    sync_gets("pg", a, NULL, 1, asg, 2, "asg-A");
    rn_sync_result_free(&sb.w.sync);
    rn_offset_commit e[] = {{"pt", 0, 7, 2, "meta", -1}, {"pt", 1, 9, -1, NULL, -1}};
    cr_assert_eq(rn_coordinator_commit(co, "pg", 1, b, NULL, e, 2), RN_KAFKA_NONE);
    cr_assert_eq(commit1("offsets-only", -1, "", "pt", 0, 3), RN_KAFKA_NONE);

    reopen();
    rn_group_description d = describe("pg");
    cr_assert_str_eq(d.state, "Stable");
    cr_assert_eq(d.generation_id, 1);
    cr_assert_str_eq(d.protocol_type, "consumer");
    cr_assert_str_eq(d.protocol_name, "range");
    cr_assert_eq(d.nmembers, 2);
    cr_assert_str_eq(d.members[0].member_id, a);
    cr_assert_str_eq(d.members[0].client_id, "client");
    assert_bytes(d.members[0].metadata, d.members[0].metadata_len, "meta-A");
    assert_bytes(d.members[0].assignment, d.members[0].assignment_len, "asg-A");
    cr_assert_str_eq(d.members[1].member_id, b);
    cr_assert_str_eq(d.members[1].client_id, "other-client");
    assert_bytes(d.members[1].metadata, d.members[1].metadata_len, "meta-B");
    assert_bytes(d.members[1].assignment, d.members[1].assignment_len, "asg-B");
    rn_group_description_clear(&d);
    rn_committed_offset o = committed("pg", "pt", 0);
    cr_assert_eq(o.offset, 7);
    cr_assert_eq(o.leader_epoch, 2);
    cr_assert_str_eq(o.metadata, "meta");
    rn_committed_offset_clear(&o);
    cr_assert_eq(committed_offset("pg", "pt", 1), 9);
    cr_assert_eq(count_committed("pg"), 2);
    assert_state("offsets-only", "Empty", 0, 0);
    cr_assert_eq(committed_offset("offsets-only", "pt", 0), 3);

    cr_assert_eq(rn_coordinator_heartbeat(co, "pg", a, NULL, 1), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_heartbeat(co, "pg", b, NULL, 1), RN_KAFKA_NONE);
    sync_gets("pg", b, NULL, 1, NULL, 0, "asg-B");
    cr_assert_eq(commit1("pg", 1, a, "pt", 0, 8), RN_KAFKA_NONE);
    /* A follower rejoining with the same subscription is answered at once. */
    rn_join_request rb2 = jreq("pg", b, pb, 1);
    tw tb2;
    join(&rb2, &tb2);
    cr_assert_eq(tb2.calls, 1);
    cr_assert_eq(tb2.w.join.error, RN_KAFKA_NONE);
    cr_assert_eq(tb2.w.join.generation_id, 1);
    cr_assert_str_eq(tb2.w.join.leader, a);
    rn_join_result_free(&tb2.w.join);
    assert_state("pg", "Stable", 1, 2);
    /* The members got a fresh session at open: silence expires them. */
    step(30000 + 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "pg", a, NULL, 1), RN_KAFKA_UNKNOWN_MEMBER_ID);
    free(a);
    free(b);
}

/* Two members that both support range and roundrobin, Stable on range, then a reopen. */
static void two_protocol_group_reopened(char **a, char **b) {
    rn_group_protocol pa[] = {PROTO("range", "A1"), PROTO("roundrobin", "A2")};
    rn_group_protocol pb[] = {PROTO("range", "B1"), PROTO("roundrobin", "B2")};
    rn_join_request ra = jreq("pg2", "", pa, 2), rb = jreq("pg2", "", pb, 2);
    tw ta, tb;
    join(&ra, &ta);
    join(&rb, &tb);
    settle();
    *a = strdup(ta.w.join.member_id);
    *b = strdup(tb.w.join.member_id);
    cr_assert_str_eq(ta.w.join.protocol_name, "range");
    rn_join_result_free(&ta.w.join);
    rn_join_result_free(&tb.w.join);
    rn_group_assignment asg[] = {{*a, (const uint8_t *)"A", 1}, {*b, (const uint8_t *)"B", 1}};
    tw sb;
    sync_req("pg2", *b, NULL, 1, NULL, 0, &sb);
    sync_gets("pg2", *a, NULL, 1, asg, 2, "A");
    rn_sync_result_free(&sb.w.sync);
    /* Before the restart: the follower's identical rejoin causes no rebalance. */
    rb.member_id = *b;
    join(&rb, &tb);
    cr_assert_eq(tb.calls, 1);
    rn_join_result_free(&tb.w.join);
    assert_state("pg2", "Stable", 1, 2);
    reopen();
    assert_state("pg2", "Stable", 1, 2);
}

Test(group, follower_with_several_protocols_rejoins_after_reopen_without_rebalance) {
    /* Kafka keeps every protocol of a member in the group record, so an unchanged
     * follower's JoinGroup after a restart is answered from the current generation, as
     * it was before the restart. */
    char *a, *b;
    two_protocol_group_reopened(&a, &b);
    rn_group_protocol pb[] = {PROTO("range", "B1"), PROTO("roundrobin", "B2")};
    rn_join_request rb = jreq("pg2", b, pb, 2);
    tw tb;
    join(&rb, &tb);
    bool at_once = tb.calls == 1;
    if (at_once) rn_join_result_free(&tb.w.join);
    else rn_coordinator_cancel(co, &tb.w);
    free(a);
    free(b);
    cr_assert(at_once, "answered at once, as before the restart");
    assert_state("pg2", "Stable", 1, 2);
}

Test(group, new_member_protocol_check_after_reopen_sees_all_member_protocols) {
    /* Every member supports roundrobin: Kafka accepts a new member that offers only
     * roundrobin (and rebalances), before and after a restart alike. */
    char *a, *b;
    two_protocol_group_reopened(&a, &b);
    rn_group_protocol pc[] = {PROTO("roundrobin", "C2")};
    rn_join_request rc = jreq("pg2", "", pc, 1);
    tw tc;
    join(&rc, &tc);
    rn_err err = tc.calls ? tc.w.join.error : RN_KAFKA_NONE;
    if (tc.calls) rn_join_result_free(&tc.w.join);
    else rn_coordinator_cancel(co, &tc.w);
    free(a);
    free(b);
    cr_assert_neq(err, RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL,
                  "roundrobin is supported by every member");
}

/* ---- DeleteGroups, OffsetDelete ------------------------------------------------------ */

Test(group, delete_group) {
    create_topic("dt", 1);
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("dg", p, 1, "x");
    cr_assert_eq(commit1("dg", 1, a, "dt", 0, 5), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_delete_group(co, "dg"), RN_KAFKA_NON_EMPTY_GROUP);
    cr_assert_eq(committed_offset("dg", "dt", 0), 5);
    cr_assert_eq(rn_coordinator_leave(co, "dg", a, NULL), RN_KAFKA_NONE);
    assert_state("dg", "Empty", 2, 0);
    cr_assert_eq(rn_coordinator_delete_group(co, "dg"), RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("dg", "dt", 0), -1);
    cr_assert_eq(count_committed("dg"), 0);
    assert_state("dg", "Dead", -1, 0);
    cr_assert_eq(rn_coordinator_delete_group(co, "dg"), RN_KAFKA_GROUP_ID_NOT_FOUND);
    cr_assert_eq(rn_coordinator_delete_group(co, ""), RN_KAFKA_INVALID_GROUP_ID);
    cr_assert_eq(rn_coordinator_delete_group(co, "never"), RN_KAFKA_GROUP_ID_NOT_FOUND);
    reopen();
    assert_state("dg", "Dead", -1, 0);
    cr_assert_eq(count_committed("dg"), 0);
    rn_group_listing *l;
    int n;
    cr_assert_eq(rn_coordinator_list(co, &l, &n), 0);
    cr_assert_eq(n, 0);
    rn_group_listings_free(l, n);
    free(a);
}

Test(group, delete_group_keeps_other_groups_offsets) {
    create_topic("dt", 1);
    /* "a" is a prefix of "ab": one group's offsets must not reach into the other's. */
    cr_assert_eq(commit1("a", -1, "", "dt", 0, 1), RN_KAFKA_NONE);
    cr_assert_eq(commit1("ab", -1, "", "dt", 0, 2), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_delete_group(co, "a"), RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("a", "dt", 0), -1);
    cr_assert_eq(committed_offset("ab", "dt", 0), 2);
    cr_assert_eq(count_committed("ab"), 1);
}

Test(group, offset_delete_refuses_subscribed_topics) {
    create_topic("t1", 1);
    create_topic("t2", 1);
    uint8_t sub[128];
    const char *topics[] = {"t1"};
    size_t sl = subscription(sub, topics, 1);
    rn_group_protocol p[] = {{"range", sub, sl}};
    char *a = solo_member("od", p, 1, "x");
    cr_assert_eq(commit1("od", 1, a, "t1", 0, 10), RN_KAFKA_NONE);
    cr_assert_eq(commit1("od", 1, a, "t2", 0, 20), RN_KAFKA_NONE);
    rn_offset_delete d[] = {{"t1", 0, -1}, {"t2", 0, -1}};
    cr_assert_eq(rn_coordinator_delete_offsets(co, "od", d, 2), RN_KAFKA_NONE);
    cr_assert_eq(d[0].error, RN_KAFKA_GROUP_SUBSCRIBED_TO_TOPIC);
    cr_assert_eq(d[1].error, RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("od", "t1", 0), 10);
    cr_assert_eq(committed_offset("od", "t2", 0), -1);
    cr_assert_eq(rn_coordinator_delete_offsets(co, "nobody", d, 2), RN_KAFKA_GROUP_ID_NOT_FOUND);
    cr_assert_eq(rn_coordinator_delete_offsets(co, "", d, 2), RN_KAFKA_INVALID_GROUP_ID);
    /* Once the group is empty, nothing is subscribed. */
    cr_assert_eq(rn_coordinator_leave(co, "od", a, NULL), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_delete_offsets(co, "od", d, 1), RN_KAFKA_NONE);
    cr_assert_eq(d[0].error, RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("od", "t1", 0), -1);

    /* A group of another protocol type with members: NON_EMPTY_GROUP. */
    rn_group_protocol q[] = {PROTO("x", "y")};
    rn_join_request rq = jreq("conn", "", q, 1);
    rq.protocol_type = "connect";
    tw t;
    join(&rq, &t);
    step(0);
    cr_assert_eq(t.calls, 1);
    rn_join_result_free(&t.w.join);
    cr_assert_eq(rn_coordinator_delete_offsets(co, "conn", d, 1), RN_KAFKA_NON_EMPTY_GROUP);
    free(a);
}

/* ---- retention, topic deletion --------------------------------------------------------- */

Test(group, retention_expires_offsets_of_empty_groups) {
    create_topic("rt", 1);
    const int64_t R = 3600000;
    cr_assert_eq(commit1("rg", -1, "", "rt", 0, 5), RN_KAFKA_NONE);
    int64_t t0 = rn_group_wall_ms();
    expire_at(t0 + R - 60000);
    cr_assert_eq(committed_offset("rg", "rt", 0), 5, "not yet");
    assert_state("rg", "Empty", 0, 0);
    expire_at(t0 + R + 60000);
    cr_assert_eq(committed_offset("rg", "rt", 0), -1);
    assert_state("rg", "Dead", -1, 0);
    reopen();
    assert_state("rg", "Dead", -1, 0);
}

Test(group, retention_of_an_emptied_consumer_group_counts_from_when_it_emptied) {
    create_topic("rt", 2);
    rn_group_protocol p[] = {PROTO("range", "A")};
    char *a = solo_member("rg2", p, 1, "x");
    cr_assert_eq(commit1("rg2", 1, a, "rt", 0, 5), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_leave(co, "rg2", a, NULL), RN_KAFKA_NONE);
    int64_t t0 = rn_group_wall_ms();
    expire_at(t0 + 3600000 - 60000);
    cr_assert_eq(committed_offset("rg2", "rt", 0), 5);
    assert_state("rg2", "Empty", 2, 0);
    /* As if the group had emptied two hours after the commit (KIP-211): the offsets age
     * from then, not from the commit. */
    int64_t emptied = t0 + 2 * 3600000;
    pthread_mutex_lock(&co->lock);
    rn_group_find(co, "rg2")->state_timestamp = emptied;
    pthread_mutex_unlock(&co->lock);
    expire_at(t0 + 3600000 + 60000);
    cr_assert_eq(committed_offset("rg2", "rt", 0), 5, "retention counts from the emptying");
    assert_state("rg2", "Empty", 2, 0);
    expire_at(emptied + 3600000 + 1);
    cr_assert_eq(committed_offset("rg2", "rt", 0), -1);
    assert_state("rg2", "Dead", -1, 0);
    free(a);
}

Test(group, retention_keeps_subscribed_topics_of_a_live_consumer_group) {
    create_topic("sub", 1);
    create_topic("unsub", 1);
    uint8_t sub[128];
    const char *topics[] = {"sub"};
    size_t sl = subscription(sub, topics, 1);
    rn_group_protocol p[] = {{"range", sub, sl}};
    char *a = solo_member("rg3", p, 1, "x");
    cr_assert_eq(commit1("rg3", 1, a, "sub", 0, 1), RN_KAFKA_NONE);
    cr_assert_eq(commit1("rg3", 1, a, "unsub", 0, 2), RN_KAFKA_NONE);
    expire_at(rn_group_wall_ms() + 3600000 + 60000);
    cr_assert_eq(committed_offset("rg3", "sub", 0), 1);
    cr_assert_eq(committed_offset("rg3", "unsub", 0), -1);
    assert_state("rg3", "Stable", 1, 1);
    free(a);
}

Test(group, retention_keeps_offsets_of_a_live_non_consumer_group) {
    /* Kafka expires nothing of a group with members whose protocol type is not
     * "consumer" (it cannot tell what such a group consumes). */
    create_topic("ct", 1);
    rn_group_protocol p[] = {PROTO("x", "y")};
    rn_join_request rq = jreq("rg4", "", p, 1);
    rq.protocol_type = "connect";
    tw t;
    join(&rq, &t);
    step(0);
    char *a = strdup(t.w.join.member_id);
    rn_join_result_free(&t.w.join);
    sync_gets("rg4", a, NULL, 1, NULL, 0, "");
    cr_assert_eq(commit1("rg4", 1, a, "ct", 0, 9), RN_KAFKA_NONE);
    free(a);
    expire_at(rn_group_wall_ms() + 3600000 + 60000);
    cr_assert_eq(committed_offset("rg4", "ct", 0), 9, "a live connect group keeps its offsets");
}

Test(group, topic_deletion_drops_its_offsets_everywhere) {
    create_topic("ta", 2);
    create_topic("tb", 1);
    rn_offset_commit e[] = {{"ta", 0, 1, -1, NULL, -1}, {"ta", 1, 2, -1, NULL, -1},
                            {"tb", 0, 3, -1, NULL, -1}};
    cr_assert_eq(rn_coordinator_commit(co, "g-one", -1, "", NULL, e, 3), RN_KAFKA_NONE);
    cr_assert_eq(rn_coordinator_commit(co, "g-two", -1, "", NULL, e, 2), RN_KAFKA_NONE);
    cr_assert_eq(rn_engine_delete_topic(eng, "ta"), 0);
    cr_assert_eq(committed_offset("g-one", "ta", 0), -1);
    cr_assert_eq(committed_offset("g-one", "ta", 1), -1);
    cr_assert_eq(committed_offset("g-one", "tb", 0), 3);
    cr_assert_eq(count_committed("g-one"), 1);
    cr_assert_eq(count_committed("g-two"), 0);
    assert_state("g-two", "Empty", 0, 0);
    create_topic("ta", 2);
    cr_assert_eq(committed_offset("g-one", "ta", 0), -1, "a new topic of that name starts clean");
    reopen();
    cr_assert_eq(count_committed("g-one"), 1);
    cr_assert_eq(count_committed("g-two"), 0);
}

/* ---- following another coordinator (a cluster's __consumer_offsets) ----------------- */

typedef struct {
    int calls;
    char group[64];
    uint8_t *record; /* the last one seen (NULL: a deletion) */
    size_t len;
} seen_records;

static void observe(void *ctx, const char *group, const uint8_t *record, size_t len) {
    seen_records *s = ctx;
    s->calls++;
    snprintf(s->group, sizeof s->group, "%s", group);
    free(s->record);
    s->record = record ? malloc(len) : NULL;
    if (record) memcpy(s->record, record, len);
    s->len = len;
}

Test(group, observer_sees_each_record_and_restore_takes_another_coordinators_state) {
    seen_records seen = {0};
    rn_coordinator_observe(co, observe, &seen);
    create_topic("t", 1);
    rn_group_protocol p[] = {PROTO("range", "sub-A")};
    char *id = solo_member("g", p, 1, "asg-1");
    cr_assert_geq(seen.calls, 1, "the Stable group's record was observed");
    cr_assert_str_eq(seen.group, "g");
    cr_assert_not_null(seen.record);
    uint8_t *stable = seen.record;
    size_t stable_len = seen.len;
    seen.record = NULL;
    int calls = seen.calls;

    /* Another coordinator's record: group h is Stable with g's member and generation, and
     * that member's heartbeat is accepted without a rejoin. Restoring is not observed. */
    cr_assert_eq(rn_coordinator_restore_group(co, "h", stable, stable_len), 0);
    assert_state("h", "Stable", 1, 1);
    cr_assert_eq(rn_coordinator_heartbeat(co, "h", id, NULL, 1), RN_KAFKA_NONE);
    /* Its commits are taken as they are: a commit without a generation would be refused
     * from a client while the group has members. */
    cr_assert_eq(commit1("h", -1, "", "t", 0, 3), RN_KAFKA_UNKNOWN_MEMBER_ID);
    rn_offset_commit e = {"t", 0, 7, -1, NULL, -1};
    cr_assert_eq(rn_coordinator_restore_commits(co, "h", &e, 1), 0);
    cr_assert_eq(e.error, RN_KAFKA_NONE);
    cr_assert_eq(committed_offset("h", "t", 0), 7);
    /* ... also for a group this coordinator has not seen: it exists from then on. */
    rn_offset_commit e2 = {"t", 0, 9, -1, NULL, -1};
    cr_assert_eq(rn_coordinator_restore_commits(co, "fresh", &e2, 1), 0);
    cr_assert_eq(committed_offset("fresh", "t", 0), 9);
    assert_state("fresh", "Empty", 0, 0);
    cr_assert_eq(seen.calls, calls, "restoring is not observed");

    /* Both survive a restart of this coordinator. */
    reopen();
    assert_state("h", "Stable", 1, 1);
    cr_assert_eq(committed_offset("h", "t", 0), 7);

    /* A deletion from the other coordinator: the group and its offsets are gone. */
    cr_assert_eq(rn_coordinator_restore_group(co, "h", NULL, 0), 0);
    assert_state("h", "Dead", -1, 0);
    cr_assert_eq(count_committed("h"), 0);

    /* This coordinator's own deletion is observed as a record-less change. */
    rn_coordinator_observe(co, observe, &seen);
    cr_assert_eq(rn_coordinator_delete_group(co, "fresh"), 0);
    cr_assert_str_eq(seen.group, "fresh");
    cr_assert_null(seen.record);
    rn_coordinator_observe(co, NULL, NULL);
    free(stable);
    free(seen.record);
    free(id);
}
