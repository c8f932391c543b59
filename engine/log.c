/* engine/log.c: a partition's log on the shared store.
 *
 *   log family   (id BE32, base offset BE64)      -> the RecordBatch, as served
 *   index        (id BE32, base offset BE64)      -> last offset BE64, max ts BE64, size BE32
 *   timeindex    (id BE32, ts^2^63 BE64)          -> base offset BE64 of the batch that
 *                                                    raised the running max timestamp
 *   producers    (id BE32, producer id BE64)      -> rn_producer_encode()
 *
 * An append puts all of them in ONE write batch. Readers never see past the high
 * watermark, which moves only after the write (and, with flush_sync, the WAL fsync), as
 * far as the role's rule lets it (replica.h); a follower (rn_partition_read_replica)
 * reads up to the log end. */
#include "log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "rnlog.h"

#define KEY_LEN 12
#define INDEX_VALUE_LEN 20

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_key(uint8_t key[KEY_LEN], uint32_t id, uint64_t v) {
    rn_key_put32(key, id);
    rn_key_put64(key + 4, v);
}

static uint64_t ts_key(int64_t ts) { return (uint64_t)ts ^ (1ull << 63); }

void rn_log_meta_key(uint32_t id, uint8_t key[5]) {
    key[0] = 'p';
    rn_key_put32(key + 1, id);
}

/* The bounds of a partition's keys in any family: [id, id + 1) as 4-byte prefixes. */
static rn_store_iter *range_iter(rn_partition *p, int cf) {
    uint8_t lo[4], hi[4];
    rn_key_put32(lo, p->id);
    rn_key_put32(hi, p->id + 1);
    return rn_store_iter_new(p->store, cf, lo, 4, hi, 4);
}

void rn_log_put_meta(const rn_partition *p, rn_store_batch *b) {
    uint8_t key[5], val[12];
    rn_log_meta_key(p->id, key);
    rn_key_put64(val, (uint64_t)p->log_start_offset);
    rn_key_put32(val + 8, (uint32_t)p->leader_epoch);
    rn_store_batch_put(b, p->store, RN_CF_META, key, sizeof key, val, sizeof val);
}

/* ---- the in-memory tail ------------------------------------------------------------ */

/* A tail entry's bytes follow a reference count: the tail holds one reference and a
 * reader one while its sink runs, so sinks run without the partition lock and an
 * append may drop the entry meanwhile. */
typedef struct {
    atomic_int refs;
} tail_block;

static uint8_t *tail_copy(const uint8_t *batch, size_t len) {
    tail_block *b = malloc(sizeof *b + len);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    memcpy(b + 1, batch, len);
    return (uint8_t *)(b + 1);
}

static void tail_ref(const uint8_t *data) {
    atomic_fetch_add_explicit(&((tail_block *)data - 1)->refs, 1, memory_order_relaxed);
}

static void tail_unref(const uint8_t *data) {
    tail_block *b = (tail_block *)data - 1;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) free(b);
}

static rn_tail_entry *tail_at(rn_partition *p, int i) {
    return &p->tail[(p->tail_head + i) % p->tail_cap];
}

static void tail_drop_front(rn_partition *p) {
    rn_tail_entry *e = tail_at(p, 0);
    p->tail_bytes -= e->len;
    tail_unref(e->data);
    p->tail_head = (p->tail_head + 1) % p->tail_cap;
    p->tail_count--;
}

/* Drop the newest entries from offset on (a truncated log). */
static void tail_drop_from(rn_partition *p, int64_t offset) {
    while (p->tail_count && tail_at(p, p->tail_count - 1)->last_offset >= offset) {
        rn_tail_entry *e = tail_at(p, p->tail_count - 1);
        p->tail_bytes -= e->len;
        tail_unref(e->data);
        p->tail_count--;
    }
}

static void tail_clear(rn_partition *p) {
    while (p->tail_count) tail_drop_front(p);
}

/* Keep a copy of a just-appended batch. The tail stays contiguous: a batch too large to
 * keep empties it, so what is in memory is always a run of consecutive batches. */
static void tail_push(rn_partition *p, const uint8_t *batch, size_t len, int64_t base,
                      int64_t last) {
    if (len > p->tail_max_bytes) {
        tail_clear(p);
        return;
    }
    while (p->tail_count && p->tail_bytes + len > p->tail_max_bytes) tail_drop_front(p);
    if (p->tail_count == p->tail_cap) {
        int cap = p->tail_cap ? p->tail_cap * 2 : 64;
        rn_tail_entry *t = malloc((size_t)cap * sizeof *t);
        if (!t) {
            tail_clear(p);
            return;
        }
        for (int i = 0; i < p->tail_count; i++) t[i] = *tail_at(p, i);
        free(p->tail);
        p->tail = t;
        p->tail_cap = cap;
        p->tail_head = 0;
    }
    uint8_t *copy = tail_copy(batch, len);
    if (!copy) {
        tail_clear(p);
        return;
    }
    rn_tail_entry *e = &p->tail[(p->tail_head + p->tail_count) % p->tail_cap];
    e->base_offset = base;
    e->last_offset = last;
    e->data = copy;
    e->len = len;
    p->tail_count++;
    p->tail_bytes += len;
}

/* Index of the tail entry containing offset, or -1. */
static int tail_find(rn_partition *p, int64_t offset) {
    if (!p->tail_count || offset < tail_at(p, 0)->base_offset) return -1;
    int lo = 0, hi = p->tail_count - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (tail_at(p, mid)->base_offset <= offset)
            lo = mid;
        else
            hi = mid - 1;
    }
    return tail_at(p, lo)->last_offset >= offset ? lo : -1;
}

/* ---- open, close, delete ------------------------------------------------------------ */

void rn_log_init_new(rn_partition *p) {
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->watch_lock, NULL);
    pthread_mutex_init(&p->trim_lock, NULL);
    p->max_timestamp = -1;
    p->log_end_offset = p->high_watermark = p->durable_end = p->log_start_offset;
    p->repl.leader = -1;
}

