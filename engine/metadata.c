/* engine/metadata.c: the cluster's metadata image and the records that change it, the
 * state machine under the Raft quorum (net/quorum.c).
 *
 * Invariant: the image changes only by whole entries. Apply decodes the entry, then runs
 * its records against a draft (the broker list copied, topics shared with the image
 * until a record changes one, which is then cloned) and installs the draft only when
 * every record passed; a refusal frees what the draft made and the image never saw it.
 * Brokers stay sorted by id and topics by name, so lookups are binary searches and equal
 * images snapshot to equal bytes. */
#include "metadata.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define ENTRY_FORMAT 1
#define SNAPSHOT_FORMAT 3 /* 2: the cluster id after the applied index; 3: access entries */
#define MAX_HOST (sizeof(((rn_md_broker *)0)->host) - 1) /* a NUL follows */

struct rn_metadata {
    pthread_rwlock_t lock;
    uint64_t version, applied_index;
    rn_md_broker *brokers;
    int nbrokers;
    rn_md_topic *topics;
    int ntopics;
    char cluster_id[RN_MD_CLUSTER_ID_MAX + 1]; /* "" until SET_CLUSTER_ID */
    rn_md_entry *entries; /* sorted by kind, then key */
    int nentries;
};

__attribute__((format(printf, 4, 5))) static rn_err refuse(char *msg, size_t msglen, rn_err err,
                                                           const char *fmt, ...) {
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return err;
}

bool rn_md_contains(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static bool has_duplicate(const int32_t *ids, int n) {
    for (int i = 1; i < n; i++)
        if (rn_md_contains(ids, i, ids[i])) return true;
    return false;
}

/* ---- scratch: what a decoded entry points to, freed in one call ------------------ */

typedef struct {
    void **v;
    int n, cap;
} scratch;

static void *scratch_alloc(scratch *s, size_t size) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        void **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (p) s->v[s->n++] = p;
    return p;
}

static void scratch_free(scratch *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
}

/* ---- reading: every read bounds-checked; R() jumps to the caller's err_parse ------- */

typedef struct {
    const uint8_t *start, *p, *end;
    scratch *s;    /* where decoded strings and arrays go; NULL: malloc (the image's own) */
    int fail_line; /* the line of metadata.c whose read failed first */
    bool nomem;
} reader;

#define R(r, call)                                                                        \
    do {                                                                                  \
        if (!(call)) {                                                                    \
            if (!(r)->fail_line) (r)->fail_line = __LINE__;                               \
            goto err_parse;                                                               \
        }                                                                                 \
    } while (0)

static size_t rd_left(const reader *r) { return (size_t)(r->end - r->p); }

static void *rd_alloc(reader *r, size_t size) {
    void *p = r->s ? scratch_alloc(r->s, size) : calloc(1, size ? size : 1);
    if (!p) r->nomem = true;
    return p;
}

static bool rd_take(reader *r, size_t n, const uint8_t **out) {
    if (rd_left(r) < n) return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool rd_u8(reader *r, uint8_t *v) {
    const uint8_t *b;
    if (!rd_take(r, 1, &b)) return false;
    *v = b[0];
    return true;
}

static bool rd_bool(reader *r, bool *v) {
    uint8_t b;
    if (!rd_u8(r, &b) || b > 1) return false;
    *v = b;
    return true;
}

static bool rd_i32(reader *r, int32_t *v) {
    const uint8_t *b;
    if (!rd_take(r, 4, &b)) return false;
    *v = (int32_t)rn_key_get32(b);
    return true;
}

static bool rd_i64(reader *r, int64_t *v) {
    const uint8_t *b;
    if (!rd_take(r, 8, &b)) return false;
    *v = (int64_t)rn_key_get64(b);
    return true;
}

/* A count of elements of at least min_size bytes each, checked against what is left. */
static bool rd_count(reader *r, int32_t *n, size_t min_size) {
    return rd_i32(r, n) && *n >= 0 && (size_t)*n <= rd_left(r) / min_size;
}

/* A string, copied NUL-terminated; one holding a NUL does not decode. */
static bool rd_str(reader *r, char **out) {
    const uint8_t *b;
    if (!rd_take(r, 2, &b)) return false;
    size_t n = (size_t)b[0] << 8 | b[1];
    if (!rd_take(r, n, &b) || memchr(b, 0, n)) return false;
    char *s = rd_alloc(r, n + 1);
    if (!s) return false;
    memcpy(s, b, n);
    *out = s;
    return true;
}

/* Bytes (BE32 length), pointing into the buffer read. */
static bool rd_bytes(reader *r, const uint8_t **out, size_t *len) {
    int32_t n;
    if (!rd_count(r, &n, 1) || !rd_take(r, (size_t)n, out)) return false;
    *len = (size_t)n;
    return true;
}
static bool rd_ids(reader *r, int32_t **out, int *n) {
    int32_t count;
    if (!rd_count(r, &count, 4)) return false;
    int32_t *ids = NULL;
    if (count) {
        ids = rd_alloc(r, (size_t)count * sizeof *ids);
        if (!ids) return false;
        for (int i = 0; i < count; i++) rd_i32(r, &ids[i]); /* in bounds: counted */
    }
    *out = ids;
    *n = count;
    return true;
}

static bool rd_configs(reader *r, char ***names, char ***values, int *n) {
    int32_t count;
    if (!rd_count(r, &count, 4)) return false; /* two string lengths each */
    *n = 0;
    *names = *values = NULL;
    if (!count) return true;
    if (!(*names = rd_alloc(r, (size_t)count * sizeof **names))) return false;
    if (!(*values = rd_alloc(r, (size_t)count * sizeof **values))) return false;
    for (; *n < count; (*n)++) {
        if (!rd_str(r, &(*names)[*n])) return false;
        if (!rd_str(r, &(*values)[*n])) {
            if (!r->s) free((*names)[*n]);
            return false;
        }
    }
    return true;
}

/* ---- writing: a growing buffer whose failure sticks, checked once ------------------ */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    bool failed;
} writer;

static uint8_t *w_reserve(writer *w, size_t n) {
    if (w->failed) return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = true;
            return NULL;
        }
        w->buf = b;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void w_u8(writer *w, uint8_t v) {
    uint8_t *p = w_reserve(w, 1);
    if (p) *p = v;
}

static void w_i32(writer *w, int32_t v) {
    uint8_t *p = w_reserve(w, 4);
    if (p) rn_key_put32(p, (uint32_t)v);
}

static void w_i64(writer *w, int64_t v) {
    uint8_t *p = w_reserve(w, 8);
    if (p) rn_key_put64(p, (uint64_t)v);
}

/* NULL writes "". Longer than 65535 bytes cannot be written: the writer fails. */
static void w_str(writer *w, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > 0xffff) {
        w->failed = true;
        return;
    }
    uint8_t *p = w_reserve(w, 2 + n);
    if (!p) return;
    p[0] = (uint8_t)(n >> 8);
    p[1] = (uint8_t)n;
    if (n) memcpy(p + 2, s, n);
}

static void w_bytes(writer *w, const uint8_t *p, size_t n) {
    if (n > INT32_MAX) {
        w->failed = true;
        return;
    }
    w_i32(w, (int32_t)n);
    uint8_t *at = w_reserve(w, n);
    if (at && n) memcpy(at, p, n);
}
static void w_ids(writer *w, const int32_t *ids, int n) {
    if (n < 0 || (n && !ids)) {
        w->failed = true;
        return;
    }
    w_i32(w, n);
    for (int i = 0; i < n; i++) w_i32(w, ids[i]);
}

