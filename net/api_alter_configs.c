/* net/api_alter_configs.c: AlterConfigs (key 33, v0-1) and IncrementalAlterConfigs
 * (key 44, v0): one reader for both, since they differ only by the operation byte.
 * Broker configs are static (the config file). Topic configs: a single broker changes
 * them in the engine; in a cluster the controller computes each topic's new complete set
 * from the image's, checked as the engine checks it, and proposes one SET_TOPIC_CONFIGS
 * per topic in one entry, answering after its commit. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"
#include "topic_config.h"

#define RN_RESOURCE_TOPIC 2
#define RN_RESOURCE_BROKER 4

typedef struct {
    int8_t type;
    char *name;
    int32_t nops;
    rn_config_alter *ops;
    rn_err err;
    char message[256];
    bool proposed;
} resource;

typedef struct {
    int32_t n;
    resource *res;
} alter_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *done) {
    alter_state *st = ctx;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->n);
    for (int32_t i = 0; i < st->n; i++) {
        resource *res = &st->res[i];
        rn_controller_item_refused(done, res->proposed, &res->err, res->message,
                                   sizeof res->message);
        rn_write_i16(w, rn_api_wire(req, res->err));
        rn_write_string(w, rn_api_error_message(res->err, res->message));
        rn_write_i8(w, res->type);
        rn_write_string(w, res->name);
        rn_write_tags(w);
    }
    rn_write_tags(w);
}

static bool same_view(const char *was, const char *now) {
    if (!was || !was[0]) return !now || !now[0];
    return now && strcmp(was, now) == 0;
}

/* A topic's new complete set of explicit configs, from the image's, into next (the
 * caller frees it). */
static rn_err next_configs(rn_request *req, resource *res, bool incremental, rn_topic_configs *next) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    /* The engine's checks (values, scripts) first; its own copy of the topic may lag the
     * image or not exist yet, so its answer about existence is not the one that counts. */
    rn_err err = rn_engine_alter_topic_configs(o->engine, res->name, res->ops, res->nops,
                                               incremental, true, res->message,
                                               sizeof res->message);
    if (err == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION) {
        res->message[0] = '\0';
        err = RN_KAFKA_NONE;
    }
    if (err) return err;
    rn_metadata *md = rn_cluster_metadata(o->cluster);
    rn_md_read_lock(md);
    const rn_md_topic *t = rn_md_topic_get(md, res->name);
    rn_topic_configs was = {0};
    if (t) {
        rn_topic_configs image = {.n = t->nconfigs, .names = t->config_names,
                                  .values = t->config_values};
        if (rn_topic_configs_copy(&was, &image)) err = RN_ERR_NOMEM;
    }
    rn_md_read_unlock(md);
    if (!t) {
        snprintf(res->message, sizeof res->message, "topic '%s' does not exist", res->name);
        return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (!err && incremental && rn_topic_configs_copy(next, &was)) err = RN_ERR_NOMEM;
    if (!err)
        err = rn_topic_configs_apply(next, res->ops, res->nops, incremental, res->message,
                                     sizeof res->message);
    if (!err && !same_view(rn_topic_configs_get(&was, "view.of"),
                           rn_topic_configs_get(next, "view.of"))) {
        snprintf(res->message, sizeof res->message,
                 "view.of can only be given when the topic is created");
        err = RN_KAFKA_INVALID_CONFIG;
    }
    rn_topic_configs_free(&was);
    return err;
}

