/* engine/acl.c: ACL bindings: the in-memory list (the source of truth once loaded),
 * its records in the meta family, filters and the authorization decision.
 *
 *   meta: 'a' + resource type + pattern type + operation + permission
 *             + lp(resource name) + lp(principal) + lp(host) -> "" (lp: BE16 length + bytes) */
#include "acl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnlog.h"
#include "store.h"

#define ACL_KEY 'a'
#define ACL_STR_MAX 1024
_Static_assert(RN_ACL_KEY_MAX == 5 + 3 * (2 + ACL_STR_MAX), "the key bound");

struct rn_acls {
    rn_store *store;
    pthread_rwlock_t lock;
    rn_acl_binding *v;
    int n, cap;
};

static void binding_clear(rn_acl_binding *b) {
    free(b->resource_name);
    free(b->principal);
    free(b->host);
}

void rn_acl_bindings_free(rn_acl_binding *v, int n) {
    for (int i = 0; v && i < n; i++) binding_clear(&v[i]);
    free(v);
}

static int binding_copy(rn_acl_binding *d, const rn_acl_binding *s) {
    *d = *s;
    d->resource_name = strdup(s->resource_name);
    d->principal = strdup(s->principal);
    d->host = strdup(s->host);
    if (!d->resource_name || !d->principal || !d->host) {
        binding_clear(d);
        return -1;
    }
    return 0;
}

static size_t put_lp(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    memcpy(p + 2, s, n);
    return 2 + n;
}

size_t rn_acl_binding_key(const rn_acl_binding *b, uint8_t *k) {
    size_t n = 0;
    k[n++] = ACL_KEY;
    k[n++] = (uint8_t)b->resource_type;
    k[n++] = (uint8_t)b->pattern_type;
    k[n++] = (uint8_t)b->operation;
    k[n++] = (uint8_t)b->permission;
    n += put_lp(k + n, b->resource_name);
    n += put_lp(k + n, b->principal);
    n += put_lp(k + n, b->host);
    return n;
}

static char *get_lp(const uint8_t **p, const uint8_t *end) {
    if (end - *p < 2) return NULL;
    size_t n = ((size_t)(*p)[0] << 8) | (*p)[1];
    if ((size_t)(end - *p - 2) < n) return NULL;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, *p + 2, n);
    s[n] = 0;
    *p += 2 + n;
    return s;
}

static int binding_parse(const uint8_t *k, size_t kl, rn_acl_binding *b) {
    memset(b, 0, sizeof *b);
    if (kl < 5 || k[0] != ACL_KEY) return -1;
    b->resource_type = (int8_t)k[1];
    b->pattern_type = (int8_t)k[2];
    b->operation = (int8_t)k[3];
    b->permission = (int8_t)k[4];
    const uint8_t *p = k + 5, *end = k + kl;
    b->resource_name = get_lp(&p, end);
    b->principal = b->resource_name ? get_lp(&p, end) : NULL;
    b->host = b->principal ? get_lp(&p, end) : NULL;
    if (!b->host || p != end) {
        binding_clear(b);
        return -1;
    }
    return 0;
}

static bool same(const rn_acl_binding *a, const rn_acl_binding *b) {
    return a->resource_type == b->resource_type && a->pattern_type == b->pattern_type &&
           a->operation == b->operation && a->permission == b->permission &&
           strcmp(a->resource_name, b->resource_name) == 0 &&
           strcmp(a->principal, b->principal) == 0 && strcmp(a->host, b->host) == 0;
}

rn_err rn_acls_open(rn_store *s, rn_acls **out) {
    rn_acls *a = calloc(1, sizeof *a);
    if (!a) return RN_ERR_NOMEM;
    a->store = s;
    pthread_rwlock_init(&a->lock, NULL);
    uint8_t lo = ACL_KEY, hi = ACL_KEY + 1;
    rn_store_iter *it = rn_store_iter_new(s, RN_CF_META, &lo, 1, &hi, 1);
    if (!it) {
        rn_acls_close(a);
        return RN_ERR_NOMEM;
    }
    for (rn_store_iter_seek(it, &lo, 1); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        rn_acl_binding b;
        if (binding_parse(k, kl, &b) != 0) {
            rn_log_error("acls: a stored binding does not parse; skipped");
            continue;
        }
        if (a->n == a->cap) {
            int cap = a->cap ? a->cap * 2 : 16;
            rn_acl_binding *nv = realloc(a->v, (size_t)cap * sizeof *nv);
            if (!nv) {
                binding_clear(&b);
                break;
            }
            a->v = nv;
            a->cap = cap;
        }
        a->v[a->n++] = b;
    }
    rn_err err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) {
        rn_acls_close(a);
        return err;
    }
    *out = a;
    return RN_KAFKA_NONE;
}

