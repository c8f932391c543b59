/* net/api_delete_acls.c: DeleteAcls (key 31), v0-1: for each filter, the bindings it
 * matched and removed. */
#include "api_acl.h"
#include "authz.h"
#include "conn.h"

enum rn_api_result rn_api_delete_acls(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 7);
    rn_acl_binding *f = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *f) : NULL;
    if (n > 0 && !f) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (rn_api_acl_read_filter(req, r, &f[i]) != 0) goto err_parse;
    RN_R_TAGS(r);
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n > 0 ? n : 0);
    /* Kafka: DeleteAcls needs ALTER on the cluster */
    bool allowed = n <= 0 || rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL);
    for (int32_t i = 0; i < n; i++) {
        char why[200];
        rn_acl_binding *gone = NULL;
        int ngone = 0;
        rn_err err = !allowed ? RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED
                     : rn_conn_opts(req->conn)->cluster
                         ? (snprintf(why, sizeof why, "%s", RN_API_ACLS_NOT_REPLICATED),
                            RN_KAFKA_INVALID_REQUEST)
                     : rn_acl_filter_valid(&f[i], why, sizeof why)
                         ? rn_acls_delete(rn_api_acls(req), &f[i], &gone, &ngone)
                         : RN_KAFKA_INVALID_REQUEST;
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, err == RN_KAFKA_INVALID_REQUEST ? why : NULL);
        rn_write_array_len(w, ngone);
        for (int j = 0; j < ngone; j++) {
            rn_write_i16(w, 0);
            rn_write_string(w, NULL);
            rn_write_i8(w, gone[j].resource_type);
            rn_write_string(w, gone[j].resource_name);
            if (req->api_version >= 1) rn_write_i8(w, gone[j].pattern_type);
            rn_write_string(w, gone[j].principal);
            rn_write_string(w, gone[j].host);
            rn_write_i8(w, gone[j].operation);
            rn_write_i8(w, gone[j].permission);
        }
        rn_acl_bindings_free(gone, ngone);
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
