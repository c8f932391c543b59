/* net/replica_fetcher.c: followers fetching from their leaders (Kafka's
 * ReplicaFetcherThread): truncation by OffsetForLeaderEpoch, then Fetch as a replica.
 *
 * Invariants: a leader has at most one Fetch and one OffsetForLeaderEpoch in flight
 * (fetch_call, epoch_call). An answer touches a partition only if that partition is still
 * assigned here with the generation it had when the request left and is in the state the
 * request was for: unfollow and re-follow change the generation, so answers to earlier
 * assignments fall on the floor. */
#include "replica_fetcher.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "peer.h"
#include "rnlog.h"

#define RF_FETCH_VERSION 11         /* classic; current_leader_epoch, log_start_offset */
#define RF_EPOCH_VERSION 3          /* classic; replica_id, current_leader_epoch */
#define RF_BACKOFF_MS 200           /* after an error, before the partition is asked again */
#define RF_SOCKET_TIMEOUT_MS 30000  /* as Kafka's replica.socket.timeout.ms */
#define RF_MAX_BYTES (16 << 20)
#define RF_PARTITION_MAX_BYTES (1 << 20)

typedef enum { RF_TRUNCATING, RF_FETCHING } rf_state;

typedef struct rf_call rf_call;

typedef struct rf_leader {
    rn_replica_fetcher *f;
    int32_t id;
    rn_peer *peer;
    rf_call *fetch_call, *epoch_call; /* in flight, or NULL */
    struct event *retry;              /* the earliest end of a partition's backoff */
    struct rf_leader *next;
} rf_leader;

typedef struct rf_part {
    rn_partition *p;
    char *topic;
    int32_t index;
    int32_t leader_epoch; /* the assigned epoch: current_leader_epoch on the wire */
    rf_leader *leader;
    rf_state state;
    uint64_t generation;
    int64_t retry_at_ms;  /* not asked before this */
    struct rf_part *next;
} rf_part;

struct rn_replica_fetcher {
    struct event_base *base;
    int32_t node_id, max_wait_ms;
    rf_part *parts;
    rf_leader *leaders;
    uint64_t generation;
    bool closing;
};

/* What a request asked, sorted by (topic, index) to find the answer's partitions. */
typedef struct {
    rn_partition *p;
    uint64_t generation;
    char *topic;
    int32_t index;
    int64_t fetch_offset;
} rf_sent;

struct rf_call {
    rf_leader *leader;
    int16_t api_key;
    int n;
    rf_sent sent[];
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void leader_pump(rn_replica_fetcher *f, rf_leader *l);

/* ---- the wire --------------------------------------------------------------------- */

/* Fetch v11 (classic):
 *   replica_id i32 | max_wait_ms i32 | min_bytes i32 | max_bytes i32 | isolation_level i8
 *   | session_id i32 | session_epoch i32
 *   | topics [topic string | partitions [partition i32 | current_leader_epoch i32
 *            | fetch_offset i64 | log_start_offset i64 | partition_max_bytes i32]]
 *   | forgotten_topics_data [] | rack_id string */
void rn_replica_fetch_build(rn_writer *w, int32_t replica_id, int32_t max_wait_ms,
                            const rn_replica_fetch_partition *parts, int n) {
    rn_write_i32(w, replica_id);
    rn_write_i32(w, max_wait_ms);
    rn_write_i32(w, 1);            /* min_bytes: answer as soon as there is anything */
    rn_write_i32(w, RF_MAX_BYTES);
    rn_write_i8(w, 0);             /* read_uncommitted: a replica copies everything */
    rn_write_i32(w, 0);            /* no fetch session: every request names all */
    rn_write_i32(w, -1);
    size_t ntopics_pos = rn_write_i32_placeholder(w);
    int32_t ntopics = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && strcmp(parts[j].topic, parts[i].topic) == 0) j++;
        rn_write_string(w, parts[i].topic);
        rn_write_array_len(w, j - i);
        for (int k = i; k < j; k++) {
            rn_write_i32(w, parts[k].index);
            rn_write_i32(w, parts[k].current_leader_epoch);
            rn_write_i64(w, parts[k].fetch_offset);
            rn_write_i64(w, parts[k].log_start_offset);
            rn_write_i32(w, RF_PARTITION_MAX_BYTES);
        }
        ntopics++;
        i = j;
    }
    rn_write_i32_at(w, ntopics_pos, ntopics);
    rn_write_array_len(w, 0); /* forgotten_topics_data */
    rn_write_string(w, "");   /* rack_id */
}