rn_err rn_log_open(rn_partition *p) {
    rn_log_init_new(p);
    rn_err err = RN_KAFKA_NONE;

    rn_store_iter *it = range_iter(p, RN_CF_INDEX);
    if (!it) return RN_ERR_NOMEM;
    rn_store_iter_seek_last(it);
    if (rn_store_iter_valid(it)) {
        size_t vl;
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (vl == INDEX_VALUE_LEN) p->log_end_offset = (int64_t)rn_key_get64(v) + 1;
    }
    /* Size: the sum over the index (one small entry per batch, no blob read). */
    uint8_t lo[4];
    rn_key_put32(lo, p->id);
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t vl;
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (vl == INDEX_VALUE_LEN) p->size_bytes += rn_key_get32(v + 16);
    }
    err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) return err;
    /* Everything in the store survived, so it is all below the high watermark. */
    if (p->log_end_offset < p->log_start_offset) p->log_end_offset = p->log_start_offset;
    p->high_watermark = p->durable_end = p->log_end_offset;
    if ((err = rn_epoch_cache_load(p->store, p->id, &p->repl.epochs))) return err;

    /* The running max timestamp is the last time-index key: entries only ever raise it. */
    it = range_iter(p, RN_CF_TIMEINDEX);
    if (!it) return RN_ERR_NOMEM;
    rn_store_iter_seek_last(it);
    if (rn_store_iter_valid(it)) {
        size_t kl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        if (kl == KEY_LEN) p->max_timestamp = (int64_t)(rn_key_get64(k + 4) ^ (1ull << 63));
    }
    err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) return err;

    it = range_iter(p, RN_CF_PRODUCERS);
    if (!it) return RN_ERR_NOMEM;
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != KEY_LEN) continue;
        rn_producer_state st;
        if (rn_producer_decode(&st, v, vl) != 0) {
            rn_log_warn("%s-%d: unreadable producer state skipped", p->topic, p->index);
            continue;
        }
        rn_producer_state *slot = rn_producer_upsert(&p->producers, (int64_t)rn_key_get64(k + 4));
        if (!slot) {
            err = RN_ERR_NOMEM;
            break;
        }
        st.producer_id = slot->producer_id;
        *slot = st;
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

void rn_log_free(rn_partition *p) {
    tail_clear(p);
    free(p->tail);
    p->tail = NULL;
    rn_producer_table_free(&p->producers);
    rn_replica_free(&p->repl);
    free(p->topic);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->watch_lock);
    pthread_mutex_destroy(&p->trim_lock);
}

void rn_log_mark_deleted(rn_partition *p) {
    /* After a removal in flight has written, so it cannot write the partition's
     * metadata back after the topic's deletion removed it. */
    pthread_mutex_lock(&p->trim_lock);
    pthread_mutex_lock(&p->lock);
    p->deleted = true;
    tail_clear(p);
    rn_producer_table_free(&p->producers);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->trim_lock);
    /* Wake parked fetches and replicated produce waits so they answer
     * UNKNOWN_TOPIC_OR_PARTITION now. */
    rn_replica_hw_moved(p);
}

void rn_log_delete_ids(rn_store *store, int log_cfs, uint32_t first, uint32_t end,
                       rn_store_batch *b) {
    uint8_t lo[4], hi[4], mlo[5], mhi[5];
    rn_key_put32(lo, first);
    rn_key_put32(hi, end);
    for (int i = 0; i < log_cfs; i++)
        rn_store_batch_delete_range(b, store, RN_CF_LOG0 + i, lo, 4, hi, 4);
    rn_store_batch_delete_range(b, store, RN_CF_INDEX, lo, 4, hi, 4);
    rn_store_batch_delete_range(b, store, RN_CF_TIMEINDEX, lo, 4, hi, 4);
    rn_store_batch_delete_range(b, store, RN_CF_PRODUCERS, lo, 4, hi, 4);
    rn_log_meta_key(first, mlo);
    rn_log_meta_key(end, mhi);
    rn_store_batch_delete_range(b, store, RN_CF_META, mlo, 5, mhi, 5);
    rn_epoch_bounds(first, end, mlo, mhi);
    rn_store_batch_delete_range(b, store, RN_CF_META, mlo, 5, mhi, 5);
}

void rn_log_set_settings(rn_partition *p, const rn_topic_settings *s) {
    pthread_mutex_lock(&p->lock);
    p->settings = *s;
    pthread_mutex_unlock(&p->lock);
}

/* ---- offsets ------------------------------------------------------------------------ */

static void offsets_locked(const rn_partition *p, rn_partition_offsets *out) {
    out->log_start_offset = p->log_start_offset;
    out->high_watermark = p->high_watermark;
    out->log_end_offset = p->log_end_offset;
    out->last_stable_offset = p->high_watermark;
    out->leader_epoch = p->leader_epoch;
    out->size_bytes = p->size_bytes;
}

rn_err rn_partition_offsets_get(rn_partition *p, rn_partition_offsets *out) {
    pthread_mutex_lock(&p->lock);
    rn_err err = p->deleted ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION : RN_KAFKA_NONE;
    offsets_locked(p, out);
    pthread_mutex_unlock(&p->lock);
    return err;
}

/* ---- append ------------------------------------------------------------------------- */

void rn_log_notify(rn_partition *p) {
    pthread_mutex_lock(&p->watch_lock);
    for (rn_watcher *w = p->watchers; w; w = w->next) w->notify(w);
    pthread_mutex_unlock(&p->watch_lock);
}

/* Pass 1, under the lock: every check, with the offsets each batch will get, against
 * a working copy of the producer's state; nothing changes yet, so an error in any batch
 * rejects the whole set. *dup_base >= 0 when the set is an idempotent retry. */
static rn_err append_check(rn_partition *p, const uint8_t *records, size_t len,
                           rn_producer_state *work, bool *have_producer, int64_t *dup_base) {
    int64_t next = p->log_end_offset;
    *have_producer = false;
    *dup_base = -1;
    for (size_t pos = 0; pos < len;) {
        rn_batch_header h;
        rn_err err = rn_batch_header_parse(records + pos, len - pos, &h);
        if (err) return err;
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        /* Offsets stay dense only if every batch says truly how many it holds. */
        if (size > len - pos || h.record_count < 1 || h.last_offset_delta != h.record_count - 1)
            return RN_KAFKA_CORRUPT_MESSAGE;
        if (size > (size_t)p->settings.max_message_bytes) return RN_KAFKA_MESSAGE_TOO_LARGE;
        int64_t base = next;
        next = base + h.last_offset_delta + 1;
        pos += size;
        if (h.producer_id < 0) continue;
        if (!*have_producer) {
            const rn_producer_state *st = rn_producer_find(&p->producers, h.producer_id);
            if (st) {
                *work = *st;
            } else {
                memset(work, 0, sizeof *work);
                work->producer_id = h.producer_id;
                work->epoch = -1;
            }
            *have_producer = true;
        } else if (h.producer_id != work->producer_id) {
            return RN_KAFKA_INVALID_RECORD; /* one producer per record set, as Kafka */
        }
        int32_t last_seq = rn_producer_last_seq(h.base_sequence, h.record_count);
        const rn_producer_batch *dup = NULL;
        int rc = rn_producer_check(work, h.producer_epoch, h.base_sequence, last_seq, &dup);
        if (rc == RN_PRODUCER_DUPLICATE) {
            /* A retried set is answered as the first time; a set that only partly
             * repeats cannot be, and Kafka's producers never send one. */
            if (size != len) return RN_KAFKA_DUPLICATE_SEQUENCE_NUMBER;
            *dup_base = dup->base_offset;
            return RN_KAFKA_NONE;
        }
        if (rc) return rc;
        rn_producer_batch pb = {h.base_sequence, last_seq, base, next - 1};
        rn_producer_record(work, h.producer_epoch, &pb);
    }
    return RN_KAFKA_NONE;
}