static enum rn_api_result alter_in_cluster(rn_request *req, alter_state *st, bool incremental,
                                           bool validate_only) {
    size_t slots = st->n > 0 ? (size_t)st->n : 1;
    rn_md_record *records = rn_arena_calloc(&req->arena, slots, sizeof *records);
    rn_topic_configs *next = rn_arena_calloc(&req->arena, slots, sizeof *next);
    if (!records || !next) return rn_api_malformed(req);
    bool elsewhere = rn_controller_elsewhere(req);
    int n = 0;
    for (int32_t i = 0; i < st->n; i++) {
        resource *res = &st->res[i];
        if (res->err || res->type != RN_RESOURCE_TOPIC) continue;
        for (int32_t u = 0; u < st->n && !res->err; u++)
            if (u != i && st->res[u].type == RN_RESOURCE_TOPIC &&
                strcmp(st->res[u].name, res->name) == 0) {
                snprintf(res->message, sizeof res->message,
                         "topic '%s' appears more than once", res->name);
                res->err = RN_KAFKA_INVALID_REQUEST;
            }
        if (!res->err && elsewhere) res->err = RN_KAFKA_NOT_CONTROLLER;
        if (!res->err) res->err = next_configs(req, res, incremental, &next[i]);
        if (res->err || validate_only) continue;
        records[n++] = (rn_md_record){.type = RN_MD_SET_TOPIC_CONFIGS, .topic = res->name,
                                      .config_names = (const char *const *)next[i].names,
                                      .config_values = (const char *const *)next[i].values,
                                      .nconfigs = next[i].n};
        res->proposed = true;
    }
    /* the records are encoded by now: the computed sets can go */
    enum rn_api_result result = rn_controller_propose(req, records, n, RN_CONTROLLER_TIMEOUT_MS,
                                                      write_response, st);
    for (int32_t i = 0; i < st->n; i++) rn_topic_configs_free(&next[i]);
    return result;
}

static enum rn_api_result alter(rn_request *req, bool incremental) {
    rn_reader *r = &req->body;
    const rn_server_options *o = rn_conn_opts(req->conn);
    alter_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_ARRAY(r, &st->n, 7);
    st->res = rn_arena_calloc(&req->arena, st->n > 0 ? (size_t)st->n : 1, sizeof *st->res);
    if (!st->res) goto err_parse;
    for (int32_t i = 0; i < st->n; i++) {
        resource *res = &st->res[i];
        RN_R_I8(r, &res->type);
        res->name = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &res->nops, 4);
        if (!res->name) goto err_parse;
        if (res->nops > 0 &&
            !(res->ops = rn_arena_calloc(&req->arena, (size_t)res->nops, sizeof *res->ops)))
            goto err_parse;
        for (int32_t c = 0; c < res->nops; c++) {
            rn_bytes cn, cv;
            int8_t op = RN_CONFIG_SET;
            RN_R_STR(r, &cn);
            if (incremental) RN_R_I8(r, &op);
            RN_R_STR(r, &cv);
            res->ops[c].name = rn_arena_strndup(&req->arena, cn.ptr, cn.len < 0 ? 0 : cn.len);
            res->ops[c].value = rn_arena_strndup(&req->arena, cv.ptr, cv.len);
            res->ops[c].op = op;
            if (!res->ops[c].name) goto err_parse;
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    bool validate_only;
    RN_R_BOOL(r, &validate_only);
    RN_R_TAGS(r);

    for (int32_t i = 0; i < st->n; i++) {
        resource *res = &st->res[i];
        if (res->type == RN_RESOURCE_TOPIC &&
            !rn_authz(req, RN_ACL_OP_ALTER_CONFIGS, RN_ACL_RESOURCE_TOPIC, res->name)) {
            res->err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED; /* Kafka: ALTER_CONFIGS on the topic */
        } else if (res->type == RN_RESOURCE_BROKER &&
                   !rn_authz(req, RN_ACL_OP_ALTER_CONFIGS, RN_ACL_RESOURCE_CLUSTER, NULL)) {
            res->err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED; /* ... on the cluster for a broker */
        } else if (res->type == RN_RESOURCE_TOPIC) {
            if (!o->cluster) /* in a cluster: alter_in_cluster below */
                res->err = rn_engine_alter_topic_configs(o->engine, res->name, res->ops,
                                                         res->nops, incremental, validate_only,
                                                         res->message, sizeof res->message);
        } else if (res->type == RN_RESOURCE_BROKER) {
            res->err = RN_KAFKA_INVALID_CONFIG;
            snprintf(res->message, sizeof res->message,
                     "broker configs are static: set them in the config file");
        } else {
            res->err = RN_KAFKA_INVALID_REQUEST;
            snprintf(res->message, sizeof res->message, "resource type %d is not supported",
                     res->type);
        }
    }
    if (o->cluster) return alter_in_cluster(req, st, incremental, validate_only);
    rn_controller_result done = {0};
    write_response(req, st, &done);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}

enum rn_api_result rn_api_alter_configs(rn_request *req) { return alter(req, false); }
enum rn_api_result rn_api_incremental_alter_configs(rn_request *req) { return alter(req, true); }
