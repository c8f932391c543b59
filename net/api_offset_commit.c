/* net/api_offset_commit.c: OffsetCommit (key 8), v0-7. v0 commits without a generation
 * (a consumer that assigns its own partitions); v1+ carry the member's generation, which
 * the coordinator checks. A group-level error answers every partition with it.
 *
 * In a cluster the commits also go to the group's __consumer_offsets partition, and the
 * answer waits until its in-sync replicas have them (as Kafka's acks=all append), so a
 * new coordinator has every acknowledged commit: at most offsets.commit.timeout.ms, then
 * REQUEST_TIMED_OUT (the commit stands on this coordinator; the client retries). */
#include <event2/event.h>
#include <stdatomic.h>
#include <string.h>

#include "api_group.h"
#include "authz.h"
#include "cluster.h"
#include "conn.h"

#define COMMIT_REPLICATION_TIMEOUT_MS 5000 /* Kafka's offsets.commit.timeout.ms */

typedef struct {
    char *name;
    int32_t first, count; /* entries[first .. first+count) */
} commit_topic;

typedef struct {
    rn_request *req;
    commit_topic *topics;
    int32_t ntopics;
    rn_offset_commit *entries;
    rn_err top;          /* the group-level error */
    rn_err replication;  /* the __consumer_offsets append's */
    /* Waiting for the replicas (cluster only). */
    rn_durable_wait wait;
    rn_partition *part;
    int64_t end;
    atomic_bool done_ran;
    struct event *wake, *timer;
} commit_state;

static void write_response(commit_state *st) {
    rn_request *req = st->req;
    rn_writer *w = &req->resp;
    if (req->api_version >= 3) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->ntopics > 0 ? st->ntopics : 0);
    for (int32_t t = 0; t < st->ntopics; t++) {
        rn_write_string(w, st->topics[t].name);
        rn_write_array_len(w, st->topics[t].count);
        for (int32_t i = 0; i < st->topics[t].count; i++) {
            const rn_offset_commit *e = &st->entries[st->topics[t].first + i];
            rn_write_i32(w, e->partition);
            bool topic_denied = e->error == RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            rn_err err = st->top && !topic_denied ? st->top : e->error;
            if (!err) err = st->replication;
            rn_write_i16(w, rn_api_wire(req, err));
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    rn_write_tags(w);
}

static void release(commit_state *st) {
    if (st->wake) event_free(st->wake);
    if (st->timer) event_free(st->timer);
    st->wake = st->timer = NULL;
}

/* On the engine's sync thread: only wake the request's loop. */
static void replicated(rn_durable_wait *w, rn_err err) {
    commit_state *st = w->ctx;
    /* the partition's lead moved: so did the group's coordinator */
    st->replication = err == RN_KAFKA_NOT_LEADER_OR_FOLLOWER ? RN_KAFKA_NOT_COORDINATOR : err;
    atomic_store(&st->done_ran, true);
    event_active(st->wake, EV_READ, 0);
}

static void finish(commit_state *st) {
    write_response(st);
    release(st);
    rn_request_complete(st->req); /* frees the request, and st (in its arena) */
}

static void wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    finish(arg);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    commit_state *st = arg;
    rn_engine_durable_cancel(rn_conn_opts(st->req->conn)->engine, &st->wait);
    if (!atomic_load(&st->done_ran)) st->replication = RN_KAFKA_REQUEST_TIMED_OUT;
    finish(st);
}

static void commit_cancel(rn_request *req) {
    commit_state *st = req->handler_state;
    rn_engine_durable_cancel(rn_conn_opts(req->conn)->engine, &st->wait);
    release(st);
}

/* Park the answer until the replicas have the commits. RN_API_DONE (answered now) when
 * the wait cannot be set up: the commit is in this coordinator's store either way. */
static enum rn_api_result await_replicas(commit_state *st) {
    rn_request *req = st->req;
    struct event_base *base = rn_conn_base(req->conn);
    st->wake = event_new(base, -1, 0, wake_cb, st);
    st->timer = evtimer_new(base, timeout_cb, st);
    if (!st->wake || !st->timer) {
        release(st);
        write_response(st);
        return RN_API_DONE;
    }
    st->wait = (rn_durable_wait){.done = replicated, .ctx = st, .parts = &st->part,
                                 .ends = &st->end, .n = 1, .replicated = true};
    req->handler_state = st;
    req->cancel = commit_cancel;
    struct timeval tv = {COMMIT_REPLICATION_TIMEOUT_MS / 1000, 0};
    evtimer_add(st->timer, &tv);
    rn_engine_when_durable(rn_conn_opts(req->conn)->engine, &st->wait);
    return RN_API_DEFERRED;
}

