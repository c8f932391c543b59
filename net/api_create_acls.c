/* net/api_create_acls.c: CreateAcls (key 30), v0-1: each creation succeeds or fails alone
 * with INVALID_REQUEST and the reason (a filter-only code, a principal without "User:"...).
 *
 * A single broker stores each binding at once. In a cluster, on the controller, the valid
 * bindings go as access entries (RN_MD_SET_ENTRY) in one metadata entry, and the answer
 * waits until every live broker follows it; elsewhere NOT_CONTROLLER. */
#include <stdio.h>

#include "api_acl.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    int32_t n;
    rn_err *errs;
    char (*why)[256];
    bool *proposed;
} create_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    create_state *st = ctx;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->n > 0 ? st->n : 0);
    for (int32_t i = 0; i < st->n; i++) {
        rn_controller_item_refused(res, st->proposed[i], &st->errs[i], st->why[i], sizeof st->why[i]);
        rn_write_i16(w, rn_api_wire(req, st->errs[i]));
        rn_write_string(w, st->errs[i] ? rn_api_error_message(st->errs[i], st->why[i]) : NULL);
    }
}

enum rn_api_result rn_api_create_acls(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    rn_acl_binding *v = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *v) : NULL;
    if (n > 0 && !v) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (rn_api_acl_read_filter(req, r, &v[i]) != 0) goto err_parse;
    RN_R_TAGS(r);
    create_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    size_t m = n > 0 ? (size_t)n : 1;
    if (!st || !(st->errs = rn_arena_calloc(&req->arena, m, sizeof *st->errs)) ||
        !(st->why = rn_arena_calloc(&req->arena, m, sizeof *st->why)) ||
        !(st->proposed = rn_arena_calloc(&req->arena, m, sizeof *st->proposed))) {
        req->resp.failed = true;
        return RN_API_DONE;
    }
    st->n = n;
    rn_cluster *cluster = rn_controller_cluster(req);
    rn_md_record *records = n > 0 ? rn_arena_calloc(&req->arena, m, sizeof *records) : NULL;
    uint8_t *keys = cluster && n > 0 ? rn_arena_calloc(&req->arena, m, RN_ACL_KEY_MAX) : NULL;
    if (n > 0 && (!records || (cluster && !keys))) {
        req->resp.failed = true;
        return RN_API_DONE;
    }
    /* Kafka: CreateAcls needs ALTER on the cluster */
    bool allowed = n <= 0 || rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL);
    bool elsewhere = rn_controller_elsewhere(req);
    int nrec = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!allowed) {
            st->errs[i] = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
        } else if (!cluster) {
            st->errs[i] = rn_acls_create(rn_api_acls(req), &v[i], st->why[i], sizeof st->why[i]);
        } else if (elsewhere) {
            st->errs[i] = RN_KAFKA_NOT_CONTROLLER;
            rn_cluster_not_controller_message(cluster, st->why[i], sizeof st->why[i]);
        } else if (!rn_acl_binding_valid(&v[i], st->why[i], sizeof st->why[i])) {
            st->errs[i] = RN_KAFKA_INVALID_REQUEST;
        } else {
            uint8_t *key = keys + (size_t)i * RN_ACL_KEY_MAX;
            records[nrec++] = (rn_md_record){.type = RN_MD_SET_ENTRY,
                                             .entry_kind = RN_MD_ENTRY_ACL,
                                             .entry_key = key,
                                             .entry_key_len = rn_acl_binding_key(&v[i], key),
                                             .entry_value = (const uint8_t *)""};
            st->proposed[i] = true;
        }
    }
    return rn_controller_propose(req, records, nrec, RN_CONTROLLER_TIMEOUT_MS, write_response, st);
err_parse:
    return rn_api_malformed(req);
}
