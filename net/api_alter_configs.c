/* net/api_alter_configs.c: AlterConfigs (key 33, v0-1) and IncrementalAlterConfigs
 * (key 44, v0): one reader for both, since they differ only by the operation byte.
 * Topic configs go to the engine; broker configs are static (the config file). */
#include <stdio.h>

#include "api.h"
#include "authz.h"
#include "conn.h"

#define RN_RESOURCE_TOPIC 2
#define RN_RESOURCE_BROKER 4

static enum rn_api_result alter(rn_request *req, bool incremental) {
    rn_reader *r = &req->body;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    typedef struct {
        int8_t type;
        char *name;
        int32_t nops;
        rn_config_alter *ops;
    } resource;
    resource *res = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *res) : NULL;
    if (n > 0 && !res) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        RN_R_I8(r, &res[i].type);
        res[i].name = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &res[i].nops, 4);
        if (!res[i].name) goto err_parse;
        if (res[i].nops > 0 &&
            !(res[i].ops = rn_arena_calloc(&req->arena, (size_t)res[i].nops, sizeof *res[i].ops)))
            goto err_parse;
        for (int32_t c = 0; c < res[i].nops; c++) {
            rn_bytes cn, cv;
            int8_t op = RN_CONFIG_SET;
            RN_R_STR(r, &cn);
            if (incremental) RN_R_I8(r, &op);
            RN_R_STR(r, &cv);
            res[i].ops[c].name = rn_arena_strndup(&req->arena, cn.ptr, cn.len < 0 ? 0 : cn.len);
            res[i].ops[c].value = rn_arena_strndup(&req->arena, cv.ptr, cv.len);
            res[i].ops[c].op = op;
            if (!res[i].ops[c].name) goto err_parse;
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    bool validate_only;
    RN_R_BOOL(r, &validate_only);
    RN_R_TAGS(r);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n);
    for (int32_t i = 0; i < n; i++) {
        char message[256] = "";
        rn_err err;
        if (res[i].type == RN_RESOURCE_TOPIC &&
            !rn_authz(req, RN_ACL_OP_ALTER_CONFIGS, RN_ACL_RESOURCE_TOPIC, res[i].name)) {
            err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED; /* Kafka: ALTER_CONFIGS on the topic */
        } else if (res[i].type == RN_RESOURCE_BROKER &&
                   !rn_authz(req, RN_ACL_OP_ALTER_CONFIGS, RN_ACL_RESOURCE_CLUSTER, NULL)) {
            err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED; /* ... on the cluster for a broker */
        } else if (res[i].type == RN_RESOURCE_TOPIC) {
            err = rn_engine_alter_topic_configs(o->engine, res[i].name, res[i].ops, res[i].nops,
                                                incremental, validate_only, message,
                                                sizeof message);
        } else if (res[i].type == RN_RESOURCE_BROKER) {
            err = RN_KAFKA_INVALID_CONFIG;
            snprintf(message, sizeof message,
                     "broker configs are static: set them in the config file");
        } else {
            err = RN_KAFKA_INVALID_REQUEST;
            snprintf(message, sizeof message, "resource type %d is not supported", res[i].type);
        }
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, err ? (message[0] ? message : rn_err_message(err)) : NULL);
        rn_write_i8(w, res[i].type);
        rn_write_string(w, res[i].name);
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}

enum rn_api_result rn_api_alter_configs(rn_request *req) { return alter(req, false); }
enum rn_api_result rn_api_incremental_alter_configs(rn_request *req) { return alter(req, true); }