enum rn_api_result rn_api_offset_commit(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    int32_t generation_id = -1;
    char *member_id = "", *instance_id = NULL;
    char *group_id = rn_api_read_name(req, r);
    if (!group_id) goto err_parse;
    if (v >= 1) {
        RN_R_I32(r, &generation_id);
        if (!(member_id = rn_api_read_name(req, r))) goto err_parse;
    }
    if (v >= 7 && rn_api_read_opt_name(req, r, &instance_id) != 0) goto err_parse;
    if (v >= 2 && v <= 4) {
        int64_t retention_time_ms; /* ignored, as Kafka 2.1+ does: offsets.retention.minutes */
        RN_R_I64(r, &retention_time_ms);
    }
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 6);
    commit_topic *topics =
        ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *topics) : NULL;
    if (ntopics > 0 && !topics) goto err_parse;
    /* Entries are counted as they come; the frame bounds their number. */
    size_t cap = 16, total = 0;
    rn_offset_commit *entries = rn_arena_alloc(&req->arena, cap * sizeof *entries);
    if (!entries) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        topics[t].name = rn_api_read_name(req, r);
        if (!topics[t].name) goto err_parse;
        int32_t np;
        RN_R_ARRAY(r, &np, 14);
        topics[t].first = (int32_t)total;
        topics[t].count = np > 0 ? np : 0;
        for (int32_t i = 0; i < np; i++) {
            if (total == cap) {
                rn_offset_commit *ne = rn_arena_alloc(&req->arena, cap * 2 * sizeof *ne);
                if (!ne) goto err_parse;
                memcpy(ne, entries, cap * sizeof *ne);
                entries = ne;
                cap *= 2;
            }
            rn_offset_commit *e = &entries[total++];
            memset(e, 0, sizeof *e);
            e->topic = topics[t].name;
            e->leader_epoch = -1;
            RN_R_I32(r, &e->partition);
            RN_R_I64(r, &e->offset);
            if (v >= 6) RN_R_I32(r, &e->leader_epoch);
            if (v == 1) {
                int64_t commit_timestamp; /* the broker stamps commits itself */
                RN_R_I64(r, &commit_timestamp);
            }
            char *meta;
            if (rn_api_read_opt_name(req, r, &meta) != 0) goto err_parse;
            e->metadata = meta;
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* Kafka: OffsetCommit needs READ on the group (else GROUP_AUTHORIZATION_FAILED on
     * every partition) and READ on each topic (else TOPIC_AUTHORIZATION_FAILED on its
     * partitions, which are not committed; the others are). */
    rn_err top = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id)
                     ? RN_KAFKA_NONE
                     : RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
    if (!top) top = rn_api_group_elsewhere(req, group_id);
    rn_offset_commit *allowed = entries;
    size_t nallowed = total;
    if (!top && rn_authz_enabled(req) && total > 0) {
        if (!(allowed = rn_arena_alloc(&req->arena, total * sizeof *allowed))) goto err_parse;
        nallowed = 0;
        for (int32_t t = 0; t < ntopics; t++) {
            bool ok = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, topics[t].name);
            for (int32_t i = 0; i < topics[t].count; i++) {
                rn_offset_commit *e = &entries[topics[t].first + i];
                if (ok)
                    allowed[nallowed++] = *e;
                else
                    e->error = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
    if (!top && (nallowed > 0 || total == 0))
        top = rn_coordinator_commit(rn_api_coordinator(req), group_id, generation_id, member_id,
                                    instance_id, allowed, (int)nallowed);
    for (size_t i = 0, k = 0; allowed != entries && i < total; i++)
        if (!entries[i].error) entries[i].error = allowed[k++].error;
    commit_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    *st = (commit_state){.req = req, .topics = topics, .ntopics = ntopics, .entries = entries,
                         .top = top};
    rn_cluster *cluster = rn_conn_opts(req->conn)->cluster;
    if (cluster && !top) {
        st->replication = rn_cluster_replicate_commits(cluster, group_id, allowed, (int)nallowed,
                                                       &st->part, &st->end);
        if (st->part) return await_replicas(st);
    }
    write_response(st);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
