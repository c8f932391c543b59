/* tests/unit/test_metadata.c: the cluster metadata image (engine/metadata.h): every record
 * type through encode and apply, all-or-nothing entries, leader elections on fence,
 * unfence and registration, partition-change checks, snapshots, corrupt bytes, replica
 * placement. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metadata.h"

static rn_metadata *md;
static uint64_t next_index;
static char msg[256];

static void setup(void) {
    md = rn_md_new();
    cr_assert_not_null(md);
    next_index = 1;
}

static void teardown(void) { rn_md_free(md); }

TestSuite(metadata, .init = setup, .fini = teardown);

/* Encode n records as one entry and apply it at the next index. */
static rn_err apply_n(const rn_md_record *recs, int n) {
    size_t len;
    uint8_t *buf = rn_md_encode(recs, n, &len);
    cr_assert_not_null(buf);
    rn_err err = rn_md_apply(md, next_index++, buf, len, msg, sizeof msg);
    free(buf);
    return err;
}

static rn_err apply1(rn_md_record r) { return apply_n(&r, 1); }

static rn_md_record reg_rec(int32_t id) {
    static char hosts[16][32];
    snprintf(hosts[id % 16], sizeof hosts[0], "host%d", id);
    return (rn_md_record){.type = RN_MD_REGISTER_BROKER, .broker_id = id, .host = hosts[id % 16],
                          .port = 9000 + id, .raft_host = "", .raft_port = 0};
}

static rn_err reg(int32_t id) { return apply1(reg_rec(id)); }

static rn_err fence(int32_t id) {
    return apply1((rn_md_record){.type = RN_MD_FENCE_BROKER, .broker_id = id});
}

static rn_err unfence(int32_t id) {
    return apply1((rn_md_record){.type = RN_MD_UNFENCE_BROKER, .broker_id = id});
}

/* A CREATE_TOPIC record of npart partitions with rf replicas each from flat[npart*rf]. */
typedef struct {
    const int32_t *rows[16];
    int n[16];
} assignment;

static rn_md_record topic_rec(assignment *a, const char *name, int npart, int rf,
                              const int32_t *flat) {
    for (int i = 0; i < npart; i++) {
        a->rows[i] = flat + i * rf;
        a->n[i] = rf;
    }
    rn_md_record r = {.type = RN_MD_CREATE_TOPIC, .topic = name, .npart = npart,
                      .assignments = a->rows, .nreplicas = a->n};
    memset(r.topic_id, name[0], sizeof r.topic_id);
    return r;
}

static rn_err create(const char *name, int npart, int rf, const int32_t *flat) {
    assignment a;
    return apply1(topic_rec(&a, name, npart, rf, flat));
}

static rn_md_record change_rec(const char *topic, int32_t partition, int32_t expect) {
    return (rn_md_record){.type = RN_MD_PARTITION_CHANGE, .topic = topic, .partition = partition,
                          .expect_partition_epoch = expect};
}

static const rn_md_partition *part(const char *topic, int32_t i) {
    const rn_md_partition *p = rn_md_partition_get(md, topic, i);
    cr_assert_not_null(p, "%s-%d exists", topic, i);
    return p;
}

static void assert_ids(const int32_t *got, int n, const int32_t *want, int nwant) {
    cr_assert_eq(n, nwant, "count %d, want %d", n, nwant);
    for (int i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "[%d] %d, want %d", i, got[i], want[i]);
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), (int)(sizeof((int32_t[]){__VA_ARGS__}) / 4)

/* The image as bytes, less the applied index (which a refused entry moves too). */
static uint8_t *image_bytes(size_t *len) {
    uint8_t *b = rn_md_snapshot(md, len);
    cr_assert_not_null(b);
    memset(b + 9, 0, 8);
    return b;
}

static void assert_image_is(const uint8_t *want, size_t wlen) {
    size_t len;
    uint8_t *got = image_bytes(&len);
    cr_assert(len == wlen && memcmp(got, want, len) == 0, "the image changed");
    free(got);
}

/* ---- brokers ------------------------------------------------------------------------ */

Test(metadata, register_broker_sorted_with_epoch_and_endpoints) {
    cr_assert_eq(reg(3), 0);
    cr_assert_eq(reg(1), 0);
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_REGISTER_BROKER, .broker_id = 2,
                                       .host = "h2", .port = 92, .raft_host = "r2",
                                       .raft_port = 7002}),
                 0);
    int n;
    const rn_md_broker *b = rn_md_brokers(md, &n);
    cr_assert_eq(n, 3);
    cr_assert(b[0].id == 1 && b[1].id == 2 && b[2].id == 3);
    cr_assert_str_eq(b[1].host, "h2");
    cr_assert_eq(b[1].port, 92);
    cr_assert_str_eq(b[1].raft_host, "r2");
    cr_assert_eq(b[1].raft_port, 7002);
    cr_assert_eq(b[1].epoch, 3);
    cr_assert(!b[1].fenced);
    cr_assert_eq(rn_md_version(md), 3);
    cr_assert_eq(rn_md_applied_index(md), 3);

    /* A re-registration replaces the endpoints and takes the new index as its epoch. */
    cr_assert_eq(fence(2), 0);
    cr_assert(rn_md_broker(md, 2)->fenced);
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_REGISTER_BROKER, .broker_id = 2,
                                       .host = "new", .port = 1, .raft_host = "", .raft_port = 0}),
                 0);
    const rn_md_broker *b2 = rn_md_broker(md, 2);
    cr_assert_str_eq(b2->host, "new");
    cr_assert_str_eq(b2->raft_host, "");
    cr_assert_eq(b2->epoch, 5);
    cr_assert(!b2->fenced);
    cr_assert_null(rn_md_broker(md, 4));
    cr_assert_eq(rn_md_brokers(md, &n)[0].id, 1);
    cr_assert_eq(n, 3);
}