/* Pass 2, under the lock, for a local append only: rewrite each batch in place (base
 * offset from the log end, leader epoch, LogAppendTime). A replica's batches keep the
 * leader's. */
static void append_assign(rn_partition *p, uint8_t *records, size_t len, int64_t now) {
    int64_t next = p->log_end_offset;
    for (size_t pos = 0; pos < len;) {
        rn_batch_header h;
        rn_batch_header_parse(records + pos, len - pos, &h); /* pass 1 accepted it */
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        rn_batch_set_base_offset(records + pos, next);
        rn_batch_set_leader_epoch(records + pos, p->leader_epoch);
        if (p->settings.log_append_time) rn_batch_set_log_append_time(records + pos, size, now);
        next += h.last_offset_delta + 1;
        pos += size;
    }
}

/* Pass 3, under the lock: stage batch, index and time-index entries in wb, at the base
 * offsets the batches carry. Returns the new log end offset; *max_ts gets the new
 * running max timestamp. */
static int64_t append_stage(rn_partition *p, const uint8_t *records, size_t len,
                            rn_store_batch *wb, int64_t *max_ts) {
    int64_t next = p->log_end_offset;
    *max_ts = p->max_timestamp;
    for (size_t pos = 0; pos < len;) {
        rn_batch_header h;
        rn_batch_header_parse(records + pos, len - pos, &h); /* checked before */
        const uint8_t *batch = records + pos;
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        int64_t base = h.base_offset, last = base + h.last_offset_delta;
        int64_t batch_ts = h.max_timestamp; /* LogAppendTime: append_assign put it there */
        uint8_t key[KEY_LEN], iv[INDEX_VALUE_LEN];
        make_key(key, p->id, (uint64_t)base);
        rn_store_batch_put(wb, p->store, p->cf, key, sizeof key, batch, size);
        rn_key_put64(iv, (uint64_t)last);
        rn_key_put64(iv + 8, (uint64_t)batch_ts);
        rn_key_put32(iv + 16, (uint32_t)size);
        rn_store_batch_put(wb, p->store, RN_CF_INDEX, key, sizeof key, iv, sizeof iv);
        if (batch_ts > *max_ts) { /* like Kafka's time index: only when the max rises */
            uint8_t tk[KEY_LEN], tv[8];
            make_key(tk, p->id, ts_key(batch_ts));
            rn_key_put64(tv, (uint64_t)base);
            rn_store_batch_put(wb, p->store, RN_CF_TIMEINDEX, tk, sizeof tk, tv, sizeof tv);
            *max_ts = batch_ts;
        }
        next = last + 1;
        pos += size;
    }
    return next;
}

static void stage_producer(rn_partition *p, rn_store_batch *wb, const rn_producer_state *st) {
    uint8_t key[KEY_LEN], val[RN_PRODUCER_STATE_MAX];
    make_key(key, p->id, (uint64_t)st->producer_id);
    rn_store_batch_put(wb, p->store, RN_CF_PRODUCERS, key, sizeof key, val,
                       rn_producer_encode(st, val));
}

/* After the write: the in-memory state follows (lock held). works: the producers'
 * states as written. */
static void append_apply(rn_partition *p, const uint8_t *records, size_t len, int64_t end,
                         int64_t max_ts, int64_t now, const rn_producer_state *works,
                         int nworks, rn_append_result *out) {
    for (int i = 0; i < nworks; i++) {
        rn_producer_state *slot = rn_producer_upsert(&p->producers, works[i].producer_id);
        if (slot)
            *slot = works[i];
        else
            rn_log_error("%s-%d: out of memory for producer %lld's state", p->topic, p->index,
                         (long long)works[i].producer_id);
    }
    out->base_offset = p->log_end_offset;
    for (size_t pos = 0; pos < len;) {
        rn_batch_header h;
        rn_batch_header_parse(records + pos, len - pos, &h);
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        tail_push(p, records + pos, size, h.base_offset, h.base_offset + h.last_offset_delta);
        pos += size;
    }
    p->log_end_offset = end;
    p->size_bytes += (int64_t)len;
    p->max_timestamp = max_ts;
    if (!p->flush_sync) {
        p->durable_end = end;
        rn_replica_update_high_watermark(p);
    }
    out->log_append_time = p->settings.log_append_time ? now : -1;
    out->log_start_offset = p->log_start_offset;
}

/* After the (synced) write and the unlock: readers may see up to end. */
static rn_err append_publish(rn_partition *p, int64_t end, bool sync) {
    if (p->flush_sync) {
        /* Outside the lock so concurrent appenders share fsyncs. Everything written
         * before the sync is durable after it, so the high watermark may pass `end`
         * when another appender's sync covered this write: it only moves forward. */
        if (sync) {
            rn_err err = rn_store_sync_wal(p->store);
            if (err) return err;
        }
        pthread_mutex_lock(&p->lock);
        if (end > p->durable_end && end <= p->log_end_offset) p->durable_end = end;
        rn_replica_update_high_watermark(p);
        pthread_mutex_unlock(&p->lock);
    }
    rn_replica_hw_moved(p);
    return RN_KAFKA_NONE;
}

