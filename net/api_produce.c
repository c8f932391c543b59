/* net/api_produce.c: Produce (key 0), v0-8. Each partition's record set is validated
 * (RecordBatch v2 only, CRC32C, sizes) and appended as one atomic write; the response
 * carries the base offset of the appended records, or the error, per partition. acks=0
 * is served like acks=1 but answered with nothing at all; on a single broker acks=1 and
 * acks=all are the same promise (durable per log.flush.sync before the answer).
 *
 * With log.flush.sync the appends do not wait for their fsync: the request is parked
 * (RN_API_DEFERRED) on an rn_durable_wait, the engine's sync thread fsyncs once for every
 * request waiting and wakes this loop, which answers. The network thread never waits for
 * the disk, and one fsync serves every partition of every request in the meantime.
 *
 * In a cluster (rn_server_options.cluster) only the partition's leader appends
 * (NOT_LEADER_OR_FOLLOWER otherwise), and acks=all is Kafka's promise: refused up front
 * with NOT_ENOUGH_REPLICAS while the ISR is smaller than min.insync.replicas, then parked
 * until the high watermark (every ISR member's log end) covers the append, for at most
 * the request's timeout_ms (then REQUEST_TIMED_OUT, as Kafka's DelayedProduce).
 *
 * A topic's hooks may place records on partitions another broker leads: in a cluster
 * those batches are forwarded to their leaders (net/produce_forward.h) and the answer for
 * the partition the client sent to waits for them too. A forward reaching its leader is
 * appended there as it is: its hooks ran here. */
#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "batch.h"
#include "cluster.h"
#include "conn.h"
#include "produce_forward.h"
#include "produce_hooks.h"
#include "quota.h"
#include "rnlog.h"
#include "topic_config.h"

typedef struct {
    int32_t index;
    rn_bytes records;
    rn_err err;
    rn_append_result res;
    const char *message;  /* v8 error_message (arena), NULL: the error's own text */
    int32_t batch_index;  /* v8 record_errors: the record a hook refused, or -1 */
    rn_partition *p;      /* appended here without hooks (a timed-out wait asks its high
                             watermark); NULL otherwise */
} produce_partition;

typedef struct {
    char *name;
    int32_t npartitions;
    produce_partition *partitions;
} produce_topic;

/* A request waiting for durability (in the request's arena; parts/ends malloc'd). */
typedef struct {
    rn_request *req;
    produce_topic *topics;
    int32_t ntopics;
    bool wait_fsync;      /* appends may skip their fsync (acks != 0) */
    bool cluster;         /* rn_server_options.cluster is set */
    bool replicated;      /* cluster and acks=all: wait for the ISR, not only the disk */
    int16_t acks;
    int32_t min_isr;      /* the current topic's min.insync.replicas */
    rn_durable_wait wait;
    rn_partition **parts; /* what must be durable before the answer: partition, log end */
    int64_t *ends;
    int n, cap;
    struct event *wake;
    struct event *timer;  /* cluster: the request's timeout_ms */
    atomic_bool done_ran; /* the wait's done ran (set on the engine's sync thread) */
    rn_err sync_err;
    bool timed_out;
    int32_t throttle_ms;  /* over the produce quota (net/quota.h) */
    int32_t timeout_ms;
    rn_produce_forward *fwd; /* cluster: hooked batches for other leaders (NULL: none) */
    bool forwarding;         /* fwd's sends are in flight: its done will run */
    bool forwards_answered;  /* ... and it ran */
    bool durable_answered;   /* the wait's wake ran (or there was nothing to wait for) */
} produce_state;