Test(metadata, fence_and_unfence_unknown_broker_refused) {
    cr_assert_eq(fence(7), RN_KAFKA_BROKER_NOT_AVAILABLE);
    cr_assert(strstr(msg, "7"));
    cr_assert_eq(unfence(7), RN_KAFKA_BROKER_NOT_AVAILABLE);
    cr_assert_eq(rn_md_version(md), 0, "refused entries change nothing");
    cr_assert_eq(rn_md_applied_index(md), 2, "but are applied, as nothing");
    cr_assert_eq(reg(7), 0);
    cr_assert_eq(fence(7), 0);
    cr_assert(rn_md_broker(md, 7)->fenced);
    cr_assert_eq(unfence(7), 0);
    cr_assert(!rn_md_broker(md, 7)->fenced);
}

/* ---- topics ------------------------------------------------------------------------- */

Test(metadata, create_topic_leader_isr_configs) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(fence(2), 0);
    assignment a;
    rn_md_record r = topic_rec(&a, "orders", 3, 2, (int32_t[]){2, 1, 3, 2, 2, 3});
    const char *names[] = {"retention.ms", "cleanup.policy"}, *values[] = {"1000", "compact"};
    r.config_names = names;
    r.config_values = values;
    r.nconfigs = 2;
    cr_assert_eq(apply_n(&r, 1), 0, "%s", msg);
    const rn_md_topic *t = rn_md_topic(md, "orders");
    cr_assert_not_null(t);
    cr_assert_eq(t->npart, 3);
    cr_assert_eq(t->id[0], 'o');
    cr_assert_eq(t->nconfigs, 2);
    cr_assert_str_eq(t->config_names[1], "cleanup.policy");
    cr_assert_str_eq(t->config_values[1], "compact");
    /* The leader is the first unfenced replica; the ISR is the replicas. */
    cr_assert_eq(part("orders", 0)->leader, 1);
    cr_assert_eq(part("orders", 1)->leader, 3);
    cr_assert_eq(part("orders", 2)->leader, 3);
    assert_ids(part("orders", 0)->isr, part("orders", 0)->nisr, IDS(2, 1));
    assert_ids(part("orders", 0)->replicas, part("orders", 0)->nreplicas, IDS(2, 1));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(part("orders", i)->index, i);
        cr_assert_eq(part("orders", i)->leader_epoch, 0);
        cr_assert_eq(part("orders", i)->partition_epoch, 0);
    }
    /* All replicas fenced: offline. */
    cr_assert_eq(create("lonely", 1, 1, (int32_t[]){2}), 0);
    cr_assert_eq(part("lonely", 0)->leader, RN_MD_NO_LEADER);
    cr_assert_null(rn_md_partition_get(md, "orders", 3));
    cr_assert_null(rn_md_partition_get(md, "orders", -1));
    cr_assert_null(rn_md_topic(md, "nope"));

    /* Sorted by name. */
    cr_assert_eq(create("apples", 1, 1, (int32_t[]){1}), 0);
    int n;
    const rn_md_topic *all = rn_md_topics(md, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(all[0].name, "apples");
    cr_assert_str_eq(all[1].name, "lonely");
    cr_assert_str_eq(all[2].name, "orders");
}

Test(metadata, create_topic_refusals) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 1, 1, (int32_t[]){1}), 0);
    cr_assert_eq(create("t", 1, 1, (int32_t[]){1}), RN_KAFKA_TOPIC_ALREADY_EXISTS);
    cr_assert_eq(create("u", 1, 2, (int32_t[]){1, 1}), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    cr_assert_eq(create("u", 2, 1, (int32_t[]){1, 9}), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    cr_assert(strstr(msg, "9"), "%s", msg);
    cr_assert_eq(create("u", 0, 1, (int32_t[]){1}), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    cr_assert_eq(create("u", 1, 0, (int32_t[]){1}), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    cr_assert_eq(create("", 1, 1, (int32_t[]){1}), RN_KAFKA_INVALID_TOPIC_EXCEPTION);
    cr_assert_null(rn_md_topic(md, "u"));
}

Test(metadata, delete_topic) {
    cr_assert_eq(reg(1), 0);
    cr_assert_eq(create("a", 1, 1, (int32_t[]){1}), 0);
    cr_assert_eq(create("b", 2, 1, (int32_t[]){1, 1}), 0);
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_DELETE_TOPIC, .topic = "a"}), 0);
    cr_assert_null(rn_md_topic(md, "a"));
    cr_assert_not_null(rn_md_topic(md, "b"));
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_DELETE_TOPIC, .topic = "a"}),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    /* Deleted and created again in one entry. */
    assignment a;
    rn_md_record recs[2] = {{.type = RN_MD_DELETE_TOPIC, .topic = "b"},
                            topic_rec(&a, "b", 3, 1, (int32_t[]){1, 1, 1})};
    cr_assert_eq(apply_n(recs, 2), 0, "%s", msg);
    cr_assert_eq(rn_md_topic(md, "b")->npart, 3);
}