/* OffsetForLeaderEpoch v3 (classic):
 *   replica_id i32 | topics [topic string | partitions [partition i32
 *                            | current_leader_epoch i32 | leader_epoch i32]] */
void rn_replica_epoch_build(rn_writer *w, int32_t replica_id,
                            const rn_replica_fetch_partition *parts, int n) {
    rn_write_i32(w, replica_id);
    size_t ntopics_pos = rn_write_i32_placeholder(w);
    int32_t ntopics = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && strcmp(parts[j].topic, parts[i].topic) == 0) j++;
        rn_write_string(w, parts[i].topic);
        rn_write_array_len(w, j - i);
        for (int k = i; k < j; k++) {
            rn_write_i32(w, parts[k].index);
            rn_write_i32(w, parts[k].current_leader_epoch);
            rn_write_i32(w, parts[k].leader_epoch);
        }
        ntopics++;
        i = j;
    }
    rn_write_i32_at(w, ntopics_pos, ntopics);
}

size_t rn_replica_whole_batches(const uint8_t *records, size_t len) {
    size_t off = 0;
    while (off < len) {
        rn_batch_header h;
        if (rn_batch_header_parse(records + off, len - off, &h) != 0 || h.batch_length < 0)
            break;
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        if (size > len - off) break;
        off += size;
    }
    return off;
}

/* ---- assignments ------------------------------------------------------------------ */

static rf_part *part_find(rn_replica_fetcher *f, rn_partition *p) {
    for (rf_part *rp = f->parts; rp; rp = rp->next)
        if (rp->p == p) return rp;
    return NULL;
}

/* The assignment an answer may touch: same pointer, generation, leader and state. */
static rf_part *part_current(rf_leader *l, const rf_sent *s, rf_state state) {
    rf_part *rp = part_find(l->f, s->p);
    if (!rp || rp->generation != s->generation || rp->leader != l || rp->state != state)
        return NULL;
    return rp;
}

static void part_backoff(rf_part *rp, int64_t now) { rp->retry_at_ms = now + RF_BACKOFF_MS; }

