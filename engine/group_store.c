/* engine/group_store.c: the byte layouts of group and offset records (see group_store.h).
 * Decoding checks every length against what is left: a damaged record is an error,
 * never a crash. */
#include "group_store.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    bool failed;
} rec_writer;

static void put(rec_writer *w, const void *p, size_t n) {
    if (w->failed) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap < w->len + n) cap *= 2;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->failed = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_u8(rec_writer *w, uint8_t v) { put(w, &v, 1); }
static void put_be32(rec_writer *w, uint32_t v) {
    uint8_t b[4];
    rn_key_put32(b, v);
    put(w, b, 4);
}
static void put_be64(rec_writer *w, uint64_t v) {
    uint8_t b[8];
    rn_key_put64(b, v);
    put(w, b, 8);
}
static void put_str16(rec_writer *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > 0xFFFE) n = 0xFFFE;
    uint8_t b[2] = {s ? (uint8_t)(n >> 8) : 0xFF, s ? (uint8_t)n : 0xFF};
    put(w, b, 2);
    if (s) put(w, s, n);
}
static void put_bytes32(rec_writer *w, const uint8_t *p, size_t n) {
    put_be32(w, (uint32_t)n);
    if (n) put(w, p, n);
}

rn_err rn_group_record_encode(const rn_group_record *g, uint8_t **out, size_t *len) {
    rec_writer w = {0};
    put_u8(&w, 1);
    put_str16(&w, g->protocol_type);
    put_be32(&w, (uint32_t)g->generation_id);
    put_str16(&w, g->protocol_name);
    put_str16(&w, g->leader);
    put_be64(&w, (uint64_t)g->state_timestamp);
    put_be32(&w, (uint32_t)g->nmembers);
    for (int i = 0; i < g->nmembers; i++) {
        const rn_group_record_member *m = &g->members[i];
        put_str16(&w, m->member_id);
        put_str16(&w, m->group_instance_id);
        put_str16(&w, m->client_id);
        put_str16(&w, m->client_host);
        put_be32(&w, (uint32_t)m->session_timeout_ms);
        put_be32(&w, (uint32_t)m->rebalance_timeout_ms);
        put_be32(&w, (uint32_t)m->nprotocols);
        for (int k = 0; k < m->nprotocols; k++) {
            put_str16(&w, m->protocols[k].name);
            put_bytes32(&w, m->protocols[k].metadata, m->protocols[k].metadata_len);
        }
        put_bytes32(&w, m->assignment, m->assignment_len);
    }
    if (w.failed) {
        free(w.buf);
        return RN_ERR_NOMEM;
    }
    *out = w.buf;
    *len = w.len;
    return RN_KAFKA_NONE;
}

typedef struct {
    const uint8_t *p, *end;
    bool failed;
} rec_reader;

static const uint8_t *take(rec_reader *r, size_t n) {
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}
static uint32_t get_be32(rec_reader *r) {
    const uint8_t *p = take(r, 4);
    return p ? rn_key_get32(p) : 0;
}
static uint64_t get_be64(rec_reader *r) {
    const uint8_t *p = take(r, 8);
    return p ? rn_key_get64(p) : 0;
}
/* A malloc'd NUL-terminated copy, or NULL (null string, or failure: check r->failed). */
static char *get_str16(rec_reader *r) {
    const uint8_t *h = take(r, 2);
    if (!h) return NULL;
    if (h[0] == 0xFF && h[1] == 0xFF) return NULL;
    size_t n = ((size_t)h[0] << 8) | h[1];
    const uint8_t *p = take(r, n);
    if (!p) return NULL;
    char *s = malloc(n + 1);
    if (!s) {
        r->failed = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}
static uint8_t *get_bytes32(rec_reader *r, size_t *len) {
    size_t n = get_be32(r);
    const uint8_t *p = take(r, n);
    *len = 0;
    if (!p) return NULL;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        r->failed = true;
        return NULL;
    }
    memcpy(b, p, n);
    *len = n;
    return b;
}

rn_err rn_group_record_decode(const uint8_t *v, size_t len, rn_group_record *g) {
    memset(g, 0, sizeof *g);
    rec_reader r = {v, v + len, false};
    const uint8_t *ver = take(&r, 1);
    if (!ver || *ver != 1) return RN_KAFKA_KAFKA_STORAGE_ERROR;
    g->protocol_type = get_str16(&r);
    g->generation_id = (int32_t)get_be32(&r);
    g->protocol_name = get_str16(&r);
    g->leader = get_str16(&r);
    g->state_timestamp = (int64_t)get_be64(&r);
    uint32_t n = get_be32(&r);
    /* Each member takes at least 28 bytes: the count cannot exceed what is left. */
    if (!r.failed && n > (size_t)(r.end - r.p) / 28) r.failed = true;
    if (!r.failed && n > 0) {
        g->members = calloc(n, sizeof *g->members);
        if (!g->members) r.failed = true;
    }
    for (uint32_t i = 0; !r.failed && i < n; i++) {
        rn_group_record_member *m = &g->members[i];
        g->nmembers = (int)i + 1;
        m->member_id = get_str16(&r);
        m->group_instance_id = get_str16(&r);
        m->client_id = get_str16(&r);
        m->client_host = get_str16(&r);
        m->session_timeout_ms = (int32_t)get_be32(&r);
        m->rebalance_timeout_ms = (int32_t)get_be32(&r);
        uint32_t np = get_be32(&r);
        /* Each protocol takes at least 6 bytes. */
        if (!r.failed && np > (size_t)(r.end - r.p) / 6) r.failed = true;
        if (!r.failed && np > 0 && !(m->protocols = calloc(np, sizeof *m->protocols)))
            r.failed = true;
        for (uint32_t k = 0; !r.failed && k < np; k++) {
            m->nprotocols = (int)k + 1;
            m->protocols[k].name = get_str16(&r);
            m->protocols[k].metadata = get_bytes32(&r, &m->protocols[k].metadata_len);
            if (!m->protocols[k].name) r.failed = true;
        }
        m->assignment = get_bytes32(&r, &m->assignment_len);
        if (!m->member_id) r.failed = true;
    }
    if (r.failed) {
        rn_group_record_clear(g);
        return RN_KAFKA_KAFKA_STORAGE_ERROR;
    }
    return RN_KAFKA_NONE;
}

