/* net/api_describe_acls.c: DescribeAcls (key 29), v0-1: the bindings a filter matches,
 * grouped by resource (type, name, pattern) as Kafka answers. */
#include <string.h>

#include "api_acl.h"
#include "authz.h"

enum rn_api_result rn_api_describe_acls(rn_request *req) {
    rn_reader *r = &req->body;
    rn_acl_binding f;
    if (rn_api_acl_read_filter(req, r, &f) != 0) goto err_parse;
    RN_R_TAGS(r);
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    char why[200];
    if (!rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_CLUSTER, NULL)) {
        /* Kafka: DescribeAcls needs DESCRIBE on the cluster */
        rn_write_i16(w, rn_api_wire(req, RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED));
        rn_write_string(w, NULL);
        rn_write_array_len(w, 0);
        return RN_API_DONE;
    }
    if (req->api_version == 0 && f.pattern_type != RN_ACL_PATTERN_LITERAL) f.pattern_type = RN_ACL_PATTERN_LITERAL;
    if (!rn_acl_filter_valid(&f, why, sizeof why)) {
        rn_write_i16(w, rn_api_wire(req, RN_KAFKA_INVALID_REQUEST));
        rn_write_string(w, why);
        rn_write_array_len(w, 0);
        return RN_API_DONE;
    }
    rn_acl_binding *v;
    int n;
    rn_err err = rn_acls_describe(rn_api_acls(req), &f, &v, &n);
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_string(w, NULL);
    if (err) {
        rn_write_array_len(w, 0);
        return RN_API_DONE;
    }
    /* resources: runs of bindings with the same (type, name, pattern) */
    bool *done = n ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *done) : NULL;
    int nres = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = v[j].resource_type == v[i].resource_type && v[j].pattern_type == v[i].pattern_type &&
                   strcmp(v[j].resource_name, v[i].resource_name) == 0;
        if (!seen) nres++;
    }
    rn_write_array_len(w, nres);
    for (int i = 0; i < n; i++) {
        if (done && done[i]) continue;
        rn_write_i8(w, v[i].resource_type);
        rn_write_string(w, v[i].resource_name);
        if (req->api_version >= 1) rn_write_i8(w, v[i].pattern_type);
        int k = 0;
        for (int j = i; j < n; j++)
            if (v[j].resource_type == v[i].resource_type && v[j].pattern_type == v[i].pattern_type &&
                strcmp(v[j].resource_name, v[i].resource_name) == 0)
                k++;
        rn_write_array_len(w, k);
        for (int j = i; j < n; j++) {
            if (v[j].resource_type != v[i].resource_type || v[j].pattern_type != v[i].pattern_type ||
                strcmp(v[j].resource_name, v[i].resource_name) != 0)
                continue;
            if (done) done[j] = true;
            rn_write_string(w, v[j].principal);
            rn_write_string(w, v[j].host);
            rn_write_i8(w, v[j].operation);
            rn_write_i8(w, v[j].permission);
        }
    }
    rn_acl_bindings_free(v, n);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
