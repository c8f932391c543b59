/* engine/users.c: SCRAM credentials in the meta column family (layout in users.h).
 * Invariant: a stored value always decodes to a credential whose key_len matches its
 * mechanism; anything else reads as a storage error, never as a usable credential. */
#include "users.h"

#include <stdlib.h>
#include <string.h>

#include "rnlog.h"
#include "store.h"

/* Defined in engine.c (declared for the processor runtime in processor_internal.h). */
rn_store *rn_engine_store(rn_engine *e);
bool rn_engine_flush_sync(const rn_engine *e);

#define USER_KEY_PREFIX 'S'
#define USER_VALUE_FORMAT 1
#define USER_KEY_MAX RN_USER_KEY_MAX
#define USER_VALUE_MAX RN_USER_VALUE_MAX

bool rn_user_name_valid(const char *name, size_t len) {
    return name && len > 0 && len <= RN_USER_NAME_MAX && !memchr(name, 0, len);
}

static size_t key_len_of(int8_t mechanism) {
    return mechanism == RN_SCRAM_SHA_256 ? 32 : mechanism == RN_SCRAM_SHA_512 ? 64 : 0;
}

/* 'S' | name | 0x00 [| mechanism]: with_mechanism false gives the prefix of one user. */
static size_t user_key(uint8_t *key, const char *user, int8_t mechanism, bool with_mechanism) {
    size_t n = strlen(user);
    key[0] = USER_KEY_PREFIX;
    memcpy(key + 1, user, n);
    key[1 + n] = 0;
    if (!with_mechanism) return n + 2;
    key[2 + n] = (uint8_t)mechanism;
    return n + 3;
}

static size_t encode(const rn_scram_credential *c, uint8_t *v) {
    size_t o = 0;
    v[o++] = USER_VALUE_FORMAT;
    rn_key_put32(v + o, (uint32_t)c->iterations);
    o += 4;
    v[o++] = c->salt_len;
    memcpy(v + o, c->salt, c->salt_len);
    o += c->salt_len;
    v[o++] = c->key_len;
    memcpy(v + o, c->stored_key, c->key_len);
    o += c->key_len;
    memcpy(v + o, c->server_key, c->key_len);
    return o + c->key_len;
}

static int decode(int8_t mechanism, const uint8_t *v, size_t len, rn_scram_credential *c) {
    memset(c, 0, sizeof *c);
    c->mechanism = mechanism;
    if (len < 6 || v[0] != USER_VALUE_FORMAT) return -1;
    c->iterations = (int32_t)rn_key_get32(v + 1);
    c->salt_len = v[5];
    size_t o = 6;
    if (c->salt_len > RN_SCRAM_SALT_MAX || len < o + c->salt_len + 1) return -1;
    memcpy(c->salt, v + o, c->salt_len);
    o += c->salt_len;
    c->key_len = v[o++];
    if (c->key_len != key_len_of(mechanism) || len != o + 2u * c->key_len) return -1;
    memcpy(c->stored_key, v + o, c->key_len);
    memcpy(c->server_key, v + o + c->key_len, c->key_len);
    return 0;
}

rn_err rn_users_get(rn_engine *e, const char *user, int8_t mechanism, rn_scram_credential *out) {
    if (!rn_user_name_valid(user, strlen(user)) || !key_len_of(mechanism))
        return RN_KAFKA_RESOURCE_NOT_FOUND;
    uint8_t key[USER_KEY_MAX];
    size_t kl = user_key(key, user, mechanism, true);
    char *val = NULL;
    size_t vl = 0;
    rn_err err = rn_store_get(rn_engine_store(e), RN_CF_META, key, kl, &val, &vl);
    if (err) return err;
    if (!val) return RN_KAFKA_RESOURCE_NOT_FOUND;
    if (decode(mechanism, (uint8_t *)val, vl, out) != 0) {
        rn_log_error("users: the SCRAM credential of '%s' is unreadable", user);
        err = RN_KAFKA_KAFKA_STORAGE_ERROR;
    }
    free(val);
    return err;
}