void rn_group_record_clear(rn_group_record *g) {
    free(g->protocol_type);
    free(g->protocol_name);
    free(g->leader);
    for (int i = 0; i < g->nmembers; i++) {
        rn_group_record_member *m = &g->members[i];
        free(m->member_id);
        free(m->group_instance_id);
        free(m->client_id);
        free(m->client_host);
        for (int k = 0; k < m->nprotocols; k++) {
            free(m->protocols[k].name);
            free(m->protocols[k].metadata);
        }
        free(m->protocols);
        free(m->assignment);
    }
    free(g->members);
    memset(g, 0, sizeof *g);
}

/* ---- keys ------------------------------------------------------------------------ */

size_t rn_group_key(uint8_t *buf, const char *group_id) {
    size_t n = strlen(group_id);
    if (n > RN_GROUP_ID_MAX) n = RN_GROUP_ID_MAX;
    buf[0] = 'G';
    memcpy(buf + 1, group_id, n);
    return 1 + n;
}

size_t rn_offset_key_prefix(uint8_t *buf, const char *group_id) {
    size_t n = strlen(group_id);
    if (n > RN_GROUP_ID_MAX) n = RN_GROUP_ID_MAX;
    buf[0] = 'O';
    buf[1] = (uint8_t)(n >> 8);
    buf[2] = (uint8_t)n;
    memcpy(buf + 3, group_id, n);
    return 3 + n;
}

size_t rn_offset_key(uint8_t *buf, const char *group_id, const char *topic, int32_t partition) {
    size_t k = rn_offset_key_prefix(buf, group_id);
    size_t tn = strlen(topic);
    if (tn > 255) tn = 255;
    buf[k++] = (uint8_t)tn;
    memcpy(buf + k, topic, tn);
    k += tn;
    rn_key_put32(buf + k, (uint32_t)partition);
    return k + 4;
}

int rn_offset_key_parse(const uint8_t *k, size_t kl, char *group, char *topic, int32_t *partition) {
    if (kl < 3 || k[0] != 'O') return -1;
    size_t gn = ((size_t)k[1] << 8) | k[2];
    if (gn > RN_GROUP_ID_MAX || kl < 3 + gn + 1) return -1;
    size_t tn = k[3 + gn];
    if (kl != 3 + gn + 1 + tn + 4) return -1;
    memcpy(group, k + 3, gn);
    group[gn] = 0;
    memcpy(topic, k + 4 + gn, tn);
    topic[tn] = 0;
    *partition = (int32_t)rn_key_get32(k + 4 + gn + tn);
    return 0;
}

/* ---- offset values ---------------------------------------------------------------- */

size_t rn_offset_value_encode(uint8_t *buf, size_t cap, int64_t offset, int32_t leader_epoch,
                              int64_t commit_timestamp, const char *metadata) {
    size_t mn = metadata ? strlen(metadata) : 0;
    if (mn > 0xFFFE) mn = 0xFFFE;
    size_t need = 1 + 8 + 4 + 8 + 2 + mn;
    if (need > cap) return 0;
    buf[0] = 1;
    rn_key_put64(buf + 1, (uint64_t)offset);
    rn_key_put32(buf + 9, (uint32_t)leader_epoch);
    rn_key_put64(buf + 13, (uint64_t)commit_timestamp);
    buf[21] = metadata ? (uint8_t)(mn >> 8) : 0xFF;
    buf[22] = metadata ? (uint8_t)mn : 0xFF;
    if (mn) memcpy(buf + 23, metadata, mn);
    return need;
}

int rn_offset_value_decode(const uint8_t *v, size_t len, int64_t *offset, int32_t *leader_epoch,
                           int64_t *commit_timestamp, char **metadata) {
    *metadata = NULL;
    if (len < 23 || v[0] != 1) return -1;
    *offset = (int64_t)rn_key_get64(v + 1);
    *leader_epoch = (int32_t)rn_key_get32(v + 9);
    *commit_timestamp = (int64_t)rn_key_get64(v + 13);
    if (v[21] == 0xFF && v[22] == 0xFF) return len == 23 ? 0 : -1;
    size_t mn = ((size_t)v[21] << 8) | v[22];
    if (len != 23 + mn) return -1;
    *metadata = malloc(mn + 1);
    if (!*metadata) return -1;
    memcpy(*metadata, v + 23, mn);
    (*metadata)[mn] = 0;
    return 0;
}