static rn_err append_impl(rn_partition *p, uint8_t *records, size_t len, rn_append_result *out,
                          bool wait) {
    int64_t now = now_ms();
    out->base_offset = out->log_append_time = out->log_start_offset = out->log_end_offset = -1;
    out->duplicate = false;
    out->durable = true;
    rn_store_batch *wb = rn_store_batch_new();
    if (!wb) return RN_ERR_NOMEM;

    pthread_mutex_lock(&p->lock);
    rn_producer_state work;
    bool have_producer;
    int64_t dup_base;
    rn_err err = p->deleted                      ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                 : rn_replica_refuses_appends(p) ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER
                 : !rn_store_space_ok(p->store)  ? RN_KAFKA_KAFKA_STORAGE_ERROR
                     : append_check(p, records, len, &work, &have_producer, &dup_base);
    if (err || dup_base >= 0) {
        if (!err) {
            out->base_offset = dup_base;
            out->duplicate = true;
            out->log_start_offset = p->log_start_offset;
            /* The original may still be waiting for its fsync: this answer waits too. */
            out->log_end_offset = p->log_end_offset;
            out->durable = !p->flush_sync || p->durable_end >= p->log_end_offset;
        }
        pthread_mutex_unlock(&p->lock);
        rn_store_batch_free(wb);
        if (!err && !out->durable && wait) {
            int64_t end = out->log_end_offset;
            out->durable = true;
            return append_publish(p, end, true);
        }
        return err;
    }
    append_assign(p, records, len, now);
    int64_t max_ts, end = append_stage(p, records, len, wb, &max_ts);
    if (have_producer) stage_producer(p, wb, &work);
    if ((err = rn_store_write(p->store, wb, false))) {
        rn_log_error("%s-%d: append at offset %lld failed", p->topic, p->index,
                     (long long)p->log_end_offset);
        pthread_mutex_unlock(&p->lock);
        rn_store_batch_free(wb);
        return err;
    }
    append_apply(p, records, len, end, max_ts, now, &work, have_producer ? 1 : 0, out);
    out->log_end_offset = end;
    bool leader = p->repl.role == RN_ROLE_LEADER;
    pthread_mutex_unlock(&p->lock);
    rn_store_batch_free(wb);
    if (p->flush_sync && !wait) {
        out->durable = false; /* the caller waits with rn_engine_when_durable */
        if (leader) rn_log_notify(p); /* followers read up to the log end */
        return RN_KAFKA_NONE;
    }
    return append_publish(p, end, true);
}

rn_err rn_partition_append(rn_partition *p, uint8_t *records, size_t len,
                           rn_append_result *out) {
    return append_impl(p, records, len, out, true);
}

rn_err rn_partition_append_nowait(rn_partition *p, uint8_t *records, size_t len,
                                  rn_append_result *out) {
    return append_impl(p, records, len, out, false);
}

void rn_log_publish(rn_partition *p, int64_t end) { append_publish(p, end, false); }

rn_err rn_partition_await_durable(rn_partition *p, int64_t end) { return append_publish(p, end, true); }

static int part_by_id(const void *a, const void *b) {
    const rn_log_append_part *x = *(rn_log_append_part *const *)a,
                             *y = *(rn_log_append_part *const *)b;
    return x->p->id < y->p->id ? -1 : x->p->id > y->p->id;
}

rn_err rn_log_append_atomic(rn_store *store, rn_log_append_part *parts, int n,
                            rn_store_batch *wb, bool sync) {
    int64_t now = now_ms();
    rn_log_append_part **order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    int64_t *ends = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *ends);
    if (!order || !ends) {
        free(order);
        free(ends);
        return RN_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) order[i] = &parts[i];
    /* One lock order for every caller: no deadlock between two atomic appends. */
    qsort(order, (size_t)n, sizeof *order, part_by_id);
    for (int i = 0; i + 1 < n; i++)
        if (order[i]->p == order[i + 1]->p) {
            free(order);
            free(ends);
            return RN_ERR_INTERNAL; /* one part per partition: the caller merges */
        }
    for (int i = 0; i < n; i++) pthread_mutex_lock(&order[i]->p->lock);
    rn_err err = n && !rn_store_space_ok(store) ? RN_KAFKA_KAFKA_STORAGE_ERROR : RN_KAFKA_NONE;
    for (int i = 0; i < n && !err; i++) {
        rn_log_append_part *a = order[i];
        rn_producer_state work;
        bool have_producer;
        int64_t dup_base;
        a->result.base_offset = a->result.log_append_time = a->result.log_start_offset = -1;
        a->result.duplicate = false;
        err = a->p->deleted                      ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
              : rn_replica_refuses_appends(a->p) ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER
                  : append_check(a->p, a->records, a->len, &work, &have_producer, &dup_base);
        if (!err && have_producer) err = RN_KAFKA_INVALID_RECORD; /* no idempotence here */
        if (!err) {
            append_assign(a->p, a->records, a->len, now);
            ends[2 * i] = append_stage(a->p, a->records, a->len, wb, &ends[2 * i + 1]);
        }
    }
    if (!err && (err = rn_store_write(store, wb, false)))
        rn_log_error("atomic append to %d partitions failed", n);
    if (!err)
        for (int i = 0; i < n; i++)
            append_apply(order[i]->p, order[i]->records, order[i]->len, ends[2 * i],
                         ends[2 * i + 1], now, NULL, 0, &order[i]->result);
    for (int i = n - 1; i >= 0; i--) pthread_mutex_unlock(&order[i]->p->lock);
    if (!err) {
        if (!sync || (err = rn_store_sync_wal(store)) == RN_KAFKA_NONE)
            for (int i = 0; i < n; i++) append_publish(order[i]->p, ends[2 * i], false);
    }
    free(order);
    free(ends);
    return err;
}

/* ---- replication: a follower's appends and truncation ------------------------------ */

/* A follower's record set, outside the lock: every batch whole and valid (CRC checked)
 * and offsets dense. *first / *end: the first offset and the log end after it. */
static rn_err replica_validate(const uint8_t *records, size_t len, int64_t *first, int64_t *end,
                               int *nbatches) {
    *first = *end = -1;
    *nbatches = 0;
    for (size_t pos = 0; pos < len;) {
        size_t size;
        rn_batch_header h;
        rn_err err = rn_batch_validate(records + pos, len - pos, &size);
        if (!err) err = rn_batch_header_parse(records + pos, len - pos, &h);
        if (err) return err;
        if (*end >= 0 && h.base_offset != *end) return RN_KAFKA_CORRUPT_MESSAGE;
        if (*first < 0) *first = h.base_offset;
        *end = h.base_offset + h.last_offset_delta + 1;
        (*nbatches)++;
        pos += size;
    }
    return RN_KAFKA_NONE;
}

/* Producer states after a follower's batches, as Kafka's follower keeps them: recorded
 * without sequence checks (the leader made them). works has room for one per batch;
 * returns how many producers the set has. Lock held. */