static int sent_cmp(const void *a, const void *b) {
    const rf_sent *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* The request entry for an answer's (topic, index), or NULL. */
static rf_sent *call_find(rf_call *c, rn_bytes topic, int32_t index) {
    int lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        rf_sent *s = &c->sent[mid];
        size_t slen = strlen(s->topic);
        size_t tlen = topic.len > 0 ? (size_t)topic.len : 0;
        int cmp = memcmp(s->topic, topic.ptr ? (const char *)topic.ptr : "",
                         slen < tlen ? slen : tlen);
        if (!cmp) cmp = (slen > tlen) - (slen < tlen);
        if (!cmp) cmp = (s->index > index) - (s->index < index);
        if (!cmp) return s;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static void call_free(rf_call *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) free(c->sent[i].topic);
    free(c);
}

/* Every still-current partition of a failed call waits out the backoff. */
static void call_backoff(rf_call *c, rf_state state) {
    int64_t now = now_ms();
    for (int i = 0; i < c->n; i++) {
        rf_part *rp = part_current(c->leader, &c->sent[i], state);
        if (rp) part_backoff(rp, now);
    }
}

/* Ends the call; true when the fetcher is closing (nothing more may be done). */
static bool call_end(rf_call *c, rf_call **slot) {
    rf_leader *l = c->leader;
    if (*slot == c) *slot = NULL;
    bool closing = l->f->closing;
    call_free(c);
    return closing;
}

/* ---- truncation (OffsetForLeaderEpoch) -------------------------------------------- */

static void part_truncate_to(rf_part *rp, int64_t log_end, int64_t target) {
    rn_err err = rn_partition_truncate(rp->p, target);
    if (err) {
        rn_log_warn("replication: %s-%d truncation to %lld failed: %s", rp->topic, rp->index,
                    (long long)target, rn_err_name(err));
        part_backoff(rp, now_ms());
        return;
    }
    rn_log_info("replication: %s-%d truncated from %lld to %lld (leader %d, epoch %d)",
                rp->topic, rp->index, (long long)log_end, (long long)target,
                rp->leader->id, rp->leader_epoch);
}

/* The leader's answer (end_epoch, end_offset) for our latest epoch, as Kafka's
 * AbstractFetcherThread: UNDEFINED -> the local high watermark; an epoch we know ->
 * min(its local end, the leader's end); an epoch we do not know -> our end of the largest
 * epoch below it, and ask again (the next answer is for an earlier epoch). */
static void part_epoch_answer(rf_part *rp, int32_t end_epoch, int64_t end_offset) {
    rn_partition_offsets o;
    if (rn_partition_offsets_get(rp->p, &o) != 0) {
        part_backoff(rp, now_ms());
        return;
    }
    int64_t target = o.log_end_offset;
    bool done = true;
    if (end_epoch < 0 || end_offset < 0) {
        target = o.high_watermark;
    } else {
        int32_t local_epoch;
        int64_t local_end;
        rn_partition_epoch_end_offset(rp->p, end_epoch, &local_epoch, &local_end);
        if (local_epoch < 0 || local_end < 0) {
            target = end_offset;
        } else if (local_epoch != end_epoch) {
            target = local_end;
            done = false;
        } else {
            target = local_end < end_offset ? local_end : end_offset;
        }
    }
    if (target < o.log_end_offset) {
        part_truncate_to(rp, o.log_end_offset, target);
        if (rp->retry_at_ms > now_ms()) return; /* the truncation failed */
    } else {
        done = true; /* nothing left to cut: asking again would get the same answer */
    }
    if (done) rp->state = RF_FETCHING;
}

static void epoch_done(void *ctx, rn_err err, rn_reader *r) {
    rf_call *c = ctx;
    rf_leader *l = c->leader;
    int64_t now = now_ms();
    if (err) {
        rn_log_debug("replication: OffsetForLeaderEpoch to broker %d failed: %s", l->id,
                     rn_err_name(err));
        if (!l->f->closing) call_backoff(c, RF_TRUNCATING);
        goto out;
    }
    int32_t throttle_time_ms, ntopics;
    RN_R_I32(r, &throttle_time_ms);
    RN_R_ARRAY(r, &ntopics, 6);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_bytes topic;
        int32_t nparts;
        RN_R_STR(r, &topic);
        RN_R_ARRAY(r, &nparts, 18);
        for (int32_t i = 0; i < nparts; i++) {
            int16_t error_code;
            int32_t partition, leader_epoch;
            int64_t end_offset;
            RN_R_I16(r, &error_code);
            RN_R_I32(r, &partition);
            RN_R_I32(r, &leader_epoch);
            RN_R_I64(r, &end_offset);
            rf_sent *s = call_find(c, topic, partition);
            rf_part *rp = s ? part_current(l, s, RF_TRUNCATING) : NULL;
            if (!rp) continue;
            s->p = NULL; /* answered */
            if (error_code) {
                rn_log_debug("replication: %s-%d OffsetForLeaderEpoch from broker %d: %s",
                             rp->topic, rp->index, l->id, rn_err_name(error_code));
                part_backoff(rp, now);
                continue;
            }
            part_epoch_answer(rp, leader_epoch, end_offset);
        }
    }
    call_backoff(c, RF_TRUNCATING); /* partitions the leader did not answer */
    goto out;
err_parse:
    rn_log_warn("replication: malformed OffsetForLeaderEpoch response from broker %d (%s)",
                l->id, r->fail_what ? r->fail_what : "?");
    call_backoff(c, RF_TRUNCATING);
out:
    if (!call_end(c, &l->epoch_call)) leader_pump(l->f, l);
}

/* ---- fetching --------------------------------------------------------------------- */

/* Append what the leader sent: whole batches only, those wholly below our log end
 * skipped (a leader may answer from the start of the batch holding fetch_offset). */
static void part_fetched(rf_part *rp, const rf_sent *s, rn_bytes records, int64_t hw) {
    const uint8_t *buf = records.ptr;
    size_t len = rn_replica_whole_batches(buf, records.len > 0 ? (size_t)records.len : 0);
    while (len > 0) {
        rn_batch_header h;
        if (rn_batch_header_parse(buf, len, &h) != 0) break;
        if (h.base_offset + h.last_offset_delta >= s->fetch_offset) break;
        size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
        buf += size;
        len -= size;
    }
    if (len == 0) {
        rn_partition_set_leader_high_watermark(rp->p, hw);
        return;
    }
    rn_err err = rn_partition_append_replica(rp->p, buf, len, hw);
    if (err == RN_KAFKA_OFFSET_OUT_OF_RANGE) {
        /* Not at our log end (it moved, or batch boundaries differ): find the
         * divergence, after the backoff so a stubborn mismatch cannot spin. */
        rp->state = RF_TRUNCATING;
        part_backoff(rp, now_ms());
    } else if (err) {
        rn_log_warn("replication: %s-%d append from broker %d failed: %s", rp->topic,
                    rp->index, rp->leader->id, rn_err_name(err));
        part_backoff(rp, now_ms());
    }
}

