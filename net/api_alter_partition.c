/* net/api_alter_partition.c: AlterPartition (key 56), v0-1 (topics by name), on the
 * controller: a partition's leader proposes a new ISR (KIP-497). Checked against the
 * image (the leader and its epoch, the partition epoch, every new member an unfenced
 * replica), then one PARTITION_CHANGE per partition in one entry, guarded by the
 * partition epoch; the answer is each partition's state in the image after the commit. */
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"

typedef struct {
    int32_t index, leader_epoch, partition_epoch;
    int8_t leader_recovery_state;
    int32_t *new_isr;
    int32_t nisr;
    rn_err err;
    bool proposed;
} alter_partition;

typedef struct {
    char *name;
    int32_t npart;
    alter_partition *parts;
} alter_topic;

typedef struct {
    int32_t ntopics;
    alter_topic *topics;
    rn_err err; /* top level */
} alter_state;

/* What the leader asks for, against the image: 0 or the partition's error. Read lock held. */
static rn_err check_partition(const rn_metadata *md, int32_t broker_id, int64_t broker_epoch,
                              const char *topic, const alter_partition *ap) {
    const rn_md_partition *p = rn_md_partition_get(md, topic, ap->index);
    if (!p) return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    const rn_md_broker *b = rn_md_broker_get(md, broker_id);
    if (!b || (broker_epoch != -1 && broker_epoch != b->epoch)) return RN_KAFKA_STALE_BROKER_EPOCH;
    if (p->leader != broker_id || p->leader_epoch != ap->leader_epoch)
        return RN_KAFKA_FENCED_LEADER_EPOCH;
    if (p->partition_epoch != ap->partition_epoch) return RN_KAFKA_INVALID_UPDATE_VERSION;
    if (ap->nisr < 1 || ap->nisr > RN_CONTROLLER_MAX_REPLICAS) return RN_KAFKA_INVALID_REQUEST;
    for (int32_t i = 0; i < ap->nisr; i++) {
        int32_t id = ap->new_isr[i];
        if (rn_md_contains(ap->new_isr, i, id)) return RN_KAFKA_INVALID_REQUEST;
        const rn_md_broker *m = rn_md_broker_get(md, id);
        if (!rn_md_contains(p->replicas, p->nreplicas, id) || !m || (m->fenced && id != broker_id))
            return RN_KAFKA_INELIGIBLE_REPLICA;
    }
    return RN_KAFKA_NONE;
}

static void write_ids(rn_writer *w, const int32_t *ids, int n) {
    rn_write_array_len(w, n);
    for (int i = 0; i < n; i++) rn_write_i32(w, ids[i]);
}