static void w_configs(writer *w, const char *const *names, const char *const *values, int n) {
    if (n < 0 || (n && (!names || !values))) {
        w->failed = true;
        return;
    }
    w_i32(w, n);
    for (int i = 0; i < n; i++) {
        w_str(w, names[i]);
        w_str(w, values[i]);
    }
}

/* ---- the image's own memory --------------------------------------------------------- */

static int ids_dup(int32_t **out, const int32_t *ids, int n) {
    *out = NULL;
    if (n <= 0) return 0;
    if (!(*out = malloc((size_t)n * sizeof **out))) return -1;
    memcpy(*out, ids, (size_t)n * sizeof **out);
    return 0;
}

static void partition_free(rn_md_partition *p) {
    free(p->replicas);
    free(p->isr);
    free(p->adding);
    free(p->removing);
}

static void configs_free(char **names, char **values, int n) {
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(values[i]);
    }
    free(names);
    free(values);
}

static void topic_free(rn_md_topic *t) {
    free(t->name);
    for (int i = 0; i < t->npart; i++) partition_free(&t->parts[i]);
    free(t->parts);
    configs_free(t->config_names, t->config_values, t->nconfigs);
    memset(t, 0, sizeof *t);
}

/* Replace t's configs with copies of the given ones. -1: no memory, t unchanged. */
static int configs_set(rn_md_topic *t, const char *const *names, const char *const *values,
                       int n) {
    char **nn = calloc((size_t)(n > 0 ? n : 1), sizeof *nn);
    char **nv = calloc((size_t)(n > 0 ? n : 1), sizeof *nv);
    if (!nn || !nv) {
        free(nn);
        free(nv);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!(nn[i] = strdup(names[i] ? names[i] : "")) ||
            !(nv[i] = strdup(values[i] ? values[i] : ""))) {
            configs_free(nn, nv, n);
            return -1;
        }
    configs_free(t->config_names, t->config_values, t->nconfigs);
    t->config_names = nn;
    t->config_values = nv;
    t->nconfigs = n;
    return 0;
}

static int partition_copy(rn_md_partition *dst, const rn_md_partition *src) {
    *dst = *src;
    dst->replicas = dst->isr = dst->adding = dst->removing = NULL;
    if (ids_dup(&dst->replicas, src->replicas, src->nreplicas) ||
        ids_dup(&dst->isr, src->isr, src->nisr) ||
        ids_dup(&dst->adding, src->adding, src->nadding) ||
        ids_dup(&dst->removing, src->removing, src->nremoving)) {
        partition_free(dst);
        return -1;
    }
    return 0;
}

static int topic_clone(rn_md_topic *dst, const rn_md_topic *src) {
    memset(dst, 0, sizeof *dst);
    memcpy(dst->id, src->id, sizeof dst->id);
    if (!(dst->name = strdup(src->name))) goto err;
    if (configs_set(dst, (const char *const *)src->config_names,
                    (const char *const *)src->config_values, src->nconfigs))
        goto err;
    if (!(dst->parts = calloc((size_t)(src->npart > 0 ? src->npart : 1), sizeof *dst->parts)))
        goto err;
    for (; dst->npart < src->npart; dst->npart++)
        if (partition_copy(&dst->parts[dst->npart], &src->parts[dst->npart])) goto err;
    return 0;
err:
    topic_free(dst);
    return -1;
}