static int replica_producers(rn_partition *p, const uint8_t *records, size_t len,
                             rn_producer_state *works) {
    int n = 0;
    for (size_t pos = 0; pos < len;) {
        rn_batch_header h;
        rn_batch_header_parse(records + pos, len - pos, &h);
        pos += (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        if (h.producer_id < 0) continue;
        rn_producer_state *w = NULL;
        for (int i = 0; i < n && !w; i++)
            if (works[i].producer_id == h.producer_id) w = &works[i];
        if (!w) {
            w = &works[n++];
            const rn_producer_state *st = rn_producer_find(&p->producers, h.producer_id);
            if (st) {
                *w = *st;
            } else {
                memset(w, 0, sizeof *w);
                w->producer_id = h.producer_id;
                w->epoch = -1;
            }
        }
        rn_producer_batch pb = {h.base_sequence, rn_producer_last_seq(h.base_sequence, h.record_count),
                                h.base_offset, h.base_offset + h.last_offset_delta};
        rn_producer_record(w, h.producer_epoch, &pb);
    }
    return n;
}

rn_err rn_partition_append_replica(rn_partition *p, const uint8_t *records, size_t len,
                                   int64_t leader_high_watermark) {
    int64_t first, end;
    int nbatches;
    rn_err err = replica_validate(records, len, &first, &end, &nbatches);
    if (err) return err;
    rn_producer_state *works = malloc((size_t)(nbatches ? nbatches : 1) * sizeof *works);
    rn_store_batch *wb = rn_store_batch_new();
    if (!works || !wb) {
        free(works);
        rn_store_batch_free(wb);
        return RN_ERR_NOMEM;
    }
    pthread_mutex_lock(&p->lock);
    err = p->deleted                              ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
          : p->repl.role != RN_ROLE_FOLLOWER      ? RN_KAFKA_NOT_LEADER_OR_FOLLOWER
          : len && first != p->log_end_offset     ? RN_KAFKA_OFFSET_OUT_OF_RANGE
          : len && !rn_store_space_ok(p->store)   ? RN_KAFKA_KAFKA_STORAGE_ERROR
                                                  : RN_KAFKA_NONE;
    if (!err && len) {
        int nworks = replica_producers(p, records, len, works);
        int64_t max_ts;
        append_stage(p, records, len, wb, &max_ts);
        for (int i = 0; i < nworks; i++) stage_producer(p, wb, &works[i]);
        for (size_t pos = 0; pos < len;) { /* the epoch cache learns the leader's epochs */
            rn_batch_header h;
            rn_batch_header_parse(records + pos, len - pos, &h);
            rn_epoch_cache_assign(&p->repl.epochs, p->store, p->id, wb, h.partition_leader_epoch,
                                  h.base_offset);
            pos += (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        }
        if ((err = rn_store_write(p->store, wb, false))) {
            rn_log_error("%s-%d: replica append at offset %lld failed", p->topic, p->index,
                         (long long)first);
            rn_epoch_cache_clear(&p->repl.epochs); /* as stored */
            rn_epoch_cache_load(p->store, p->id, &p->repl.epochs);
        } else {
            rn_append_result ignored;
            append_apply(p, records, len, end, max_ts, now_ms(), works, nworks, &ignored);
        }
    }
    bool moved = false;
    if (!err) {
        p->repl.leader_high_watermark = leader_high_watermark;
        moved = rn_replica_update_high_watermark(p);
    }
    pthread_mutex_unlock(&p->lock);
    rn_store_batch_free(wb);
    free(works);
    if (!err && len && p->flush_sync) {
        if ((err = rn_store_sync_wal(p->store))) return err;
        pthread_mutex_lock(&p->lock);
        if (end > p->durable_end && end <= p->log_end_offset) p->durable_end = end;
        moved = rn_replica_update_high_watermark(p) || moved;
        pthread_mutex_unlock(&p->lock);
    }
    if (moved) rn_replica_hw_moved(p);
    return err;
}

/* The first batch to remove for a truncation at offset: the one holding it. */
static rn_err truncate_point(rn_partition *p, int64_t offset, int64_t *cut, int64_t *removed) {
    *cut = offset;
    *removed = 0;
    rn_store_iter *it = range_iter(p, RN_CF_INDEX);
    if (!it) return RN_ERR_NOMEM;
    uint8_t key[KEY_LEN];
    make_key(key, p->id, (uint64_t)offset);
    rn_store_iter_seek_for_prev(it, key, sizeof key);
    if (!rn_store_iter_valid(it)) rn_store_iter_seek(it, key, sizeof key);
    bool found = false;
    for (; rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != KEY_LEN || vl != INDEX_VALUE_LEN) continue;
        if (!found && (int64_t)rn_key_get64(v) < offset) continue;
        if (!found) *cut = (int64_t)rn_key_get64(k + 4);
        found = true;
        *removed += rn_key_get32(v + 16);
    }
    rn_err err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

/* The time-index entries of removed batches (a suffix: the running max rises with the
 * offset): *from gets the first one's key (*has_from false: none); *max_ts the last kept
 * entry's timestamp, or -1. */
static rn_err truncate_time_index(rn_partition *p, int64_t cut, uint8_t from[KEY_LEN],
                                  bool *has_from, int64_t *max_ts) {
    *has_from = false;
    *max_ts = -1;
    rn_store_iter *it = range_iter(p, RN_CF_TIMEINDEX);
    if (!it) return RN_ERR_NOMEM;
    uint8_t lo[4];
    rn_key_put32(lo, p->id);
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != KEY_LEN || vl != 8) continue;
        if ((int64_t)rn_key_get64(v) >= cut) {
            memcpy(from, k, KEY_LEN);
            *has_from = true;
            break;
        }
        *max_ts = (int64_t)(rn_key_get64(k + 4) ^ (1ull << 63));
    }
    rn_err err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

rn_err rn_partition_truncate(rn_partition *p, int64_t offset) {
    pthread_mutex_lock(&p->trim_lock);
    pthread_mutex_lock(&p->lock);
    if (p->deleted || offset >= p->log_end_offset || offset < p->log_start_offset) {
        rn_err err = p->deleted ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION : RN_KAFKA_NONE;
        bool below = !p->deleted && offset < p->log_start_offset;
        pthread_mutex_unlock(&p->lock);
        pthread_mutex_unlock(&p->trim_lock);
        return below ? rn_partition_reset_to(p, offset) : err; /* as Kafka's truncateTo */
    }
    int64_t cut, removed, max_ts;
    uint8_t ti_from[KEY_LEN];
    bool ti_delete;
    rn_store_batch *b = rn_store_batch_new();
    rn_err err = b ? truncate_point(p, offset, &cut, &removed) : RN_ERR_NOMEM;
    if (!err) err = truncate_time_index(p, cut, ti_from, &ti_delete, &max_ts);
    if (err) goto out;

    uint8_t start[KEY_LEN], end[4];
    make_key(start, p->id, (uint64_t)cut);
    rn_key_put32(end, p->id + 1);
    rn_store_batch_delete_range(b, p->store, p->cf, start, sizeof start, end, sizeof end);
    rn_store_batch_delete_range(b, p->store, RN_CF_INDEX, start, sizeof start, end, sizeof end);
    if (ti_delete)
        rn_store_batch_delete_range(b, p->store, RN_CF_TIMEINDEX, ti_from, sizeof ti_from, end,
                                    sizeof end);
    for (int i = 0; i < p->producers.n; i++) {
        rn_producer_state st = p->producers.v[i];
        if (!rn_producer_truncate(&st, cut)) continue;
        if (st.n) {
            stage_producer(p, b, &st);
        } else { /* nothing of it left: a retry of its batches is new again */
            uint8_t key[KEY_LEN];
            make_key(key, p->id, (uint64_t)st.producer_id);
            rn_store_batch_delete(b, p->store, RN_CF_PRODUCERS, key, sizeof key);
        }
    }
    rn_epoch_cache *c = &p->repl.epochs;
    for (int i = 0; i < c->n; i++)
        if (c->v[i].start_offset >= cut) {
            uint8_t ek[9], elo[5], ehi[5];
            rn_epoch_key(p->id, c->v[i].epoch, ek);
            rn_epoch_bounds(p->id, p->id + 1, elo, ehi);
            rn_store_batch_delete_range(b, p->store, RN_CF_META, ek, sizeof ek, ehi, sizeof ehi);
            break;
        }
    if (cut < p->log_start_offset) { /* the batch straddling the log start went too */
        p->log_start_offset = cut;
        rn_log_put_meta(p, b);
    }
    if ((err = rn_store_write(p->store, b, p->flush_sync))) goto out;

    for (int i = p->producers.n - 1; i >= 0; i--)
        if (rn_producer_truncate(&p->producers.v[i], cut) && p->producers.v[i].n == 0)
            rn_producer_remove(&p->producers, p->producers.v[i].producer_id);
    rn_epoch_cache_truncate(c, p->store, p->id, NULL, cut);
    tail_drop_from(p, cut);
    p->log_end_offset = cut;
    if (p->durable_end > cut) p->durable_end = cut;
    if (p->high_watermark > cut) p->high_watermark = cut;
    p->size_bytes -= removed;
    p->max_timestamp = max_ts;
    rn_log_info("%s-%d: truncated to offset %lld", p->topic, p->index, (long long)cut);
out:
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->trim_lock);
    rn_store_batch_free(b);
    if (!err) rn_replica_hw_moved(p);
    return err;
}