void rn_acls_close(rn_acls *a) {
    if (!a) return;
    rn_acl_bindings_free(a->v, a->n);
    pthread_rwlock_destroy(&a->lock);
    free(a);
}

int rn_acls_count(rn_acls *a) {
    pthread_rwlock_rdlock(&a->lock);
    int n = a->n;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

static int fail(char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static int binding_check(const rn_acl_binding *b, char *err, size_t errlen) {
    if (b->resource_type < RN_ACL_RESOURCE_TOPIC || b->resource_type > RN_ACL_RESOURCE_TRANSACTIONAL_ID)
        return fail(err, errlen, "resource type must be TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID");
    if (b->pattern_type != RN_ACL_PATTERN_LITERAL && b->pattern_type != RN_ACL_PATTERN_PREFIXED)
        return fail(err, errlen, "pattern type must be LITERAL or PREFIXED");
    if (b->operation < RN_ACL_OP_ALL || b->operation > RN_ACL_OP_IDEMPOTENT_WRITE)
        return fail(err, errlen, "operation must be a concrete operation (not ANY)");
    if (b->permission != RN_ACL_PERMISSION_ALLOW && b->permission != RN_ACL_PERMISSION_DENY)
        return fail(err, errlen, "permission must be ALLOW or DENY");
    if (!b->resource_name || !b->resource_name[0] || strlen(b->resource_name) > ACL_STR_MAX)
        return fail(err, errlen, "resource name must be 1 to 1024 bytes");
    if (b->resource_type == RN_ACL_RESOURCE_CLUSTER &&
        (strcmp(b->resource_name, "kafka-cluster") != 0 || b->pattern_type != RN_ACL_PATTERN_LITERAL))
        return fail(err, errlen, "the cluster resource is the literal name kafka-cluster");
    if (!b->principal || strncmp(b->principal, "User:", 5) != 0 || !b->principal[5] ||
        strlen(b->principal) > ACL_STR_MAX)
        return fail(err, errlen, "principal must be User:<name> or User:*");
    if (!b->host || !b->host[0] || strlen(b->host) > 255)
        return fail(err, errlen, "host must be * or an address");
    return 0;
}

rn_err rn_acls_create(rn_acls *a, const rn_acl_binding *b, char *err, size_t errlen) {
    if (binding_check(b, err, errlen) != 0) return RN_KAFKA_INVALID_REQUEST;
    pthread_rwlock_wrlock(&a->lock);
    for (int i = 0; i < a->n; i++)
        if (same(&a->v[i], b)) {
            pthread_rwlock_unlock(&a->lock);
            return RN_KAFKA_NONE;
        }
    rn_err e = RN_ERR_NOMEM;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        rn_acl_binding *nv = realloc(a->v, (size_t)cap * sizeof *nv);
        if (!nv) goto out;
        a->v = nv;
        a->cap = cap;
    }
    uint8_t k[5 + 3 * (2 + ACL_STR_MAX)];
    rn_store_batch *wb = rn_store_batch_new();
    if (!wb || binding_copy(&a->v[a->n], b) != 0) {
        rn_store_batch_free(wb);
        goto out;
    }
    rn_store_batch_put(wb, a->store, RN_CF_META, k, rn_acl_binding_key(b, k), "", 0);
    e = rn_store_write(a->store, wb, true);
    rn_store_batch_free(wb);
    if (e)
        binding_clear(&a->v[a->n]);
    else
        a->n++;
out:
    pthread_rwlock_unlock(&a->lock);
    if (e) snprintf(err, errlen, "%s", e == RN_ERR_NOMEM ? "out of memory" : "storing the ACL failed");
    return e;
}

bool rn_acl_binding_valid(const rn_acl_binding *b, char *err, size_t errlen) {
    return binding_check(b, err, errlen) == 0;
}

rn_err rn_acls_replace(rn_acls *a, const uint8_t *const *keys, const size_t *lens, int n) {
    rn_acl_binding *v = n > 0 ? calloc((size_t)n, sizeof *v) : NULL;
    rn_store_batch *wb = rn_store_batch_new();
    if ((n > 0 && !v) || !wb) {
        free(v);
        rn_store_batch_free(wb);
        return RN_ERR_NOMEM;
    }
    int nv = 0;
    uint8_t lo = ACL_KEY, hi = ACL_KEY + 1;
    rn_store_batch_delete_range(wb, a->store, RN_CF_META, &lo, 1, &hi, 1);
    for (int i = 0; i < n; i++) {
        if (binding_parse(keys[i], lens[i], &v[nv]) != 0) {
            rn_log_error("acls: a binding of the cluster's metadata does not parse; skipped");
            continue;
        }
        rn_store_batch_put(wb, a->store, RN_CF_META, keys[i], lens[i], "", 0);
        nv++;
    }
    pthread_rwlock_wrlock(&a->lock);
    rn_err err = rn_store_write(a->store, wb, true);
    if (!err) {
        rn_acl_bindings_free(a->v, a->n);
        a->v = v;
        a->n = a->cap = nv;
        v = NULL;
    }
    pthread_rwlock_unlock(&a->lock);
    rn_store_batch_free(wb);
    rn_acl_bindings_free(v, nv);
    return err;
}

bool rn_acl_filter_valid(const rn_acl_binding *f, char *err, size_t errlen) {
    if (f->resource_type < RN_ACL_RESOURCE_ANY || f->resource_type > RN_ACL_RESOURCE_TRANSACTIONAL_ID)
        return fail(err, errlen, "unknown resource type"), false;
    if (f->pattern_type < RN_ACL_PATTERN_ANY || f->pattern_type > RN_ACL_PATTERN_PREFIXED)
        return fail(err, errlen, "unknown pattern type"), false;
    if (f->operation < RN_ACL_OP_ANY || f->operation > RN_ACL_OP_IDEMPOTENT_WRITE)
        return fail(err, errlen, "unknown operation"), false;
    if (f->permission < RN_ACL_PERMISSION_ANY || f->permission > RN_ACL_PERMISSION_ALLOW)
        return fail(err, errlen, "unknown permission type"), false;
    return true;
}

/* Does binding b apply to a resource called name (Kafka's resource pattern match)? */
static bool pattern_applies(const rn_acl_binding *b, const char *name) {
    if (b->pattern_type == RN_ACL_PATTERN_PREFIXED)
        return strncmp(name, b->resource_name, strlen(b->resource_name)) == 0;
    return strcmp(b->resource_name, "*") == 0 || strcmp(b->resource_name, name) == 0;
}

static bool filter_matches(const rn_acl_binding *f, const rn_acl_binding *b) {
    if (f->resource_type != RN_ACL_RESOURCE_ANY && f->resource_type != b->resource_type) return false;
    switch (f->pattern_type) {
    case RN_ACL_PATTERN_ANY:
        if (f->resource_name && strcmp(f->resource_name, b->resource_name) != 0) return false;
        break;
    case RN_ACL_PATTERN_MATCH:
        if (f->resource_name && !pattern_applies(b, f->resource_name)) return false;
        break;
    default:
        if (f->pattern_type != b->pattern_type) return false;
        if (f->resource_name && strcmp(f->resource_name, b->resource_name) != 0) return false;
    }
    if (f->principal && strcmp(f->principal, b->principal) != 0) return false;
    if (f->host && strcmp(f->host, b->host) != 0) return false;
    if (f->operation != RN_ACL_OP_ANY && f->operation != b->operation) return false;
    if (f->permission != RN_ACL_PERMISSION_ANY && f->permission != b->permission) return false;
    return true;
}

rn_err rn_acls_describe(rn_acls *a, const rn_acl_binding *filter, rn_acl_binding **out, int *n) {
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&a->lock);
    rn_acl_binding *v = calloc((size_t)(a->n ? a->n : 1), sizeof *v);
    rn_err e = v ? RN_KAFKA_NONE : RN_ERR_NOMEM;
    int k = 0;
    for (int i = 0; !e && i < a->n; i++)
        if (filter_matches(filter, &a->v[i])) {
            if (binding_copy(&v[k], &a->v[i]) != 0)
                e = RN_ERR_NOMEM;
            else
                k++;
        }
    pthread_rwlock_unlock(&a->lock);
    if (e) {
        rn_acl_bindings_free(v, k);
        return e;
    }
    *out = v;
    *n = k;
    return RN_KAFKA_NONE;
}

