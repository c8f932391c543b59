/* net/api_controller.c: park a request on a controller proposal and answer it on its own
 * loop. A call is shared by the request and the quorum's done callback and freed by the
 * last of them; its wake event exists exactly while the request does, so a done after
 * the connection closed touches nothing but the call. */
#include "api_controller.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conn.h"

/* An admin change is answered once every live broker follows it, polled this often, and
 * at the latest this long after the commit (a broker that stops answering meanwhile is
 * not waited for: its heartbeats stop and the controller fences it). */
#define RN_CONTROLLER_PROPAGATION_POLL_MS 5
#define RN_CONTROLLER_PROPAGATION_MAX_MS 3000

typedef struct {
    pthread_mutex_t lock;
    int refs;            /* the request's and the done callback's */
    struct event *wake;  /* NULL once the request was cancelled or answered */
    rn_request *req;
    rn_controller_answer answer;
    void *ctx;
    rn_err err;
    char msg[256];
    bool has_msg;
    int64_t broker_epoch; /* rn_cluster_register_broker writes it before done */
    rn_cluster *cluster;  /* NULL: answer at the commit; else once every broker follows */
    uint64_t index;       /* the image's applied index at the commit */
    int64_t give_up_ms;   /* when the answer leaves whoever still lags */
} controller_call;

static void call_unref(controller_call *call) {
    pthread_mutex_lock(&call->lock);
    bool last = --call->refs == 0;
    pthread_mutex_unlock(&call->lock);
    if (!last) return;
    pthread_mutex_destroy(&call->lock);
    free(call);
}

/* On the quorum's thread: record the outcome, wake the loop if the request is alive. */
static void call_done(void *ctx, rn_err err, const char *msg) {
    controller_call *call = ctx;
    pthread_mutex_lock(&call->lock);
    call->err = err;
    call->has_msg = msg && msg[0];
    if (call->has_msg) snprintf(call->msg, sizeof call->msg, "%s", msg);
    if (call->wake && err == RN_KAFKA_NONE && call->cluster) {
        /* Committed: the other brokers apply it when the quorum's next heartbeat tells them
         * the commit. Answering once they follow it lets a client that asks another broker
         * next (Metadata, DescribeConfigs) see its own change, as on a single broker. */
        call->index = rn_cluster_applied_index(call->cluster);
        call->give_up_ms = rn_cluster_now_ms() + RN_CONTROLLER_PROPAGATION_MAX_MS;
        struct timeval tv = {0, RN_CONTROLLER_PROPAGATION_POLL_MS * 1000};
        event_add(call->wake, &tv);
    } else if (call->wake) {
        event_active(call->wake, EV_READ, 0);
    }
    pthread_mutex_unlock(&call->lock);
    call_unref(call);
}

static void call_wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    controller_call *call = arg;
    pthread_mutex_lock(&call->lock);
    if (call->err == RN_KAFKA_NONE && call->cluster && rn_cluster_now_ms() < call->give_up_ms &&
        !rn_cluster_applied_everywhere(call->cluster, call->index)) {
        struct timeval tv = {0, RN_CONTROLLER_PROPAGATION_POLL_MS * 1000};
        event_add(call->wake, &tv);
        pthread_mutex_unlock(&call->lock);
        return;
    }
    rn_controller_result res = {.err = call->err, .msg = call->has_msg ? call->msg : NULL,
                                .broker_epoch = call->broker_epoch};
    event_free(call->wake);
    call->wake = NULL;
    rn_request *req = call->req;
    pthread_mutex_unlock(&call->lock);
    req->cancel = NULL;
    req->handler_state = NULL;
    call->answer(req, call->ctx, &res);
    call_unref(call);
    rn_request_complete(req); /* frees the request */
}

/* The connection closed first: the done to come must find nothing to wake. */
static void call_cancel(rn_request *req) {
    controller_call *call = req->handler_state;
    pthread_mutex_lock(&call->lock);
    if (call->wake) event_free(call->wake);
    call->wake = NULL;
    call->req = NULL;
    pthread_mutex_unlock(&call->lock);
    call_unref(call);
}

/* A call parked on req, or NULL when out of memory. */
static controller_call *call_park(rn_request *req, rn_controller_answer answer, void *ctx) {
    controller_call *call = calloc(1, sizeof *call);
    if (!call) return NULL;
    call->wake = event_new(rn_conn_base(req->conn), -1, 0, call_wake_cb, call);
    if (!call->wake) {
        free(call);
        return NULL;
    }
    pthread_mutex_init(&call->lock, NULL);
    call->refs = 2;
    call->req = req;
    call->answer = answer;
    call->ctx = ctx;
    call->broker_epoch = -1;
    req->handler_state = call;
    req->cancel = call_cancel;
    return call;
}