/* Index of broker id in a sorted list, or where it would go (*found false). */
static int broker_pos(const rn_md_broker *b, int n, int32_t id, bool *found) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (b[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && b[lo].id == id;
    return lo;
}

static int topic_pos(const rn_md_topic *t, int n, const char *name, bool *found) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(t[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && strcmp(t[lo].name, name) == 0;
    return lo;
}

/* ---- the draft an entry is applied to ---------------------------------------------- */

typedef struct {
    rn_md_broker *brokers;
    int nbrokers, capbrokers;
    rn_md_topic *topics;
    bool *owned; /* topics[i] was made by this draft (else it is the image's, shared) */
    int ntopics, captopics;
    bool nomem;
    char cluster_id[RN_MD_CLUSTER_ID_MAX + 1];
    rn_md_entry *entries; /* the image's until the first SET_ENTRY copies them */
    int nentries, capentries;
    bool entries_owned;
} draft;

static void entries_free(rn_md_entry *v, int n) {
    for (int i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

static int draft_begin(draft *d, const rn_metadata *md) {
    memset(d, 0, sizeof *d);
    d->capbrokers = md->nbrokers + 1;
    d->captopics = md->ntopics + 1;
    d->brokers = malloc((size_t)d->capbrokers * sizeof *d->brokers);
    d->topics = malloc((size_t)d->captopics * sizeof *d->topics);
    d->owned = calloc((size_t)d->captopics, sizeof *d->owned);
    if (!d->brokers || !d->topics || !d->owned) {
        free(d->brokers);
        free(d->topics);
        free(d->owned);
        return -1;
    }
    if (md->nbrokers) memcpy(d->brokers, md->brokers, (size_t)md->nbrokers * sizeof *d->brokers);
    if (md->ntopics) memcpy(d->topics, md->topics, (size_t)md->ntopics * sizeof *d->topics);
    d->nbrokers = md->nbrokers;
    d->ntopics = md->ntopics;
    memcpy(d->cluster_id, md->cluster_id, sizeof d->cluster_id);
    d->entries = md->entries;
    d->nentries = d->capentries = md->nentries;
    return 0;
}

static void draft_abort(draft *d) {
    for (int i = 0; i < d->ntopics; i++)
        if (d->owned[i]) topic_free(&d->topics[i]);
    free(d->brokers);
    free(d->topics);
    free(d->owned);
    if (d->entries_owned) entries_free(d->entries, d->nentries);
}

/* Install the draft: free the image's topics the draft no longer shares. */
static void draft_commit(draft *d, rn_metadata *md) {
    for (int i = 0; i < md->ntopics; i++) {
        bool found;
        int j = topic_pos(d->topics, d->ntopics, md->topics[i].name, &found);
        if (!found || d->owned[j]) topic_free(&md->topics[i]);
    }
    free(md->brokers);
    free(md->topics);
    free(d->owned);
    md->brokers = d->brokers;
    md->nbrokers = d->nbrokers;
    md->topics = d->topics;
    md->ntopics = d->ntopics;
    memcpy(md->cluster_id, d->cluster_id, sizeof md->cluster_id);
    if (d->entries_owned) {
        entries_free(md->entries, md->nentries);
        md->entries = d->entries;
        md->nentries = d->nentries;
    }
}

static rn_md_broker *draft_broker(draft *d, int32_t id) {
    bool found;
    int i = broker_pos(d->brokers, d->nbrokers, id, &found);
    return found ? &d->brokers[i] : NULL;
}

static int draft_topic_index(const draft *d, const char *name) {
    bool found;
    int i = topic_pos(d->topics, d->ntopics, name, &found);
    return found ? i : -1;
}

/* Topic i, made the draft's own so it may change. NULL: no memory (d->nomem). */
static rn_md_topic *draft_topic_mut(draft *d, int i) {
    if (!d->owned[i]) {
        rn_md_topic copy;
        if (topic_clone(&copy, &d->topics[i])) {
            d->nomem = true;
            return NULL;
        }
        d->topics[i] = copy;
        d->owned[i] = true;
    }
    return &d->topics[i];
}

static bool broker_unfenced(draft *d, int32_t id) {
    const rn_md_broker *b = draft_broker(d, id);
    return b && !b->fenced;
}

/* The first replica, in assignment order, that is in the ISR and unfenced. */
static int32_t elect_leader(draft *d, const rn_md_partition *p) {
    for (int i = 0; i < p->nreplicas; i++)
        if (rn_md_contains(p->isr, p->nisr, p->replicas[i]) && broker_unfenced(d, p->replicas[i]))
            return p->replicas[i];
    return RN_MD_NO_LEADER;
}

static void set_leader(rn_md_partition *p, int32_t leader) {
    if (p->leader != leader) {
        p->leader = leader;
        p->leader_epoch++;
    }
}

/* Offline partitions whose ISR holds broker id get it as leader. */
static rn_err elect_offline(draft *d, int32_t id) {
    for (int t = 0; t < d->ntopics; t++) {
        rn_md_topic *topic = &d->topics[t];
        for (int i = 0; i < topic->npart; i++) {
            const rn_md_partition *p = &topic->parts[i];
            if (p->leader != RN_MD_NO_LEADER || !rn_md_contains(p->isr, p->nisr, id)) continue;
            if (!(topic = draft_topic_mut(d, t))) return RN_ERR_NOMEM;
            set_leader(&topic->parts[i], id);
            topic->parts[i].partition_epoch++;
        }
    }
    return 0;
}

/* Replica lists for new partitions: non-empty, no broker twice, every broker registered. */
static rn_err check_assignments(draft *d, const rn_md_record *r, char *msg, size_t msglen) {
    for (int i = 0; i < r->npart; i++) {
        const int32_t *ids = r->assignments[i];
        int n = r->nreplicas[i];
        if (n < 1)
            return refuse(msg, msglen, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                          "Partition %d of topic %s has no replicas.", i, r->topic);
        if (has_duplicate(ids, n))
            return refuse(msg, msglen, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                          "Partition %d of topic %s names a broker twice.", i, r->topic);
        for (int j = 0; j < n; j++)
            if (!draft_broker(d, ids[j]))
                return refuse(msg, msglen, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                              "Broker %d (partition %d of topic %s) is not registered.", ids[j],
                              i, r->topic);
    }
    return 0;
}

/* Partitions first..first+r->npart of t from the record's assignments (t->parts has room). */
static rn_err add_partitions(draft *d, rn_md_topic *t, const rn_md_record *r) {
    for (int i = 0; i < r->npart; i++) {
        rn_md_partition *p = &t->parts[t->npart];
        memset(p, 0, sizeof *p);
        p->index = t->npart;
        if (ids_dup(&p->replicas, r->assignments[i], r->nreplicas[i]) ||
            ids_dup(&p->isr, r->assignments[i], r->nreplicas[i])) {
            partition_free(p);
            return RN_ERR_NOMEM;
        }
        p->nreplicas = p->nisr = r->nreplicas[i];
        p->leader = elect_leader(d, p);
        t->npart++;
    }
    return 0;
}

/* ---- the records: what each does to the draft ---------------------------------------- */

typedef rn_err (*apply_fn)(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                           size_t msglen);

static rn_err apply_register_broker(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                    size_t msglen) {
    if (r->broker_id < 0)
        return refuse(msg, msglen, RN_KAFKA_INVALID_REQUEST, "Broker id %d is negative.",
                      r->broker_id);
    if (strlen(r->host) > MAX_HOST || strlen(r->raft_host) > MAX_HOST)
        return refuse(msg, msglen, RN_KAFKA_INVALID_REQUEST, "Broker %d's host name is too long.",
                      r->broker_id);
    bool found;
    int i = broker_pos(d->brokers, d->nbrokers, r->broker_id, &found);
    if (!found) {
        if (d->nbrokers == d->capbrokers) {
            int cap = d->capbrokers * 2;
            rn_md_broker *b = realloc(d->brokers, (size_t)cap * sizeof *b);
            if (!b) return RN_ERR_NOMEM;
            d->brokers = b;
            d->capbrokers = cap;
        }
        memmove(&d->brokers[i + 1], &d->brokers[i], (size_t)(d->nbrokers - i) * sizeof *d->brokers);
        d->nbrokers++;
    }
    rn_md_broker *b = &d->brokers[i];
    memset(b, 0, sizeof *b);
    b->id = r->broker_id;
    snprintf(b->host, sizeof b->host, "%s", r->host);
    b->port = r->port;
    snprintf(b->raft_host, sizeof b->raft_host, "%s", r->raft_host);
    b->raft_port = r->raft_port;
    b->epoch = (int64_t)index;
    b->fenced = false;
    return elect_offline(d, r->broker_id);
}

/* Once: the id every broker gives clients in Metadata. */
static rn_err apply_set_cluster_id(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                   size_t msglen) {
    (void)index;
    size_t len = strlen(r->topic);
    if (len == 0 || len > RN_MD_CLUSTER_ID_MAX)
        return refuse(msg, msglen, RN_KAFKA_INVALID_REQUEST, "A cluster id has 1 to %d characters.",
                      RN_MD_CLUSTER_ID_MAX);
    if (d->cluster_id[0])
        return refuse(msg, msglen, RN_KAFKA_INVALID_REQUEST, "The cluster id is %s already.",
                      d->cluster_id);
    memcpy(d->cluster_id, r->topic, len + 1);
    return 0;
}

static rn_err apply_fence_broker(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                 size_t msglen) {
    rn_md_broker *b = draft_broker(d, r->broker_id);
    if (!b)
        return refuse(msg, msglen, RN_KAFKA_BROKER_NOT_AVAILABLE, "Broker %d is not registered.",
                      r->broker_id);
    b->fenced = true;
    int32_t id = r->broker_id;
    for (int t = 0; t < d->ntopics; t++) {
        rn_md_topic *topic = &d->topics[t];
        for (int i = 0; i < topic->npart; i++) {
            const rn_md_partition *p = &topic->parts[i];
            bool shrink = p->nisr > 1 && rn_md_contains(p->isr, p->nisr, id);
            if (!shrink && p->leader != id) continue;
            if (!(topic = draft_topic_mut(d, t))) return RN_ERR_NOMEM;
            rn_md_partition *mp = &topic->parts[i];
            if (shrink) {
                int k = 0;
                for (int j = 0; j < mp->nisr; j++)
                    if (mp->isr[j] != id) mp->isr[k++] = mp->isr[j];
                mp->nisr = k;
            }
            if (mp->leader == id) set_leader(mp, elect_leader(d, mp));
            mp->partition_epoch++;
        }
    }
    return 0;
}

static rn_err apply_unfence_broker(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                   size_t msglen) {
    rn_md_broker *b = draft_broker(d, r->broker_id);
    if (!b)
        return refuse(msg, msglen, RN_KAFKA_BROKER_NOT_AVAILABLE, "Broker %d is not registered.",
                      r->broker_id);
    b->fenced = false;
    return elect_offline(d, r->broker_id);
}

static rn_err apply_create_topic(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                 size_t msglen) {
    if (!r->topic[0])
        return refuse(msg, msglen, RN_KAFKA_INVALID_TOPIC_EXCEPTION, "The topic name is empty.");
    bool found;
    int at = topic_pos(d->topics, d->ntopics, r->topic, &found);
    if (found)
        return refuse(msg, msglen, RN_KAFKA_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.",
                      r->topic);
    if (r->npart < 1)
        return refuse(msg, msglen, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                      "Topic '%s' is given no partitions.", r->topic);
    rn_err err = check_assignments(d, r, msg, msglen);
    if (err) return err;
    if (d->ntopics == d->captopics) {
        int cap = d->captopics * 2;
        rn_md_topic *t = realloc(d->topics, (size_t)cap * sizeof *t);
        if (!t) return RN_ERR_NOMEM;
        d->topics = t;
        bool *o = realloc(d->owned, (size_t)cap * sizeof *o);
        if (!o) return RN_ERR_NOMEM;
        d->owned = o;
        d->captopics = cap;
    }
    rn_md_topic t = {0};
    memcpy(t.id, r->topic_id, sizeof t.id);
    if (!(t.name = strdup(r->topic)) ||
        configs_set(&t, r->config_names, r->config_values, r->nconfigs) ||
        !(t.parts = calloc((size_t)r->npart, sizeof *t.parts)) || add_partitions(d, &t, r)) {
        topic_free(&t);
        return RN_ERR_NOMEM;
    }
    memmove(&d->topics[at + 1], &d->topics[at], (size_t)(d->ntopics - at) * sizeof *d->topics);
    memmove(&d->owned[at + 1], &d->owned[at], (size_t)(d->ntopics - at) * sizeof *d->owned);
    d->topics[at] = t;
    d->owned[at] = true;
    d->ntopics++;
    return 0;
}

static rn_err unknown_topic(char *msg, size_t msglen, const char *topic) {
    return refuse(msg, msglen, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "Topic '%s' does not exist.",
                  topic);
}

static rn_err apply_delete_topic(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                 size_t msglen) {
    int at = draft_topic_index(d, r->topic);
    if (at < 0) return unknown_topic(msg, msglen, r->topic);
    if (d->owned[at]) topic_free(&d->topics[at]);
    d->ntopics--;
    memmove(&d->topics[at], &d->topics[at + 1], (size_t)(d->ntopics - at) * sizeof *d->topics);
    memmove(&d->owned[at], &d->owned[at + 1], (size_t)(d->ntopics - at) * sizeof *d->owned);
    return 0;
}

static rn_err apply_create_partitions(draft *d, const rn_md_record *r, uint64_t index,
                                      char *msg, size_t msglen) {
    int at = draft_topic_index(d, r->topic);
    if (at < 0) return unknown_topic(msg, msglen, r->topic);
    if (r->npart < 1)
        return refuse(msg, msglen, RN_KAFKA_INVALID_PARTITIONS,
                      "No partitions given to add to topic '%s'.", r->topic);
    rn_err err = check_assignments(d, r, msg, msglen);
    if (err) return err;
    rn_md_topic *t = draft_topic_mut(d, at);
    if (!t) return RN_ERR_NOMEM;
    rn_md_partition *parts = realloc(t->parts, (size_t)(t->npart + r->npart) * sizeof *parts);
    if (!parts) return RN_ERR_NOMEM;
    t->parts = parts;
    return add_partitions(d, t, r);
}

static rn_err apply_set_topic_configs(draft *d, const rn_md_record *r, uint64_t index,
                                      char *msg, size_t msglen) {
    int at = draft_topic_index(d, r->topic);
    if (at < 0) return unknown_topic(msg, msglen, r->topic);
    rn_md_topic *t = draft_topic_mut(d, at);
    if (!t || configs_set(t, r->config_names, r->config_values, r->nconfigs)) return RN_ERR_NOMEM;
    return 0;
}

/* The checks of a PARTITION_CHANGE against partition p, before anything changes. */
static rn_err check_partition_change(draft *d, const rn_md_record *r, const rn_md_partition *p,
                                     char *msg, size_t msglen) {
    const char *t = r->topic;
    int32_t i = r->partition;
    if (r->expect_partition_epoch != -1 && r->expect_partition_epoch != p->partition_epoch)
        return refuse(msg, msglen, RN_KAFKA_INVALID_UPDATE_VERSION,
                      "%s-%d is at partition epoch %d, not %d.", t, i, p->partition_epoch,
                      r->expect_partition_epoch);
    const int32_t *replicas = p->replicas;
    int nreplicas = p->nreplicas;
    if (r->set_replicas) {
        replicas = r->replicas;
        nreplicas = r->nreplicas_new;
        bool bad = nreplicas < 1 || has_duplicate(replicas, nreplicas) ||
                   has_duplicate(r->adding, r->nadding) ||
                   has_duplicate(r->removing, r->nremoving);
        for (int j = 0; !bad && j < nreplicas; j++) bad = !draft_broker(d, replicas[j]);
        for (int j = 0; !bad && j < r->nadding; j++)
            bad = !rn_md_contains(replicas, nreplicas, r->adding[j]) ||
                  rn_md_contains(r->removing, r->nremoving, r->adding[j]);
        for (int j = 0; !bad && j < r->nremoving; j++)
            bad = !rn_md_contains(replicas, nreplicas, r->removing[j]);
        if (bad)
            return refuse(msg, msglen, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT,
                          "The new replicas of %s-%d are not a valid assignment.", t, i);
    }
    if (r->set_isr) {
        if (r->nisr < 1 || has_duplicate(r->isr, r->nisr))
            return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                          "The new ISR of %s-%d is empty or names a broker twice.", t, i);
        for (int j = 0; j < r->nisr; j++) {
            int32_t id = r->isr[j];
            if (!rn_md_contains(replicas, nreplicas, id))
                return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                              "Broker %d is not a replica of %s-%d.", id, t, i);
            if (!broker_unfenced(d, id) && !rn_md_contains(p->isr, p->nisr, id))
                return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                              "Broker %d is fenced and cannot join the ISR of %s-%d.", id, t, i);
        }
    } else if (r->set_replicas) {
        bool any = false;
        for (int j = 0; j < p->nisr && !any; j++) any = rn_md_contains(replicas, nreplicas, p->isr[j]);
        if (!any)
            return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                          "No member of the ISR of %s-%d stays a replica.", t, i);
    }
    if (r->set_leader && r->leader != RN_MD_NO_LEADER) {
        const int32_t *isr = r->set_isr ? r->isr : p->isr;
        int nisr = r->set_isr ? r->nisr : p->nisr;
        if (!rn_md_contains(isr, nisr, r->leader) ||
            (r->set_replicas && !rn_md_contains(replicas, nreplicas, r->leader)))
            return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                          "Broker %d is not in the ISR of %s-%d.", r->leader, t, i);
        if (!broker_unfenced(d, r->leader))
            return refuse(msg, msglen, RN_KAFKA_INELIGIBLE_REPLICA,
                          "Broker %d is fenced and cannot lead %s-%d.", r->leader, t, i);
    }
    return 0;
}

