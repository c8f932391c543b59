/* net/authz.c: the authorizer in front of the handlers (see authz.h). Invariant: with no
 * authorizer configured every question is answered yes without touching the ACLs, so a
 * broker without authorization behaves exactly as before. */
#include "authz.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "rnlog.h"

static _Atomic uint64_t denials;

static const char *op_name(int op) {
    static const char *const names[] = {
        [RN_ACL_OP_ALL] = "All", [RN_ACL_OP_READ] = "Read", [RN_ACL_OP_WRITE] = "Write",
        [RN_ACL_OP_CREATE] = "Create", [RN_ACL_OP_DELETE] = "Delete", [RN_ACL_OP_ALTER] = "Alter",
        [RN_ACL_OP_DESCRIBE] = "Describe", [RN_ACL_OP_CLUSTER_ACTION] = "ClusterAction",
        [RN_ACL_OP_DESCRIBE_CONFIGS] = "DescribeConfigs", [RN_ACL_OP_ALTER_CONFIGS] = "AlterConfigs",
        [RN_ACL_OP_IDEMPOTENT_WRITE] = "IdempotentWrite",
    };
    return op > 0 && op < (int)(sizeof names / sizeof names[0]) && names[op] ? names[op] : "?";
}

static const char *resource_name(int type) {
    switch (type) {
    case RN_ACL_RESOURCE_TOPIC: return "Topic";
    case RN_ACL_RESOURCE_GROUP: return "Group";
    case RN_ACL_RESOURCE_CLUSTER: return "Cluster";
    case RN_ACL_RESOURCE_TRANSACTIONAL_ID: return "TransactionalId";
    default: return "?";
    }
}

/* The peer's address without its port ("127.0.0.1:5555" -> "127.0.0.1"; IPv6 peers are
 * written without brackets, so the port is after the last colon). */
static void peer_host(const rn_conn *c, char *out, size_t len) {
    const char *colon = strrchr(c->peer, ':');
    size_t n = colon ? (size_t)(colon - c->peer) : strlen(c->peer);
    if (n >= len) n = len - 1;
    memcpy(out, c->peer, n);
    out[n] = 0;
}

/* Who asks, and from where: the client a broker forwarded the request for (Envelope),
 * else the connection's. */
const char *rn_authz_principal(const rn_request *req) {
    return req->principal ? req->principal : req->conn->principal;
}

static void req_host(const rn_request *req, char *out, size_t len) {
    if (req->client_host)
        snprintf(out, len, "%s", req->client_host);
    else
        peer_host(req->conn, out, len);
}

/* super.users is Kafka's list: principals separated by ';' (spaces around them ignored). */
static bool super_user(const char *list, const char *principal) {
    size_t plen = strlen(principal);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t') p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == plen && memcmp(p, principal, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

bool rn_authz_enabled(const rn_request *req) { return rn_conn_opts(req->conn)->authorizer_enabled; }

static bool authorize(rn_request *req, int op, int resource_type, const char *name, bool log) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    if (!o->authorizer_enabled) return true;
    const char *principal = rn_authz_principal(req);
    if (super_user(o->super_users, principal)) return true;
    if (resource_type == RN_ACL_RESOURCE_CLUSTER) name = RN_AUTHZ_CLUSTER_NAME;
    char host[64];
    req_host(req, host, sizeof host);
    if (rn_acls_authorize(rn_engine_acls(o->engine), principal, host, op, resource_type,
                          name ? name : "", o->allow_everyone_if_no_acl_found))
        return true;
    if (log) {
        atomic_fetch_add_explicit(&denials, 1, memory_order_relaxed);
        rn_log_info("authorization: principal %s from %s denied %s on %s:%s (%s v%d, client %s)",
                    principal, host, op_name(op), resource_name(resource_type),
                    name ? name : "", req->api ? req->api->name : "?", req->api_version,
                    req->conn->client_id[0] ? req->conn->client_id : "-");
    }
    return false;
}

bool rn_authz(rn_request *req, int op, int resource_type, const char *name) {
    return authorize(req, op, resource_type, name, true);
}

bool rn_authz_quiet(rn_request *req, int op, int resource_type, const char *name) {
    return authorize(req, op, resource_type, name, false);
}

bool rn_authz_any(rn_request *req, int op, int resource_type) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    if (!o->authorizer_enabled) return true;
    const char *principal = rn_authz_principal(req);
    if (super_user(o->super_users, principal)) return true;
    char host[64];
    req_host(req, host, sizeof host);
    /* Every ALLOW binding of the type that names this principal (or User:*) for op (or
     * ALL); it counts when the resource it names is not denied as a whole. */
    rn_acl_binding filter = {.resource_type = (int8_t)resource_type,
                             .pattern_type = RN_ACL_PATTERN_ANY,
                             .operation = RN_ACL_OP_ANY,
                             .permission = RN_ACL_PERMISSION_ALLOW};
    rn_acl_binding *v = NULL;
    int n = 0;
    bool found = false;
    if (rn_acls_describe(rn_engine_acls(o->engine), &filter, &v, &n) == RN_KAFKA_NONE) {
        for (int i = 0; i < n && !found; i++) {
            const rn_acl_binding *b = &v[i];
            if (strcmp(b->principal, "User:*") != 0 && strcmp(b->principal, principal) != 0)
                continue;
            if (strcmp(b->host, "*") != 0 && strcmp(b->host, host) != 0) continue;
            if (b->operation != op && b->operation != RN_ACL_OP_ALL) continue;
            found = rn_acls_authorize(rn_engine_acls(o->engine), principal, host, op,
                                      resource_type, b->resource_name, false);
        }
        rn_acl_bindings_free(v, n);
    }
    if (!found) {
        atomic_fetch_add_explicit(&denials, 1, memory_order_relaxed);
        rn_log_info("authorization: principal %s from %s denied %s on every %s (%s v%d, client %s)",
                    principal, host, op_name(op), resource_name(resource_type),
                    req->api ? req->api->name : "?", req->api_version,
                    req->conn->client_id[0] ? req->conn->client_id : "-");
    }
    return found;
}

uint64_t rn_authz_denials(void) { return atomic_load_explicit(&denials, memory_order_relaxed); }