static enum rn_api_result answer_now(rn_request *req, rn_controller_answer answer, void *ctx,
                                     rn_err err) {
    rn_controller_result res = {.err = err, .broker_epoch = -1};
    answer(req, ctx, &res);
    return RN_API_DONE;
}

void rn_controller_item_refused(const rn_controller_result *res, bool proposed, rn_err *err,
                                char *message, size_t len) {
    if (!proposed || !res->err) return;
    *err = res->err;
    snprintf(message, len, "%s", res->msg ? res->msg : "");
}

rn_cluster *rn_controller_cluster(const rn_request *req) {
    return rn_conn_opts(req->conn)->cluster;
}

bool rn_controller_elsewhere(const rn_request *req) {
    rn_cluster *c = rn_controller_cluster(req);
    return c && !rn_cluster_is_controller(c);
}

rn_err rn_controller_single_broker_replicas(const rn_request *req, const int32_t *brokers, int n,
                                            char *msg, size_t msglen) {
    int32_t me = rn_conn_opts(req->conn)->node_id;
    for (int b = 0; b < n; b++)
        if (brokers[b] != me || n != 1) {
            snprintf(msg, msglen,
                     "this cluster has one broker (node %d): assignments must name only it", me);
            return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
    return RN_KAFKA_NONE;
}

int32_t rn_controller_default_partitions(const rn_request *req) {
    return rn_engine_default_partitions(rn_conn_opts(req->conn)->engine);
}

int rn_controller_timeout(int32_t timeout_ms) {
    return timeout_ms > 0 ? timeout_ms : RN_CONTROLLER_TIMEOUT_MS;
}

static enum rn_api_result propose(rn_request *req, const rn_md_record *records, int n,
                                  int timeout_ms, bool everywhere, rn_controller_answer answer,
                                  void *ctx) {
    rn_cluster *c = rn_controller_cluster(req);
    if (n == 0) return answer_now(req, answer, ctx, RN_KAFKA_NONE);
    if (!c) return answer_now(req, answer, ctx, RN_KAFKA_NOT_CONTROLLER);
    controller_call *call = call_park(req, answer, ctx);
    if (!call) return answer_now(req, answer, ctx, RN_ERR_NOMEM);
    call->cluster = everywhere ? c : NULL;
    rn_cluster_propose(c, records, n, timeout_ms, call_done, call);
    return RN_API_DEFERRED;
}

enum rn_api_result rn_controller_propose(rn_request *req, const rn_md_record *records, int n,
                                         int timeout_ms, rn_controller_answer answer, void *ctx) {
    return propose(req, records, n, timeout_ms, true, answer, ctx);
}

enum rn_api_result rn_controller_propose_committed(rn_request *req, const rn_md_record *records,
                                                   int n, int timeout_ms,
                                                   rn_controller_answer answer, void *ctx) {
    return propose(req, records, n, timeout_ms, false, answer, ctx);
}

enum rn_api_result rn_controller_register_broker(rn_request *req, int32_t id, const char *host,
                                                 int port, const char *raft_host, int raft_port,
                                                 rn_controller_answer answer, void *ctx) {
    rn_cluster *c = rn_controller_cluster(req);
    if (!c) return answer_now(req, answer, ctx, RN_KAFKA_NOT_CONTROLLER);
    controller_call *call = call_park(req, answer, ctx);
    if (!call) return answer_now(req, answer, ctx, RN_ERR_NOMEM);
    rn_cluster_register_broker(c, id, host, port, raft_host, raft_port, &call->broker_epoch,
                               call_done, call);
    return RN_API_DEFERRED;
}

rn_err rn_controller_check_replicas(const rn_metadata *md, const int32_t *ids, int n, char *msg,
                                    size_t msglen) {
    if (n < 1 || n > RN_CONTROLLER_MAX_REPLICAS) {
        snprintf(msg, msglen, "a partition needs 1 to %d replicas, not %d",
                 RN_CONTROLLER_MAX_REPLICAS, n);
        return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
    }
    for (int i = 0; i < n; i++) {
        if (rn_md_contains(ids, i, ids[i])) {
            snprintf(msg, msglen, "broker %d appears more than once in the replicas", ids[i]);
            return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
        if (!rn_md_broker_get(md, ids[i])) {
            snprintf(msg, msglen, "broker %d is not registered", ids[i]);
            return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
        }
    }
    return RN_KAFKA_NONE;
}

void rn_controller_topic_id(uint8_t id[16]) {
    if (getrandom(id, 16, 0) != 16) memset(id, 0x5a, 16); /* as the engine does */
}