Test(metadata, create_partitions_appends) {
    cr_assert_eq(reg(1), 0);
    cr_assert_eq(reg(2), 0);
    cr_assert_eq(create("t", 2, 1, (int32_t[]){1, 2}), 0);
    const int32_t r0[] = {2, 1}, r1[] = {1};
    const int32_t *rows[] = {r0, r1};
    int ns[] = {2, 1};
    rn_md_record r = {.type = RN_MD_CREATE_PARTITIONS, .topic = "t", .npart = 2,
                      .assignments = rows, .nreplicas = ns};
    cr_assert_eq(apply_n(&r, 1), 0, "%s", msg);
    const rn_md_topic *t = rn_md_topic(md, "t");
    cr_assert_eq(t->npart, 4);
    cr_assert_eq(part("t", 2)->index, 2);
    cr_assert_eq(part("t", 3)->index, 3);
    cr_assert_eq(part("t", 2)->leader, 2);
    assert_ids(part("t", 2)->isr, part("t", 2)->nisr, IDS(2, 1));
    cr_assert_eq(part("t", 0)->leader, 1, "existing partitions keep their state");
    r.topic = "nope";
    cr_assert_eq(apply_n(&r, 1), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    r.topic = "t";
    ns[0] = 0;
    cr_assert_eq(apply_n(&r, 1), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    r.npart = 0;
    cr_assert_eq(apply_n(&r, 1), RN_KAFKA_INVALID_PARTITIONS);
    cr_assert_eq(rn_md_topic(md, "t")->npart, 4);
}

Test(metadata, set_topic_configs_replaces) {
    cr_assert_eq(reg(1), 0);
    assignment a;
    rn_md_record r = topic_rec(&a, "t", 1, 1, (int32_t[]){1});
    const char *n1[] = {"a", "b"}, *v1[] = {"1", "2"};
    r.config_names = n1;
    r.config_values = v1;
    r.nconfigs = 2;
    cr_assert_eq(apply_n(&r, 1), 0);
    const char *n2[] = {"c"}, *v2[] = {"3"};
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_SET_TOPIC_CONFIGS, .topic = "t",
                                       .config_names = n2, .config_values = v2, .nconfigs = 1}),
                 0);
    const rn_md_topic *t = rn_md_topic(md, "t");
    cr_assert_eq(t->nconfigs, 1);
    cr_assert_str_eq(t->config_names[0], "c");
    cr_assert_str_eq(t->config_values[0], "3");
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_SET_TOPIC_CONFIGS, .topic = "t"}), 0);
    cr_assert_eq(rn_md_topic(md, "t")->nconfigs, 0);
    cr_assert_eq(apply1((rn_md_record){.type = RN_MD_SET_TOPIC_CONFIGS, .topic = "x"}),
                 RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
}

/* ---- all or nothing ----------------------------------------------------------------- */

