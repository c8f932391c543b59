/* engine/group_offsets.c: committed offsets: OffsetCommit's checks against the group's
 * generation, the records in the groups family, OffsetFetch, OffsetDelete, DeleteGroups
 * and offsets retention. Offsets are kept only in the store (no cache to keep true): a
 * commit is a write batch under the coordinator lock (so checks and write are atomic),
 * then a group-committed WAL sync outside it. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "group_internal.h"
#include "group_store.h"
#include "rnlog.h"

/* Kafka's OffsetCommit rules for a classic group. */
static rn_err validate_commit(rn_group *g, int32_t generation_id, const char *member_id,
                              const char *instance_id) {
    if (g->state == RN_GROUP_DEAD) return RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    if (generation_id < 0 && g->state == RN_GROUP_EMPTY) return RN_KAFKA_NONE;
    if (generation_id >= 0 || member_id[0] || instance_id) {
        rn_err err = rn_group_validate_member(g, member_id, instance_id);
        if (err) return err;
        if (generation_id != g->generation_id) return RN_KAFKA_ILLEGAL_GENERATION;
    } else if (g->state != RN_GROUP_EMPTY) {
        /* No member id and no generation: only while nobody consumes as a group. */
        return RN_KAFKA_UNKNOWN_MEMBER_ID;
    }
    if (g->state == RN_GROUP_COMPLETING_REBALANCE) return RN_KAFKA_REBALANCE_IN_PROGRESS;
    return RN_KAFKA_NONE;
}