static rn_err apply_partition_change(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                                     size_t msglen) {
    int at = draft_topic_index(d, r->topic);
    if (at < 0) return unknown_topic(msg, msglen, r->topic);
    if (r->partition < 0 || r->partition >= d->topics[at].npart)
        return refuse(msg, msglen, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
                      "Topic '%s' has no partition %d.", r->topic, r->partition);
    rn_err err = check_partition_change(d, r, &d->topics[at].parts[r->partition], msg, msglen);
    if (err) return err;
    rn_md_topic *t = draft_topic_mut(d, at);
    if (!t) return RN_ERR_NOMEM;
    rn_md_partition *p = &t->parts[r->partition], next = *p;
    next.replicas = next.isr = next.adding = next.removing = NULL;
    if (r->set_replicas) {
        if (ids_dup(&next.replicas, r->replicas, r->nreplicas_new) ||
            ids_dup(&next.adding, r->adding, r->nadding) ||
            ids_dup(&next.removing, r->removing, r->nremoving))
            goto nomem;
        next.nreplicas = r->nreplicas_new;
        next.nadding = r->nadding;
        next.nremoving = r->nremoving;
    } else if (partition_copy(&next, p)) {
        return RN_ERR_NOMEM;
    } else {
        free(next.isr); /* replaced below */
        next.isr = NULL;
    }
    if (r->set_isr) {
        if (ids_dup(&next.isr, r->isr, r->nisr)) goto nomem;
        next.nisr = r->nisr;
    } else {
        /* The ISR stays, less any broker that is no longer a replica. */
        if (ids_dup(&next.isr, p->isr, p->nisr)) goto nomem;
        int k = 0;
        for (int j = 0; j < p->nisr; j++)
            if (rn_md_contains(next.replicas, next.nreplicas, p->isr[j])) next.isr[k++] = p->isr[j];
        next.nisr = k;
    }
    if (r->set_leader)
        set_leader(&next, r->leader);
    else if (next.leader != RN_MD_NO_LEADER && !rn_md_contains(next.isr, next.nisr, next.leader))
        set_leader(&next, elect_leader(d, &next)); /* the leader left the ISR */
    next.partition_epoch++;
    partition_free(p);
    *p = next;
    return 0;
nomem:
    partition_free(&next);
    return RN_ERR_NOMEM;
}