Test(metadata, entry_is_all_or_nothing) {
    cr_assert_eq(reg(1), 0);
    cr_assert_eq(reg(2), 0);
    cr_assert_eq(create("t", 1, 2, (int32_t[]){1, 2}), 0);
    size_t before_len;
    uint8_t *before = image_bytes(&before_len);
    uint64_t version = rn_md_version(md);

    assignment a;
    const char *names[] = {"x"}, *values[] = {"y"};
    rn_md_record recs[] = {
        reg_rec(5),
        {.type = RN_MD_FENCE_BROKER, .broker_id = 1},
        topic_rec(&a, "new", 1, 1, (int32_t[]){2}),
        {.type = RN_MD_SET_TOPIC_CONFIGS, .topic = "t", .config_names = names,
         .config_values = values, .nconfigs = 1},
        {.type = RN_MD_DELETE_TOPIC, .topic = "t"},
        {.type = RN_MD_DELETE_TOPIC, .topic = "t"}, /* refused: deleted just above */
    };
    cr_assert_eq(apply_n(recs, 6), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    cr_assert_eq(rn_md_version(md), version);
    assert_image_is(before, before_len);
    cr_assert_null(rn_md_broker(md, 5));
    cr_assert(!rn_md_broker(md, 1)->fenced);
    cr_assert_eq(part("t", 0)->leader, 1);

    /* The same entry less its last record applies whole; later records see earlier ones. */
    cr_assert_eq(apply_n(recs, 5), 0, "%s", msg);
    cr_assert_not_null(rn_md_broker(md, 5));
    cr_assert(rn_md_broker(md, 1)->fenced);
    cr_assert_null(rn_md_topic(md, "t"));
    cr_assert_not_null(rn_md_topic(md, "new"));
    cr_assert_eq(rn_md_version(md), version + 1);
    free(before);
}

/* ---- elections ----------------------------------------------------------------------- */

Test(metadata, fence_elects_next_isr_replica) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 2, 3, (int32_t[]){1, 2, 3, 3, 1, 2}), 0);
    cr_assert_eq(fence(1), 0);
    const rn_md_partition *p0 = part("t", 0), *p1 = part("t", 1);
    cr_assert_eq(p0->leader, 2);
    cr_assert_eq(p0->leader_epoch, 1);
    cr_assert_eq(p0->partition_epoch, 1);
    assert_ids(p0->isr, p0->nisr, IDS(2, 3));
    /* A follower leaves the ISR; the leader stays. */
    cr_assert_eq(p1->leader, 3);
    cr_assert_eq(p1->leader_epoch, 0);
    cr_assert_eq(p1->partition_epoch, 1);
    assert_ids(p1->isr, p1->nisr, IDS(3, 2));

    /* Fencing a broker that leads nothing and is in no ISR changes no partition. */
    cr_assert_eq(fence(1), 0);
    cr_assert_eq(part("t", 0)->partition_epoch, 1);

    cr_assert_eq(fence(2), 0);
    cr_assert_eq(part("t", 0)->leader, 3);
    cr_assert_eq(part("t", 0)->leader_epoch, 2);
    assert_ids(part("t", 0)->isr, part("t", 0)->nisr, IDS(3));

    /* The last ISR member stays in the ISR; the partition goes offline. */
    cr_assert_eq(fence(3), 0);
    p0 = part("t", 0);
    cr_assert_eq(p0->leader, RN_MD_NO_LEADER);
    cr_assert_eq(p0->leader_epoch, 3);
    cr_assert_eq(p0->partition_epoch, 3);
    assert_ids(p0->isr, p0->nisr, IDS(3));
    cr_assert_eq(part("t", 1)->leader, RN_MD_NO_LEADER);
}

Test(metadata, fence_skips_fenced_isr_members) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 1, 3, (int32_t[]){1, 2, 3}), 0);
    cr_assert_eq(fence(3), 0);
    cr_assert_eq(fence(2), 0);
    cr_assert_eq(fence(1), 0);
    assert_ids(part("t", 0)->isr, part("t", 0)->nisr, IDS(1));
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER);
    cr_assert_eq(unfence(2), 0);
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER, "2 is not in the ISR");
    /* 1 is fenced but in the ISR already, so it may stay while 2 joins and leads. */
    rn_md_record c = change_rec("t", 0, -1);
    c.set_isr = true;
    c.isr = (int32_t[]){1, 2};
    c.nisr = 2;
    c.set_leader = true;
    c.leader = 1;
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA, "a fenced broker leads nothing");
    c.leader = 2;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    cr_assert_eq(part("t", 0)->leader, 2);
    /* 2 leaves; the election passes over fenced 1. */
    cr_assert_eq(fence(2), 0);
    assert_ids(part("t", 0)->isr, part("t", 0)->nisr, IDS(1));
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER);
}

Test(metadata, unfence_and_register_restore_offline_leaders) {
    for (int i = 1; i <= 2; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 1, 2, (int32_t[]){1, 2}), 0);
    cr_assert_eq(create("u", 1, 1, (int32_t[]){1}), 0);
    cr_assert_eq(fence(1), 0);
    cr_assert_eq(fence(2), 0);
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER);
    cr_assert_eq(part("u", 0)->leader, RN_MD_NO_LEADER);
    assert_ids(part("t", 0)->isr, part("t", 0)->nisr, IDS(2));
    int32_t le = part("t", 0)->leader_epoch, pe = part("t", 0)->partition_epoch;

    /* Broker 1 is not in t-0's ISR: t-0 stays offline. */
    cr_assert_eq(unfence(1), 0);
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER);
    cr_assert_eq(part("u", 0)->leader, 1);
    cr_assert_eq(part("u", 0)->leader_epoch, 2);

    /* A registration counts as an unfence. */
    cr_assert_eq(reg(2), 0);
    cr_assert_eq(part("t", 0)->leader, 2);
    cr_assert_eq(part("t", 0)->leader_epoch, le + 1);
    cr_assert_eq(part("t", 0)->partition_epoch, pe + 1);
}

/* ---- PARTITION_CHANGE ---------------------------------------------------------------- */

