/* net/api_create_topics.c: CreateTopics (key 19), v0-4. A single broker: replication
 * factor 1, assignments may name only this node. -1 (the broker default) is accepted for
 * partitions and replication factor at every version, because kafkajs sends it below v4. */
#include <string.h>

#include "api.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    char *name;
    rn_err err;
    char message[256];
} create_result;

enum rn_api_result rn_api_create_topics(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 12);
    create_result *res = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *res)
                                     : NULL;
    if (ntopics > 0 && !res) goto err_parse;
    /* The topics are read first and created after, so a malformed request creates none. */
    typedef struct {
        int32_t partitions;
        int16_t replication;
        int32_t nassign;
        bool bad_assignment;
        int32_t nconfigs;
        rn_config_kv *configs;
    } create_topic;
    create_topic *ct = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *ct)
                                   : NULL;
    if (ntopics > 0 && !ct) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        res[t].name = rn_api_read_name(req, r);
        if (!res[t].name) goto err_parse;
        RN_R_I32(r, &ct[t].partitions);
        RN_R_I16(r, &ct[t].replication);
        RN_R_ARRAY(r, &ct[t].nassign, 8);
        for (int32_t a = 0; a < ct[t].nassign; a++) {
            int32_t index, nbrokers;
            RN_R_I32(r, &index);
            RN_R_ARRAY(r, &nbrokers, 4);
            for (int32_t b = 0; b < nbrokers; b++) {
                int32_t broker;
                RN_R_I32(r, &broker);
                if (broker != o->node_id || nbrokers != 1) ct[t].bad_assignment = true;
            }
        }
        RN_R_ARRAY(r, &ct[t].nconfigs, 4);
        if (ct[t].nconfigs > 0) {
            ct[t].configs = rn_arena_calloc(&req->arena, (size_t)ct[t].nconfigs,
                                            sizeof *ct[t].configs);
            if (!ct[t].configs) goto err_parse;
        }
        for (int32_t c = 0; c < ct[t].nconfigs; c++) {
            rn_bytes cn, cv;
            RN_R_STR(r, &cn);
            RN_R_STR(r, &cv);
            ct[t].configs[c].name = rn_arena_strndup(&req->arena, cn.ptr, cn.len < 0 ? 0 : cn.len);
            ct[t].configs[c].value = rn_arena_strndup(&req->arena, cv.ptr, cv.len);
            if (!ct[t].configs[c].name) goto err_parse;
        }
    }
    int32_t timeout_ms;
    bool validate_only = false;
    RN_R_I32(r, &timeout_ms);
    if (v >= 1) RN_R_BOOL(r, &validate_only);

    /* Kafka: CreateTopics needs CREATE on the cluster, or else on each topic. */
    bool cluster_create = ntopics > 0 &&
                          rn_authz_quiet(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_CLUSTER, NULL);
    for (int32_t t = 0; t < ntopics; t++) {
        create_result *cr = &res[t];
        if (!cluster_create && !rn_authz(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_TOPIC, cr->name)) {
            cr->err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        for (int32_t u = 0; u < ntopics && !cr->err; u++)
            if (u != t && strcmp(res[u].name, cr->name) == 0) {
                cr->err = RN_KAFKA_INVALID_REQUEST;
                snprintf(cr->message, sizeof cr->message, "topic '%s' appears more than once",
                         cr->name);
            }
        if (cr->err) continue;
        if (ct[t].nassign > 0 && (ct[t].partitions != -1 || ct[t].replication != -1)) {
            cr->err = RN_KAFKA_INVALID_REQUEST;
            snprintf(cr->message, sizeof cr->message,
                     "give either assignments or partitions and replication factor");
        } else if (ct[t].bad_assignment) {
            cr->err = RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
            snprintf(cr->message, sizeof cr->message,
                     "this cluster has one broker (node %d): assignments must name only it",
                     o->node_id);
        } else if (ct[t].nassign == 0 && ct[t].replication != 1 && ct[t].replication != -1) {
            cr->err = RN_KAFKA_INVALID_REPLICATION_FACTOR;
            snprintf(cr->message, sizeof cr->message,
                     "replication factor %d is larger than the 1 broker available",
                     ct[t].replication);
        }
        if (cr->err) continue;
        int32_t partitions = ct[t].nassign > 0 ? ct[t].nassign : ct[t].partitions;
        cr->err = rn_engine_create_topic(o->engine, cr->name, partitions, ct[t].configs,
                                         ct[t].nconfigs, validate_only, cr->message,
                                         sizeof cr->message);
    }

    rn_writer *w = &req->resp;
    if (v >= 2) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, ntopics);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_write_string(w, res[t].name);
        rn_write_i16(w, rn_api_wire(req, res[t].err));
        if (v >= 1)
            rn_write_string(w, res[t].err ? (res[t].message[0] ? res[t].message
                                                                 : rn_err_message(res[t].err))
                                          : NULL);
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