/* Remember (p, end) for the answer's fsync; the furthest end per partition. */
static rn_err note_pending(produce_state *st, rn_partition *p, const rn_append_result *res) {
    if (res->durable && !st->replicated) return RN_KAFKA_NONE;
    for (int i = 0; i < st->n; i++)
        if (st->parts[i] == p) {
            if (res->log_end_offset > st->ends[i]) st->ends[i] = res->log_end_offset;
            return RN_KAFKA_NONE;
        }
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 8;
        rn_partition **np = realloc(st->parts, (size_t)cap * sizeof *np);
        if (!np) return RN_ERR_NOMEM;
        st->parts = np;
        int64_t *ne = realloc(st->ends, (size_t)cap * sizeof *ne);
        if (!ne) return RN_ERR_NOMEM;
        st->ends = ne;
        st->cap = cap;
    }
    st->parts[st->n] = p;
    st->ends[st->n++] = res->log_end_offset;
    return RN_KAFKA_NONE;
}

/* Whether this broker may append to p for the request: it leads p, and for acks=all the
 * ISR it counts has min.insync.replicas members (Kafka checks before appending). In a
 * cluster a partition with no role yet (the agent has not applied the image's leader
 * here) is not led here either: an append to it would skip replication. */
static rn_err leader_check(const produce_state *st, rn_partition *p) {
    rn_err err = rn_partition_check_leader(p, -1);
    if (err || !st->cluster) return err;
    rn_partition_replication rep;
    rn_partition_replication_get(p, &rep);
    if (rep.role != RN_ROLE_LEADER) return RN_KAFKA_NOT_LEADER_OR_FOLLOWER;
    if (st->acks == -1 && rep.nisr < st->min_isr) return RN_KAFKA_NOT_ENOUGH_REPLICAS;
    return RN_KAFKA_NONE;
}

/* The topic's own min.insync.replicas, or 0 (the broker's applies). Only acks=all in a
 * cluster asks: reading a topic's configs costs allocations. */
static int32_t topic_min_isr(rn_engine *e, const char *topic) {
    rn_config_entry *entries;
    int count;
    if (rn_engine_describe_topic_configs(e, topic, &entries, &count) != RN_KAFKA_NONE) return 0;
    int32_t n = rn_topic_config_min_insync_replicas(entries, count);
    rn_config_entries_free(entries, count);
    return n;
}

static rn_err append(produce_state *st, rn_partition *p, uint8_t *records, size_t len,
                     rn_append_result *res) {
    rn_err err = leader_check(st, p);
    if (err) return err;
    if (!st->wait_fsync) return rn_partition_append(p, records, len, res);
    err = rn_partition_append_nowait(p, records, len, res);
    if (!err && note_pending(st, p, res) != RN_KAFKA_NONE) {
        err = rn_partition_await_durable(p, res->log_end_offset); /* cannot park: wait here */
        if (!err && st->replicated) err = RN_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    }
    return err;
}

static rn_err produce_partition_append(rn_request *req, produce_state *st, const char *topic,
                                       int32_t index, rn_bytes records, rn_append_result *res,
                                       rn_partition **appended) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    if (records.len <= 0) return RN_KAFKA_CORRUPT_MESSAGE;
    rn_err err;
    rn_partition *p = rn_engine_partition(o->engine, topic, index, &err);
    if (!p) return o->cluster ? rn_cluster_serve_check(o->cluster, NULL, topic, index) : err;
    int nbatches;
    err = rn_batch_validate_set(records.ptr, (size_t)records.len, &nbatches);
    if (err) {
        rn_log_warn("produce to %s-%d from %s: %s", topic, index, req->conn->peer,
                    rn_err_name(err));
        return err;
    }
    /* The request frame is ours: the engine rewrites base offsets in place. */
    err = append(st, p, (uint8_t *)records.ptr, (size_t)records.len, res);
    if (!err) *appended = p;
    return err;
}

/* Whether p is led here, so a hooked batch for it is appended here, not forwarded. */
static bool led_here(rn_partition *p) {
    if (!p || rn_partition_check_leader(p, -1) != RN_KAFKA_NONE) return false;
    rn_partition_replication rep;
    rn_partition_replication_get(p, &rep);
    return rep.role == RN_ROLE_LEADER;
}