Test(metadata, partition_change_checks_and_epochs) {
    for (int i = 1; i <= 4; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 1, 3, (int32_t[]){1, 2, 3}), 0);

    rn_md_record c = change_rec("t", 0, 5);
    c.set_isr = true;
    c.isr = (int32_t[]){1, 2};
    c.nisr = 2;
    cr_assert_eq(apply1(c), RN_KAFKA_INVALID_UPDATE_VERSION);
    c.expect_partition_epoch = 0;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    const rn_md_partition *p = part("t", 0);
    assert_ids(p->isr, p->nisr, IDS(1, 2));
    cr_assert_eq(p->partition_epoch, 1);
    cr_assert_eq(p->leader_epoch, 0, "the leader did not change");
    cr_assert_eq(apply1(c), RN_KAFKA_INVALID_UPDATE_VERSION, "epoch 0 is stale now");

    c = change_rec("t", 0, -1);
    c.set_isr = true;
    c.isr = NULL;
    c.nisr = 0;
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA, "empty ISR");
    c.isr = (int32_t[]){1, 4};
    c.nisr = 2;
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA, "4 is no replica");
    cr_assert_eq(fence(3), 0);
    c.isr = (int32_t[]){1, 2, 3};
    c.nisr = 3;
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA, "a fenced broker may not join");
    cr_assert_eq(unfence(3), 0);
    cr_assert_eq(apply1(c), 0, "%s", msg);

    c = change_rec("t", 0, -1);
    c.set_leader = true;
    c.leader = 4;
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA, "leader not in the ISR");
    int32_t pe = part("t", 0)->partition_epoch;
    c.leader = 2;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    cr_assert_eq(part("t", 0)->leader, 2);
    cr_assert_eq(part("t", 0)->leader_epoch, 1);
    cr_assert_eq(part("t", 0)->partition_epoch, pe + 1);
    cr_assert_eq(apply1(c), 0, "the same leader again");
    cr_assert_eq(part("t", 0)->leader_epoch, 1, "no leader change, no leader epoch");
    cr_assert_eq(part("t", 0)->partition_epoch, pe + 2, "but a partition epoch");
    c.leader = RN_MD_NO_LEADER;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    cr_assert_eq(part("t", 0)->leader, RN_MD_NO_LEADER);
    cr_assert_eq(part("t", 0)->leader_epoch, 2);

    c = change_rec("t", 1, -1);
    cr_assert_eq(apply1(c), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
    c = change_rec("nope", 0, -1);
    cr_assert_eq(apply1(c), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION);
}

Test(metadata, partition_change_replicas_and_reassignment) {
    for (int i = 1; i <= 4; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 1, 2, (int32_t[]){1, 2}), 0);
    /* Reassign [1,2] -> [3,4]: replicas the union, adding 3 and 4, removing 1 and 2. */
    rn_md_record c = change_rec("t", 0, 0);
    c.set_replicas = true;
    c.replicas = (int32_t[]){1, 2, 3, 4};
    c.nreplicas_new = 4;
    c.adding = (int32_t[]){3, 4};
    c.nadding = 2;
    c.removing = (int32_t[]){1, 2};
    c.nremoving = 2;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    const rn_md_partition *p = part("t", 0);
    assert_ids(p->replicas, p->nreplicas, IDS(1, 2, 3, 4));
    assert_ids(p->adding, p->nadding, IDS(3, 4));
    assert_ids(p->removing, p->nremoving, IDS(1, 2));
    assert_ids(p->isr, p->nisr, IDS(1, 2));
    cr_assert_eq(p->leader, 1);

    /* Catching up: the ISR grows (set_isr checked against the new replicas). */
    c = change_rec("t", 0, 1);
    c.set_isr = true;
    c.isr = (int32_t[]){1, 2, 3, 4};
    c.nisr = 4;
    cr_assert_eq(apply1(c), 0, "%s", msg);

    /* Complete it: replicas [3,4]; the ISR follows; the leader (1) left, so 3 is elected. */
    c = change_rec("t", 0, 2);
    c.set_replicas = true;
    c.replicas = (int32_t[]){3, 4};
    c.nreplicas_new = 2;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    p = part("t", 0);
    assert_ids(p->replicas, p->nreplicas, IDS(3, 4));
    assert_ids(p->isr, p->nisr, IDS(3, 4));
    cr_assert_eq(p->nadding, 0);
    cr_assert_eq(p->nremoving, 0);
    cr_assert_eq(p->leader, 3);
    cr_assert_eq(p->leader_epoch, 1);
    cr_assert_eq(p->partition_epoch, 3);

    /* Refusals: an unregistered, a duplicated replica, adding outside replicas. */
    c = change_rec("t", 0, -1);
    c.set_replicas = true;
    c.replicas = (int32_t[]){3, 9};
    c.nreplicas_new = 2;
    cr_assert_eq(apply1(c), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    c.replicas = (int32_t[]){3, 3};
    cr_assert_eq(apply1(c), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    c.replicas = (int32_t[]){3, 4};
    c.adding = (int32_t[]){1};
    c.nadding = 1;
    cr_assert_eq(apply1(c), RN_KAFKA_INVALID_REPLICA_ASSIGNMENT);
    /* No ISR member left in the new replicas. */
    c.adding = NULL;
    c.nadding = 0;
    c.replicas = (int32_t[]){1, 2};
    cr_assert_eq(apply1(c), RN_KAFKA_INELIGIBLE_REPLICA);
}

/* ---- snapshots ------------------------------------------------------------------------ */

/* SET_ENTRY of (kind, key) to value; NULL removes it. */
static rn_err set_entry(uint8_t kind, const char *key, const char *value) {
    rn_md_record r = {.type = RN_MD_SET_ENTRY,
                      .entry_kind = kind,
                      .entry_key = (const uint8_t *)key,
                      .entry_key_len = strlen(key),
                      .entry_value = (const uint8_t *)value,
                      .entry_value_len = value ? strlen(value) : 0,
                      .entry_remove = !value};
    return apply1(r);
}

/* The entries of a kind as "key=value key- ..." (key- : removed). */
static void assert_entries(rn_metadata *m, uint8_t kind, const char *want) {
    int n;
    const rn_md_entry *v = rn_md_entries(m, kind, &n);
    char got[512] = "";
    for (int i = 0; i < n; i++) {
        cr_assert_eq(v[i].kind, kind);
        size_t at = strlen(got);
        snprintf(got + at, sizeof got - at, "%s%.*s%s%.*s", i ? " " : "", (int)v[i].key_len,
                 (const char *)v[i].key, v[i].value ? "=" : "-",
                 v[i].value ? (int)v[i].value_len : 0, v[i].value ? (const char *)v[i].value : "");
    }
    cr_assert_str_eq(got, want);
}

Test(metadata, access_entries_set_replace_remove) {
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "carol", "c1"), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_ACL, "b-binding", ""), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "al", "a1"), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "alice", "x"), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_ACL, "a-binding", ""), 0);
    assert_entries(md, RN_MD_ENTRY_SCRAM, "al=a1 alice=x carol=c1");
    assert_entries(md, RN_MD_ENTRY_ACL, "a-binding= b-binding=");
    /* A new value replaces; a removal stays, without a value, also of an entry never set
     * (a user that only one broker's configuration gave it). */
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "alice", "y2"), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "carol", NULL), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "dave", NULL), 0);
    assert_entries(md, RN_MD_ENTRY_SCRAM, "al=a1 alice=y2 carol- dave-");
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "carol", "c2"), 0);
    assert_entries(md, RN_MD_ENTRY_SCRAM, "al=a1 alice=y2 carol=c2 dave-");
    /* Unknown kinds and empty keys are refused, and change nothing. */
    size_t len;
    uint8_t *before = image_bytes(&len);
    cr_assert_eq(set_entry('?', "k", "v"), RN_KAFKA_INVALID_REQUEST);
    cr_assert_eq(set_entry(RN_MD_ENTRY_ACL, "", ""), RN_KAFKA_INVALID_REQUEST);
    assert_image_is(before, len);
    free(before);
    /* An entry is all or nothing with the others. */
    rn_md_record both[2] = {{.type = RN_MD_SET_ENTRY, .entry_kind = RN_MD_ENTRY_ACL,
                             .entry_key = (const uint8_t *)"c-binding", .entry_key_len = 9,
                             .entry_value = (const uint8_t *)""},
                            {.type = RN_MD_DELETE_TOPIC, .topic = "no-such-topic"}};
    cr_assert_neq(apply_n(both, 2), 0);
    assert_entries(md, RN_MD_ENTRY_ACL, "a-binding= b-binding=");
    /* They survive a snapshot. */
    uint8_t *snap = rn_md_snapshot(md, &len);
    rn_metadata *other = rn_md_new();
    cr_assert_eq(rn_md_restore(other, snap, len), 0);
    assert_entries(other, RN_MD_ENTRY_SCRAM, "al=a1 alice=y2 carol=c2 dave-");
    assert_entries(other, RN_MD_ENTRY_ACL, "a-binding= b-binding=");
    free(snap);
    rn_md_free(other);
}

