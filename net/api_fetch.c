/* net/api_fetch.c: Fetch (key 1), v0-11, with long-polling.
 *
 * The response is built from the partitions' logs; if it holds fewer than min_bytes
 * bytes of records, the request parks: it watches every partition it reads, and the
 * first append (any thread) or max_wait_ms (capped by fetch.max.wait.cap.ms) wakes it on
 * its connection's thread to build the response again. Responses are sessionless
 * (session id 0): every fetch names all its partitions, as librdkafka, kafkajs and
 * kafka-python send them. Fetch v0-3 can only carry message formats v0/v1, which runnel
 * does not store: those partitions answer UNSUPPORTED_FOR_MESSAGE_FORMAT.
 *
 * Only a partition's leader serves it (NOT_LEADER_OR_FOLLOWER, or the epoch errors, per
 * partition). In a cluster a fetch with replica_id >= 0 is a follower broker's: it reads
 * up to the log end rather than the high watermark, reports the follower's log end (its
 * fetch_offset) to the leader first, which may advance the high watermark, and parks until
 * the log end moves. Views are not filtered for followers: they replicate no view. */
#include <event2/event.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "api.h"
#include "authz.h"
#include "conn.h"
#include "quota.h"
#include "rnlog.h"
#include "view_fetch.h"

typedef struct fetch_state fetch_state;

typedef struct {
    int32_t index;
    int32_t current_leader_epoch;
    int64_t fetch_offset;
    int32_t partition_max_bytes;
    rn_partition *p; /* NULL when err */
    rn_err err;
    rn_watcher watcher;
} fetch_partition;

typedef struct {
    char *name;
    int32_t npartitions;
    fetch_partition *partitions;
    rn_view_filter *view; /* a view topic: its filter (arena), else NULL */
} fetch_topic;

struct fetch_state {
    rn_request *req;
    int32_t ntopics;
    fetch_topic *topics;
    int32_t min_bytes, max_bytes;
    int32_t session_id, session_epoch;
    int32_t replica_id;   /* >= 0 only for a follower broker's fetch in a cluster */
    struct event *wake, *timer;
    bool watching;
};

typedef struct {
    rn_writer *w;
    rn_view_filter *view;
} fetch_sink_ctx;

static int fetch_sink(void *ctx, const uint8_t *batch, size_t len) {
    fetch_sink_ctx *sc = ctx;
    if (sc->view) {
        if (rn_view_filter_batch(sc->view, batch, len, sc->w) != 0) return 1;
    } else {
        rn_write_raw(sc->w, batch, len);
    }
    return sc->w->failed ? 1 : 0;
}

/* A view's filter, with everything it needs copied into the request's arena. */
static rn_view_filter *view_filter_new(rn_request *req, const char *topic, const rn_topic_hooks *h) {
    rn_view_filter *vf = rn_arena_calloc(&req->arena, 1, sizeof *vf);
    if (!vf) return NULL;
    vf->plugins = rn_conn_opts(req->conn)->plugins;
    vf->topic = topic;
    if (h->view_filter_script) {
        vf->script = rn_arena_strndup(&req->arena, h->view_filter_script,
                                      (int32_t)strlen(h->view_filter_script));
        if (!vf->script) return NULL;
    }
    const char **names = rn_arena_calloc(&req->arena, (size_t)h->nconfigs + 1, sizeof *names);
    const char **values = rn_arena_calloc(&req->arena, (size_t)h->nconfigs + 1, sizeof *values);
    if (!names || !values) return NULL;
    for (int i = 0; i < h->nconfigs; i++) {
        names[i] = rn_arena_strndup(&req->arena, h->names[i], (int32_t)strlen(h->names[i]));
        values[i] = rn_arena_strndup(&req->arena, h->values[i], (int32_t)strlen(h->values[i]));
        if (!names[i] || !values[i]) return NULL;
    }
    vf->config = (rn_plugin_config){names, values, h->nconfigs};
    if (vf->script && !vf->plugins) return NULL;
    return vf;
}

/* A view's partition: read the source on past batches the filter empties, until
 * something is kept, the high watermark, or RN_VIEW_SCAN_CAP bytes; then, if nothing was
 * kept at all, one empty batch moves the consumer past what was read. *got is what was
 * written (what counts toward min_bytes: a view with nothing new parks like any topic). */