/* Per-partition checks: they need no group state (done before the lock). */
static void check_entries(rn_coordinator *c, rn_offset_commit *entries, int n) {
    for (int i = 0; i < n; i++) {
        rn_offset_commit *e = &entries[i];
        e->error = RN_KAFKA_NONE;
        if (e->metadata && (int64_t)strlen(e->metadata) > c->opts.offset_metadata_max_bytes)
            e->error = RN_KAFKA_OFFSET_METADATA_TOO_LARGE;
        else if (!rn_engine_partition(c->engine, e->topic, e->partition, &e->error))
            e->error = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
}

/* Write the entries without an error, with the lock held. */
static rn_err write_commits(rn_coordinator *c, rn_store_batch *b, const char *group_id,
                            const rn_offset_commit *entries, int n) {
    int64_t now = rn_group_wall_ms();
    int puts = 0;
    for (int i = 0; i < n; i++) {
        const rn_offset_commit *e = &entries[i];
        if (e->error) continue;
        uint8_t key[RN_GROUP_KEY_MAX], val[32 + 0xFFFF];
        size_t kl = rn_offset_key(key, group_id, e->topic, e->partition);
        size_t vl = rn_offset_value_encode(val, sizeof val, e->offset, e->leader_epoch, now,
                                           e->metadata);
        rn_store_batch_put(b, c->store, RN_CF_GROUPS, key, kl, val, vl);
        puts++;
    }
    return puts ? rn_store_write(c->store, b, false) : RN_KAFKA_NONE;
}

/* OffsetCommit, or (restore) commits another coordinator accepted: stored as they are,
 * without the group checks, unobserved and unsynced. */
static rn_err commit(rn_coordinator *c, const char *group_id, int32_t generation_id,
                     const char *member_id, const char *group_instance_id,
                     rn_offset_commit *entries, int n, bool restore) {
    if (!group_id[0] || strlen(group_id) > RN_GROUP_ID_MAX) return RN_KAFKA_INVALID_GROUP_ID;
    check_entries(c, entries, n);
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    pthread_mutex_lock(&c->lock);
    rn_err err = RN_KAFKA_NONE;
    rn_group *g = rn_group_find(c, group_id);
    if (!g && (generation_id < 0 || restore)) {
        /* A consumer that assigns its own partitions: the group exists from now on. */
        g = rn_group_get_or_create(c, group_id);
        if (!g) err = RN_ERR_NOMEM;
        else err = rn_group_write(c, g, !restore);
    } else if (!g) {
        err = RN_KAFKA_ILLEGAL_GENERATION;
    }
    if (!err && !restore) err = validate_commit(g, generation_id, member_id, group_instance_id);
    if (!err) {
        if (member_id[0]) rn_group_touch_member(g, member_id); /* a commit is a heartbeat */
        err = write_commits(c, b, group_id, entries, n);
    }
    pthread_mutex_unlock(&c->lock);
    rn_store_batch_free(b);
    if (!err && !restore && c->flush_sync) err = rn_store_sync_wal(c->store);
    return err;
}

rn_err rn_coordinator_commit(rn_coordinator *c, const char *group_id, int32_t generation_id,
                             const char *member_id, const char *group_instance_id,
                             rn_offset_commit *entries, int n) {
    return commit(c, group_id, generation_id, member_id, group_instance_id, entries, n, false);
}

rn_err rn_coordinator_restore_commits(rn_coordinator *c, const char *group_id,
                                      rn_offset_commit *entries, int n) {
    return commit(c, group_id, -1, "", NULL, entries, n, true);
}

static rn_err offset_from_value(const uint8_t *v, size_t vl, rn_committed_offset *out) {
    if (rn_offset_value_decode(v, vl, &out->offset, &out->leader_epoch, &out->commit_timestamp,
                               &out->metadata) != 0) {
        rn_log_error("a stored committed offset does not parse");
        return RN_KAFKA_KAFKA_STORAGE_ERROR;
    }
    return RN_KAFKA_NONE;
}

rn_err rn_coordinator_committed(rn_coordinator *c, const char *group_id, const char *topic,
                                int32_t partition, rn_committed_offset *out) {
    memset(out, 0, sizeof *out);
    out->offset = -1;
    out->leader_epoch = -1;
    out->commit_timestamp = -1;
    out->partition = partition;
    out->topic = strdup(topic);
    if (!out->topic) return RN_ERR_NOMEM;
    if (strlen(group_id) > RN_GROUP_ID_MAX || strlen(topic) > 255) return RN_KAFKA_NONE;
    uint8_t key[RN_GROUP_KEY_MAX];
    size_t kl = rn_offset_key(key, group_id, topic, partition);
    char *v = NULL;
    size_t vl = 0;
    rn_err err = rn_store_get(c->store, RN_CF_GROUPS, key, kl, &v, &vl);
    if (!err && v) err = offset_from_value((const uint8_t *)v, vl, out);
    free(v);
    return err;
}

/* Call fn for each stored offset of the group (prefix scan). fn returns non-zero to stop. */
typedef int (*offset_fn)(void *ctx, const uint8_t *k, size_t kl, const char *topic,
                         int32_t partition, const uint8_t *v, size_t vl);
static rn_err for_each_offset(rn_coordinator *c, const char *group_id, offset_fn fn, void *ctx) {
    uint8_t lo[RN_GROUP_KEY_MAX], hi[RN_GROUP_KEY_MAX];
    size_t ll = rn_offset_key_prefix(lo, group_id);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    rn_store_iter *it = rn_store_iter_new(c->store, RN_CF_GROUPS, lo, ll, hi, hl);
    if (!it) return RN_ERR_NOMEM;
    char *gbuf = malloc(RN_GROUP_ID_MAX + 1);
    char topic[256];
    if (!gbuf) {
        rn_store_iter_free(it);
        return RN_ERR_NOMEM;
    }
    for (rn_store_iter_seek(it, lo, ll); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        int32_t partition;
        if (rn_offset_key_parse(k, kl, gbuf, topic, &partition) != 0) continue;
        if (fn(ctx, k, kl, topic, partition, v, vl)) break;
    }
    rn_err err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    free(gbuf);
    return err;
}

typedef struct {
    rn_committed_offset *v;
    int n, cap;
    rn_err err;
} collect_ctx;

static int collect_one(void *arg, const uint8_t *k, size_t kl, const char *topic,
                       int32_t partition, const uint8_t *v, size_t vl) {
    (void)k;
    (void)kl;
    collect_ctx *cc = arg;
    if (cc->n == cc->cap) {
        int cap = cc->cap ? cc->cap * 2 : 16;
        rn_committed_offset *nv = realloc(cc->v, (size_t)cap * sizeof *nv);
        if (!nv) {
            cc->err = RN_ERR_NOMEM;
            return 1;
        }
        cc->v = nv;
        cc->cap = cap;
    }
    rn_committed_offset *o = &cc->v[cc->n];
    memset(o, 0, sizeof *o);
    o->topic = strdup(topic);
    o->partition = partition;
    if (!o->topic) {
        cc->err = RN_ERR_NOMEM;
        return 1;
    }
    cc->n++;
    cc->err = offset_from_value(v, vl, o);
    return cc->err != 0;
}

static int committed_cmp(const void *a, const void *b) {
    const rn_committed_offset *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c) return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

rn_err rn_coordinator_committed_all(rn_coordinator *c, const char *group_id,
                                    rn_committed_offset **out, int *n) {
    *out = NULL;
    *n = 0;
    if (strlen(group_id) > RN_GROUP_ID_MAX) return RN_KAFKA_NONE;
    collect_ctx cc = {0};
    rn_err err = for_each_offset(c, group_id, collect_one, &cc);
    if (!err) err = cc.err;
    if (err) {
        rn_committed_offsets_free(cc.v, cc.n);
        return err;
    }
    /* Keys order topics by length first (the length byte leads): sort by name. */
    if (cc.n > 1) qsort(cc.v, (size_t)cc.n, sizeof *cc.v, committed_cmp);
    *out = cc.v;
    *n = cc.n;
    return RN_KAFKA_NONE;
}

void rn_committed_offset_clear(rn_committed_offset *o) {
    free(o->topic);
    free(o->metadata);
    o->topic = o->metadata = NULL;
}

void rn_committed_offsets_free(rn_committed_offset *o, int n) {
    for (int i = 0; i < n; i++) rn_committed_offset_clear(&o[i]);
    free(o);
}

/* ---- deleting ---------------------------------------------------------------------- */

rn_err rn_coordinator_delete_offsets(rn_coordinator *c, const char *group_id,
                                     rn_offset_delete *entries, int n) {
    if (!group_id[0] || strlen(group_id) > RN_GROUP_ID_MAX) return RN_KAFKA_INVALID_GROUP_ID;
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    bool consumer = g && g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
    if (!g || g->state == RN_GROUP_DEAD) err = RN_KAFKA_GROUP_ID_NOT_FOUND;
    else if (g->state != RN_GROUP_EMPTY && !consumer) err = RN_KAFKA_NON_EMPTY_GROUP;
    for (int i = 0; !err && i < n; i++) {
        rn_offset_delete *e = &entries[i];
        e->error = RN_KAFKA_NONE;
        if (g->state != RN_GROUP_EMPTY && rn_group_subscribed(g, e->topic)) {
            e->error = RN_KAFKA_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        if (strlen(e->topic) > 255) continue;
        uint8_t key[RN_GROUP_KEY_MAX];
        size_t kl = rn_offset_key(key, group_id, e->topic, e->partition);
        rn_store_batch_delete(b, c->store, RN_CF_GROUPS, key, kl);
    }
    if (!err) err = rn_store_write(c->store, b, false);
    pthread_mutex_unlock(&c->lock);
    rn_store_batch_free(b);
    if (!err && c->flush_sync) err = rn_store_sync_wal(c->store);
    return err;
}

/* Add the removal of the group's record and all its offsets to b. */
void rn_group_delete_records(rn_coordinator *c, rn_store_batch *b, const char *group_id) {
    uint8_t key[RN_GROUP_KEY_MAX], lo[RN_GROUP_KEY_MAX], hi[RN_GROUP_KEY_MAX];
    size_t kl = rn_group_key(key, group_id);
    rn_store_batch_delete(b, c->store, RN_CF_GROUPS, key, kl);
    size_t ll = rn_offset_key_prefix(lo, group_id);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    rn_store_batch_delete_range(b, c->store, RN_CF_GROUPS, lo, ll, hi, hl);
}

rn_err rn_coordinator_delete_group(rn_coordinator *c, const char *group_id) {
    if (!group_id[0] || strlen(group_id) > RN_GROUP_ID_MAX) return RN_KAFKA_INVALID_GROUP_ID;
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    pthread_mutex_lock(&c->lock);
    rn_group *g = rn_group_find(c, group_id);
    rn_err err = RN_KAFKA_NONE;
    if (!g || g->state == RN_GROUP_DEAD) err = RN_KAFKA_GROUP_ID_NOT_FOUND;
    else if (g->state != RN_GROUP_EMPTY || g->nmembers > 0 || g->npending > 0)
        err = RN_KAFKA_NON_EMPTY_GROUP;
    if (!err) {
        rn_group_delete_records(c, b, group_id);
        err = rn_store_write(c->store, b, false);
    }
    if (!err) {
        rn_log_info("group %s: deleted", group_id);
        if (c->observer) c->observer(c->observer_ctx, group_id, NULL, 0);
        rn_group_remove(c, g);
    }
    pthread_mutex_unlock(&c->lock);
    rn_store_batch_free(b);
    if (!err && c->flush_sync) err = rn_store_sync_wal(c->store);
    return err;
}

typedef struct {
    rn_coordinator *c;
    rn_store_batch *b;
    const char *topic;  /* topic_deleted: the topic; NULL for retention */
    rn_group *g;        /* retention: the group, its rule and the time */
    int64_t wall, kept, expired;
} sweep_ctx;

static int sweep_one(void *arg, const uint8_t *k, size_t kl, const char *topic,
                     int32_t partition, const uint8_t *v, size_t vl) {
    (void)partition;
    sweep_ctx *sc = arg;
    bool drop;
    if (sc->topic) {
        drop = strcmp(topic, sc->topic) == 0;
    } else {
        rn_committed_offset o = {0};
        if (offset_from_value(v, vl, &o) != 0) return 0;
        free(o.metadata);
        rn_group *g = sc->g;
        int64_t base = o.commit_timestamp;
        if (g->state == RN_GROUP_EMPTY) {
            /* Kafka's rule (KIP-211): an empty group's offsets age from when it emptied. */
            if (g->protocol_type && g->state_timestamp > base) base = g->state_timestamp;
            drop = base + sc->c->opts.offsets_retention_ms <= sc->wall;
        } else {
            /* Kafka's rule for a live group: only a Stable consumer group lets go of
             * offsets, and only of topics no member subscribes to any more. */
            bool consumer = g->protocol_type && strcmp(g->protocol_type, "consumer") == 0;
            drop = g->state == RN_GROUP_STABLE && consumer && !rn_group_subscribed(g, topic) &&
                   base + sc->c->opts.offsets_retention_ms <= sc->wall;
        }
    }
    if (drop) {
        rn_store_batch_delete(sc->b, sc->c->store, RN_CF_GROUPS, k, kl);
        sc->expired++;
    } else {
        sc->kept++;
    }
    return 0;
}

void rn_coordinator_topic_deleted(rn_coordinator *c, const char *topic) {
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return;
    pthread_mutex_lock(&c->lock);
    sweep_ctx sc = {.c = c, .b = b, .topic = topic};
    for (int i = 0; i < c->ngroups; i++) for_each_offset(c, c->groups[i]->group_id, sweep_one, &sc);
    if (sc.expired) {
        rn_store_write(c->store, b, false);
        rn_log_info("topic %s deleted: dropped %lld committed offsets", topic, (long long)sc.expired);
    }
    pthread_mutex_unlock(&c->lock);
    rn_store_batch_free(b);
}

void rn_group_expire_offsets(rn_coordinator *c, int64_t wall_now) {
    if (c->opts.offsets_retention_ms < 0) return;
    for (int i = 0; i < c->ngroups;) {
        rn_group *g = c->groups[i];
        bool consumer_empty = g->state == RN_GROUP_EMPTY && g->nmembers == 0 && g->npending == 0;
        rn_store_batch *b = rn_store_batch_new();
        if (!b) return;
        sweep_ctx sc = {.c = c, .b = b, .g = g, .wall = wall_now};
        for_each_offset(c, g->group_id, sweep_one, &sc);
        bool dead = consumer_empty && sc.kept == 0 &&
                    g->state_timestamp + c->opts.offsets_retention_ms <= wall_now;
        if (dead) rn_group_delete_records(c, b, g->group_id);
        if ((sc.expired || dead) && rn_store_write(c->store, b, false) == 0) {
            if (sc.expired)
                rn_log_info("group %s: %lld committed offsets expired (offsets.retention.minutes)",
                            g->group_id, (long long)sc.expired);
            if (dead) {
                rn_log_info("group %s: empty with no offsets left, removed", g->group_id);
                g->state = RN_GROUP_DEAD;
                if (c->observer) c->observer(c->observer_ctx, g->group_id, NULL, 0);
                rn_group_remove(c, g);
                rn_store_batch_free(b);
                continue;
            }
        }
        rn_store_batch_free(b);
        i++;
    }
}

bool rn_group_has_offsets(rn_coordinator *c, const char *group_id) {
    uint8_t lo[RN_GROUP_KEY_MAX], hi[RN_GROUP_KEY_MAX];
    size_t ll = rn_offset_key_prefix(lo, group_id);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    rn_store_iter *it = rn_store_iter_new(c->store, RN_CF_GROUPS, lo, ll, hi, hl);
    if (!it) return false;
    rn_store_iter_seek(it, lo, ll);
    bool any = rn_store_iter_valid(it);
    rn_store_iter_free(it);
    return any;
}

rn_err rn_group_load_offset_groups(rn_coordinator *c) {
    uint8_t lo = 'O', hi = 'P';
    rn_store_iter *it = rn_store_iter_new(c->store, RN_CF_GROUPS, &lo, 1, &hi, 1);
    char *group = malloc(RN_GROUP_ID_MAX + 1);
    char topic[256];
    if (!it || !group) {
        rn_store_iter_free(it);
        free(group);
        return RN_ERR_NOMEM;
    }
    rn_err err = RN_KAFKA_NONE;
    rn_store_iter_seek(it, &lo, 1);
    while (!err && rn_store_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        int32_t partition;
        if (rn_offset_key_parse(k, kl, group, topic, &partition) != 0) {
            rn_store_iter_next(it);
            continue;
        }
        if (!rn_group_find(c, group)) {
            rn_group *g = rn_group_get_or_create(c, group);
            if (!g) err = RN_ERR_NOMEM;
            else rn_log_info("group %s: recovered from its committed offsets", group);
        }
        /* Skip the rest of this group's offsets. */
        uint8_t pre[RN_GROUP_KEY_MAX], end[RN_GROUP_KEY_MAX];
        size_t pl = rn_offset_key_prefix(pre, group);
        size_t el = rn_key_prefix_end(end, pre, pl);
        if (el == 0) break;
        rn_store_iter_seek(it, end, el);
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    free(group);
    return err;
}

/* ---- subscriptions ------------------------------------------------------------------- */

/* ConsumerProtocolSubscription (any version starts the same way):
 *   version int16 | topics: int32 count, then int16 length + name each | ... */
static bool subscription_has(const uint8_t *p, size_t len, const char *topic) {
    if (len < 6) return false;
    const uint8_t *end = p + len;
    uint32_t n = rn_key_get32(p + 2);
    p += 6;
    size_t tl = strlen(topic);
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 2) return false;
        size_t l = ((size_t)p[0] << 8) | p[1];
        p += 2;
        if (l == 0xFFFF || (size_t)(end - p) < l) return false;
        if (l == tl && memcmp(p, topic, l) == 0) return true;
        p += l;
    }
    return false;
}

bool rn_group_subscribed(const rn_group *g, const char *topic) {
    if (!g->protocol_type || strcmp(g->protocol_type, "consumer") != 0) return false;
    for (int i = 0; i < g->nmembers; i++) {
        const rn_member *m = g->members[i];
        for (int k = 0; k < m->nprotocols; k++) {
            if (g->protocol_name && strcmp(m->protocols[k].name, g->protocol_name) != 0) continue;
            if (subscription_has(m->protocols[k].metadata, m->protocols[k].metadata_len, topic))
                return true;
        }
    }
    return false;
}