static void build_some_image(void) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    assignment a;
    rn_md_record r = topic_rec(&a, "orders", 2, 2, (int32_t[]){1, 2, 2, 3});
    const char *names[] = {"retention.ms"}, *values[] = {"5"};
    r.config_names = names;
    r.config_values = values;
    r.nconfigs = 1;
    cr_assert_eq(apply_n(&r, 1), 0);
    cr_assert_eq(create("a", 1, 1, (int32_t[]){3}), 0);
    rn_md_record c = change_rec("orders", 1, -1);
    c.set_replicas = true;
    c.replicas = (int32_t[]){2, 3, 1};
    c.nreplicas_new = 3;
    c.adding = (int32_t[]){1};
    c.nadding = 1;
    cr_assert_eq(apply1(c), 0, "%s", msg);
    cr_assert_eq(fence(2), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_ACL, "acl-1", ""), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "alice", "cred"), 0);
    cr_assert_eq(set_entry(RN_MD_ENTRY_SCRAM, "bob", NULL), 0); /* removed: kept as such */
}

Test(metadata, snapshot_restore_round_trip) {
    build_some_image();
    size_t len;
    uint8_t *snap = rn_md_snapshot(md, &len);
    cr_assert_not_null(snap);

    rn_metadata *other = rn_md_new();
    cr_assert_eq(rn_md_restore(other, snap, len), 0);
    size_t len2;
    uint8_t *snap2 = rn_md_snapshot(other, &len2);
    cr_assert(len == len2 && memcmp(snap, snap2, len) == 0);
    cr_assert_eq(rn_md_version(other), rn_md_version(md));
    cr_assert_eq(rn_md_applied_index(other), rn_md_applied_index(md));
    cr_assert_str_eq(rn_md_topic(other, "orders")->config_values[0], "5");
    cr_assert_eq(rn_md_partition_get(other, "orders", 1)->nadding, 1);
    cr_assert(rn_md_broker(other, 2)->fenced);

    /* Restore replaces what was there; the restored image keeps applying. */
    rn_metadata *keep = md;
    md = other;
    cr_assert_eq(reg(9), 0);
    cr_assert_eq(rn_md_restore(other, snap, len), 0);
    cr_assert_null(rn_md_broker(other, 9));
    md = keep;

    /* Every truncation and a bad format byte are refused, leaving the image as it was. */
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_eq(rn_md_restore(other, snap, cut), RN_KAFKA_CORRUPT_MESSAGE, "cut %zu", cut);
    uint8_t format = snap[0];
    snap[0] = 9;
    cr_assert_eq(rn_md_restore(other, snap, len), RN_KAFKA_CORRUPT_MESSAGE);
    snap[0] = format;
    /* Flipped bytes never crash or leak; whatever restores, snapshots again. */
    for (size_t i = 0; i < len; i++) {
        snap[i] ^= 0x5a;
        rn_err err = rn_md_restore(other, snap, len);
        cr_assert(err == 0 || err == RN_KAFKA_CORRUPT_MESSAGE);
        snap[i] ^= 0x5a;
    }
    cr_assert_eq(rn_md_restore(other, snap, len), 0);
    free(snap2);
    snap2 = rn_md_snapshot(other, &len2);
    cr_assert(len == len2 && memcmp(snap, snap2, len) == 0);
    free(snap);
    free(snap2);
    rn_md_free(other);
}

