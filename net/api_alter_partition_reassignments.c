/* net/api_alter_partition_reassignments.c: AlterPartitionReassignments (key 45), v0, on
 * the controller (KIP-455): start or cancel moving a partition's replicas. Starting sets
 * replicas = target + current (target first), adding = target - current, removing =
 * current - target; the controller (net/controller.c) finishes the move once every
 * adding replica is in the ISR. Cancelling drops the adding replicas again. One entry
 * for the whole request, each change guarded by the partition epoch it was computed
 * from. A single broker has nothing to move: only its own node is a valid target. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    int32_t index;
    int32_t *target; /* NULL: cancel */
    int32_t ntarget;
    rn_err err;
    const char *message;
    bool proposed;
} reassign_partition;

typedef struct {
    char *name;
    int32_t npart;
    reassign_partition *parts;
} reassign_topic;

typedef struct {
    int32_t ntopics;
    reassign_topic *topics;
    rn_err err; /* top level */
} reassign_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    reassign_state *st = ctx;
    if (res->err == RN_KAFKA_NOT_CONTROLLER) st->err = res->err; /* lost it meanwhile */
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, st->err));
    rn_write_string(w, st->err ? rn_err_message(st->err) : NULL);
    rn_write_array_len(w, st->err ? 0 : st->ntopics);
    for (int32_t t = 0; t < (st->err ? 0 : st->ntopics); t++) {
        reassign_topic *rt = &st->topics[t];
        rn_write_string(w, rt->name);
        rn_write_array_len(w, rt->npart);
        for (int32_t i = 0; i < rt->npart; i++) {
            reassign_partition *rp = &rt->parts[i];
            if (rp->proposed && res->err) {
                rp->err = res->err;
                rp->message = res->msg;
            }
            rn_write_i32(w, rp->index);
            rn_write_i16(w, rn_api_wire(req, rp->err));
            rn_write_string(w, rn_api_error_message(rp->err, rp->message));
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    rn_write_tags(w);
}

static char *sentence(rn_request *req, const char *msg) {
    return rn_arena_strndup(&req->arena, msg, (int32_t)strlen(msg));
}

/* The change one partition asks for, into rec (arrays from the arena), or its error.
 * Read lock held. */
static rn_err plan(rn_request *req, const rn_metadata *md, const char *topic,
                   reassign_partition *rp, rn_md_record *rec, bool *noop) {
    char msg[256] = "";
    const rn_md_partition *p = rn_md_partition_get(md, topic, rp->index);
    if (!p) return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    bool in_flight = p->nadding > 0 || p->nremoving > 0;
    int nmax = p->nreplicas + (rp->target ? rp->ntarget : 0);
    int32_t *replicas = rn_arena_calloc(&req->arena, (size_t)nmax + 1, sizeof(int32_t));
    int32_t *adding = rn_arena_calloc(&req->arena, (size_t)nmax + 1, sizeof(int32_t));
    int32_t *removing = rn_arena_calloc(&req->arena, (size_t)nmax + 1, sizeof(int32_t));
    int32_t *isr = rn_arena_calloc(&req->arena, (size_t)p->nisr + 1, sizeof(int32_t));
    if (!replicas || !adding || !removing || !isr) return RN_ERR_NOMEM;
    *rec = (rn_md_record){.type = RN_MD_PARTITION_CHANGE, .topic = topic, .partition = rp->index,
                          .expect_partition_epoch = p->partition_epoch, .set_replicas = true,
                          .replicas = replicas, .adding = adding, .removing = removing};
    if (!rp->target) {
        /* Cancel: back to the replicas before the move; members being added leave the
         * ISR, and the leadership too if one of them holds it. */
        if (!in_flight) return RN_KAFKA_NO_REASSIGNMENT_IN_PROGRESS;
        for (int i = 0; i < p->nreplicas; i++)
            if (!rn_md_contains(p->adding, p->nadding, p->replicas[i]))
                replicas[rec->nreplicas_new++] = p->replicas[i];
        for (int i = 0; i < p->nisr; i++)
            if (rn_md_contains(replicas, rec->nreplicas_new, p->isr[i])) isr[rec->nisr++] = p->isr[i];
        if (rec->nisr > 0 && rec->nisr < p->nisr) {
            rec->set_isr = true;
            rec->isr = isr;
            if (!rn_md_contains(isr, rec->nisr, p->leader)) {
                rec->set_leader = true;
                rec->leader = isr[0];
            }
        }
        return RN_KAFKA_NONE;
    }
    rn_err err = rn_controller_check_replicas(md, rp->target, rp->ntarget, msg, sizeof msg);
    if (err) {
        rp->message = sentence(req, msg);
        return err;
    }
    if (!in_flight && p->nreplicas == rp->ntarget &&
        memcmp(p->replicas, rp->target, (size_t)rp->ntarget * sizeof(int32_t)) == 0) {
        *noop = true;
        return RN_KAFKA_NONE;
    }
    for (int i = 0; i < rp->ntarget; i++) {
        replicas[rec->nreplicas_new++] = rp->target[i];
        if (!rn_md_contains(p->replicas, p->nreplicas, rp->target[i]))
            adding[rec->nadding++] = rp->target[i];
    }
    for (int i = 0; i < p->nreplicas; i++)
        if (!rn_md_contains(rp->target, rp->ntarget, p->replicas[i])) {
            replicas[rec->nreplicas_new++] = p->replicas[i];
            removing[rec->nremoving++] = p->replicas[i];
        }
    return RN_KAFKA_NONE;
}

/* A single broker: only a target of this node alone is valid, and it is already so. */
static rn_err plan_single(rn_request *req, const char *topic, reassign_partition *rp) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    rn_topic_meta *tm = NULL;
    int count = 0;
    const char *names[1] = {topic};
    rn_err err = rn_engine_topics(o->engine, names, 1, &tm, &count);
    if (!err && (count == 0 || rp->index < 0 || rp->index >= tm[0].partition_count))
        err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    rn_topic_meta_free(tm, count);
    if (err) return err;
    if (!rp->target) return RN_KAFKA_NO_REASSIGNMENT_IN_PROGRESS;
    if (rp->ntarget != 1 || rp->target[0] != o->node_id) {
        char msg[128];
        snprintf(msg, sizeof msg, "this cluster has one broker (node %d): replicas must name only it",
                 o->node_id);
        rp->message = sentence(req, msg);
        return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
    }
    return RN_KAFKA_NONE;
}