rn_err rn_partition_reset_to(rn_partition *p, int64_t offset) {
    if (offset < 0) return RN_KAFKA_OFFSET_OUT_OF_RANGE;
    rn_store_batch *b = rn_store_batch_new();
    if (!b) return RN_ERR_NOMEM;
    pthread_mutex_lock(&p->trim_lock);
    pthread_mutex_lock(&p->lock);
    rn_err err = p->deleted ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION : RN_KAFKA_NONE;
    if (!err) {
        uint8_t lo[4], hi[4], elo[5], ehi[5];
        rn_key_put32(lo, p->id);
        rn_key_put32(hi, p->id + 1);
        const int cfs[] = {p->cf, RN_CF_INDEX, RN_CF_TIMEINDEX, RN_CF_PRODUCERS};
        for (size_t i = 0; i < sizeof cfs / sizeof cfs[0]; i++)
            rn_store_batch_delete_range(b, p->store, cfs[i], lo, 4, hi, 4);
        rn_epoch_bounds(p->id, p->id + 1, elo, ehi);
        rn_store_batch_delete_range(b, p->store, RN_CF_META, elo, 5, ehi, 5);
        int64_t was = p->log_start_offset;
        p->log_start_offset = offset;
        rn_log_put_meta(p, b);
        if ((err = rn_store_write(p->store, b, p->flush_sync))) p->log_start_offset = was;
    }
    if (!err) {
        tail_clear(p);
        rn_producer_table_free(&p->producers);
        rn_epoch_cache_clear(&p->repl.epochs);
        p->log_end_offset = p->durable_end = p->high_watermark = offset;
        if (p->repl.leader_high_watermark < offset) p->repl.leader_high_watermark = offset;
        p->size_bytes = 0;
        p->max_timestamp = -1;
        rn_log_info("%s-%d: emptied, starting at offset %lld", p->topic, p->index,
                    (long long)offset);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&p->trim_lock);
    rn_store_batch_free(b);
    if (!err) rn_replica_hw_moved(p);
    return err;
}

/* ---- read --------------------------------------------------------------------------- */

static bool over_budget(size_t given, size_t len, size_t max_bytes, bool at_least_one) {
    if (given + len <= max_bytes) return false;
    return !(at_least_one && given == 0);
}

/* A read in progress: what is still wanted and what has been given. */
typedef struct {
    int64_t next;  /* the first offset not served yet */
    int64_t limit; /* the high watermark, or the log end for a follower */
    size_t max_bytes, given;
    bool at_least_one, done;
    rn_batch_sink sink;
    void *ctx;
} read_state;

#define READ_CHUNK 16 /* tail entries referenced per turn: no allocation per read */

/* Serve from the tail while r->next is in it. Called with p->lock held, returns with it
 * released; r->done unless the rest must come from the store. */