/* A topic with Lua hooks: filter and place every record, append what the hooks made. The
 * answer for the partition the client sent to never claims more than happened: a base
 * offset only when every kept record landed there, in one run.
 *
 * In a cluster the sent partition must be led here (a client with stale metadata learns
 * it before any hook runs), and batches for partitions led elsewhere are queued for their
 * leaders (sent once the whole request is through, see rn_api_produce). The leaders are
 * looked up before anything is appended, and a local append that fails unqueues this
 * partition's forwards, so an error answered before anything left leaves no partial write
 * behind it other than the local batches appended before the failing one (as on a single
 * broker). What cannot be avoided: a forward that fails, or is not answered in time,
 * fails the client's partition after the other batches were written; the client's retry
 * then writes those again (a duplicate in each partition whose part succeeded, and in a
 * timed-out forward's partition when the leader did append), since hooked batches carry
 * no producer id to deduplicate by. */
static rn_err produce_hooked(rn_request *req, produce_state *st, const rn_topic_hooks *hooks,
                             const char *topic, produce_partition *pp) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    if (pp->records.len <= 0) return RN_KAFKA_CORRUPT_MESSAGE;
    if (pp->index < 0 || pp->index >= hooks->partition_count)
        return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    int nbatches;
    rn_err err = rn_batch_validate_set(pp->records.ptr, (size_t)pp->records.len, &nbatches);
    if (err) return err;
    if (st->cluster) {
        rn_partition *sent = rn_engine_partition(o->engine, topic, pp->index, &err);
        if (!sent) return err;
        if ((err = leader_check(st, sent))) return err;
    }
    rn_hooked_set set;
    err = rn_produce_hooks_apply(o->plugins, hooks, topic, pp->index, hooks->partition_count,
                                 pp->records.ptr, (size_t)pp->records.len, &set);
    if (err) {
        /* The log gets the whole story (with a script's traceback), the producer its
         * first line. */
        pp->batch_index = set.reject_index;
        size_t first_line = strcspn(set.message, "\n");
        pp->message = rn_arena_strndup(&req->arena, set.message, (int32_t)first_line);
        if (err == RN_KAFKA_INVALID_RECORD)
            rn_log_info("produce to %s-%d from %s refused by a hook: %s", topic, pp->index,
                        req->conn->peer, set.message);
        return err;
    }
    /* Which batches go to other leaders: never the sent partition's (led here). */
    int *remote = NULL, nremote = 0;
    if (st->cluster && set.nbatches > 0) {
        remote = malloc((size_t)set.nbatches * sizeof *remote);
        if (!remote) err = RN_ERR_NOMEM;
        for (int i = 0; i < set.nbatches && !err; i++) {
            rn_err perr;
            int32_t target = set.batches[i].partition;
            if (target != pp->index && !led_here(rn_engine_partition(o->engine, topic, target, &perr)))
                remote[nremote++] = i;
        }
    }
    if (!err && nremote > 0) {
        if (!st->fwd)
            st->fwd = rn_produce_forward_new(rn_conn_base(req->conn), o->cluster, st->acks,
                                             st->timeout_ms);
        err = st->fwd ? rn_produce_forward_add(st->fwd, pp, topic, &set, remote, nremote)
                      : RN_ERR_NOMEM;
    }
    bool all_here = set.nbatches > 0 && nremote == 0;
    for (int i = 0, r = 0; i < set.nbatches && !err; i++) {
        rn_hooked_batch *b = &set.batches[i];
        if (r < nremote && remote[r] == i) {
            r++;
            continue;
        }
        rn_partition *p = rn_engine_partition(o->engine, topic, b->partition, &err);
        rn_append_result res;
        if (p) err = append(st, p, b->batch, b->len, &res);
        if (b->partition != pp->index) all_here = false;
        if (!err && b->partition == pp->index && pp->res.base_offset < 0) pp->res = res;
    }
    if (err && nremote > 0) rn_produce_forward_drop(st->fwd, pp);
    if (!all_here) pp->res.base_offset = -1;
    free(remote);
    rn_hooked_set_free(&set);
    return err;
}