/* ---- the records on the wire ---------------------------------------------------------- */

/* Bodies, after the type and length (see rn_md_encode); str is BE16 length + bytes,
 * ids is BE32 count + BE32 each, configs is BE32 count + (name str, value str) each,
 * assignments is BE32 npart + ids each:
 *
 *   REGISTER_BROKER    broker_id BE32 | host str | port BE32 | raft_host str | raft_port BE32
 *   FENCE_BROKER       broker_id BE32
 *   UNFENCE_BROKER     broker_id BE32
 *   CREATE_TOPIC       topic str | topic_id 16 bytes | configs | assignments
 *   DELETE_TOPIC       topic str
 *   CREATE_PARTITIONS  topic str | assignments
 *   SET_TOPIC_CONFIGS  topic str | configs
 *   PARTITION_CHANGE   topic str | partition BE32 | expect_partition_epoch BE32 | flags u8
 *                      (1 leader, 2 isr, 4 replicas) | [leader BE32] | [isr ids]
 *                      | [replicas ids | adding ids | removing ids]
 *   SET_CLUSTER_ID     cluster id str (in the topic field)
 */
enum { F_BROKER = 1, F_HOSTS = 2, F_TOPIC = 4, F_TOPIC_ID = 8, F_CONFIGS = 16, F_ASSIGN = 32,
       F_CHANGE = 64, F_ENTRY = 128 };
enum { CHANGE_LEADER = 1, CHANGE_ISR = 2, CHANGE_REPLICAS = 4 };

/* ---- access entries ------------------------------------------------------------------- */

static int entry_cmp(uint8_t kind, const uint8_t *key, size_t len, const rn_md_entry *e) {
    if (kind != e->kind) return kind < e->kind ? -1 : 1;
    size_t n = len < e->key_len ? len : e->key_len;
    int c = n ? memcmp(key, e->key, n) : 0;
    if (c) return c;
    return len < e->key_len ? -1 : len > e->key_len;
}