static void read_tail(rn_partition *p, read_state *r) {
    for (;;) {
        const uint8_t *data[READ_CHUNK];
        size_t len[READ_CHUNK], taken = r->given;
        int64_t last = r->next - 1;
        int n = 0, i = tail_find(p, r->next);
        if (i < 0) break;
        for (; n < READ_CHUNK; i++, n++) {
            rn_tail_entry *e = i < p->tail_count ? tail_at(p, i) : NULL;
            if (!e || e->base_offset >= r->limit ||
                over_budget(taken, e->len, r->max_bytes, r->at_least_one)) {
                r->done = true;
                break;
            }
            tail_ref(e->data);
            data[n] = e->data;
            len[n] = e->len;
            taken += e->len;
            last = e->last_offset;
        }
        pthread_mutex_unlock(&p->lock);
        bool stopped = false;
        for (int k = 0; k < n; k++) {
            if (!stopped) {
                r->given += len[k];
                stopped = r->sink(r->ctx, data[k], len[k]) != 0;
            }
            tail_unref(data[k]);
        }
        if (stopped) r->done = true;
        r->next = last + 1;
        if (r->done) return;
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Serve from RocksDB, from the batch holding r->next up to r->limit. */
static rn_err read_store(rn_partition *p, read_state *r) {
    rn_store_iter *it = range_iter(p, p->cf);
    if (!it) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    uint8_t key[KEY_LEN];
    make_key(key, p->id, (uint64_t)r->next);
    rn_store_iter_seek_for_prev(it, key, sizeof key);
    if (!rn_store_iter_valid(it)) rn_store_iter_seek(it, key, sizeof key);
    for (; rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        rn_batch_header h;
        if (kl != KEY_LEN || rn_batch_header_parse(v, vl, &h) || h.last_offset_delta < 0) {
            rn_log_error("%s-%d: unreadable batch in the store at key offset %lld", p->topic,
                         p->index, kl == KEY_LEN ? (long long)rn_key_get64(k + 4) : -1LL);
            if (!r->given) err = RN_KAFKA_KAFKA_STORAGE_ERROR;
            break;
        }
        int64_t base = (int64_t)rn_key_get64(k + 4), last = base + h.last_offset_delta;
        if (base >= r->limit) break;
        if (last < r->next) continue;
        if (base > r->next) {
            /* Offsets are dense, so the batch holding next was removed after the range
             * check (retention or DeleteRecords): as if the read came a moment later. */
            if (!r->given) err = RN_KAFKA_OFFSET_OUT_OF_RANGE;
            break;
        }
        if (over_budget(r->given, vl, r->max_bytes, r->at_least_one)) break;
        r->given += vl;
        r->next = last + 1;
        if (r->sink(r->ctx, v, vl)) break;
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

/* A client's read stops at the high watermark, a follower's at the log end. */
static rn_err read_impl(rn_partition *p, int64_t offset, size_t max_bytes, bool at_least_one,
                        bool to_log_end, rn_batch_sink sink, void *ctx,
                        rn_partition_offsets *offsets, size_t *bytes) {
    *bytes = 0;
    pthread_mutex_lock(&p->lock);
    rn_partition_offsets off;
    offsets_locked(p, &off);
    if (offsets) *offsets = off;
    int64_t limit = to_log_end ? off.log_end_offset : off.high_watermark;
    rn_err err = p->deleted ? RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                 : offset < off.log_start_offset || offset > limit ? RN_KAFKA_OFFSET_OUT_OF_RANGE
                                                                   : RN_KAFKA_NONE;
    if (err || offset == limit) {
        pthread_mutex_unlock(&p->lock);
        return err;
    }
    read_state r = {offset, limit, max_bytes, 0, at_least_one, false, sink, ctx};
    read_tail(p, &r); /* releases the lock */
    if (!r.done) err = read_store(p, &r);
    *bytes = r.given;
    return err;
}

rn_err rn_partition_read(rn_partition *p, int64_t offset, size_t max_bytes, bool at_least_one,
                         rn_batch_sink sink, void *ctx, rn_partition_offsets *offsets,
                         size_t *bytes) {
    return read_impl(p, offset, max_bytes, at_least_one, false, sink, ctx, offsets, bytes);
}

rn_err rn_partition_read_replica(rn_partition *p, int64_t offset, size_t max_bytes,
                                 rn_batch_sink sink, void *ctx, rn_partition_offsets *offsets,
                                 size_t *bytes) {
    return read_impl(p, offset, max_bytes, true, true, sink, ctx, offsets, bytes);
}

/* ---- time lookups ------------------------------------------------------------------- */

typedef struct {
    int64_t target, from;
    int64_t offset, timestamp;
    rn_err err;
} time_search;

static int time_sink(void *ctx, const uint8_t *batch, size_t len) {
    time_search *ts = ctx;
    rn_batch_header h;
    /* No record of a batch is later than its max timestamp (LogAppendTime included):
     * skip it without decompressing. */
    if (rn_batch_header_parse(batch, len, &h) == 0 && h.max_timestamp < ts->target) return 0;
    rn_batch_records *it;
    rn_err err = rn_batch_records_open(batch, len, RN_BATCH_MAX_DECOMPRESSED, &it);
    if (err) {
        ts->err = err;
        return 1;
    }
    rn_record rec;
    int rc;
    while ((rc = rn_batch_records_next(it, &rec)) == 1) {
        if (rec.offset >= ts->from && rec.timestamp >= ts->target) {
            ts->offset = rec.offset;
            ts->timestamp = rec.timestamp;
            break;
        }
    }
    rn_batch_records_close(it);
    if (rc < 0) ts->err = rc;
    return ts->offset >= 0 || ts->err;
}

rn_err rn_partition_offset_for_time(rn_partition *p, int64_t ts, int64_t *offset,
                                    int64_t *timestamp) {
    *offset = *timestamp = -1;
    rn_partition_offsets off;
    rn_err err = rn_partition_offsets_get(p, &off);
    if (err) return err;
    rn_store_iter *it = range_iter(p, RN_CF_TIMEINDEX);
    if (!it) return RN_ERR_NOMEM;
    uint8_t key[KEY_LEN];
    make_key(key, p->id, ts_key(ts));
    rn_store_iter_seek(it, key, sizeof key);
    int64_t from = -1;
    if (rn_store_iter_valid(it)) {
        size_t vl;
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (vl == 8) from = (int64_t)rn_key_get64(v);
    }
    err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err || from < 0) return err;
    if (from < off.log_start_offset) from = off.log_start_offset;
    if (from >= off.high_watermark) return RN_KAFKA_NONE;
    time_search s = {ts, off.log_start_offset, -1, -1, RN_KAFKA_NONE};
    size_t bytes;
    err = rn_partition_read(p, from, SIZE_MAX, true, time_sink, &s, NULL, &bytes);
    if (err) return err;
    if (s.err) return s.err;
    *offset = s.offset;
    *timestamp = s.timestamp;
    return RN_KAFKA_NONE;
}

/* ---- removal: DeleteRecords and retention ------------------------------------------ */

/* Make new_start the log start: remove every batch wholly below it (the store's ranges
 * and the tail), keep the last time-index entry below it (lookups clamp to the log
 * start, and it keeps the running-max chain intact), persist the new start. */
static rn_err log_remove_before(rn_partition *p, int64_t new_start) {
    pthread_mutex_lock(&p->trim_lock); /* removed and cut below stay true until written */
    rn_store_batch *b = NULL;
    uint8_t lo[4], ti_end[KEY_LEN];
    rn_key_put32(lo, p->id);

    /* The first kept batch: the first index entry whose last offset reaches new_start. */
    int64_t cut = new_start, removed = 0;
    rn_err err = RN_KAFKA_NONE;
    rn_store_iter *it = range_iter(p, RN_CF_INDEX);
    if (!it) {
        err = RN_ERR_NOMEM;
        goto out;
    }
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != KEY_LEN || vl != INDEX_VALUE_LEN) continue;
        if ((int64_t)rn_key_get64(v) >= new_start) {
            cut = (int64_t)rn_key_get64(k + 4);
            break;
        }
        removed += rn_key_get32(v + 16);
    }
    err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) goto out;

    /* Time-index entries of removed batches, all but the last: a lookup for a time at
     * or below its running max must still land there (and is then clamped to the log
     * start), not on a later entry. */
    bool ti_delete = false;
    if (!(it = range_iter(p, RN_CF_TIMEINDEX))) {
        err = RN_ERR_NOMEM;
        goto out;
    }
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (kl != KEY_LEN || vl != 8 || (int64_t)rn_key_get64(v) >= cut) break;
        memcpy(ti_end, k, KEY_LEN);
        ti_delete = true;
    }
    err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (err) goto out;
    if (!(b = rn_store_batch_new())) {
        err = RN_ERR_NOMEM;
        goto out;
    }

    /* Readers stop below new_start from now; the store follows. */
    pthread_mutex_lock(&p->lock);
    if (p->deleted || new_start <= p->log_start_offset) {
        pthread_mutex_unlock(&p->lock);
        goto out;
    }
    p->log_start_offset = new_start;
    p->size_bytes -= removed;
    while (p->tail_count && tail_at(p, 0)->last_offset < new_start) tail_drop_front(p);
    rn_log_put_meta(p, b);
    bool sync = p->flush_sync;
    pthread_mutex_unlock(&p->lock);

    uint8_t start[KEY_LEN], end[KEY_LEN];
    make_key(start, p->id, 0);
    make_key(end, p->id, (uint64_t)cut);
    rn_store_batch_delete_range(b, p->store, p->cf, start, sizeof start, end, sizeof end);
    rn_store_batch_delete_range(b, p->store, RN_CF_INDEX, start, sizeof start, end, sizeof end);
    if (ti_delete)
        rn_store_batch_delete_range(b, p->store, RN_CF_TIMEINDEX, lo, 4, ti_end, sizeof ti_end);
    err = rn_store_write(p->store, b, sync);
