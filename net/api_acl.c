/* net/api_acl.c: the ACL APIs' shared pieces. */
#include "api_acl.h"

#include "conn.h"

static char *read_nullable(rn_request *req, rn_reader *r, bool *ok) {
    rn_bytes s;
    if (rn_read_string(r, &s) != 0) {
        *ok = false;
        return NULL;
    }
    return s.len < 0 ? NULL : rn_arena_strndup(&req->arena, s.ptr, s.len);
}

int rn_api_acl_read_filter(rn_request *req, rn_reader *r, rn_acl_binding *f) {
    bool ok = true;
    int8_t pattern = RN_ACL_PATTERN_LITERAL;
    if (rn_read_i8(r, &f->resource_type) != 0) return -1;
    f->resource_name = read_nullable(req, r, &ok);
    if (ok && req->api_version >= 1 && rn_read_i8(r, &pattern) != 0) ok = false;
    f->pattern_type = pattern;
    if (ok) f->principal = read_nullable(req, r, &ok);
    if (ok) f->host = read_nullable(req, r, &ok);
    if (!ok || rn_read_i8(r, &f->operation) != 0 || rn_read_i8(r, &f->permission) != 0) {
        rn_reader_fail(r, __FILE__, __LINE__, "ACL filter");
        return -1;
    }
    return 0;
}

rn_acls *rn_api_acls(rn_request *req) { return rn_engine_acls(rn_conn_opts(req->conn)->engine); }
