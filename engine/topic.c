/* engine/topic.c: topics: the registry (a sorted array, binary-searched by name), the
 * topic record in the meta family, snapshots for Metadata. A topic owns its partitions:
 * freeing the topic frees them. */
#include "topic.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* ---- the registry -------------------------------------------------------------------- */

rn_topic *rn_topic_find(const rn_topic_registry *r, const char *name, int *pos) {
    int lo = 0, hi = r->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(r->v[mid]->name, name);
        if (c == 0) {
            if (pos) *pos = mid;
            return r->v[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos) *pos = lo;
    return NULL;
}

int rn_topic_insert(rn_topic_registry *r, rn_topic *t) {
    int pos;
    if (rn_topic_find(r, t->name, &pos)) return -1;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        rn_topic **v = realloc(r->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
    memmove(&r->v[pos + 1], &r->v[pos], (size_t)(r->n - pos) * sizeof *r->v);
    r->v[pos] = t;
    r->n++;
    return 0;
}

rn_topic *rn_topic_remove(rn_topic_registry *r, const char *name) {
    int pos;
    rn_topic *t = rn_topic_find(r, name, &pos);
    if (!t) return NULL;
    memmove(&r->v[pos], &r->v[pos + 1], (size_t)(r->n - pos - 1) * sizeof *r->v);
    r->n--;
    return t;
}

void rn_topic_registry_free(rn_topic_registry *r) {
    for (int i = 0; i < r->n; i++) rn_topic_free(r->v[i]);
    free(r->v);
    memset(r, 0, sizeof *r);
}

void rn_topic_free(rn_topic *t) {
    if (!t) return;
    for (int32_t i = 0; i < t->npart; i++) {
        if (!t->parts[i]) continue;
        rn_log_free(t->parts[i]);
        free(t->parts[i]);
    }
    free(t->parts);
    rn_topic_configs_free(&t->configs);
    free(t->name);
    free(t);
}

/* ---- the record ---------------------------------------------------------------------- */

static size_t topic_key(const char *name, uint8_t key[256]) {
    size_t n = strlen(name);
    key[0] = RN_TOPIC_KEY_LO;
    memcpy(key + 1, name, n); /* names are at most 249 characters */
    return n + 1;
}

int rn_topic_key_name(const uint8_t *key, size_t len, char name[256]) {
    if (len < 2 || len > 250 || key[0] != RN_TOPIC_KEY_LO) return -1;
    memcpy(name, key + 1, len - 1);
    name[len - 1] = 0;
    return 0;
}

rn_err rn_topic_put(rn_store *s, rn_store_batch *b, const rn_topic *t) {
    size_t n = 16 + 4 + 4 * (size_t)t->npart + 4;
    for (int i = 0; i < t->configs.n; i++)
        n += 4 + strlen(t->configs.names[i]) + strlen(t->configs.values[i]);
    uint8_t *v = malloc(n), *p = v;
    if (!v) return RN_ERR_NOMEM;
    memcpy(p, t->id, 16);
    p += 16;
    rn_key_put32(p, (uint32_t)t->npart);
    p += 4;
    for (int32_t i = 0; i < t->npart; i++, p += 4) rn_key_put32(p, t->parts[i]->id);
    rn_key_put32(p, (uint32_t)t->configs.n);
    p += 4;
    for (int i = 0; i < t->configs.n; i++) {
        const char *s2[2] = {t->configs.names[i], t->configs.values[i]};
        for (int k = 0; k < 2; k++) {
            size_t l = strlen(s2[k]); /* config names and values are short */
            p[0] = (uint8_t)(l >> 8);
            p[1] = (uint8_t)l;
            memcpy(p + 2, s2[k], l);
            p += 2 + l;
        }
    }
    uint8_t key[256];
    rn_store_batch_put(b, s, RN_CF_META, key, topic_key(t->name, key), v, n);
    free(v);
    return RN_KAFKA_NONE;
}

void rn_topic_put_delete(rn_store *s, rn_store_batch *b, const rn_topic *t) {
    uint8_t key[256];
    rn_store_batch_delete(b, s, RN_CF_META, key, topic_key(t->name, key));
}

rn_err rn_topic_decode(const char *name, const uint8_t *v, size_t len, int32_t max_partitions,
                       rn_topic **out, uint32_t **ids, int32_t *nids) {
    *out = NULL;
    *ids = NULL;
    *nids = 0;
    rn_topic *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) goto err;
    const uint8_t *p = v, *end = v + len;
    if (len < 24) goto err;
    memcpy(t->id, p, 16);
    p += 16;
    int32_t n = (int32_t)rn_key_get32(p);
    p += 4;
    if (n < 0 || n > max_partitions || (size_t)(end - p) < 4 * (size_t)n + 4) goto err;
    const uint8_t *idp = p;
    p += 4 * (size_t)n;
    uint32_t nconf = rn_key_get32(p);
    p += 4;
    for (uint32_t i = 0; i < nconf; i++) {
        char *s[2] = {NULL, NULL};
        int rc = 0;
        for (int k = 0; k < 2 && !rc; k++) {
            size_t l = end - p >= 2 ? (size_t)((p[0] << 8) | p[1]) : 0;
            if (end - p < 2 || (size_t)(end - p - 2) < l || !(s[k] = strndup((const char *)p + 2, l)))
                rc = -1;
            else
                p += 2 + l;
        }
        if (!rc) rc = rn_topic_configs_set(&t->configs, s[0], s[1]);
        free(s[0]);
        free(s[1]);
        if (rc) goto err;
    }
    if (!(t->parts = calloc((size_t)(n ? n : 1), sizeof *t->parts)) ||
        !(*ids = malloc((size_t)(n ? n : 1) * sizeof **ids)))
        goto err;
    for (int32_t i = 0; i < n; i++) (*ids)[i] = rn_key_get32(idp + 4 * (size_t)i);
    *nids = n;
    *out = t;
    return RN_KAFKA_NONE;
err:
    rn_topic_free(t);
    free(*ids);
    *ids = NULL;
    return RN_KAFKA_KAFKA_STORAGE_ERROR;
}

/* ---- snapshots ----------------------------------------------------------------------- */

bool rn_topic_name_valid(const char *name, size_t len) {
    if (len == 0 || len > 249) return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int rn_topic_snapshot(const rn_topic *t, rn_topic_meta *m) {
    m->name = strdup(t->name);
    memcpy(m->topic_id, t->id, 16);
    m->partition_count = t->npart;
    m->partitions = calloc((size_t)(t->npart ? t->npart : 1), sizeof *m->partitions);
    if (!m->name || !m->partitions) return -1;
    for (int32_t i = 0; i < t->npart; i++) {
        m->partitions[i].index = i;
        m->partitions[i].leader_epoch = t->parts[i]->leader_epoch; /* fixed after creation */
    }
    return 0;
}

void rn_topic_meta_free(rn_topic_meta *topics, int count) {
    if (!topics) return;
    for (int i = 0; i < count; i++) {
        free(topics[i].name);
        free(topics[i].partitions);
    }
    free(topics);
}
