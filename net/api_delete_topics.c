/* net/api_delete_topics.c: DeleteTopics (key 20), v0-3. A single broker deletes in the
 * engine; in a cluster the controller proposes one DELETE_TOPIC record per topic the
 * image holds, in one entry, and answers after its commit (the brokers' engines follow
 * the image). */
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    int32_t n;
    char **names;
    rn_err *errs;
    bool *proposed;
} delete_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    delete_state *st = ctx;
    rn_writer *w = &req->resp;
    if (req->api_version >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->n);
    for (int32_t i = 0; i < st->n; i++) {
        if (st->proposed[i] && res->err) st->errs[i] = res->err;
        rn_write_string(w, st->names[i]);
        rn_write_i16(w, rn_api_wire(req, st->errs[i]));
    }
}

/* A topic to delete in the cluster: 0 when it may go, else why not. */
static rn_err check_in_cluster(rn_request *req, const delete_state *st, int32_t i,
                               bool elsewhere) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    for (int32_t u = 0; u < st->n; u++)
        if (u != i && strcmp(st->names[u], st->names[i]) == 0) return RN_KAFKA_INVALID_REQUEST;
    if (elsewhere) return RN_KAFKA_NOT_CONTROLLER;
    if (!o->delete_topic_enable) return RN_KAFKA_TOPIC_DELETION_DISABLED;
    rn_metadata *md = rn_cluster_metadata(o->cluster);
    rn_md_read_lock(md);
    bool exists = rn_md_topic_get(md, st->names[i]) != NULL;
    rn_md_read_unlock(md);
    return exists ? RN_KAFKA_NONE : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
}

enum rn_api_result rn_api_delete_topics(rn_request *req) {
    rn_reader *r = &req->body;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t timeout_ms;
    delete_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_ARRAY(r, &st->n, 2);
    size_t slots = st->n > 0 ? (size_t)st->n : 1;
    st->names = rn_arena_calloc(&req->arena, slots, sizeof *st->names);
    st->errs = rn_arena_calloc(&req->arena, slots, sizeof *st->errs);
    st->proposed = rn_arena_calloc(&req->arena, slots, sizeof *st->proposed);
    rn_md_record *records = rn_arena_calloc(&req->arena, slots, sizeof *records);
    if (!st->names || !st->errs || !st->proposed || !records) goto err_parse;
    for (int32_t i = 0; i < st->n; i++) {
        st->names[i] = rn_api_read_name(req, r);
        if (!st->names[i]) goto err_parse;
    }
    RN_R_I32(r, &timeout_ms);

    bool elsewhere = rn_controller_elsewhere(req);
    int n = 0;
    for (int32_t i = 0; i < st->n; i++) {
        /* Kafka: DeleteTopics needs DELETE on each topic */
        if (!rn_authz(req, RN_ACL_OP_DELETE, RN_ACL_RESOURCE_TOPIC, st->names[i]))
            st->errs[i] = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
        else if (!o->cluster)
            st->errs[i] = o->delete_topic_enable ? rn_engine_delete_topic(o->engine, st->names[i])
                                                 : RN_KAFKA_TOPIC_DELETION_DISABLED;
        else if (!(st->errs[i] = check_in_cluster(req, st, i, elsewhere))) {
            records[n++] = (rn_md_record){.type = RN_MD_DELETE_TOPIC, .topic = st->names[i]};
            st->proposed[i] = true;
        }
    }
    return rn_controller_propose(req, records, n, rn_controller_timeout(timeout_ms), write_response,
                                 st);
err_parse:
    return rn_api_malformed(req);
}