rn_err rn_acls_delete(rn_acls *a, const rn_acl_binding *filter, rn_acl_binding **out, int *n) {
    if (out) *out = NULL;
    *n = 0;
    pthread_rwlock_wrlock(&a->lock);
    rn_store_batch *wb = rn_store_batch_new();
    rn_acl_binding *gone = calloc((size_t)(a->n ? a->n : 1), sizeof *gone);
    if (!wb || !gone) {
        pthread_rwlock_unlock(&a->lock);
        rn_store_batch_free(wb);
        free(gone);
        return RN_ERR_NOMEM;
    }
    int k = 0;
    uint8_t key[5 + 3 * (2 + ACL_STR_MAX)];
    for (int i = 0; i < a->n; i++)
        if (filter_matches(filter, &a->v[i])) {
            rn_store_batch_delete(wb, a->store, RN_CF_META, key, rn_acl_binding_key(&a->v[i], key));
            gone[k++] = a->v[i];
        }
    rn_err e = k ? rn_store_write(a->store, wb, true) : RN_KAFKA_NONE;
    if (!e) {
        int j = 0;
        for (int i = 0; i < a->n; i++)
            if (!filter_matches(filter, &a->v[i])) a->v[j++] = a->v[i];
        a->n = j;
    }
    pthread_rwlock_unlock(&a->lock);
    rn_store_batch_free(wb);
    if (e) {
        free(gone); /* still owned by the list */
        return e;
    }
    *n = k;
    if (out)
        *out = gone;
    else
        rn_acl_bindings_free(gone, k);
    return RN_KAFKA_NONE;
}