/* Where (kind, key) is, or would go. */
static int entry_pos(const rn_md_entry *v, int n, uint8_t kind, const uint8_t *key, size_t len,
                     bool *found) {
    int lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = entry_cmp(kind, key, len, &v[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static uint8_t *bytes_dup(const uint8_t *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    if (c && n) memcpy(c, p, n);
    return c;
}

/* The draft's own copy of the entries, with room for one more. */
static int draft_own_entries(draft *d) {
    if (d->entries_owned) {
        if (d->nentries < d->capentries) return 0;
        int cap = d->capentries * 2 + 8;
        rn_md_entry *v = realloc(d->entries, (size_t)cap * sizeof *v);
        if (!v) return -1;
        d->entries = v;
        d->capentries = cap;
        return 0;
    }
    int cap = d->nentries + 8;
    rn_md_entry *v = calloc((size_t)cap, sizeof *v);
    if (!v) return -1;
    for (int i = 0; i < d->nentries; i++) {
        const rn_md_entry *e = &d->entries[i];
        v[i] = (rn_md_entry){e->kind, bytes_dup(e->key, e->key_len),
                             e->value ? bytes_dup(e->value, e->value_len) : NULL, e->key_len,
                             e->value_len};
        if (!v[i].key || (e->value && !v[i].value)) {
            entries_free(v, i + 1);
            return -1;
        }
    }
    d->entries = v;
    d->capentries = cap;
    d->entries_owned = true;
    return 0;
}

static rn_err apply_set_entry(draft *d, const rn_md_record *r, uint64_t index, char *msg,
                              size_t msglen) {
    (void)index;
    if ((r->entry_kind != RN_MD_ENTRY_ACL && r->entry_kind != RN_MD_ENTRY_SCRAM) ||
        r->entry_key_len == 0)
        return refuse(msg, msglen, RN_KAFKA_INVALID_REQUEST,
                      "An access entry needs a known kind and a key.");
    bool found;
    int pos = entry_pos(d->entries, d->nentries, r->entry_kind, r->entry_key, r->entry_key_len,
                        &found);
    if (draft_own_entries(d)) return RN_ERR_NOMEM;
    rn_md_entry *e = &d->entries[pos];
    uint8_t *value = r->entry_remove ? NULL : bytes_dup(r->entry_value, r->entry_value_len);
    uint8_t *key = found ? NULL : bytes_dup(r->entry_key, r->entry_key_len);
    if ((!value && !r->entry_remove) || (!found && !key)) {
        free(value);
        free(key);
        return RN_ERR_NOMEM;
    }
    if (found) {
        free(e->value);
    } else {
        memmove(e + 1, e, (size_t)(d->nentries - pos) * sizeof *e);
        d->nentries++;
        e->kind = r->entry_kind;
        e->key = key;
        e->key_len = r->entry_key_len;
    }
    e->value = value;
    e->value_len = value ? r->entry_value_len : 0;
    return 0;
}

const rn_md_entry *rn_md_entries(const rn_metadata *md, uint8_t kind, int *n) {
    int lo = 0;
    while (lo < md->nentries && md->entries[lo].kind < kind) lo++;
    int hi = lo;
    while (hi < md->nentries && md->entries[hi].kind == kind) hi++;
    *n = hi - lo;
    return md->entries + lo;
}

static const struct {
    const char *name;
    unsigned fields; /* the body, in the order of the F_ bits */
    apply_fn apply;
} record_types[] = {
    [RN_MD_REGISTER_BROKER] = {"REGISTER_BROKER", F_BROKER | F_HOSTS, apply_register_broker},
    [RN_MD_FENCE_BROKER] = {"FENCE_BROKER", F_BROKER, apply_fence_broker},
    [RN_MD_UNFENCE_BROKER] = {"UNFENCE_BROKER", F_BROKER, apply_unfence_broker},
    [RN_MD_CREATE_TOPIC] = {"CREATE_TOPIC", F_TOPIC | F_TOPIC_ID | F_CONFIGS | F_ASSIGN,
                            apply_create_topic},
    [RN_MD_DELETE_TOPIC] = {"DELETE_TOPIC", F_TOPIC, apply_delete_topic},
    [RN_MD_CREATE_PARTITIONS] = {"CREATE_PARTITIONS", F_TOPIC | F_ASSIGN, apply_create_partitions},
    [RN_MD_SET_TOPIC_CONFIGS] = {"SET_TOPIC_CONFIGS", F_TOPIC | F_CONFIGS, apply_set_topic_configs},
    [RN_MD_PARTITION_CHANGE] = {"PARTITION_CHANGE", F_TOPIC | F_CHANGE, apply_partition_change},
    [RN_MD_SET_CLUSTER_ID] = {"SET_CLUSTER_ID", F_TOPIC, apply_set_cluster_id},
    [RN_MD_SET_ENTRY] = {"SET_ENTRY", F_ENTRY, apply_set_entry},
};
#define NTYPES ((int)(sizeof record_types / sizeof record_types[0]))

static bool known_type(int type) { return type > 0 && type < NTYPES && record_types[type].apply; }

static void encode_record(writer *w, const rn_md_record *r) {
    unsigned f = record_types[r->type].fields;
    if (f & F_BROKER) w_i32(w, r->broker_id);
    if (f & F_HOSTS) {
        w_str(w, r->host);
        w_i32(w, r->port);
        w_str(w, r->raft_host);
        w_i32(w, r->raft_port);
    }
    if (f & F_TOPIC) w_str(w, r->topic);
    if (f & F_TOPIC_ID) {
        uint8_t *p = w_reserve(w, 16);
        if (p) memcpy(p, r->topic_id, 16);
    }
    if (f & F_CONFIGS) w_configs(w, r->config_names, r->config_values, r->nconfigs);
    if (f & F_ASSIGN) {
        if (r->npart < 0 || (r->npart && (!r->assignments || !r->nreplicas))) {
            w->failed = true;
            return;
        }
        w_i32(w, r->npart);
        for (int i = 0; i < r->npart; i++) w_ids(w, r->assignments[i], r->nreplicas[i]);
    }
    if (f & F_CHANGE) {
        w_i32(w, r->partition);
        w_i32(w, r->expect_partition_epoch);
        w_u8(w, (uint8_t)((r->set_leader ? CHANGE_LEADER : 0) | (r->set_isr ? CHANGE_ISR : 0) |
                          (r->set_replicas ? CHANGE_REPLICAS : 0)));
        if (r->set_leader) w_i32(w, r->leader);
        if (r->set_isr) w_ids(w, r->isr, r->nisr);
        if (r->set_replicas) {
            w_ids(w, r->replicas, r->nreplicas_new);
            w_ids(w, r->adding, r->nadding);
            w_ids(w, r->removing, r->nremoving);
        }
    }
    if (f & F_ENTRY) {
        w_u8(w, r->entry_kind);
        w_u8(w, r->entry_remove);
        w_bytes(w, r->entry_key, r->entry_key_len);
        if (!r->entry_remove) w_bytes(w, r->entry_value, r->entry_value_len);
    }
}

/* An entry:
 *
 *   +--------+----------+---------------------------------------------------------+
 *   | format | nrecords | record ... (nrecords times)                              |
 *   | u8 = 1 | BE32     |                                                         |
 *   +--------+----------+---------------------------------------------------------+
 *
 * A record:
 *
 *   +--------+----------+---------------------------------------------------------+
 *   | type   | body len | body (per type, above record_types)                     |
 *   | u8     | BE32     | exactly body len bytes                                  |
 *   +--------+----------+---------------------------------------------------------+
 */
uint8_t *rn_md_encode(const rn_md_record *records, int n, size_t *len) {
    writer w = {0};
    if (n < 0 || (n && !records)) return NULL;
    w_u8(&w, ENTRY_FORMAT);
    w_i32(&w, n);
    for (int i = 0; i < n && !w.failed; i++) {
        if (!known_type(records[i].type)) {
            w.failed = true;
            break;
        }
        w_u8(&w, (uint8_t)records[i].type);
        size_t at = w.len;
        w_i32(&w, 0); /* the body length, filled in below */
        encode_record(&w, &records[i]);
        if (!w.failed) rn_key_put32(w.buf + at, (uint32_t)(w.len - at - 4));
    }
    if (w.failed) {
        free(w.buf);
        return NULL;
    }
    *len = w.len;
    return w.buf;
}

/* One record's body, exactly all of r. Strings and arrays go to r->s. */
static bool decode_record(reader *r, rn_md_record *rec) {
    unsigned f = record_types[rec->type].fields;
    char *s;
    if (f & F_BROKER) R(r, rd_i32(r, &rec->broker_id));
    if (f & F_HOSTS) {
        R(r, rd_str(r, &s));
        rec->host = s;
        R(r, rd_i32(r, &rec->port));
        R(r, rd_str(r, &s));
        rec->raft_host = s;
        R(r, rd_i32(r, &rec->raft_port));
    }
    if (f & F_TOPIC) {
        R(r, rd_str(r, &s));
        rec->topic = s;
    }
    if (f & F_TOPIC_ID) {
        const uint8_t *id;
        R(r, rd_take(r, 16, &id));
        memcpy(rec->topic_id, id, 16);
    }
    if (f & F_CONFIGS) {
        char **names, **values;
        R(r, rd_configs(r, &names, &values, &rec->nconfigs));
        rec->config_names = (const char *const *)names;
        rec->config_values = (const char *const *)values;
    }
    if (f & F_ASSIGN) {
        R(r, rd_count(r, &rec->npart, 4));
        int32_t **assignments = rd_alloc(r, (size_t)rec->npart * sizeof *assignments);
        int *nreplicas = rd_alloc(r, (size_t)rec->npart * sizeof *nreplicas);
        R(r, assignments && nreplicas);
        for (int i = 0; i < rec->npart; i++) R(r, rd_ids(r, &assignments[i], &nreplicas[i]));
        rec->assignments = (const int32_t *const *)assignments;
        rec->nreplicas = nreplicas;
    }
    if (f & F_CHANGE) {
        uint8_t flags;
        int32_t *ids[4];
        R(r, rd_i32(r, &rec->partition));
        R(r, rd_i32(r, &rec->expect_partition_epoch));
        R(r, rd_u8(r, &flags) && !(flags & ~(CHANGE_LEADER | CHANGE_ISR | CHANGE_REPLICAS)));
        rec->set_leader = flags & CHANGE_LEADER;
        rec->set_isr = flags & CHANGE_ISR;
        rec->set_replicas = flags & CHANGE_REPLICAS;
        if (rec->set_leader) R(r, rd_i32(r, &rec->leader));
        if (rec->set_isr) {
            R(r, rd_ids(r, &ids[0], &rec->nisr));
            rec->isr = ids[0];
        }
        if (rec->set_replicas) {
            R(r, rd_ids(r, &ids[1], &rec->nreplicas_new));
            R(r, rd_ids(r, &ids[2], &rec->nadding));
            R(r, rd_ids(r, &ids[3], &rec->nremoving));
            rec->replicas = ids[1];
            rec->adding = ids[2];
            rec->removing = ids[3];
        }
    }
    if (f & F_ENTRY) {
        R(r, rd_u8(r, &rec->entry_kind));
        R(r, rd_bool(r, &rec->entry_remove));
        R(r, rd_bytes(r, &rec->entry_key, &rec->entry_key_len));
        if (!rec->entry_remove) R(r, rd_bytes(r, &rec->entry_value, &rec->entry_value_len));
    }
    R(r, rd_left(r) == 0);
    return true;
err_parse:
    return false;
}

/* The records of an entry, in s. RN_KAFKA_CORRUPT_MESSAGE (with where, in msg) or
 * RN_ERR_NOMEM. */
static rn_err decode_entry(const uint8_t *buf, size_t len, scratch *s, rn_md_record **out,
                           int *n, char *msg, size_t msglen) {
    reader r = {.start = buf, .p = buf, .end = buf + len, .s = s};
    reader body = {0};
    uint8_t format, type;
    int32_t count, blen;
    rn_md_record *recs = NULL;
    R(&r, buf != NULL);
    R(&r, rd_u8(&r, &format) && format == ENTRY_FORMAT);
    R(&r, rd_count(&r, &count, 5));
    R(&r, (recs = rd_alloc(&r, (size_t)count * sizeof *recs)) != NULL);
    for (int i = 0; i < count; i++) {
        R(&r, rd_u8(&r, &type) && known_type(type));
        R(&r, rd_i32(&r, &blen) && blen >= 0 && (size_t)blen <= rd_left(&r));
        body = (reader){.start = buf, .p = r.p, .end = r.p + blen, .s = s};
        r.p += blen;
        recs[i].type = (enum rn_md_record_type)type;
        recs[i].expect_partition_epoch = -1;
        if (!decode_record(&body, &recs[i])) {
            r.fail_line = body.fail_line;
            r.nomem = body.nomem;
            r.p = body.p;
            goto err_parse;
        }
    }
    R(&r, rd_left(&r) == 0);
    *out = recs;
    *n = count;
    return 0;
err_parse:
    if (r.nomem) return RN_ERR_NOMEM;
    return refuse(msg, msglen, RN_KAFKA_CORRUPT_MESSAGE,
                  "The metadata entry does not decode (offset %zu of %zu, metadata.c:%d).",
                  buf ? (size_t)(r.p - buf) : 0, len, r.fail_line);
}

/* ---- the image --------------------------------------------------------------------- */

rn_metadata *rn_md_new(void) {
    rn_metadata *md = calloc(1, sizeof *md);
    if (!md) return NULL;
    if (pthread_rwlock_init(&md->lock, NULL)) {
        free(md);
        return NULL;
    }
    return md;
}

static void image_clear(rn_md_broker *brokers, rn_md_topic *topics, int ntopics) {
    for (int i = 0; i < ntopics; i++) topic_free(&topics[i]);
    free(topics);
    free(brokers);
}

void rn_md_free(rn_metadata *md) {
    if (!md) return;
    image_clear(md->brokers, md->topics, md->ntopics);
    entries_free(md->entries, md->nentries);
    pthread_rwlock_destroy(&md->lock);
    free(md);
}

rn_err rn_md_apply(rn_metadata *md, uint64_t index, const uint8_t *entry, size_t len, char *msg,
                   size_t msglen) {
    if (msg && msglen) msg[0] = '\0';
    scratch s = {0};
    rn_md_record *recs = NULL;
    int n = 0;
    rn_err err = decode_entry(entry, len, &s, &recs, &n, msg, msglen);
    pthread_rwlock_wrlock(&md->lock);
    draft d;
    if (!err && draft_begin(&d, md)) err = RN_ERR_NOMEM;
    if (!err) {
        for (int i = 0; i < n && !err; i++) {
            err = record_types[recs[i].type].apply(&d, &recs[i], index, msg, msglen);
            if (!err && d.nomem) err = RN_ERR_NOMEM;
        }
        if (err) {
            draft_abort(&d);
        } else {
            draft_commit(&d, md);
            md->version++;
        }
    }
    /* A refused entry is still applied (as nothing): every broker refuses it alike. */
    if (err != RN_ERR_NOMEM) md->applied_index = index;
    pthread_rwlock_unlock(&md->lock);
    scratch_free(&s);
    if (err == RN_ERR_NOMEM) refuse(msg, msglen, err, "Out of memory applying a metadata entry.");
    return err;
}

/* ---- snapshots ----------------------------------------------------------------------- */

/* A snapshot (str, ids and configs as in entries):
 *
 *   +--------+----------+---------------+----------+-----------+---------+----------+
 *   | format | version  | applied index | cluster id | nbrokers | broker... | ntopics | topic... |
 *   | u8 = 3 | BE64     | BE64          | str        | BE32     |           | BE32    |          |
 *   +--------+----------+---------------+----------+-----------+---------+----------+
 *   then (format 3)  nentries BE32 | entry...
 *
 *   entry      kind u8 | key bytes | present u8 | [value bytes]
 *              (bytes: BE32 length, then the bytes; not present: a removed entry)
 *
 *   broker     id BE32 | host str | port BE32 | raft_host str | raft_port BE32
 *              | epoch BE64 | fenced u8
 *   topic      name str | id 16 bytes | configs | npart BE32 | partition...
 *   partition  index BE32 | leader BE32 | leader_epoch BE32 | partition_epoch BE32
 *              | replicas ids | isr ids | adding ids | removing ids
 */
uint8_t *rn_md_snapshot(rn_metadata *md, size_t *len) {
    writer w = {0};
    pthread_rwlock_rdlock(&md->lock);
    w_u8(&w, SNAPSHOT_FORMAT);
    w_i64(&w, (int64_t)md->version);
    w_i64(&w, (int64_t)md->applied_index);
    w_str(&w, md->cluster_id);
    w_i32(&w, md->nbrokers);
    for (int i = 0; i < md->nbrokers; i++) {
        const rn_md_broker *b = &md->brokers[i];
        w_i32(&w, b->id);
        w_str(&w, b->host);
        w_i32(&w, b->port);
        w_str(&w, b->raft_host);
        w_i32(&w, b->raft_port);
        w_i64(&w, b->epoch);
        w_u8(&w, b->fenced);
    }
    w_i32(&w, md->ntopics);
    for (int i = 0; i < md->ntopics; i++) {
        const rn_md_topic *t = &md->topics[i];
        w_str(&w, t->name);
        uint8_t *p = w_reserve(&w, 16);
        if (p) memcpy(p, t->id, 16);
        w_configs(&w, (const char *const *)t->config_names, (const char *const *)t->config_values,
                  t->nconfigs);
        w_i32(&w, t->npart);
        for (int j = 0; j < t->npart; j++) {
            const rn_md_partition *pt = &t->parts[j];
            w_i32(&w, pt->index);
            w_i32(&w, pt->leader);
            w_i32(&w, pt->leader_epoch);
            w_i32(&w, pt->partition_epoch);
            w_ids(&w, pt->replicas, pt->nreplicas);
            w_ids(&w, pt->isr, pt->nisr);
            w_ids(&w, pt->adding, pt->nadding);
            w_ids(&w, pt->removing, pt->nremoving);
        }
    }
    w_i32(&w, md->nentries);
    for (int i = 0; i < md->nentries; i++) {
        w_u8(&w, md->entries[i].kind);
        w_bytes(&w, md->entries[i].key, md->entries[i].key_len);
        w_u8(&w, md->entries[i].value != NULL);
        if (md->entries[i].value) w_bytes(&w, md->entries[i].value, md->entries[i].value_len);
    }
    pthread_rwlock_unlock(&md->lock);
    if (w.failed) {
        free(w.buf);
        return NULL;
    }
    *len = w.len;
    return w.buf;
}

static bool restore_topic(reader *r, rn_md_topic *t) {
    const uint8_t *id;
    int32_t npart;
    R(r, rd_str(r, &t->name));
    R(r, rd_take(r, 16, &id));
    memcpy(t->id, id, 16);
    R(r, rd_configs(r, &t->config_names, &t->config_values, &t->nconfigs));
    R(r, rd_count(r, &npart, 32)); /* four ints and four counts */
    R(r, (t->parts = rd_alloc(r, (size_t)npart * sizeof *t->parts)) != NULL);
    t->npart = npart; /* zeroed: topic_free frees whatever was read */
    for (int i = 0; i < npart; i++) {
        rn_md_partition *p = &t->parts[i];
        R(r, rd_i32(r, &p->index) && p->index == i);
        R(r, rd_i32(r, &p->leader));
        R(r, rd_i32(r, &p->leader_epoch));
        R(r, rd_i32(r, &p->partition_epoch));
        R(r, rd_ids(r, &p->replicas, &p->nreplicas));
        R(r, rd_ids(r, &p->isr, &p->nisr));
        R(r, rd_ids(r, &p->adding, &p->nadding));
        R(r, rd_ids(r, &p->removing, &p->nremoving));
    }
    return true;
err_parse:
    return false;
}

rn_err rn_md_restore(rn_metadata *md, const uint8_t *buf, size_t len) {
    reader r = {.start = buf, .p = buf, .end = buf + len};
    uint8_t format;
    int64_t version, applied;
    int32_t nbrokers = 0, ntopics = 0, nt = 0, nentries = 0, ne = 0;
    rn_md_broker *brokers = NULL;
    rn_md_topic *topics = NULL;
    rn_md_entry *entries = NULL;
    char *s;
    char cluster_id[RN_MD_CLUSTER_ID_MAX + 1];
    R(&r, buf != NULL);
    R(&r, rd_u8(&r, &format) && (format == 2 || format == SNAPSHOT_FORMAT));
    R(&r, rd_i64(&r, &version));
    R(&r, rd_i64(&r, &applied));
    R(&r, rd_str(&r, &s));
    bool id_fits = strlen(s) <= RN_MD_CLUSTER_ID_MAX;
    if (id_fits) snprintf(cluster_id, sizeof cluster_id, "%s", s);
    free(s);
    R(&r, id_fits);
    R(&r, rd_count(&r, &nbrokers, 25));
    R(&r, (brokers = rd_alloc(&r, (size_t)nbrokers * sizeof *brokers)) != NULL);
    for (int i = 0; i < nbrokers; i++) {
        rn_md_broker *b = &brokers[i];
        R(&r, rd_i32(&r, &b->id) && (i == 0 || b->id > brokers[i - 1].id));
        R(&r, rd_str(&r, &s));
        bool fits = strlen(s) <= MAX_HOST;
        if (fits) snprintf(b->host, sizeof b->host, "%s", s);
        free(s);
        R(&r, fits);
        R(&r, rd_i32(&r, &b->port));
        R(&r, rd_str(&r, &s));
        fits = strlen(s) <= MAX_HOST;
        if (fits) snprintf(b->raft_host, sizeof b->raft_host, "%s", s);
        free(s);
        R(&r, fits);
        R(&r, rd_i32(&r, &b->raft_port));
        R(&r, rd_i64(&r, &b->epoch));
        R(&r, rd_bool(&r, &b->fenced));
    }
    R(&r, rd_count(&r, &ntopics, 26));
    R(&r, (topics = rd_alloc(&r, (size_t)ntopics * sizeof *topics)) != NULL);
    for (; nt < ntopics;) {
        bool ok = restore_topic(&r, &topics[nt]);
        nt++;
        R(&r, ok);
        R(&r, nt == 1 || strcmp(topics[nt - 2].name, topics[nt - 1].name) < 0);
    }
    if (format >= 3) {
        R(&r, rd_count(&r, &nentries, 7));
        R(&r, (entries = rd_alloc(&r, (size_t)nentries * sizeof *entries)) != NULL);
        for (; ne < nentries; ne++) {
            rn_md_entry *e = &entries[ne];
            const uint8_t *key, *value = NULL;
            bool present;
            R(&r, rd_u8(&r, &e->kind));
            R(&r, rd_bytes(&r, &key, &e->key_len) && e->key_len > 0);
            R(&r, rd_bool(&r, &present));
            if (present) R(&r, rd_bytes(&r, &value, &e->value_len));
            R(&r, ne == 0 || entry_cmp(e->kind, key, e->key_len, &entries[ne - 1]) > 0);
            e->key = bytes_dup(key, e->key_len);
            e->value = present ? bytes_dup(value, e->value_len) : NULL;
            R(&r, e->key && (!present || e->value));
        }
    }
    R(&r, rd_left(&r) == 0);

    pthread_rwlock_wrlock(&md->lock);
    image_clear(md->brokers, md->topics, md->ntopics);
    md->brokers = brokers;
    md->nbrokers = nbrokers;
    md->topics = topics;
    md->ntopics = ntopics;
    entries_free(md->entries, md->nentries);
    md->entries = entries;
    md->nentries = nentries;
    md->version = (uint64_t)version;
    md->applied_index = (uint64_t)applied;
    memcpy(md->cluster_id, cluster_id, sizeof md->cluster_id);
    pthread_rwlock_unlock(&md->lock);
    return 0;
err_parse:
    image_clear(brokers, topics, nt);
    if (entries) entries_free(entries, ne < nentries ? ne + 1 : ne);
    return r.nomem ? RN_ERR_NOMEM : RN_KAFKA_CORRUPT_MESSAGE;
}

/* ---- reading the image ----------------------------------------------------------------- */

void rn_md_read_lock(rn_metadata *md) { pthread_rwlock_rdlock(&md->lock); }
void rn_md_read_unlock(rn_metadata *md) { pthread_rwlock_unlock(&md->lock); }
uint64_t rn_md_version(const rn_metadata *md) { return md->version; }
uint64_t rn_md_applied_index(const rn_metadata *md) { return md->applied_index; }
const char *rn_md_cluster_id(const rn_metadata *md) { return md->cluster_id; }

const rn_md_broker *rn_md_brokers(const rn_metadata *md, int *n) {
    *n = md->nbrokers;
    return md->brokers;
}

const rn_md_broker *rn_md_broker_get(const rn_metadata *md, int32_t id) {
    bool found;
    int i = broker_pos(md->brokers, md->nbrokers, id, &found);
    return found ? &md->brokers[i] : NULL;
}

const rn_md_topic *rn_md_topics(const rn_metadata *md, int *n) {
    *n = md->ntopics;
    return md->topics;
}

const rn_md_topic *rn_md_topic_get(const rn_metadata *md, const char *name) {
    bool found;
    int i = topic_pos(md->topics, md->ntopics, name, &found);
    return found ? &md->topics[i] : NULL;
}

const rn_md_partition *rn_md_partition_get(const rn_metadata *md, const char *topic,
                                           int32_t index) {
    const rn_md_topic *t = rn_md_topic(md, topic);
    return t && index >= 0 && index < t->npart ? &t->parts[index] : NULL;
}

/* Kafka's rack-unaware placement, made deterministic: the first replica of absolute
 * partition p is unfenced[(start + p) % n]; the others follow it at a shift that grows by
 * one every n partitions, so followers spread too. start is the topic count, so successive
 * topics begin on different brokers. */
rn_err rn_md_assign_replicas(const rn_metadata *md, int32_t first_index, int32_t npart, int rf,
                             int32_t *out) {
    int n = 0;
    for (int i = 0; i < md->nbrokers; i++) n += !md->brokers[i].fenced;
    if (rf < 1 || rf > n) return RN_KAFKA_INVALID_REPLICATION_FACTOR;
    int32_t *unfenced = malloc((size_t)n * sizeof *unfenced);
    if (!unfenced) return RN_ERR_NOMEM;
    for (int i = 0, k = 0; i < md->nbrokers; i++)
        if (!md->brokers[i].fenced) unfenced[k++] = md->brokers[i].id;
    int start = md->ntopics % n;
    for (int32_t i = 0; i < npart; i++) {
        int64_t p = (int64_t)first_index + i;
        int first = (int)((start + p) % n);
        int64_t shift = p / n;
        out[(size_t)i * rf] = unfenced[first];
        for (int j = 1; j < rf; j++)
            out[(size_t)i * rf + j] = unfenced[(first + 1 + (shift + j - 1) % (n - 1)) % n];
    }
    free(unfenced);
    return 0;
}