out:
    rn_store_batch_free(b);
    pthread_mutex_unlock(&p->trim_lock);
    return err;
}

rn_err rn_partition_delete_records(rn_partition *p, int64_t before_offset,
                                   int64_t *low_watermark) {
    rn_partition_offsets off;
    rn_err err = rn_partition_offsets_get(p, &off);
    *low_watermark = off.log_start_offset;
    if (err) return err;
    if (before_offset == -1) before_offset = off.high_watermark;
    if (before_offset < 0 || before_offset > off.high_watermark) return RN_KAFKA_OFFSET_OUT_OF_RANGE;
    if (before_offset <= off.log_start_offset) return RN_KAFKA_NONE;
    err = log_remove_before(p, before_offset);
    rn_partition_offsets_get(p, &off);
    *low_watermark = off.log_start_offset;
    if (!err)
        rn_log_info("%s-%d: records before offset %lld deleted", p->topic, p->index,
                    (long long)before_offset);
    return err;
}

void rn_log_enforce_retention(rn_partition *p, int64_t now) {
    pthread_mutex_lock(&p->lock);
    rn_topic_settings s = p->settings;
    int64_t hwm = p->high_watermark, size = p->size_bytes, start = p->log_start_offset;
    bool deleted = p->deleted;
    pthread_mutex_unlock(&p->lock);
    if (deleted || (s.retention_ms < 0 && s.retention_bytes < 0)) return;

    int64_t cut = start, dropped = 0;
    rn_store_iter *it = range_iter(p, RN_CF_INDEX);
    if (!it) return;
    uint8_t lo[4];
    rn_key_put32(lo, p->id);
    for (rn_store_iter_seek(it, lo, 4); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t vl;
        const uint8_t *v = rn_store_iter_value(it, &vl);
        if (vl != INDEX_VALUE_LEN) continue;
        int64_t last = (int64_t)rn_key_get64(v), max_ts = (int64_t)rn_key_get64(v + 8);
        int64_t bsize = rn_key_get32(v + 16);
        if (last >= hwm) break;
        bool by_time = s.retention_ms >= 0 && max_ts < now - s.retention_ms;
        bool by_size = s.retention_bytes >= 0 && size - dropped > s.retention_bytes;
        if (!by_time && !by_size) break;
        dropped += bsize;
        cut = last + 1;
    }
    rn_store_iter_free(it);
    if (cut > start) {
        rn_err err = log_remove_before(p, cut);
        if (err)
            rn_log_error("%s-%d: retention failed: %s", p->topic, p->index, rn_err_name(err));
        else
            rn_log_info("%s-%d: retention moved the log start offset from %lld to %lld (%lld "
                        "bytes)",
                        p->topic, p->index, (long long)start, (long long)cut,
                        (long long)dropped);
    }
}

/* ---- watchers ----------------------------------------------------------------------- */

void rn_partition_watch(rn_partition *p, rn_watcher *w) {
    pthread_mutex_lock(&p->watch_lock);
    w->prev = NULL;
    w->next = p->watchers;
    if (p->watchers) p->watchers->prev = w;
    p->watchers = w;
    pthread_mutex_unlock(&p->watch_lock);
}

void rn_partition_unwatch(rn_partition *p, rn_watcher *w) {
    pthread_mutex_lock(&p->watch_lock);
    if (w->prev)
        w->prev->next = w->next;
    else if (p->watchers == w)
        p->watchers = w->next;
    if (w->next) w->next->prev = w->prev;
    w->next = w->prev = NULL;
    pthread_mutex_unlock(&p->watch_lock);
}