static bool op_implies(int acl_op, int op, bool allow) {
    if (acl_op == op || acl_op == RN_ACL_OP_ALL) return true;
    if (!allow) return false; /* a DENY of READ does not deny DESCRIBE */
    if (op == RN_ACL_OP_DESCRIBE)
        return acl_op == RN_ACL_OP_READ || acl_op == RN_ACL_OP_WRITE ||
               acl_op == RN_ACL_OP_DELETE || acl_op == RN_ACL_OP_ALTER;
    if (op == RN_ACL_OP_DESCRIBE_CONFIGS) return acl_op == RN_ACL_OP_ALTER_CONFIGS;
    return false;
}

bool rn_acls_authorize(rn_acls *a, const char *principal, const char *host, int op,
                       int resource_type, const char *resource_name, bool allow_if_no_acl) {
    pthread_rwlock_rdlock(&a->lock);
    bool any_for_resource = false, allowed = false, denied = false;
    for (int i = 0; i < a->n && !denied; i++) {
        const rn_acl_binding *b = &a->v[i];
        if (b->resource_type != resource_type || !pattern_applies(b, resource_name)) continue;
        any_for_resource = true;
        if (strcmp(b->principal, "User:*") != 0 && strcmp(b->principal, principal) != 0) continue;
        if (strcmp(b->host, "*") != 0 && strcmp(b->host, host) != 0) continue;
        bool allow = b->permission == RN_ACL_PERMISSION_ALLOW;
        if (!op_implies(b->operation, op, allow)) continue;
        if (allow)
            allowed = true;
        else
            denied = true;
    }
    pthread_rwlock_unlock(&a->lock);
    if (denied) return false;
    if (allowed) return true;
    return !any_for_resource && allow_if_no_acl;
}