/* What an unsatisfied wait answers: the fsync failed (nothing published), the partition
 * stopped being led here, or timeout_ms passed first. */
static rn_err wait_error(const produce_state *st) {
    if (st->sync_err == RN_KAFKA_NOT_LEADER_OR_FOLLOWER) return st->sync_err;
    if (st->sync_err) return RN_KAFKA_KAFKA_STORAGE_ERROR;
    if (st->timed_out) return RN_KAFKA_REQUEST_TIMED_OUT;
    return RN_KAFKA_NONE;
}

/* A replicated wait that failed as a whole may still have covered this partition: its
 * high watermark reached the append (Kafka answers per partition). Hooked appends may
 * have gone to several partitions: those are not told apart. */
static bool committed(const produce_partition *pp) {
    rn_partition_offsets off;
    return pp->p && rn_partition_offsets_get(pp->p, &off) == RN_KAFKA_NONE &&
           off.high_watermark >= pp->res.log_end_offset;
}

static void write_response(produce_state *st) {
    rn_request *req = st->req;
    int16_t v = req->api_version;
    produce_topic *topics = st->topics;
    int32_t ntopics = st->ntopics;
    rn_err late = wait_error(st);
    for (int32_t t = 0; st->fwd && t < ntopics; t++)
        for (int32_t i = 0; i < topics[t].npartitions; i++) {
            produce_partition *pp = &topics[t].partitions[i];
            rn_err ferr = rn_produce_forward_result(st->fwd, pp);
            if (!pp->err && ferr) {
                pp->err = ferr;
                pp->res.base_offset = pp->res.log_append_time = -1;
            }
        }
    if (late) /* written but not durable or not replicated: not acknowledged */
        for (int32_t t = 0; t < ntopics; t++)
            for (int32_t i = 0; i < topics[t].npartitions; i++) {
                produce_partition *pp = &topics[t].partitions[i];
                if (!pp->err && !(late != RN_KAFKA_KAFKA_STORAGE_ERROR && committed(pp))) {
                    pp->err = late;
                    pp->res.base_offset = pp->res.log_append_time = -1;
                }
            }
    rn_writer *w = &req->resp;
    rn_write_array_len(w, ntopics);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_write_string(w, topics[t].name);
        rn_write_array_len(w, topics[t].npartitions);
        for (int32_t i = 0; i < topics[t].npartitions; i++) {
            const produce_partition *pp = &topics[t].partitions[i];
            rn_write_i32(w, pp->index);
            rn_write_i16(w, rn_api_wire(req, pp->err));
            rn_write_i64(w, pp->res.base_offset);
            if (v >= 2) rn_write_i64(w, pp->res.log_append_time);
            if (v >= 5) rn_write_i64(w, pp->res.log_start_offset);
            if (v >= 8) {
                /* record_errors: the record a hook refused (batch_index counts records
                 * across the partition's record set) */
                bool rec_err = pp->err && pp->batch_index >= 0;
                rn_write_array_len(w, rec_err ? 1 : 0);
                if (rec_err) {
                    rn_write_i32(w, pp->batch_index);
                    rn_write_string(w, pp->message);
                    rn_write_tags(w);
                }
                rn_write_string(w, pp->err ? (pp->message ? pp->message : rn_err_message(pp->err))
                                           : NULL);
            }
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    if (v >= 1) rn_write_i32(w, st->throttle_ms); /* throttle_time_ms */
    rn_write_tags(w);
}

static void release(produce_state *st) {
    rn_produce_forward_release(st->fwd); /* its done never runs after this */
    st->fwd = NULL;
    if (st->wake) event_free(st->wake);
    if (st->timer) event_free(st->timer);
    st->wake = st->timer = NULL;
    free(st->parts);
    free(st->ends);
    st->parts = NULL;
    st->ends = NULL;
}

/* On the engine's sync thread: only wake this request's loop. */
static void produce_durable_done(rn_durable_wait *w, rn_err err) {
    produce_state *st = w->ctx;
    st->sync_err = err;
    atomic_store(&st->done_ran, true);
    event_active(st->wake, EV_READ, 0);
}

static void produce_finish(produce_state *st) {
    write_response(st);
    release(st);
    rn_request_complete(st->req); /* frees the request and st with it */
}

/* The answer waits for both the local appends' durability and every forward. */
static void produce_wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    produce_state *st = arg;
    st->durable_answered = true;
    if (!st->forwarding || st->forwards_answered) produce_finish(st);
}