Test(metadata, cluster_id_set_once_and_kept_in_snapshots) {
    cr_assert_str_eq(rn_md_cluster_id(md), "");
    rn_md_record r = {.type = RN_MD_SET_CLUSTER_ID, .topic = "k2Z8m1QbTGa3Hq0vYwXzPw"};
    cr_assert_eq(apply1(r), 0);
    cr_assert_str_eq(rn_md_cluster_id(md), "k2Z8m1QbTGa3Hq0vYwXzPw");
    r.topic = "another";
    cr_assert_eq(apply1(r), RN_KAFKA_INVALID_REQUEST, "a cluster keeps its first id");
    r.topic = "";
    cr_assert_eq(apply1(r), RN_KAFKA_INVALID_REQUEST);
    size_t len;
    uint8_t *snap = rn_md_snapshot(md, &len);
    rn_metadata *other = rn_md_new();
    cr_assert_eq(rn_md_restore(other, snap, len), 0);
    cr_assert_str_eq(rn_md_cluster_id(other), "k2Z8m1QbTGa3Hq0vYwXzPw");
    free(snap);
    rn_md_free(other);
}

Test(metadata, restore_empty_image) {
    size_t len;
    uint8_t *snap = rn_md_snapshot(md, &len);
    build_some_image();
    cr_assert_eq(rn_md_restore(md, snap, len), 0);
    int n;
    rn_md_topics(md, &n);
    cr_assert_eq(n, 0);
    rn_md_brokers(md, &n);
    cr_assert_eq(n, 0);
    free(snap);
}

/* ---- corrupt entries ------------------------------------------------------------------ */

