/* engine/replica.c: a partition's role, ISR, follower tracking and leader epoch cache
 * (replica.h), and the replication calls of engine.h that change no batch (log.c has
 * append_replica, truncate, reset_to and read_replica).
 *
 * Invariant: the high watermark only changes through rn_replica_update_high_watermark
 * (and truncation), and whoever moves it calls rn_replica_hw_moved after unlocking, so
 * watchers and replicated durable waits always hear of it. */
#include "replica.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rnlog.h"

/* ---- the epoch cache --------------------------------------------------------------- */

void rn_epoch_key(uint32_t id, int32_t epoch, uint8_t key[9]) {
    key[0] = 'e';
    rn_key_put32(key + 1, id);
    rn_key_put32(key + 5, (uint32_t)epoch);
}

void rn_epoch_bounds(uint32_t first, uint32_t end, uint8_t lo[5], uint8_t hi[5]) {
    lo[0] = hi[0] = 'e';
    rn_key_put32(lo + 1, first);
    rn_key_put32(hi + 1, end);
}

static int epoch_push(rn_epoch_cache *c, int32_t epoch, int64_t start) {
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        rn_epoch_entry *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (rn_epoch_entry){epoch, start};
    return 0;
}

rn_err rn_epoch_cache_load(rn_store *s, uint32_t id, rn_epoch_cache *c) {
    uint8_t lo[5], hi[5];
    rn_epoch_bounds(id, id + 1, lo, hi);
    rn_store_iter *it = rn_store_iter_new(s, RN_CF_META, lo, sizeof lo, hi, sizeof hi);
    if (!it) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    for (rn_store_iter_seek(it, lo, sizeof lo); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != 9 || vl != 8) continue;
        if (epoch_push(c, (int32_t)rn_key_get32(k + 5), (int64_t)rn_key_get64(v))) {
            err = RN_ERR_NOMEM;
            break;
        }
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

void rn_epoch_cache_free(rn_epoch_cache *c) {
    free(c->v);
    memset(c, 0, sizeof *c);
}

int32_t rn_epoch_cache_latest(const rn_epoch_cache *c) {
    return c->n ? c->v[c->n - 1].epoch : -1;
}

bool rn_epoch_cache_assign(rn_epoch_cache *c, rn_store *s, uint32_t id, rn_store_batch *b,
                           int32_t epoch, int64_t start) {
    if (epoch < 0 || epoch <= rn_epoch_cache_latest(c)) return false;
    /* An epoch that wrote nothing leaves its entry at the same start: the newer wins. */
    if (c->n && c->v[c->n - 1].start_offset >= start) rn_epoch_cache_truncate(c, s, id, b, start);
    if (epoch_push(c, epoch, start)) {
        rn_log_error("partition id %u: out of memory for leader epoch %d", id, epoch);
        return false;
    }
    if (b) {
        uint8_t key[9], val[8];
        rn_epoch_key(id, epoch, key);
        rn_key_put64(val, (uint64_t)start);
        rn_store_batch_put(b, s, RN_CF_META, key, sizeof key, val, sizeof val);
    }
    return true;
}

void rn_epoch_cache_truncate(rn_epoch_cache *c, rn_store *s, uint32_t id, rn_store_batch *b,
                             int64_t offset) {
    while (c->n && c->v[c->n - 1].start_offset >= offset) {
        uint8_t key[9];
        rn_epoch_key(id, c->v[c->n - 1].epoch, key);
        if (b) rn_store_batch_delete(b, s, RN_CF_META, key, sizeof key);
        c->n--;
    }
}

void rn_epoch_cache_clear(rn_epoch_cache *c) { c->n = 0; }

void rn_replica_free(rn_replica_state *r) { rn_epoch_cache_free(&r->epochs); }

/* ---- the high watermark ---------------------------------------------------------- */

static rn_follower_state *follower_find(rn_replica_state *r, int32_t id) {
    for (int i = 0; i < r->nfollowers; i++)
        if (r->followers[i].id == id) return &r->followers[i];
    return NULL;
}

static bool contains(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

bool rn_replica_update_high_watermark(rn_partition *p) {
    rn_replica_state *r = &p->repl;
    int64_t old = p->high_watermark, hw = p->durable_end;
    if (r->role == RN_ROLE_LEADER) {
        for (int i = 0; i < r->nisr; i++) {
            if (r->isr[i] == p->node_id) continue;
            const rn_follower_state *f = follower_find(r, r->isr[i]);
            int64_t end = f ? f->log_end_offset : -1;
            if (end < hw) hw = end;
        }
        if (hw < old) hw = old; /* a leader's high watermark never moves back */
    } else if (r->role == RN_ROLE_FOLLOWER && r->leader_high_watermark < hw) {
        hw = r->leader_high_watermark;
    }
    if (hw > p->log_end_offset) hw = p->log_end_offset;
    if (hw < p->log_start_offset) hw = p->log_start_offset;
    p->high_watermark = hw;
    return hw != old;
}

void rn_replica_hw_moved(rn_partition *p) {
    rn_log_notify(p);
    rn_durable_kick(p->durable);
}

bool rn_replica_refuses_appends(const rn_partition *p) {
    return p->repl.role == RN_ROLE_FOLLOWER || p->repl.stopped;
}

int rn_replica_wait_state(rn_partition *p, int64_t end) {
    pthread_mutex_lock(&p->lock);
    int state = p->high_watermark >= end ? 1 : 0;
    if (rn_replica_refuses_appends(p) || p->log_end_offset < end) /* lost, or truncated */
        state = RN_KAFKA_NOT_LEADER_OR_FOLLOWER;
    if (p->deleted) state = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    pthread_mutex_unlock(&p->lock);
    return state;
}

/* ---- roles ------------------------------------------------------------------------ */

void rn_partition_replication_get(rn_partition *p, rn_partition_replication *out) {
    pthread_mutex_lock(&p->lock);
    const rn_replica_state *r = &p->repl;
    out->role = r->role;
    out->leader = r->role == RN_ROLE_NONE ? -1 : r->leader;
    out->leader_epoch = p->leader_epoch;
    out->nisr = r->role == RN_ROLE_LEADER ? r->nisr : 0;
    memcpy(out->isr, r->isr, (size_t)out->nisr * sizeof *out->isr);
    pthread_mutex_unlock(&p->lock);
}

/* Take a role at leader_epoch: trim_lock then lock held on return when 0 (the caller
 * changes the role, then calls role_commit). */
static rn_err role_begin(rn_partition *p, int32_t leader_epoch) {
    pthread_mutex_lock(&p->trim_lock); /* no metadata written back after a delete */
    pthread_mutex_lock(&p->lock);
    rn_err err = p->deleted                    ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                 : leader_epoch < p->leader_epoch ? RN_KAFKA_FENCED_LEADER_EPOCH
                                                  : RN_KAFKA_NONE;
    if (err) {
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->trim_lock);
    }
    return err;
}

/* Persist what changed (b may be NULL: nothing), release the locks, tell who waits. */
static rn_err role_commit(rn_partition *p, rn_store_batch *b) {
    rn_replica_update_high_watermark(p);
    bool sync = p->flush_sync;
    pthread_mutex_unlock(&p->lock);
    rn_err err = b ? rn_store_write(p->store, b, sync) : RN_KAFKA_NONE;
    pthread_mutex_unlock(&p->trim_lock);
    rn_store_batch_free(b);
    /* Always: parked fetches and produce waits re-check the role, not only the HW. */
    rn_replica_hw_moved(p);
    return err;
}

rn_err rn_partition_become_leader(rn_partition *p, int32_t leader_epoch, const int32_t *replicas,
                                  int nreplicas, const int32_t *isr, int nisr) {
    if (nreplicas < 0 || nreplicas > RN_REPLICAS_MAX || nisr < 1 || nisr > RN_REPLICAS_MAX)
        return RN_KAFKA_INVALID_REQUEST;
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    rn_err err = role_begin(p, leader_epoch);
    if (err) {
        rn_store_batch_free(b);
        return err;
    }
    rn_replica_state *r = &p->repl;
    /* Followers' states live as long as this leadership: a new epoch starts them over. */
    bool same = r->role == RN_ROLE_LEADER && leader_epoch == p->leader_epoch;
    rn_follower_state was[RN_REPLICAS_MAX];
    int nwas = same ? r->nfollowers : 0;
    memcpy(was, r->followers, (size_t)nwas * sizeof *was);
    r->nfollowers = 0;
    for (int i = 0; i < nreplicas; i++) {
        if (replicas[i] == p->node_id || follower_find(r, replicas[i])) continue;
        rn_follower_state f = {replicas[i], -1, INT64_MIN, -1, 0};
        for (int k = 0; k < nwas; k++)
            if (was[k].id == replicas[i]) f = was[k];
        r->followers[r->nfollowers++] = f;
    }
    r->role = RN_ROLE_LEADER;
    r->stopped = false;
    r->leader = p->node_id;
    memcpy(r->isr, isr, (size_t)nisr * sizeof *isr);
    r->nisr = nisr;
    bool write = rn_epoch_cache_assign(&r->epochs, p->store, p->id, b, leader_epoch,
                                       p->log_end_offset);
    if (leader_epoch != p->leader_epoch) {
        p->leader_epoch = leader_epoch;
        rn_log_put_meta(p, b);
        write = true;
    }
    if (!same)
        rn_log_info("%s-%d: leader at epoch %d from offset %lld", p->topic, p->index,
                    leader_epoch, (long long)p->log_end_offset);
    if (!write) {
        rn_store_batch_free(b);
        b = NULL;
    }
    return role_commit(p, b);
}

rn_err rn_partition_become_follower(rn_partition *p, int32_t leader_epoch, int32_t leader) {
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    rn_err err = role_begin(p, leader_epoch);
    if (err) {
        rn_store_batch_free(b);
        return err;
    }
    rn_replica_state *r = &p->repl;
    if (r->role != RN_ROLE_FOLLOWER) r->leader_high_watermark = p->high_watermark;
    r->role = RN_ROLE_FOLLOWER;
    r->stopped = false;
    r->leader = leader;
    r->nisr = r->nfollowers = 0;
    if (leader_epoch != p->leader_epoch) {
        p->leader_epoch = leader_epoch;
        rn_log_put_meta(p, b);
    } else {
        rn_store_batch_free(b);
        b = NULL;
    }
    return role_commit(p, b);
}

void rn_partition_stop_replica(rn_partition *p) {
    pthread_mutex_lock(&p->trim_lock);
    pthread_mutex_lock(&p->lock);
    rn_replica_state *r = &p->repl;
    r->role = RN_ROLE_NONE;
    r->stopped = true;
    r->leader = -1;
    r->nisr = r->nfollowers = 0;
    role_commit(p, NULL);
}

rn_err rn_partition_check_leader(rn_partition *p, int32_t current_leader_epoch) {
    pthread_mutex_lock(&p->lock);
    int32_t ours = p->leader_epoch;
    rn_err err = p->deleted                        ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                 : rn_replica_refuses_appends(p) ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER
                 : current_leader_epoch < 0      ? RN_KAFKA_NONE
                 : current_leader_epoch < ours   ? RN_KAFKA_FENCED_LEADER_EPOCH
                 : current_leader_epoch > ours   ? RN_KAFKA_UNKNOWN_LEADER_EPOCH
                                                 : RN_KAFKA_NONE;
    pthread_mutex_unlock(&p->lock);
    return err;
}

/* ---- the leader's view of its followers ------------------------------------------- */

rn_err rn_partition_follower_fetched(rn_partition *p, int32_t replica, int64_t fetch_offset,
                                     int64_t now_ms) {
    pthread_mutex_lock(&p->lock);
    rn_follower_state *f = p->repl.role == RN_ROLE_LEADER ? follower_find(&p->repl, replica) : NULL;
    if (p->deleted || !f) {
        rn_err err = p->deleted ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                                : RN_KAFKA_NOT_LEADER_OR_FOLLOWER;
        pthread_mutex_unlock(&p->lock);
        return err;
    }
    /* Kafka's lastCaughtUpTime: caught up now, or with what the leader had at its
     * previous fetch (then as of that fetch). */
    int64_t leader_end = p->log_end_offset;
    if (fetch_offset >= leader_end) {
        if (now_ms > f->last_caught_up_ms) f->last_caught_up_ms = now_ms;
    } else if (f->last_fetch_leader_end >= 0 && fetch_offset >= f->last_fetch_leader_end) {
        if (f->last_fetch_ms > f->last_caught_up_ms) f->last_caught_up_ms = f->last_fetch_ms;
    }
    f->last_fetch_leader_end = leader_end;
    f->last_fetch_ms = now_ms;
    f->log_end_offset = fetch_offset;
    bool moved = rn_replica_update_high_watermark(p);
    pthread_mutex_unlock(&p->lock);
    if (moved) rn_replica_hw_moved(p);
    return RN_KAFKA_NONE;
}

/* The start offset of the leader's epoch in the cache (its first offset as leader). */
static int64_t epoch_start(const rn_partition *p) {
    const rn_epoch_cache *c = &p->repl.epochs;
    for (int i = c->n - 1; i >= 0; i--)
        if (c->v[i].epoch <= p->leader_epoch) return c->v[i].start_offset;
    return p->log_start_offset;
}

int rn_partition_isr_proposal(rn_partition *p, int64_t now_ms, int64_t lag_ms, int32_t isr[16]) {
    pthread_mutex_lock(&p->lock);
    rn_replica_state *r = &p->repl;
    int n = 0;
    bool changed = false;
    if (r->role != RN_ROLE_LEADER || p->deleted) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    for (int i = 0; i < r->nisr; i++) {
        rn_follower_state *f = follower_find(r, r->isr[i]);
        if (f && f->last_caught_up_ms == INT64_MIN) f->last_caught_up_ms = now_ms; /* judged from now */
        bool keep = r->isr[i] == p->node_id || (f && now_ms - f->last_caught_up_ms <= lag_ms);
        if (keep)
            isr[n++] = r->isr[i];
        else
            changed = true;
    }
    int64_t start = epoch_start(p);
    for (int i = 0; i < r->nfollowers && n < RN_REPLICAS_MAX; i++) {
        const rn_follower_state *f = &r->followers[i];
        if (contains(r->isr, r->nisr, f->id)) continue;
        if (f->log_end_offset >= p->high_watermark && f->log_end_offset >= start) {
            isr[n++] = f->id;
            changed = true;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return changed ? n : 0;
}

/* ---- epochs, for OffsetForLeaderEpoch and the follower --------------------------- */

void rn_partition_epoch_end_offset(rn_partition *p, int32_t leader_epoch, int32_t *end_epoch,
                                   int64_t *end_offset) {
    *end_epoch = -1;
    *end_offset = -1;
    pthread_mutex_lock(&p->lock);
    const rn_epoch_cache *c = &p->repl.epochs;
    if (leader_epoch >= 0 && c->n) {
        int i = c->n - 1; /* the largest epoch <= leader_epoch */
        while (i >= 0 && c->v[i].epoch > leader_epoch) i--;
        if (i == c->n - 1) {
            *end_epoch = c->v[i].epoch;
            *end_offset = p->log_end_offset;
        } else if (i >= 0) {
            *end_epoch = c->v[i].epoch;
            *end_offset = c->v[i + 1].start_offset;
        } else {
            /* Older than every epoch here (Kafka's rule): nothing of it is kept, so the
             * asker must truncate to where this log's first epoch starts. */
            *end_epoch = leader_epoch;
            *end_offset = c->v[0].start_offset;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

int32_t rn_partition_latest_epoch(rn_partition *p) {
    pthread_mutex_lock(&p->lock);
    int32_t e = rn_epoch_cache_latest(&p->repl.epochs);
    pthread_mutex_unlock(&p->lock);
    return e;
}

void rn_partition_set_leader_high_watermark(rn_partition *p, int64_t leader_high_watermark) {
    pthread_mutex_lock(&p->lock);
    bool moved = false;
    if (p->repl.role == RN_ROLE_FOLLOWER) {
        p->repl.leader_high_watermark = leader_high_watermark;
        moved = rn_replica_update_high_watermark(p);
    }
    pthread_mutex_unlock(&p->lock);
    if (moved) rn_replica_hw_moved(p);
}