static void produce_forwarded(void *ctx) {
    produce_state *st = ctx;
    st->forwards_answered = true;
    if (st->durable_answered) produce_finish(st);
}

/* timeout_ms passed: take the wait back (done then never runs, or already ran: its
 * answer stands) and answer. */
static void produce_timeout_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    produce_state *st = arg;
    if (st->wait.done) {
        rn_engine_durable_cancel(rn_conn_opts(st->req->conn)->engine, &st->wait);
        if (!atomic_load(&st->done_ran)) st->timed_out = true;
    }
    produce_finish(st); /* frees the wake event, pending or not; forwards not answered
                           yet answer REQUEST_TIMED_OUT */
}

static void produce_cancel(rn_request *req) {
    produce_state *st = req->handler_state;
    if (st->wait.done) rn_engine_durable_cancel(rn_conn_opts(req->conn)->engine, &st->wait);
    release(st);
}

enum rn_api_result rn_api_produce(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_bytes transactional_id = {NULL, -1};
    int16_t acks;
    int32_t timeout_ms, ntopics;
    if (v >= 3) RN_R_STR(r, &transactional_id);
    RN_R_I16(r, &acks);
    RN_R_I32(r, &timeout_ms);
    RN_R_ARRAY(r, &ntopics, 6);
    produce_topic *topics = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics,
                                                          sizeof *topics)
                                        : NULL;
    if (ntopics > 0 && !topics) goto err_parse;

    rn_err request_err = RN_KAFKA_NONE;
    if (acks != 0 && acks != 1 && acks != -1) request_err = RN_KAFKA_INVALID_REQUIRED_ACKS;
    if (!request_err && transactional_id.len >= 0)
        request_err = RN_KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED; /* no transactions yet */

    for (int32_t t = 0; t < ntopics; t++) {
        topics[t].name = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &topics[t].npartitions, 8);
        if (!topics[t].name) goto err_parse;
        if (topics[t].npartitions > 0) {
            topics[t].partitions = rn_arena_calloc(&req->arena, (size_t)topics[t].npartitions,
                                                   sizeof *topics[t].partitions);
            if (!topics[t].partitions) goto err_parse;
        }
        for (int32_t i = 0; i < topics[t].npartitions; i++) {
            produce_partition *pp = &topics[t].partitions[i];
            RN_R_I32(r, &pp->index);
            RN_R_BYTES(r, &pp->records);
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* The whole request parsed: only now append, so a malformed request writes nothing. */
    const rn_server_options *o = rn_conn_opts(req->conn);
    produce_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    *st = (produce_state){.req = req, .topics = topics, .ntopics = ntopics,
                          .wait_fsync = acks != 0, .cluster = o->cluster != NULL,
                          .replicated = acks == -1 && o->cluster, .acks = acks,
                          .timeout_ms = timeout_ms};
    /* Another broker's forward: its hooks placed the records already. */
    bool forwarded = o->cluster && rn_produce_forward_trusted(req, o->cluster);
    int32_t broker_min_isr = o->cluster ? rn_cluster_min_insync_replicas(o->cluster) : 1;
    /* Quotas: the request's size counts, as in Kafka; served, then the connection muted. */
    st->throttle_ms = rn_quota_record(req, RN_QUOTA_PRODUCE, req->frame_len + 4);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_topic_hooks hooks = {0};
        rn_err terr = request_err;
        /* Kafka: Produce needs WRITE on the topic (TOPIC_AUTHORIZATION_FAILED per
         * partition; asked before the topic's existence, which is not disclosed). */
        if (!terr && !rn_authz(req, RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC, topics[t].name))
            terr = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
        if (!terr) terr = rn_engine_topic_hooks(o->engine, topics[t].name, &hooks);
        bool hooked = !terr && (hooks.partitioner_script || hooks.produce_filter_script) &&
                      !forwarded;
        st->min_isr = st->replicated && !terr ? topic_min_isr(o->engine, topics[t].name) : 0;
        if (st->min_isr <= 0) st->min_isr = broker_min_isr;
        const char *view_msg = NULL;
        if (!terr && hooks.view_of) {
            terr = RN_KAFKA_INVALID_TOPIC_EXCEPTION;
            char buf[600];
            snprintf(buf, sizeof buf, "topic %s is a view of %s: it is read-only", topics[t].name,
                     hooks.view_of);
            view_msg = rn_arena_strndup(&req->arena, buf, (int32_t)strlen(buf));
        }
        for (int32_t i = 0; i < topics[t].npartitions; i++) {
            produce_partition *pp = &topics[t].partitions[i];
            pp->res.base_offset = pp->res.log_append_time = pp->res.log_start_offset = -1;
            pp->batch_index = -1;
            if (terr == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION) terr = RN_KAFKA_NONE; /* per partition */
            if (terr) {
                pp->err = terr;
                pp->message = view_msg;
            } else if (hooked) {
                pp->err = produce_hooked(req, st, &hooks, topics[t].name, pp);
            } else {
                pp->err = produce_partition_append(req, st, topics[t].name, pp->index,
                                                   pp->records, &pp->res, &pp->p);
            }
            if (pp->err) pp->res.base_offset = pp->res.log_append_time = -1;
        }
        rn_topic_hooks_free(&hooks);
    }
    if (acks == 0) { /* nobody waits: the forwards free themselves when answered */
        if (st->fwd) rn_produce_forward_start(st->fwd, NULL, NULL);
        release(st);
        return RN_API_NO_RESPONSE;
    }
    if (st->n == 0 && !st->fwd) {
        write_response(st);
        return RN_API_DONE;
    }
    st->wake = event_new(rn_conn_base(req->conn), -1, 0, produce_wake_cb, st);
    /* Only a cluster bounds the wait: a single broker's fsync always ends. */
    if (st->wake && o->cluster)
        st->timer = evtimer_new(rn_conn_base(req->conn), produce_timeout_cb, st);
    if (!st->wake || (o->cluster && !st->timer)) { /* cannot park: wait for the fsync here
                                                      (forwards are not sent: timed out) */
        for (int i = 0; i < st->n && !st->sync_err; i++)
            st->sync_err = rn_partition_await_durable(st->parts[i], st->ends[i]);
        st->timed_out = st->replicated; /* the ISR was not waited for */
        write_response(st);
        release(st);
        return RN_API_DONE;
    }
    st->forwarding = st->fwd && rn_produce_forward_start(st->fwd, produce_forwarded, st);
    if (st->n == 0 && !st->forwarding) { /* every forward failed at once */
        write_response(st);
        release(st);
        return RN_API_DONE;
    }
    if (st->n > 0)
        st->wait = (rn_durable_wait){.done = produce_durable_done, .ctx = st, .parts = st->parts,
                                     .ends = st->ends, .n = st->n, .replicated = st->replicated};
    else
        st->durable_answered = true; /* only forwards to wait for */
    req->handler_state = st;
    req->cancel = produce_cancel;
    if (st->timer) {
        int32_t ms = timeout_ms > 0 ? timeout_ms : 0;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(st->timer, &tv);
    }
    if (st->wait.done) rn_engine_when_durable(o->engine, &st->wait);
    return RN_API_DEFERRED;
err_parse:
    return rn_api_malformed(req);
}