Test(metadata, corrupt_entries_refused_without_harm) {
    for (int i = 1; i <= 3; i++) cr_assert_eq(reg(i), 0);
    cr_assert_eq(create("t", 2, 2, (int32_t[]){1, 2, 2, 3}), 0);
    /* One entry holding every record type. */
    assignment a;
    const char *names[] = {"k"}, *values[] = {"v"};
    const int32_t row[] = {3, 1};
    const int32_t *rows[] = {row};
    int ns[] = {2};
    rn_md_record recs[] = {
        reg_rec(4),
        {.type = RN_MD_FENCE_BROKER, .broker_id = 1},
        {.type = RN_MD_UNFENCE_BROKER, .broker_id = 1},
        topic_rec(&a, "u", 1, 2, (int32_t[]){1, 2}),
        {.type = RN_MD_CREATE_PARTITIONS, .topic = "t", .npart = 1, .assignments = rows,
         .nreplicas = ns},
        {.type = RN_MD_SET_TOPIC_CONFIGS, .topic = "t", .config_names = names,
         .config_values = values, .nconfigs = 1},
        {.type = RN_MD_PARTITION_CHANGE, .topic = "t", .partition = 0,
         .expect_partition_epoch = -1, .set_leader = true, .leader = 2, .set_isr = true,
         .isr = (int32_t[]){2, 1}, .nisr = 2, .set_replicas = true,
         .replicas = (int32_t[]){2, 1}, .nreplicas_new = 2},
        {.type = RN_MD_DELETE_TOPIC, .topic = "u"},
    };
    size_t len;
    uint8_t *entry = rn_md_encode(recs, 8, &len);
    cr_assert_not_null(entry);
    size_t before_len;
    uint8_t *before = image_bytes(&before_len);
    for (size_t cut = 0; cut < len; cut++) {
        cr_assert_eq(rn_md_apply(md, 100, entry, cut, msg, sizeof msg), RN_KAFKA_CORRUPT_MESSAGE,
                     "cut %zu", cut);
        assert_image_is(before, before_len);
    }
    cr_assert(strstr(msg, "does not decode"), "%s", msg);
    cr_assert_eq(rn_md_apply(md, 100, NULL, 0, NULL, 0), RN_KAFKA_CORRUPT_MESSAGE);
    /* Trailing bytes and an unknown format or record type do not decode either. */
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, entry, len);
    longer[len] = 0;
    cr_assert_eq(rn_md_apply(md, 100, longer, len + 1, msg, sizeof msg), RN_KAFKA_CORRUPT_MESSAGE);
    longer[0] = 2;
    cr_assert_eq(rn_md_apply(md, 100, longer, len, msg, sizeof msg), RN_KAFKA_CORRUPT_MESSAGE);
    longer[0] = 1;
    longer[5] = 99;
    cr_assert_eq(rn_md_apply(md, 100, longer, len, msg, sizeof msg), RN_KAFKA_CORRUPT_MESSAGE);
    free(longer);

    /* Flipped bytes: never a crash; a flip that still decodes is an ordinary entry (refused
     * or applied whole), so start from the same image each time. */
    size_t snap_len;
    uint8_t *snap = rn_md_snapshot(md, &snap_len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            entry[i] ^= (uint8_t)(1u << bit);
            rn_err err = rn_md_apply(md, 100, entry, len, msg, sizeof msg);
            cr_assert(err >= 0, "a wire code, not a local failure: %d", err);
            entry[i] ^= (uint8_t)(1u << bit);
            if (err == 0) cr_assert_eq(rn_md_restore(md, snap, snap_len), 0);
        }
    /* Intact, it applies. */
    cr_assert_eq(rn_md_apply(md, 101, entry, len, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(part("t", 0)->leader, 2);
    cr_assert_eq(rn_md_topic(md, "t")->npart, 3);
    cr_assert_null(rn_md_topic(md, "u"));
    cr_assert_not_null(rn_md_broker(md, 4));
    free(snap);
    free(before);
    free(entry);
}

Test(metadata, encode_refuses_bad_records) {
    size_t len;
    rn_md_record r = {.type = 42};
    cr_assert_null(rn_md_encode(&r, 1, &len));
    uint8_t *empty = rn_md_encode(NULL, 0, &len);
    cr_assert_not_null(empty);
    cr_assert_eq(rn_md_apply(md, 1, empty, len, msg, sizeof msg), 0, "an empty entry applies");
    cr_assert_eq(rn_md_version(md), 1);
    free(empty);
    char *huge = malloc(70000);
    memset(huge, 'x', 69999);
    huge[69999] = 0;
    r = (rn_md_record){.type = RN_MD_DELETE_TOPIC, .topic = huge};
    cr_assert_null(rn_md_encode(&r, 1, &len), "a string beyond 65535 bytes");
    free(huge);
}

/* ---- placement ------------------------------------------------------------------------ */

Test(metadata, assign_replicas_spreads) {
    for (int i = 1; i <= 4; i++) cr_assert_eq(reg(i * 10), 0);
    cr_assert_eq(fence(40), 0);
    enum { NPART = 12, RF = 3 };
    int32_t out[NPART * RF];
    rn_md_read_lock(md);
    cr_assert_eq(rn_md_assign_replicas(md, 0, NPART, RF, out), 0);
    rn_md_read_unlock(md);
    int leads[4] = {0}, holds[4] = {0};
    for (int p = 0; p < NPART; p++) {
        const int32_t *row = out + p * RF;
        for (int j = 0; j < RF; j++) {
            cr_assert(row[j] == 10 || row[j] == 20 || row[j] == 30, "only unfenced brokers");
            for (int k = 0; k < j; k++) cr_assert_neq(row[j], row[k], "distinct in partition %d", p);
            holds[row[j] / 10 - 1]++;
        }
        leads[row[0] / 10 - 1]++;
    }
    for (int b = 0; b < 3; b++) {
        cr_assert_eq(leads[b], NPART / 3, "broker %d leads its share", (b + 1) * 10);
        cr_assert_eq(holds[b], NPART * RF / 3);
    }
    /* New partitions continue where the topic's left off. */
    int32_t more[2 * 2];
    cr_assert_eq(rn_md_assign_replicas(md, 4, 2, 2, more), 0);
    cr_assert_neq(more[0], more[2], "consecutive partitions start on different brokers");
    cr_assert_eq(rn_md_assign_replicas(md, 0, 1, 4, out), RN_KAFKA_INVALID_REPLICATION_FACTOR);
    cr_assert_eq(rn_md_assign_replicas(md, 0, 1, 0, out), RN_KAFKA_INVALID_REPLICATION_FACTOR);

    /* Applied as a topic, the assignment is accepted. */
    assignment a;
    cr_assert_eq(apply1(topic_rec(&a, "t", NPART, RF, out)), 0, "%s", msg);
}

Test(metadata, assign_replicas_single_broker) {
    int32_t out[3];
    cr_assert_eq(rn_md_assign_replicas(md, 0, 1, 1, out), RN_KAFKA_INVALID_REPLICATION_FACTOR);
    cr_assert_eq(reg(5), 0);
    cr_assert_eq(rn_md_assign_replicas(md, 0, 3, 1, out), 0);
    cr_assert(out[0] == 5 && out[1] == 5 && out[2] == 5);
}
