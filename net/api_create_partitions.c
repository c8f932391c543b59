/* net/api_create_partitions.c: CreatePartitions (key 37), v0-1: grow a topic. A single
 * broker grows it in the engine (assignments may name only this node). In a cluster the
 * controller places the new partitions (given assignments, else as many replicas as the
 * topic's first partition has, spread by rn_md_assign_replicas) and proposes one
 * CREATE_PARTITIONS record per topic in one entry, answering after its commit. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

/* The engine's limit (RN_MAX_PARTITIONS in engine/engine.c). */
#define MAX_PARTITIONS 100000

typedef struct {
    int32_t nbrokers;
    int32_t *brokers;
} grow_assignment;

typedef struct {
    char *name;
    int32_t count;
    int32_t nassign; /* -1: none given */
    grow_assignment *assign;
    rn_err err;
    char message[256];
    bool proposed;
} grow;

typedef struct {
    int32_t n;
    grow *g;
} grow_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    grow_state *st = ctx;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->n);
    for (int32_t i = 0; i < st->n; i++) {
        grow *g = &st->g[i];
        rn_controller_item_refused(res, g->proposed, &g->err, g->message, sizeof g->message);
        rn_write_string(w, g->name);
        rn_write_i16(w, rn_api_wire(req, g->err));
        rn_write_string(w, rn_api_error_message(g->err, g->message));
    }
}

static rn_err grow_single(rn_request *req, grow *g, bool validate_only) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    for (int32_t a = 0; a < g->nassign; a++) {
        rn_err err = rn_controller_single_broker_replicas(req, g->assign[a].brokers,
                                                          g->assign[a].nbrokers, g->message,
                                                          sizeof g->message);
        if (err) return err;
    }
    return rn_engine_create_partitions(o->engine, g->name, g->count, validate_only, g->message,
                                       sizeof g->message);
}

/* The new partitions' placement, checked against the image, into rec (arena memory).
 * Read lock held. */
