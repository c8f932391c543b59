/* engine/acl.h: access control lists with Kafka's model and Kafka's codes: a binding
 * says that a principal ("User:alice", "User:*") from a host ("*" or an address) is
 * allowed or denied an operation on a resource (a topic, group, the cluster or a
 * transactional id) named literally (the name "*" is every resource of the type) or by
 * prefix. Decisions follow Kafka's AclAuthorizer:
 *   - a matching DENY wins;
 *   - else a matching ALLOW allows; ALL matches every operation, and READ, WRITE,
 *     DELETE and ALTER each imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS;
 *   - else, when no binding at all names the resource, allow_if_no_acl decides
 *     (allow.everyone.if.no.acl.found), otherwise it is denied.
 * Super users are the caller's business (server config), checked before this.
 *
 * Stored in the meta family: 'a' + the binding's fields -> empty value; all bindings are
 * held in memory (they are few) and read under a lock. Thread-safe. */
#ifndef RN_ACL_H
#define RN_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
typedef struct rn_store rn_store; /* engine/store.h: the engine opens the ACLs on its store */

enum rn_acl_resource {
    RN_ACL_RESOURCE_ANY = 1,
    RN_ACL_RESOURCE_TOPIC = 2,
    RN_ACL_RESOURCE_GROUP = 3,
    RN_ACL_RESOURCE_CLUSTER = 4,
    RN_ACL_RESOURCE_TRANSACTIONAL_ID = 5,
};

enum rn_acl_pattern {
    RN_ACL_PATTERN_ANY = 1,   /* filters only */
    RN_ACL_PATTERN_MATCH = 2, /* filters only: the bindings that would apply to the name */
    RN_ACL_PATTERN_LITERAL = 3,
    RN_ACL_PATTERN_PREFIXED = 4,
};

enum rn_acl_op {
    RN_ACL_OP_ANY = 1, /* filters only */
    RN_ACL_OP_ALL = 2,
    RN_ACL_OP_READ = 3,
    RN_ACL_OP_WRITE = 4,
    RN_ACL_OP_CREATE = 5,
    RN_ACL_OP_DELETE = 6,
    RN_ACL_OP_ALTER = 7,
    RN_ACL_OP_DESCRIBE = 8,
    RN_ACL_OP_CLUSTER_ACTION = 9,
    RN_ACL_OP_DESCRIBE_CONFIGS = 10,
    RN_ACL_OP_ALTER_CONFIGS = 11,
    RN_ACL_OP_IDEMPOTENT_WRITE = 12,
};

enum rn_acl_permission {
    RN_ACL_PERMISSION_ANY = 1, /* filters only */
    RN_ACL_PERMISSION_DENY = 2,
    RN_ACL_PERMISSION_ALLOW = 3,
};

/* A binding, or (in filters) a pattern of bindings: NULL strings and the ANY codes
 * match everything. Strings are owned by whoever made the struct. */
typedef struct {
    int8_t resource_type;
    char *resource_name;
    int8_t pattern_type;
    char *principal;
    char *host;
    int8_t operation;
    int8_t permission;
} rn_acl_binding;

typedef struct rn_acls rn_acls;

rn_err rn_acls_open(rn_store *s, rn_acls **out);
void rn_acls_close(rn_acls *a);

/* Add one binding (already there: nothing changes). RN_KAFKA_INVALID_REQUEST with a
 * sentence in err for a binding that is not concrete (an ANY or MATCH code, a principal
 * without "User:", an empty name...); RN_KAFKA_KAFKA_STORAGE_ERROR. */
rn_err rn_acls_create(rn_acls *a, const rn_acl_binding *b, char *err, size_t errlen);
/* The bindings a filter matches (Kafka's AclBindingFilter rules), copied: free with
 * rn_acl_bindings_free. */
rn_err rn_acls_describe(rn_acls *a, const rn_acl_binding *filter, rn_acl_binding **out, int *n);
/* Remove the bindings a filter matches; *out (may be NULL) gets them. */
rn_err rn_acls_delete(rn_acls *a, const rn_acl_binding *filter, rn_acl_binding **out, int *n);
void rn_acl_bindings_free(rn_acl_binding *v, int n);
/* Whether a filter is well formed (codes in range); a sentence in err when not. */
bool rn_acl_filter_valid(const rn_acl_binding *filter, char *err, size_t errlen);

/* May principal, from host, do op on the resource? */
bool rn_acls_authorize(rn_acls *a, const char *principal, const char *host, int op,
                       int resource_type, const char *resource_name, bool allow_if_no_acl);
/* How many bindings exist (0: an authorizer with nothing to say). */
int rn_acls_count(rn_acls *a);

/* ---- a cluster's bindings (engine/metadata.h keeps them as these keys) --------------- */

#define RN_ACL_KEY_MAX (5 + 3 * (2 + 1024))
/* Whether a binding may be created (the checks of rn_acls_create; a sentence in err). */
bool rn_acl_binding_valid(const rn_acl_binding *b, char *err, size_t errlen);
/* The binding's key in the store (RN_ACL_KEY_MAX bytes at k); its length. */
size_t rn_acl_binding_key(const rn_acl_binding *b, uint8_t *k);
/* Make the bindings exactly those of these keys (a key that does not parse is skipped,
 * with an error in the log), in memory and in the store, in one write. */
rn_err rn_acls_replace(rn_acls *a, const uint8_t *const *keys, const size_t *lens, int n);

#endif
