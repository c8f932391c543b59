/* net/api_delete_records.c: DeleteRecords (key 21), v0-1: move log start offsets, on the
 * partition's leader only (NOT_LEADER_OR_FOLLOWER elsewhere). In a cluster the new log
 * start stays on the leader: followers do not learn it yet. */
#include "cluster.h"
#include "api.h"
#include "authz.h"
#include "conn.h"

enum rn_api_result rn_api_delete_records(rn_request *req) {
    rn_reader *r = &req->body;
    rn_engine *e = rn_conn_opts(req->conn)->engine;
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 6);
    typedef struct {
        int32_t index;
        int64_t offset;
    } del;
    char **names = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *names)
                               : NULL;
    int32_t *counts = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *counts)
                                  : NULL;
    del **dels = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *dels) : NULL;
    if (ntopics > 0 && (!names || !counts || !dels)) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        names[t] = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &counts[t], 12);
        if (!names[t]) goto err_parse;
        if (counts[t] > 0 && !(dels[t] = rn_arena_calloc(&req->arena, (size_t)counts[t],
                                                         sizeof *dels[t])))
            goto err_parse;
        for (int32_t i = 0; i < counts[t]; i++) {
            RN_R_I32(r, &dels[t][i].index);
            RN_R_I64(r, &dels[t][i].offset);
        }
    }
    int32_t timeout_ms;
    RN_R_I32(r, &timeout_ms);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, ntopics);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_write_string(w, names[t]);
        /* Kafka: DeleteRecords needs DELETE on the topic */
        bool allowed = rn_authz(req, RN_ACL_OP_DELETE, RN_ACL_RESOURCE_TOPIC, names[t]);
        rn_topic_hooks hooks;
        bool is_view = allowed && rn_engine_topic_hooks(e, names[t], &hooks) == RN_KAFKA_NONE &&
                       hooks.view_of;
        if (allowed) rn_topic_hooks_free(&hooks);
        rn_write_array_len(w, counts[t]);
        for (int32_t i = 0; i < counts[t]; i++) {
            int64_t low = -1;
            rn_err err;
            rn_partition *p = is_view || !allowed
                                  ? NULL
                                  : rn_engine_partition(e, names[t], dels[t][i].index, &err);
            if (is_view) err = RN_KAFKA_INVALID_TOPIC_EXCEPTION; /* a view's records are its source's */
            if (!allowed) err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            if (p) err = rn_partition_check_leader(p, -1);
            rn_cluster *cluster = rn_conn_opts(req->conn)->cluster;
            if (cluster && allowed && !is_view && (!p || !err))
                err = rn_cluster_serve_check(cluster, p, names[t], dels[t][i].index);
            if (p && !err) err = rn_partition_delete_records(p, dels[t][i].offset, &low);
            rn_write_i32(w, dels[t][i].index);
            rn_write_i64(w, low);
            rn_write_i16(w, rn_api_wire(req, err));
        }
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