static rn_err view_read(fetch_partition *fp, rn_view_filter *vf, fetch_sink_ctx *sc, size_t limit,
                        bool at_least_one, size_t len_pos, rn_partition_offsets *off,
                        size_t *got) {
    rn_writer *w = sc->w;
    int64_t pos = fp->fetch_offset;
    size_t scanned = 0;
    rn_err err;
    vf->partition = fp->index;
    vf->write_empty = false;
    for (;;) {
        size_t read = 0;
        vf->last_offset = -1;
        err = rn_partition_read(fp->p, pos, limit, at_least_one, fetch_sink, sc, off, &read);
        if (err) return err;
        scanned += read;
        bool wrote = w->len > len_pos + 4;
        if (wrote || read == 0 || vf->last_offset < pos || vf->last_offset + 1 >= off->high_watermark)
            break;
        pos = vf->last_offset + 1;
        if (scanned >= RN_VIEW_SCAN_CAP) {
            /* Nothing kept in all that: say so with one empty batch ending where the scan
             * did, so the consumer moves on instead of reading it all again. */
            vf->write_empty = true;
            err = rn_partition_read(fp->p, pos - 1, 1, true, fetch_sink, sc, off, &read);
            vf->write_empty = false;
            if (err) return err;
            break;
        }
    }
    *got = w->len - (len_pos + 4);
    return RN_KAFKA_NONE;
}

/* Build the whole response into req->resp; returns the bytes of records in it and sets
 * *any_error when a partition answered with an error (which makes Kafka answer at once). */
static size_t fetch_build(fetch_state *st, bool *any_error) {
    rn_request *req = st->req;
    int16_t v = req->api_version;
    rn_writer *w = &req->resp;
    w->len = 0;
    w->failed = false;
    req->nerrors = 0; /* a parked fetch is built again: count what is sent */
    size_t total = 0;
    *any_error = false;

    rn_err top_err = RN_KAFKA_NONE;
    if (v >= 7 && st->session_id != 0) top_err = RN_KAFKA_FETCH_SESSION_ID_NOT_FOUND;

    if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    if (v >= 7) {
        rn_write_i16(w, rn_api_wire(req, top_err));
        rn_write_i32(w, 0); /* session_id: sessionless */
    }
    if (top_err) {
        *any_error = true;
        rn_write_array_len(w, 0);
        rn_write_tags(w);
        return 0;
    }
    rn_write_array_len(w, st->ntopics);
    for (int32_t t = 0; t < st->ntopics; t++) {
        fetch_topic *ft = &st->topics[t];
        rn_write_string(w, ft->name);
        rn_write_array_len(w, ft->npartitions);
        for (int32_t i = 0; i < ft->npartitions; i++) {
            fetch_partition *fp = &ft->partitions[i];
            rn_partition_offsets off = {-1, -1, -1, -1, -1, 0};
            rn_err err = fp->err;
            size_t got = 0;
            rn_write_i32(w, fp->index);
            size_t err_pos = w->len;
            rn_write_i16(w, 0);
            size_t off_pos = w->len;
            rn_write_i64(w, -1); /* high_watermark */
            if (v >= 4) rn_write_i64(w, -1); /* last_stable_offset */
            if (v >= 5) rn_write_i64(w, -1); /* log_start_offset */
            if (v >= 4) rn_write_array_len(w, -1); /* aborted_transactions: none */
            if (v >= 11) rn_write_i32(w, -1);      /* preferred_read_replica */
            size_t len_pos = rn_write_i32_placeholder(w);
            if (!err && fp->p) {
                size_t room = (size_t)st->max_bytes > total ? (size_t)st->max_bytes - total : 0;
                size_t limit = (size_t)fp->partition_max_bytes < room
                                   ? (size_t)fp->partition_max_bytes
                                   : room;
                fetch_sink_ctx sc = {w, st->replica_id >= 0 ? NULL : ft->view};
                if (st->replica_id >= 0) {
                    err = rn_partition_read_replica(fp->p, fp->fetch_offset, limit, fetch_sink,
                                                    &sc, &off, &got);
                } else if (ft->view) {
                    err = view_read(fp, ft->view, &sc, limit, total == 0, len_pos, &off, &got);
                } else {
                    err = rn_partition_read(fp->p, fp->fetch_offset, limit, total == 0, fetch_sink,
                                            &sc, &off, &got);
                }
                if (err) {
                    w->len = len_pos + 4; /* drop anything partial */
                    got = 0;
                    rn_partition_offsets_get(fp->p, &off);
                }
            }
            if (err) *any_error = true;
            total += got;
            /* Patch the fields now known. The records' size is what was written: a view
             * writes its filtered batches, not the source bytes it read. */
            size_t written = w->failed ? 0 : w->len - (len_pos + 4);
            rn_write_i32_at(w, len_pos, (int32_t)written);
            if (!w->failed) {
                uint8_t *b = w->buf;
                int16_t code = rn_api_wire(req, err);
                b[err_pos] = (uint8_t)((uint16_t)code >> 8);
                b[err_pos + 1] = (uint8_t)code;
                int64_t vals[3] = {off.high_watermark, off.last_stable_offset,
                                   off.log_start_offset};
                int nvals = v >= 5 ? 3 : v >= 4 ? 2 : 1;
                for (int k = 0; k < nvals; k++) {
                    rn_put_be32(b + off_pos + 8 * k, (uint32_t)((uint64_t)vals[k] >> 32));
                    rn_put_be32(b + off_pos + 8 * k + 4, (uint32_t)vals[k]);
                }
            }
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return total;
}

static void fetch_unwatch(fetch_state *st) {
    if (!st->watching) return;
    for (int32_t t = 0; t < st->ntopics; t++)
        for (int32_t i = 0; i < st->topics[t].npartitions; i++) {
            fetch_partition *fp = &st->topics[t].partitions[i];
            if (fp->p) rn_partition_unwatch(fp->p, &fp->watcher);
        }
    st->watching = false;
}

static void fetch_release(fetch_state *st) {
    fetch_unwatch(st);
    if (st->wake) event_free(st->wake);
    if (st->timer) event_free(st->timer);
    st->wake = st->timer = NULL;
}

static void fetch_cancel(rn_request *req) { fetch_release(req->handler_state); }

/* Quotas: the response's size counts against the fetch quota; the throttle time goes into
 * throttle_time_ms (the body's first field from v1) and the connection is muted. */
static void fetch_throttle(fetch_state *st) {
    rn_request *req = st->req;
    if (req->resp.failed) return;
    int32_t ms = rn_quota_record(req, RN_QUOTA_FETCH, req->resp.len);
    if (ms > 0 && req->api_version >= 1) rn_write_i32_at(&req->resp, 0, ms);
}

static void fetch_finish(fetch_state *st) {
    fetch_throttle(st);
    fetch_release(st);
    rn_request_complete(st->req); /* frees the request and st with it */
}

static void fetch_wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    fetch_state *st = arg;
    bool any_error;
    size_t got = fetch_build(st, &any_error);
    if (got >= (size_t)st->min_bytes || any_error || st->req->resp.failed) fetch_finish(st);
}

static void fetch_timeout_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    fetch_state *st = arg;
    bool any_error;
    fetch_build(st, &any_error);
    fetch_finish(st);
}