/* OFFSET_OUT_OF_RANGE: behind the leader's log start -> start over there; else we are
 * past the leader's end -> truncate (after the backoff, not to spin). */
static void part_out_of_range(rf_part *rp, int64_t leader_log_start) {
    rn_partition_offsets o;
    part_backoff(rp, now_ms());
    if (rn_partition_offsets_get(rp->p, &o) != 0) return;
    if (leader_log_start >= 0 && o.log_end_offset < leader_log_start) {
        rn_err err = rn_partition_reset_to(rp->p, leader_log_start);
        if (err) {
            rn_log_warn("replication: %s-%d reset to %lld failed: %s", rp->topic, rp->index,
                        (long long)leader_log_start, rn_err_name(err));
            return;
        }
        rn_log_info("replication: %s-%d reset from %lld to the leader's log start %lld "
                    "(leader %d, epoch %d)", rp->topic, rp->index,
                    (long long)o.log_end_offset, (long long)leader_log_start, rp->leader->id,
                    rp->leader_epoch);
        rp->retry_at_ms = 0;
        return;
    }
    rp->state = RF_TRUNCATING;
}

static void fetch_done(void *ctx, rn_err err, rn_reader *r) {
    rf_call *c = ctx;
    rf_leader *l = c->leader;
    if (err) {
        rn_log_debug("replication: Fetch from broker %d failed: %s", l->id, rn_err_name(err));
        if (!l->f->closing) call_backoff(c, RF_FETCHING);
        goto out;
    }
    int32_t throttle_time_ms, session_id, ntopics;
    int16_t error_code;
    RN_R_I32(r, &throttle_time_ms);
    RN_R_I16(r, &error_code);
    RN_R_I32(r, &session_id);
    if (error_code) {
        rn_log_debug("replication: Fetch from broker %d: %s", l->id, rn_err_name(error_code));
        call_backoff(c, RF_FETCHING);
        goto out;
    }
    RN_R_ARRAY(r, &ntopics, 6);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_bytes topic;
        int32_t nparts;
        RN_R_STR(r, &topic);
        RN_R_ARRAY(r, &nparts, 42);
        for (int32_t i = 0; i < nparts; i++) {
            int32_t partition_index, naborted, preferred_read_replica;
            int16_t perr;
            int64_t high_watermark, last_stable_offset, log_start_offset;
            rn_bytes records;
            RN_R_I32(r, &partition_index);
            RN_R_I16(r, &perr);
            RN_R_I64(r, &high_watermark);
            RN_R_I64(r, &last_stable_offset);
            RN_R_I64(r, &log_start_offset);
            RN_R_ARRAY(r, &naborted, 16);
            for (int32_t a = 0; a < naborted; a++) { /* none for read_uncommitted */
                int64_t producer_id, first_offset;
                RN_R_I64(r, &producer_id);
                RN_R_I64(r, &first_offset);
            }
            RN_R_I32(r, &preferred_read_replica);
            RN_R_BYTES(r, &records);
            rf_sent *s = call_find(c, topic, partition_index);
            rf_part *rp = s ? part_current(l, s, RF_FETCHING) : NULL;
            if (!rp) continue;
            if (perr == RN_KAFKA_NONE)
                part_fetched(rp, s, records, high_watermark);
            else if (perr == RN_KAFKA_OFFSET_OUT_OF_RANGE)
                part_out_of_range(rp, log_start_offset);
            else {
                rn_log_debug("replication: %s-%d Fetch from broker %d: %s", rp->topic,
                             rp->index, l->id, rn_err_name(perr));
                part_backoff(rp, now_ms());
            }
        }
    }
    goto out;
err_parse:
    rn_log_warn("replication: malformed Fetch response from broker %d (%s)", l->id,
                r->fail_what ? r->fail_what : "?");
    call_backoff(c, RF_FETCHING);
out:
    if (!call_end(c, &l->fetch_call)) leader_pump(l->f, l);
}

/* ---- sending ---------------------------------------------------------------------- */

