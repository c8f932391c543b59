/* net/cluster_access.c: a broker's ACLs and SCRAM credentials following the cluster's
 * image. The image keeps them as access entries (engine/metadata.h: RN_MD_SET_ENTRY) in
 * the store's own encodings (engine/acl.c keys, engine/users.c keys and values); the
 * agent writes them to the local store whenever they change, so the authorizer and SASL
 * read local state as on a single broker.
 *
 * ACLs: the local bindings are exactly the image's. Credentials: each entry is set, or
 * deleted when the image says it was removed; a user the image never named (one that
 * sasl.users gave this broker) is left alone. */
#include <stdlib.h>

#include "acl.h"
#include "cluster.h"
#include "cluster_internal.h"
#include "rnlog.h"
#include "users.h"

static uint64_t entries_hash(const rn_md_entry *v, int n) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        const uint8_t *parts[2] = {v[i].key, v[i].value};
        size_t lens[2] = {v[i].key_len, v[i].value ? v[i].value_len : 0};
        for (int p = 0; p < 2; p++) {
            for (size_t k = 0; parts[p] && k < lens[p]; k++) h = (h ^ parts[p][k]) * 1099511628211ull;
            h = (h ^ (uint64_t)lens[p]) * 1099511628211ull;
        }
        h = (h ^ (v[i].value ? 1u : 2u)) * 1099511628211ull;
    }
    return h;
}

/* The image's read lock is held. Returns 0, or -1 when a write failed (tried again at
 * the next image change or tick). */
static int follow_acls(rn_cluster *c) {
    int n;
    const rn_md_entry *v = rn_md_entries(c->md, RN_MD_ENTRY_ACL, &n);
    uint64_t h = entries_hash(v, n);
    if (c->access_followed && h == c->acl_hash) return 0;
    const uint8_t **keys = calloc((size_t)n + 1, sizeof *keys);
    size_t *lens = calloc((size_t)n + 1, sizeof *lens);
    int nk = 0;
    rn_err err = RN_ERR_NOMEM;
    if (keys && lens) {
        for (int i = 0; i < n; i++)
            if (v[i].value) {
                keys[nk] = v[i].key;
                lens[nk++] = v[i].key_len;
            }
        err = rn_acls_replace(rn_engine_acls(c->o.engine), keys, lens, nk);
    }
    free(keys);
    free(lens);
    if (err) {
        rn_log_warn("cluster: the image's ACLs not followed: %s", rn_err_name(err));
        return -1;
    }
    if (c->access_followed) rn_log_info("cluster: ACLs follow the image: %d bindings", nk);
    c->acl_hash = h;
    return 0;
}

static int follow_credentials(rn_cluster *c) {
    int n;
    const rn_md_entry *v = rn_md_entries(c->md, RN_MD_ENTRY_SCRAM, &n);
    uint64_t h = entries_hash(v, n);
    if (c->access_followed && h == c->scram_hash) return 0;
    const uint8_t **keys = calloc((size_t)n + 1, sizeof *keys), **values = calloc((size_t)n + 1, sizeof *values);
    size_t *klens = calloc((size_t)n + 1, sizeof *klens), *vlens = calloc((size_t)n + 1, sizeof *vlens);
    rn_err err = RN_ERR_NOMEM;
    if (keys && values && klens && vlens) {
        for (int i = 0; i < n; i++) {
            keys[i] = v[i].key;
            klens[i] = v[i].key_len;
            values[i] = v[i].value;
            vlens[i] = v[i].value_len;
        }
        err = rn_users_follow(c->o.engine, keys, klens, values, vlens, n);
    }
    free(keys);
    free(values);
    free(klens);
    free(vlens);
    if (err) {
        rn_log_warn("cluster: the image's SCRAM credentials not followed: %s", rn_err_name(err));
        return -1;
    }
    if (c->access_followed) rn_log_info("cluster: SCRAM credentials follow the image");
    c->scram_hash = h;
    return 0;
}

int rn_cluster_follow_access(rn_cluster *c) {
    int rc = follow_acls(c) | follow_credentials(c);
    if (rc == 0) c->access_followed = true;
    return rc;
}

rn_md_record rn_cluster_scram_entry(const char *user, int8_t mechanism,
                                    const rn_scram_credential *cred, uint8_t *key, uint8_t *value) {
    return (rn_md_record){.type = RN_MD_SET_ENTRY,
                          .entry_kind = RN_MD_ENTRY_SCRAM,
                          .entry_key = key,
                          .entry_key_len = rn_user_key(key, user, cred ? cred->mechanism : mechanism),
                          .entry_value = cred ? value : NULL,
                          .entry_value_len = cred ? rn_user_value(cred, value) : 0,
                          .entry_remove = !cred};
}
