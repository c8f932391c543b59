/* net/api_create_acls.c: CreateAcls (key 30), v0-1: each creation succeeds or fails alone
 * with INVALID_REQUEST and the reason (a filter-only code, a principal without "User:"...). */
#include "api_acl.h"
#include "authz.h"
#include "conn.h"

enum rn_api_result rn_api_create_acls(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    rn_acl_binding *v = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *v) : NULL;
    if (n > 0 && !v) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (rn_api_acl_read_filter(req, r, &v[i]) != 0) goto err_parse;
    RN_R_TAGS(r);
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n > 0 ? n : 0);
    /* Kafka: CreateAcls needs ALTER on the cluster */
    bool allowed = n <= 0 || rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL);
    for (int32_t i = 0; i < n; i++) {
        char why[256] = "";
        rn_err err = !allowed ? RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED
                     : rn_conn_opts(req->conn)->cluster
                         ? (snprintf(why, sizeof why, "%s", RN_API_ACLS_NOT_REPLICATED),
                            RN_KAFKA_INVALID_REQUEST)
                         : rn_acls_create(rn_api_acls(req), &v[i], why, sizeof why);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, err ? why : NULL);
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