rn_err rn_users_write(rn_engine *e, const char *const *del_user, const int8_t *del_mechanism,
                      int ndel, const char *const *put_user, const rn_scram_credential *put_cred,
                      int nput) {
    rn_store *s = rn_engine_store(e);
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    uint8_t key[USER_KEY_MAX], val[USER_VALUE_MAX];
    rn_err err = RN_KAFKA_NONE;
    for (int i = 0; i < ndel && !err; i++) {
        if (!rn_user_name_valid(del_user[i], strlen(del_user[i]))) err = RN_ERR_INTERNAL;
        else rn_store_batch_delete(b, s, RN_CF_META, key, user_key(key, del_user[i], del_mechanism[i], true));
    }
    for (int i = 0; i < nput && !err; i++) {
        const rn_scram_credential *c = &put_cred[i];
        if (!rn_user_name_valid(put_user[i], strlen(put_user[i])) ||
            c->key_len != key_len_of(c->mechanism) || c->salt_len > RN_SCRAM_SALT_MAX)
            err = RN_ERR_INTERNAL;
        else
            rn_store_batch_put(b, s, RN_CF_META, key, user_key(key, put_user[i], c->mechanism, true),
                               val, encode(c, val));
    }
    if (!err) err = rn_store_write(s, b, rn_engine_flush_sync(e));
    rn_store_batch_free(b);
    return err;
}

size_t rn_user_key(uint8_t *key, const char *user, int8_t mechanism) {
    return user_key(key, user, mechanism, true);
}

size_t rn_user_value(const rn_scram_credential *cred, uint8_t *value) { return encode(cred, value); }

rn_err rn_users_follow(rn_engine *e, const uint8_t *const *keys, const size_t *klens,
                       const uint8_t *const *values, const size_t *vlens, int n) {
    rn_store *s = rn_engine_store(e);
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const uint8_t *k = keys[i];
        size_t kl = klens[i];
        rn_scram_credential c;
        bool key_ok = kl >= 4 && kl <= USER_KEY_MAX && k[0] == USER_KEY_PREFIX && k[kl - 2] == 0 &&
                      rn_user_name_valid((const char *)k + 1, kl - 3);
        if (!key_ok || (values[i] && decode((int8_t)k[kl - 1], values[i], vlens[i], &c) != 0)) {
            rn_log_error("users: a credential of the cluster's metadata does not decode; skipped");
            continue;
        }
        if (values[i])
            rn_store_batch_put(b, s, RN_CF_META, k, kl, values[i], vlens[i]);
        else
            rn_store_batch_delete(b, s, RN_CF_META, k, kl);
    }
    rn_err err = rn_store_write(s, b, rn_engine_flush_sync(e));
    rn_store_batch_free(b);
    return err;
}

void rn_user_infos_free(rn_user_info *v, int count) {
    for (int i = 0; i < count; i++) free(v[i].name);
    free(v);
}

rn_err rn_users_list(rn_engine *e, const char *user, rn_user_info **out, int *count) {
    *out = NULL;
    *count = 0;
    uint8_t lo[USER_KEY_MAX], hi[USER_KEY_MAX];
    size_t ll, hl;
    if (user) {
        if (!rn_user_name_valid(user, strlen(user))) return RN_KAFKA_NONE;
        ll = user_key(lo, user, 0, false);
    } else {
        lo[0] = USER_KEY_PREFIX;
        ll = 1;
    }
    hl = rn_key_prefix_end(hi, lo, ll);
    rn_store_iter *it = rn_store_iter_new(rn_engine_store(e), RN_CF_META, lo, ll, hi, hl);
    if (!it) return RN_ERR_NOMEM;
    rn_user_info *v = NULL;
    int n = 0, cap = 0;
    rn_err err = RN_KAFKA_NONE;
    for (rn_store_iter_seek(it, lo, ll); rn_store_iter_valid(it) && !err; rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *val = rn_store_iter_value(it, &vl);
        rn_scram_credential c;
        /* 'S' name 0x00 mechanism: the name is everything between. */
        if (kl < 4 || k[kl - 2] != 0 || decode((int8_t)k[kl - 1], val, vl, &c) != 0) {
            rn_log_error("users: an unreadable credential record (%zu-byte key)", kl);
            err = RN_KAFKA_KAFKA_STORAGE_ERROR;
            break;
        }
        size_t nl = kl - 3;
        if (!n || strlen(v[n - 1].name) != nl || memcmp(v[n - 1].name, k + 1, nl) != 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                rn_user_info *nv = realloc(v, (size_t)cap * sizeof *nv);
                if (!nv) {
                    err = RN_ERR_NOMEM;
                    break;
                }
                v = nv;
            }
            memset(&v[n], 0, sizeof v[n]);
            if (!(v[n].name = strndup((const char *)k + 1, nl))) {
                err = RN_ERR_NOMEM;
                break;
            }
            n++;
        }
        rn_user_info *u = &v[n - 1];
        if (u->nmechanisms < 2) {
            u->mechanisms[u->nmechanisms] = c.mechanism;
            u->iterations[u->nmechanisms++] = c.iterations;
        }
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) {
        rn_user_infos_free(v, n);
        return err;
    }
    *out = v;
    *count = n;
    return RN_KAFKA_NONE;
}