static int part_cmp(const void *a, const void *b) {
    const rf_part *x = *(rf_part *const *)a, *y = *(rf_part *const *)b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* One request to l for its partitions in `state` whose backoff is over. A TRUNCATING
 * partition without any epoch has nothing to compare: it goes straight to FETCHING. */
static void leader_send(rn_replica_fetcher *f, rf_leader *l, rf_state state, int64_t now) {
    rf_call **slot = state == RF_FETCHING ? &l->fetch_call : &l->epoch_call;
    if (*slot) return;
    int n = 0;
    for (rf_part *rp = f->parts; rp; rp = rp->next) {
        if (rp->leader != l || rp->state != state || rp->retry_at_ms > now) continue;
        if (state == RF_TRUNCATING && rn_partition_latest_epoch(rp->p) < 0) {
            rp->state = RF_FETCHING;
            continue;
        }
        n++;
    }
    if (n == 0) return;
    rf_part **sel = calloc((size_t)n, sizeof *sel);
    rn_replica_fetch_partition *wire = calloc((size_t)n, sizeof *wire);
    rf_call *c = calloc(1, sizeof *c + (size_t)n * sizeof c->sent[0]);
    rn_writer w;
    rn_writer_init(&w, 0, false);
    if (!sel || !wire || !c) goto err;
    c->leader = l;
    c->api_key = state == RF_FETCHING ? 1 : 23;
    int k = 0;
    for (rf_part *rp = f->parts; rp && k < n; rp = rp->next)
        if (rp->leader == l && rp->state == state && rp->retry_at_ms <= now) sel[k++] = rp;
    n = k;
    qsort(sel, (size_t)n, sizeof *sel, part_cmp);
    for (int i = 0; i < n; i++) {
        rf_part *rp = sel[i];
        rn_partition_offsets o;
        if (rn_partition_offsets_get(rp->p, &o) != 0) memset(&o, 0, sizeof o);
        wire[i] = (rn_replica_fetch_partition){
            .topic = rp->topic,
            .index = rp->index,
            .current_leader_epoch = rp->leader_epoch,
            .fetch_offset = o.log_end_offset,
            .log_start_offset = o.log_start_offset,
            .leader_epoch = state == RF_TRUNCATING ? rn_partition_latest_epoch(rp->p) : -1,
        };
        c->sent[i] = (rf_sent){.p = rp->p, .generation = rp->generation,
                               .topic = strdup(rp->topic), .index = rp->index,
                               .fetch_offset = o.log_end_offset};
        c->n = i + 1;
        if (!c->sent[i].topic) goto err;
    }
    qsort(c->sent, (size_t)c->n, sizeof c->sent[0], sent_cmp); /* already in order; cheap */
    int timeout_ms = RF_SOCKET_TIMEOUT_MS;
    if (state == RF_FETCHING) {
        rn_replica_fetch_build(&w, f->node_id, f->max_wait_ms, wire, n);
        timeout_ms += f->max_wait_ms;
    } else {
        rn_replica_epoch_build(&w, f->node_id, wire, n);
    }
    if (w.failed) goto err;
    *slot = c;
    if (rn_peer_send(l->peer, c->api_key, state == RF_FETCHING ? RF_FETCH_VERSION : RF_EPOCH_VERSION,
                     w.buf, w.len, timeout_ms, state == RF_FETCHING ? fetch_done : epoch_done,
                     c) != 0) {
        *slot = NULL;
        goto err;
    }
    rn_writer_free(&w);
    free(sel);
    free(wire);
    return;
err:
    rn_log_warn("replication: cannot send to broker %d: out of memory", l->id);
    for (int i = 0; i < n && sel; i++) part_backoff(sel[i], now);
    rn_writer_free(&w);
    call_free(c);
    free(sel);
    free(wire);
}

static void leader_retry_cb(evutil_socket_t fd, short what, void *arg) {
    rf_leader *l = arg;
    leader_pump(l->f, l);
}

/* Send what can be sent to l now; wake up again when the earliest backoff ends. */
static void leader_pump(rn_replica_fetcher *f, rf_leader *l) {
    if (f->closing) return;
    int64_t now = now_ms();
    leader_send(f, l, RF_TRUNCATING, now);
    leader_send(f, l, RF_FETCHING, now); /* after: truncation may have skipped to here */
    int64_t next = INT64_MAX;
    for (rf_part *rp = f->parts; rp; rp = rp->next)
        if (rp->leader == l && rp->retry_at_ms > now && rp->retry_at_ms < next)
            next = rp->retry_at_ms;
    if (next != INT64_MAX) {
        int64_t wait = next - now;
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
        evtimer_add(l->retry, &tv);
    }
}

/* ---- the fetcher ------------------------------------------------------------------ */

/* The leader object for id at host:port: created on first use, kept until the fetcher
 * is freed (at most one per broker); a new address replaces its peer. NULL on OOM. */
static rf_leader *leader_get(rn_replica_fetcher *f, int32_t id, const char *host, int port) {
    rf_leader *l;
    for (l = f->leaders; l; l = l->next)
        if (l->id == id) break;
    if (l && strcmp(rn_peer_host(l->peer), host) == 0 && rn_peer_port(l->peer) == port)
        return l;
    rn_peer *peer = rn_peer_new(f->base, f->node_id, host, port);
    if (!peer) return NULL;
    if (l) {
        rn_peer *old = l->peer;
        l->peer = peer;
        rn_peer_free(old); /* its calls end here with NETWORK_EXCEPTION */
        return l;
    }
    l = calloc(1, sizeof *l);
    if (!l || !(l->retry = evtimer_new(f->base, leader_retry_cb, l))) {
        free(l);
        rn_peer_free(peer);
        return NULL;
    }
    l->f = f;
    l->id = id;
    l->peer = peer;
    l->next = f->leaders;
    f->leaders = l;
    return l;
}

rn_replica_fetcher *rn_replica_fetcher_new(struct event_base *base, int32_t node_id,
                                           int32_t max_wait_ms) {
    rn_replica_fetcher *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->base = base;
    f->node_id = node_id;
    f->max_wait_ms = max_wait_ms > 0 ? max_wait_ms : 500;
    return f;
}

void rn_replica_fetcher_free(rn_replica_fetcher *f) {
    if (!f) return;
    f->closing = true;
    for (rf_leader *l = f->leaders; l; l = l->next) {
        rn_peer_free(l->peer); /* runs the calls' callbacks, which only free them */
        l->peer = NULL;
    }
    while (f->leaders) {
        rf_leader *l = f->leaders;
        f->leaders = l->next;
        event_free(l->retry);
        free(l);
    }
    while (f->parts) {
        rf_part *rp = f->parts;
        f->parts = rp->next;
        free(rp->topic);
        free(rp);
    }
    free(f);
}

void rn_replica_fetcher_follow(rn_replica_fetcher *f, rn_partition *p, const char *topic,
                               int32_t index, int32_t leader_id, const char *host, int port,
                               int32_t leader_epoch) {
    rf_leader *l = leader_get(f, leader_id, host, port);
    if (!l) {
        rn_log_error("replication: %s-%d: out of memory following broker %d", topic, index,
                     leader_id);
        return;
    }
    rf_part *rp = part_find(f, p);
    if (rp && rp->leader == l && rp->leader_epoch == leader_epoch) {
        leader_pump(f, l); /* the address may have changed: the new peer needs a kick */
        return;
    }
    if (!rp) {
        rp = calloc(1, sizeof *rp);
        if (!rp || !(rp->topic = strdup(topic))) {
            free(rp);
            rn_log_error("replication: %s-%d: out of memory following broker %d", topic,
                         index, leader_id);
            return;
        }
        rp->p = p;
        rp->next = f->parts;
        f->parts = rp;
    }
    rp->index = index;
    rp->leader = l;
    rp->leader_epoch = leader_epoch;
    rp->state = RF_TRUNCATING;
    rp->generation = ++f->generation;
    rp->retry_at_ms = 0;
    rn_log_info("replication: %s-%d following leader %d at %s:%d (epoch %d)", rp->topic,
                index, leader_id, host, port, leader_epoch);
    leader_pump(f, l);
}

void rn_replica_fetcher_unfollow(rn_replica_fetcher *f, rn_partition *p) {
    for (rf_part **pp = &f->parts; *pp; pp = &(*pp)->next) {
        if ((*pp)->p != p) continue;
        rf_part *rp = *pp;
        *pp = rp->next;
        rn_log_info("replication: %s-%d stops following leader %d", rp->topic, rp->index,
                    rp->leader->id);
        free(rp->topic);
        free(rp);
        return;
    }
}

int rn_replica_fetcher_count(rn_replica_fetcher *f) {
    int n = 0;
    for (rf_part *rp = f->parts; rp; rp = rp->next) n++;
    return n;
}