/* Milliseconds for the follower's caught-up time: monotonic, as replica.lag.time.max.ms
 * measures an interval (rn_partition_isr_proposal's now_ms must be the same clock). */
static int64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs on the appending thread: only wake the fetch's own loop. */
static void fetch_notify(rn_watcher *w) { event_active(((fetch_state *)w->ctx)->wake, EV_READ, 0); }

enum rn_api_result rn_api_fetch(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    fetch_state *st = rn_arena_alloc(&req->arena, sizeof *st);
    if (!st) goto err_parse;
    st->req = req;
    st->session_epoch = -1;
    int32_t replica_id, max_wait_ms;
    int8_t isolation_level = 0;
    RN_R_I32(r, &replica_id);
    st->replica_id = o->cluster && replica_id >= 0 ? replica_id : -1;
    RN_R_I32(r, &max_wait_ms);
    RN_R_I32(r, &st->min_bytes);
    st->max_bytes = INT32_MAX;
    if (v >= 3) RN_R_I32(r, &st->max_bytes);
    if (v >= 4) RN_R_I8(r, &isolation_level);
    if (v >= 7) {
        RN_R_I32(r, &st->session_id);
        RN_R_I32(r, &st->session_epoch);
    }
    RN_R_ARRAY(r, &st->ntopics, 6);
    if (st->ntopics > 0) {
        st->topics = rn_arena_calloc(&req->arena, (size_t)st->ntopics, sizeof *st->topics);
        if (!st->topics) goto err_parse;
    }
    for (int32_t t = 0; t < st->ntopics; t++) {
        fetch_topic *ft = &st->topics[t];
        ft->name = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &ft->npartitions, 16);
        if (!ft->name) goto err_parse;
        if (ft->npartitions > 0) {
            ft->partitions = rn_arena_calloc(&req->arena, (size_t)ft->npartitions,
                                             sizeof *ft->partitions);
            if (!ft->partitions) goto err_parse;
        }
        for (int32_t i = 0; i < ft->npartitions; i++) {
            fetch_partition *fp = &ft->partitions[i];
            int64_t log_start_offset;
            fp->current_leader_epoch = -1;
            RN_R_I32(r, &fp->index);
            if (v >= 9) RN_R_I32(r, &fp->current_leader_epoch);
            RN_R_I64(r, &fp->fetch_offset);
            if (v >= 5) RN_R_I64(r, &log_start_offset);
            RN_R_I32(r, &fp->partition_max_bytes);
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    /* forgotten_topics_data (v7+) and rack_id (v11+) matter only to fetch sessions and
     * follower fetching; the rest of the body is not needed. */

    /* Kafka: a consumer's Fetch needs READ on each topic (a follower's, replica_id >= 0,
     * CLUSTER_ACTION on the cluster); the others answer TOPIC_AUTHORIZATION_FAILED. */
    bool follower_ok = replica_id < 0 ||
                       rn_authz(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER, NULL);
    bool *denied = st->ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)st->ntopics, 1) : NULL;
    if (st->ntopics > 0 && !denied) goto err_parse;
    for (int32_t t = 0; t < st->ntopics; t++)
        denied[t] = !follower_ok ||
                    (replica_id < 0 &&
                     !rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, st->topics[t].name));
    for (int32_t t = 0; t < st->ntopics; t++) {
        rn_topic_hooks hooks;
        if (denied[t]) continue;
        if (rn_engine_topic_hooks(o->engine, st->topics[t].name, &hooks) == RN_KAFKA_NONE) {
            if (hooks.view_of) {
                st->topics[t].view = view_filter_new(req, st->topics[t].name, &hooks);
                if (!st->topics[t].view) {
                    rn_topic_hooks_free(&hooks);
                    goto err_parse; /* out of memory: close rather than serve unfiltered */
                }
            }
            rn_topic_hooks_free(&hooks);
        }
    }
    for (int32_t t = 0; t < st->ntopics; t++)
        for (int32_t i = 0; i < st->topics[t].npartitions; i++) {
            fetch_partition *fp = &st->topics[t].partitions[i];
            if (denied[t]) {
                fp->err = replica_id < 0 ? RN_KAFKA_TOPIC_AUTHORIZATION_FAILED
                                         : RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
                continue;
            }
            if (v < 4) {
                fp->err = RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT;
                continue;
            }
            if (fp->partition_max_bytes < 0) {
                fp->err = RN_KAFKA_INVALID_FETCH_SIZE;
                continue;
            }
            fp->p = rn_engine_partition(o->engine, st->topics[t].name, fp->index, &fp->err);
            if (fp->p) fp->err = rn_partition_check_leader(fp->p, fp->current_leader_epoch);
            if (o->cluster && (!fp->p || !fp->err))
                fp->err = rn_cluster_serve_check(o->cluster, fp->p, st->topics[t].name, fp->index);
            /* The follower's fetch_offset is its log end: the high watermark may move now,
             * before this fetch reads it (and acks=all producers be answered). */
            if (fp->p && !fp->err && st->replica_id >= 0)
                fp->err = rn_partition_follower_fetched(fp->p, st->replica_id, fp->fetch_offset,
                                                        monotonic_ms());
            if (fp->err) fp->p = NULL;
        }

    bool any_error;
    size_t got = fetch_build(st, &any_error);
    if (got >= (size_t)st->min_bytes || max_wait_ms <= 0 || any_error || req->resp.failed) {
        fetch_throttle(st);
        return RN_API_DONE;
    }

    /* Park: the wake event first (a watcher may fire at once), then watch, then look
     * once more so an append that raced the watch is not missed. */
    st->wake = event_new(rn_conn_base(req->conn), -1, 0, fetch_wake_cb, st);
    st->timer = evtimer_new(rn_conn_base(req->conn), fetch_timeout_cb, st);
    if (!st->wake || !st->timer) {
        fetch_release(st);
        fetch_throttle(st);
        return RN_API_DONE;
    }
    for (int32_t t = 0; t < st->ntopics; t++)
        for (int32_t i = 0; i < st->topics[t].npartitions; i++) {
            fetch_partition *fp = &st->topics[t].partitions[i];
            if (!fp->p) continue;
            fp->watcher.notify = fetch_notify;
            fp->watcher.ctx = st;
            rn_partition_watch(fp->p, &fp->watcher);
        }
    st->watching = true;
    got = fetch_build(st, &any_error);
    if (got >= (size_t)st->min_bytes || any_error || req->resp.failed) {
        fetch_release(st);
        fetch_throttle(st);
        return RN_API_DONE;
    }
    int32_t wait = max_wait_ms;
    if (o->fetch_max_wait_cap_ms > 0 && wait > o->fetch_max_wait_cap_ms)
        wait = o->fetch_max_wait_cap_ms;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(st->timer, &tv);
    req->handler_state = st;
    req->cancel = fetch_cancel;
    return RN_API_DEFERRED;
err_parse:
    return rn_api_malformed(req);
}
