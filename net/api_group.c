/* net/api_group.c: the pieces the group API handlers share (see api_group.h). A parked
 * request is answered through its wake event: the coordinator's done callback only
 * activates it, so the response is always written on the connection's own thread. */
#include "api_group.h"

#include "cluster.h"

#include <string.h>

#include "conn.h"

int rn_api_read_opt_name(rn_request *req, rn_reader *r, char **out) {
    rn_bytes s;
    *out = NULL;
    if (rn_read_string(r, &s) != 0) {
        rn_reader_fail(r, __FILE__, __LINE__, "nullable string");
        return -1;
    }
    if (s.len < 0) return 0;
    *out = rn_arena_strndup(&req->arena, s.ptr, (size_t)s.len);
    return *out ? 0 : -1;
}

const char *rn_api_client_host(rn_request *req) {
    const char *peer = req->conn->peer;
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    char *h = rn_arena_alloc(&req->arena, n + 2);
    if (!h) return "";
    h[0] = '/';
    memcpy(h + 1, peer, n);
    h[n + 1] = 0;
    return h;
}

rn_coordinator *rn_api_coordinator(rn_request *req) {
    return rn_engine_coordinator(rn_conn_opts(req->conn)->engine);
}

static void wait_release_result(rn_group_wait *gw) {
    if (!gw->waiter.completed) return;
    if (gw->is_join) rn_join_result_free(&gw->waiter.join);
    else rn_sync_result_free(&gw->waiter.sync);
    gw->waiter.completed = false;
}

static void wait_wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_group_wait *gw = arg;
    gw->respond(gw);
    wait_release_result(gw);
    event_free(gw->wake);
    gw->wake = NULL;
    rn_request_complete(gw->req); /* frees the request, gw with it */
}

/* Coordinator thread or any network thread, coordinator lock held: only wake. */
static void wait_done(rn_group_waiter *w) {
    rn_group_wait *gw = w->ctx;
    event_active(gw->wake, EV_READ, 0);
}

static void wait_cancel(rn_request *req) {
    rn_group_wait *gw = req->handler_state;
    rn_coordinator_cancel(rn_api_coordinator(req), &gw->waiter);
    wait_release_result(gw);
    if (gw->wake) event_free(gw->wake);
    gw->wake = NULL;
}

rn_group_wait *rn_group_wait_new(rn_request *req, rn_group_respond respond, bool is_join) {
    rn_group_wait *gw = rn_arena_calloc(&req->arena, 1, sizeof *gw);
    if (!gw) return NULL;
    gw->req = req;
    gw->respond = respond;
    gw->is_join = is_join;
    gw->waiter.done = wait_done;
    gw->waiter.ctx = gw;
    gw->wake = event_new(rn_conn_base(req->conn), -1, 0, wait_wake_cb, gw);
    if (!gw->wake) return NULL;
    req->handler_state = gw;
    req->cancel = wait_cancel;
    return gw;
}

rn_err rn_api_group_elsewhere(rn_request *req, const char *group_id) {
    rn_cluster *cluster = rn_conn_opts(req->conn)->cluster;
    return cluster ? rn_cluster_coordinator_here(cluster, group_id) : RN_KAFKA_NONE;
}