/* The response: each partition as the image holds it now, or its error. */
static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    alter_state *st = ctx;
    if (res->err == RN_KAFKA_NOT_CONTROLLER) st->err = res->err; /* lost it meanwhile */
    rn_cluster *c = rn_controller_cluster(req);
    rn_metadata *md = c ? rn_cluster_metadata(c) : NULL;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, st->err));
    rn_write_array_len(w, st->err ? 0 : st->ntopics);
    if (md && !st->err) rn_md_read_lock(md);
    for (int32_t t = 0; t < (st->err ? 0 : st->ntopics); t++) {
        alter_topic *at = &st->topics[t];
        rn_write_string(w, at->name);
        rn_write_array_len(w, at->npart);
        for (int32_t i = 0; i < at->npart; i++) {
            alter_partition *ap = &at->parts[i];
            if (ap->proposed && !ap->err) ap->err = res->err;
            const rn_md_partition *p = ap->err ? NULL : rn_md_partition_get(md, at->name, ap->index);
            if (!ap->err && !p) ap->err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION; /* deleted meanwhile */
            rn_write_i32(w, ap->index);
            rn_write_i16(w, rn_api_wire(req, ap->err));
            rn_write_i32(w, p ? p->leader : RN_MD_NO_LEADER);
            rn_write_i32(w, p ? p->leader_epoch : -1);
            write_ids(w, p ? p->isr : NULL, p ? p->nisr : 0);
            if (req->api_version >= 1) rn_write_i8(w, 0); /* leader_recovery_state: recovered */
            rn_write_i32(w, p ? p->partition_epoch : -1);
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    if (md && !st->err) rn_md_read_unlock(md);
    rn_write_tags(w);
}

enum rn_api_result rn_api_alter_partition(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    int32_t broker_id;
    int64_t broker_epoch;
    alter_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_I32(r, &broker_id);
    RN_R_I64(r, &broker_epoch);
    RN_R_ARRAY(r, &st->ntopics, 2);
    if (st->ntopics > 0 &&
        !(st->topics = rn_arena_calloc(&req->arena, (size_t)st->ntopics, sizeof *st->topics)))
        goto err_parse;
    int nrecords = 0;
    for (int32_t t = 0; t < st->ntopics; t++) {
        alter_topic *at = &st->topics[t];
        if (!(at->name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_ARRAY(r, &at->npart, 14);
        if (at->npart > 0 &&
            !(at->parts = rn_arena_calloc(&req->arena, (size_t)at->npart, sizeof *at->parts)))
            goto err_parse;
        for (int32_t i = 0; i < at->npart; i++) {
            alter_partition *ap = &at->parts[i];
            RN_R_I32(r, &ap->index);
            RN_R_I32(r, &ap->leader_epoch);
            RN_R_ARRAY(r, &ap->nisr, 4);
            if (ap->nisr > 0 &&
                !(ap->new_isr = rn_arena_calloc(&req->arena, (size_t)ap->nisr, sizeof(int32_t))))
                goto err_parse;
            for (int32_t m = 0; m < ap->nisr; m++) RN_R_I32(r, &ap->new_isr[m]);
            if (ap->nisr < 0) ap->nisr = 0;
            if (v >= 1) RN_R_I8(r, &ap->leader_recovery_state);
            RN_R_I32(r, &ap->partition_epoch);
            RN_R_TAGS(r);
            nrecords++;
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* Kafka: the controller's RPCs need CLUSTER_ACTION on the cluster */
    if (!rn_authz(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER, NULL))
        st->err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
    else if (!rn_controller_cluster(req) || rn_controller_elsewhere(req))
        st->err = RN_KAFKA_NOT_CONTROLLER;
    if (st->err) return rn_controller_propose_committed(req, NULL, 0, 0, write_response, st);

    rn_md_record *records = nrecords > 0 ? rn_arena_calloc(&req->arena, (size_t)nrecords,
                                                           sizeof *records)
                                         : NULL;
    if (nrecords > 0 && !records) goto err_parse;
    int n = 0;
    rn_metadata *md = rn_cluster_metadata(rn_controller_cluster(req));
    rn_md_read_lock(md);
    for (int32_t t = 0; t < st->ntopics; t++) {
        alter_topic *at = &st->topics[t];
        for (int32_t i = 0; i < at->npart; i++) {
            alter_partition *ap = &at->parts[i];
            for (int32_t j = 0; j < i && !ap->err; j++)
                if (at->parts[j].index == ap->index) ap->err = RN_KAFKA_INVALID_REQUEST;
            for (int32_t u = 0; u < t && !ap->err; u++)
                if (strcmp(st->topics[u].name, at->name) == 0) ap->err = RN_KAFKA_INVALID_REQUEST;
            if (!ap->err) ap->err = check_partition(md, broker_id, broker_epoch, at->name, ap);
            if (ap->err) continue;
            records[n++] = (rn_md_record){.type = RN_MD_PARTITION_CHANGE, .topic = at->name,
                                          .partition = ap->index,
                                          .expect_partition_epoch = ap->partition_epoch,
                                          .set_isr = true, .isr = ap->new_isr, .nisr = ap->nisr};
            ap->proposed = true;
        }
    }
    rn_md_read_unlock(md);
    return rn_controller_propose_committed(req, records, n, RN_CONTROLLER_TIMEOUT_MS, write_response, st);
err_parse:
    return rn_api_malformed(req);
}
