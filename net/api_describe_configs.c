/* net/api_describe_configs.c: DescribeConfigs (key 32), v0-2: topic configs from the
 * engine's table, and this broker's own configuration (read-only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "conn.h"

#define RN_RESOURCE_TOPIC 2
#define RN_RESOURCE_BROKER 4

static bool wanted(const rn_bytes *keys, int32_t nkeys, const char *name) {
    if (nkeys < 0) return true;
    for (int32_t i = 0; i < nkeys; i++)
        if ((size_t)keys[i].len == strlen(name) && memcmp(keys[i].ptr, name, (size_t)keys[i].len) == 0)
            return true;
    return false;
}

enum rn_api_result rn_api_describe_configs(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    typedef struct {
        int8_t type;
        rn_bytes name;
        int32_t nkeys;
        rn_bytes *keys;
    } resource;
    resource *res = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *res) : NULL;
    if (n > 0 && !res) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        RN_R_I8(r, &res[i].type);
        RN_R_STR(r, &res[i].name);
        RN_R_ARRAY(r, &res[i].nkeys, 2);
        if (res[i].nkeys > 0 &&
            !(res[i].keys = rn_arena_calloc(&req->arena, (size_t)res[i].nkeys, sizeof(rn_bytes))))
            goto err_parse;
        for (int32_t k = 0; k < res[i].nkeys; k++) RN_R_STR(r, &res[i].keys[k]);
    }
    bool include_synonyms = false;
    if (v >= 1) RN_R_BOOL(r, &include_synonyms);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n);
    for (int32_t i = 0; i < n; i++) {
        resource *rs = &res[i];
        char *name = rn_arena_strndup(&req->arena, rs->name.ptr, rs->name.len < 0 ? 0 : rs->name.len);
        rn_config_entry *entries = NULL;
        int count = 0;
        rn_err err = RN_KAFKA_NONE;
        char message[160] = "";
        char node[16];
        snprintf(node, sizeof node, "%d", o->node_id);
        if (!name) {
            err = RN_ERR_NOMEM;
        } else if (rs->type == RN_RESOURCE_TOPIC &&
                   !rn_authz(req, RN_ACL_OP_DESCRIBE_CONFIGS, RN_ACL_RESOURCE_TOPIC, name)) {
            err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED; /* Kafka: DESCRIBE_CONFIGS on the topic */
        } else if (rs->type == RN_RESOURCE_BROKER &&
                   !rn_authz(req, RN_ACL_OP_DESCRIBE_CONFIGS, RN_ACL_RESOURCE_CLUSTER, NULL)) {
            err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED; /* ... on the cluster for a broker */
        } else if (rs->type == RN_RESOURCE_TOPIC) {
            err = rn_engine_describe_topic_configs(o->engine, name, &entries, &count);
            if (err == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION)
                snprintf(message, sizeof message, "topic '%s' does not exist", name);
        } else if (rs->type == RN_RESOURCE_BROKER) {
            if (*name && strcmp(name, node) != 0) {
                err = RN_KAFKA_INVALID_REQUEST;
                snprintf(message, sizeof message, "this is broker %s, not '%s'", node, name);
            } else if (o->describe_broker_configs) {
                err = o->describe_broker_configs(o->describe_broker_ctx, &entries, &count);
            }
        } else {
            err = RN_KAFKA_INVALID_REQUEST;
            snprintf(message, sizeof message, "resource type %d is not supported", rs->type);
        }
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, rn_api_error_message(err, message));
        rn_write_i8(w, rs->type);
        rn_write_string(w, name ? name : "");
        int32_t shown = 0;
        for (int c = 0; c < count; c++) shown += wanted(rs->keys, rs->nkeys, entries[c].name);
        rn_write_array_len(w, err ? 0 : shown);
        for (int c = 0; !err && c < count; c++) {
            const rn_config_entry *ce = &entries[c];
            if (!wanted(rs->keys, rs->nkeys, ce->name)) continue;
            rn_write_string(w, ce->name);
            rn_write_string(w, ce->sensitive ? NULL : ce->value);
            rn_write_bool(w, ce->read_only);
            if (v == 0) rn_write_bool(w, ce->is_default);
            if (v >= 1) rn_write_i8(w, ce->source);
            rn_write_bool(w, ce->sensitive);
            if (v >= 1) {
                bool syn = include_synonyms && !ce->is_default;
                rn_write_array_len(w, syn ? 1 : 0);
                if (syn) {
                    rn_write_string(w, ce->name);
                    rn_write_string(w, ce->sensitive ? NULL : ce->value);
                    rn_write_i8(w, ce->source);
                }
            }
        }
        rn_config_entries_free(entries, count);
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