enum rn_api_result rn_api_alter_partition_reassignments(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t timeout_ms;
    reassign_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_I32(r, &timeout_ms);
    RN_R_ARRAY(r, &st->ntopics, 3);
    if (st->ntopics > 0 &&
        !(st->topics = rn_arena_calloc(&req->arena, (size_t)st->ntopics, sizeof *st->topics)))
        goto err_parse;
    int nparts = 0;
    for (int32_t t = 0; t < st->ntopics; t++) {
        reassign_topic *rt = &st->topics[t];
        if (!(rt->name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_ARRAY(r, &rt->npart, 6);
        if (rt->npart > 0 &&
            !(rt->parts = rn_arena_calloc(&req->arena, (size_t)rt->npart, sizeof *rt->parts)))
            goto err_parse;
        for (int32_t i = 0; i < rt->npart; i++) {
            reassign_partition *rp = &rt->parts[i];
            RN_R_I32(r, &rp->index);
            RN_R_ARRAY(r, &rp->ntarget, 4); /* null (-1): cancel */
            if (rp->ntarget >= 0 &&
                !(rp->target = rn_arena_calloc(&req->arena, (size_t)rp->ntarget + 1,
                                               sizeof(int32_t))))
                goto err_parse;
            for (int32_t b = 0; b < rp->ntarget; b++) RN_R_I32(r, &rp->target[b]);
            RN_R_TAGS(r);
            nparts++;
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* Kafka: AlterPartitionReassignments needs ALTER on the cluster */
    if (!rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL))
        st->err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
    else if (rn_controller_elsewhere(req))
        st->err = RN_KAFKA_NOT_CONTROLLER;
    if (st->err) return rn_controller_propose(req, NULL, 0, 0, write_response, st);

    rn_cluster *c = rn_controller_cluster(req);
    rn_md_record *records = nparts > 0 ? rn_arena_calloc(&req->arena, (size_t)nparts,
                                                         sizeof *records)
                                       : NULL;
    if (nparts > 0 && !records) goto err_parse;
    int n = 0;
    rn_metadata *md = c ? rn_cluster_metadata(c) : NULL;
    if (md) rn_md_read_lock(md);
    for (int32_t t = 0; t < st->ntopics; t++) {
        reassign_topic *rt = &st->topics[t];
        for (int32_t i = 0; i < rt->npart; i++) {
            reassign_partition *rp = &rt->parts[i];
            /* one change per partition: the entry is all or nothing */
            for (int32_t j = 0; j < i && !rp->err; j++)
                if (rt->parts[j].index == rp->index) rp->err = RN_KAFKA_INVALID_REQUEST;
            for (int32_t u = 0; u < t && !rp->err; u++)
                if (strcmp(st->topics[u].name, rt->name) == 0) rp->err = RN_KAFKA_INVALID_REQUEST;
            if (rp->err) {
                rp->message = sentence(req, "the partition appears more than once");
                continue;
            }
            bool noop = false;
            rp->err = md ? plan(req, md, rt->name, rp, &records[n], &noop)
                         : plan_single(req, rt->name, rp);
            if (rp->err || noop || !md) continue;
            rp->proposed = true;
            n++;
        }
    }
    if (md) rn_md_read_unlock(md);
    return rn_controller_propose(req, records, n, rn_controller_timeout(timeout_ms), write_response,
                                 st);
err_parse:
    return rn_api_malformed(req);
}