static rn_err place(rn_request *req, const rn_metadata *md, grow *g, rn_md_record *rec) {
    const rn_md_topic *t = rn_md_topic_get(md, g->name);
    if (!t) {
        snprintf(g->message, sizeof g->message, "topic '%s' does not exist", g->name);
        return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (g->count <= t->npart) {
        snprintf(g->message, sizeof g->message,
                 "topic '%s' has %d partitions: ask for more than that", g->name, t->npart);
        return RN_KAFKA_INVALID_PARTITIONS;
    }
    if (g->count > MAX_PARTITIONS) {
        snprintf(g->message, sizeof g->message, "a topic has at most %d partitions, not %d",
                 MAX_PARTITIONS, g->count);
        return RN_KAFKA_INVALID_PARTITIONS;
    }
    int32_t add = g->count - t->npart;
    const int32_t **assignments = rn_arena_calloc(&req->arena, (size_t)add, sizeof *assignments);
    int *nreplicas = rn_arena_calloc(&req->arena, (size_t)add, sizeof *nreplicas);
    if (!assignments || !nreplicas) return RN_ERR_NOMEM;
    if (g->nassign >= 0) {
        if (g->nassign != add) {
            snprintf(g->message, sizeof g->message,
                     "%d assignments given for %d new partitions", g->nassign, add);
            return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
        for (int32_t a = 0; a < add; a++) {
            rn_err err = rn_controller_check_replicas(md, g->assign[a].brokers,
                                                      g->assign[a].nbrokers, g->message,
                                                      sizeof g->message);
            if (err) return err;
            assignments[a] = g->assign[a].brokers;
            nreplicas[a] = g->assign[a].nbrokers;
        }
    } else {
        int rf = t->npart > 0 ? t->parts[0].nreplicas : 1;
        int32_t *out = rn_arena_calloc(&req->arena, (size_t)add * (size_t)rf, sizeof *out);
        if (!out) return RN_ERR_NOMEM;
        rn_err err = rn_md_assign_replicas(md, t->npart, add, rf, out);
        if (err) {
            snprintf(g->message, sizeof g->message,
                     "the topic's replication factor %d is larger than the unfenced brokers "
                     "available", rf);
            return err;
        }
        for (int32_t a = 0; a < add; a++) {
            assignments[a] = out + (size_t)a * (size_t)rf;
            nreplicas[a] = rf;
        }
    }
    *rec = (rn_md_record){.type = RN_MD_CREATE_PARTITIONS, .topic = g->name, .npart = add,
                          .assignments = assignments, .nreplicas = nreplicas};
    return RN_KAFKA_NONE;
}

static rn_err grow_in_cluster(rn_request *req, grow_state *st, int32_t i, bool elsewhere,
                              rn_md_record *rec) {
    grow *g = &st->g[i];
    for (int32_t u = 0; u < st->n; u++)
        if (u != i && strcmp(st->g[u].name, g->name) == 0) {
            snprintf(g->message, sizeof g->message, "topic '%s' appears more than once", g->name);
            return RN_KAFKA_INVALID_REQUEST;
        }
    if (elsewhere) {
        rn_cluster_not_controller_message(rn_controller_cluster(req), g->message,
                                          sizeof g->message);
        return RN_KAFKA_NOT_CONTROLLER;
    }
    rn_metadata *md = rn_cluster_metadata(rn_controller_cluster(req));
    rn_md_read_lock(md);
    rn_err err = place(req, md, g, rec);
    rn_md_read_unlock(md);
    return err;
}

enum rn_api_result rn_api_create_partitions(rn_request *req) {
    rn_reader *r = &req->body;
    const rn_server_options *o = rn_conn_opts(req->conn);
    grow_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_ARRAY(r, &st->n, 10);
    size_t slots = st->n > 0 ? (size_t)st->n : 1;
    st->g = rn_arena_calloc(&req->arena, slots, sizeof *st->g);
    rn_md_record *records = rn_arena_calloc(&req->arena, slots, sizeof *records);
    if (!st->g || !records) goto err_parse;
    for (int32_t i = 0; i < st->n; i++) {
        grow *g = &st->g[i];
        if (!(g->name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_I32(r, &g->count);
        RN_R_ARRAY(r, &g->nassign, 4);
        if (g->nassign > 0 &&
            !(g->assign = rn_arena_calloc(&req->arena, (size_t)g->nassign, sizeof *g->assign)))
            goto err_parse;
        for (int32_t a = 0; a < g->nassign; a++) {
            grow_assignment *as = &g->assign[a];
            RN_R_ARRAY(r, &as->nbrokers, 4);
            if (as->nbrokers < 0) as->nbrokers = 0;
            if (!(as->brokers = rn_arena_calloc(&req->arena, (size_t)as->nbrokers + 1,
                                                sizeof(int32_t))))
                goto err_parse;
            for (int32_t b = 0; b < as->nbrokers; b++) RN_R_I32(r, &as->brokers[b]);
        }
    }
    int32_t timeout_ms;
    bool validate_only;
    RN_R_I32(r, &timeout_ms);
    RN_R_BOOL(r, &validate_only);

    bool elsewhere = rn_controller_elsewhere(req);
    int n = 0;
    for (int32_t i = 0; i < st->n; i++) {
        grow *g = &st->g[i];
        if (!rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_TOPIC, g->name))
            g->err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED; /* Kafka: ALTER on the topic */
        else if (!o->cluster)
            g->err = grow_single(req, g, validate_only);
        else if (!(g->err = grow_in_cluster(req, st, i, elsewhere, &records[n])) && !validate_only) {
            g->proposed = true;
            n++;
        }
    }
    return rn_controller_propose(req, records, n, rn_controller_timeout(timeout_ms), write_response,
                                 st);
err_parse:
    return rn_api_malformed(req);
}
