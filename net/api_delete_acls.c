/* net/api_delete_acls.c: DeleteAcls (key 31), v0-1: for each filter, the bindings it
 * matched and removed.
 *
 * A single broker removes them at once. In a cluster, on the controller, the bindings each
 * filter matches now (this broker's copy follows the image) are removed as access entries
 * in one metadata entry, answered once every live broker follows it; elsewhere
 * NOT_CONTROLLER. */
#include <stdio.h>
#include <string.h>

#include "api_acl.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    rn_err err;
    char why[256];
    rn_acl_binding *gone; /* in the arena */
    int ngone;
    bool proposed;
} filter_result;

typedef struct {
    int32_t n;
    filter_result *f;
} delete_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    delete_state *st = ctx;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->n > 0 ? st->n : 0);
    for (int32_t i = 0; i < st->n; i++) {
        filter_result *f = &st->f[i];
        rn_controller_item_refused(res, f->proposed, &f->err, f->why, sizeof f->why);
        int ngone = f->err ? 0 : f->ngone;
        rn_write_i16(w, rn_api_wire(req, f->err));
        rn_write_string(w, f->err ? rn_api_error_message(f->err, f->why) : NULL);
        rn_write_array_len(w, ngone);
        for (int j = 0; j < ngone; j++) {
            const rn_acl_binding *b = &f->gone[j];
            rn_write_i16(w, 0);
            rn_write_string(w, NULL);
            rn_write_i8(w, b->resource_type);
            rn_write_string(w, b->resource_name);
            if (req->api_version >= 1) rn_write_i8(w, b->pattern_type);
            rn_write_string(w, b->principal);
            rn_write_string(w, b->host);
            rn_write_i8(w, b->operation);
            rn_write_i8(w, b->permission);
        }
    }
}

/* The bindings into the arena (the engine's copies are freed). -1: out of memory. */
static int keep(rn_request *req, filter_result *f, rn_acl_binding *v, int n) {
    f->gone = n ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *f->gone) : NULL;
    int rc = n && !f->gone ? -1 : 0;
    for (int j = 0; j < n && !rc; j++) {
        f->gone[j] = v[j];
        f->gone[j].resource_name = rn_arena_strndup(&req->arena, v[j].resource_name,
                                                    (int32_t)strlen(v[j].resource_name));
        f->gone[j].principal = rn_arena_strndup(&req->arena, v[j].principal, (int32_t)strlen(v[j].principal));
        f->gone[j].host = rn_arena_strndup(&req->arena, v[j].host, (int32_t)strlen(v[j].host));
        if (!f->gone[j].resource_name || !f->gone[j].principal || !f->gone[j].host) rc = -1;
    }
    f->ngone = rc ? 0 : n;
    rn_acl_bindings_free(v, n);
    return rc;
}

enum rn_api_result rn_api_delete_acls(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    rn_acl_binding *filters = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *filters) : NULL;
    if (n > 0 && !filters) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (rn_api_acl_read_filter(req, r, &filters[i]) != 0) goto err_parse;
    RN_R_TAGS(r);
    delete_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st || (n > 0 && !(st->f = rn_arena_calloc(&req->arena, (size_t)n, sizeof *st->f)))) {
        req->resp.failed = true;
        return RN_API_DONE;
    }
    st->n = n;
    rn_cluster *cluster = rn_controller_cluster(req);
    bool elsewhere = rn_controller_elsewhere(req);
    /* Kafka: DeleteAcls needs ALTER on the cluster */
    bool allowed = n <= 0 || rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL);
    rn_md_record *records = NULL;
    int nrec = 0, caprec = 0;
    for (int32_t i = 0; i < n; i++) {
        filter_result *f = &st->f[i];
        rn_acl_binding *v = NULL;
        int nv = 0;
        if (!allowed) {
            f->err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
        } else if (cluster && elsewhere) {
            f->err = RN_KAFKA_NOT_CONTROLLER;
            rn_cluster_not_controller_message(cluster, f->why, sizeof f->why);
        } else if (!rn_acl_filter_valid(&filters[i], f->why, sizeof f->why)) {
            f->err = RN_KAFKA_INVALID_REQUEST;
        } else if (!cluster) {
            f->err = rn_acls_delete(rn_api_acls(req), &filters[i], &v, &nv);
        } else {
            f->err = rn_acls_describe(rn_api_acls(req), &filters[i], &v, &nv);
        }
        if (keep(req, f, v, nv) != 0) {
            req->resp.failed = true;
            return RN_API_DONE;
        }
        if (!cluster || f->err || f->ngone == 0) continue;
        if (nrec + f->ngone > caprec) {
            int cap = (nrec + f->ngone) * 2;
            rn_md_record *grown = rn_arena_calloc(&req->arena, (size_t)cap, sizeof *grown);
            if (!grown) {
                req->resp.failed = true;
                return RN_API_DONE;
            }
            if (nrec) memcpy(grown, records, (size_t)nrec * sizeof *grown);
            records = grown;
            caprec = cap;
        }
        for (int j = 0; j < f->ngone; j++) {
            uint8_t *key = rn_arena_calloc(&req->arena, 1, RN_ACL_KEY_MAX);
            if (!key) {
                req->resp.failed = true;
                return RN_API_DONE;
            }
            records[nrec++] = (rn_md_record){.type = RN_MD_SET_ENTRY,
                                             .entry_kind = RN_MD_ENTRY_ACL,
                                             .entry_key = key,
                                             .entry_key_len = rn_acl_binding_key(&f->gone[j], key),
                                             .entry_remove = true};
        }
        f->proposed = true;
    }
    return rn_controller_propose(req, records, nrec, RN_CONTROLLER_TIMEOUT_MS, write_response, st);
err_parse:
    return rn_api_malformed(req);
}
