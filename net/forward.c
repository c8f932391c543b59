/* net/forward.c: admin requests forwarded to the active controller (forward.h).
 *
 * A forward is shared by the request (its loop) and the cluster agent's answer (another
 * thread), and freed by the last of them; its wake event exists exactly while the request
 * does, so an answer after the client went away touches nothing but the forward. */
#include "forward.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "conn.h"
#include "rnlog.h"

typedef struct {
    pthread_mutex_t lock;
    int refs;
    struct event *wake; /* NULL once the request was cancelled or answered */
    rn_request *req;
    rn_err err;
    uint8_t *response; /* the embedded response header and body (malloc'd) */
    size_t len;
} forward;

static void forward_unref(forward *f) {
    pthread_mutex_lock(&f->lock);
    bool last = --f->refs == 0;
    pthread_mutex_unlock(&f->lock);
    if (!last) return;
    pthread_mutex_destroy(&f->lock);
    free(f->response);
    free(f);
}

bool rn_forward_wanted(const rn_request *req) {
    rn_cluster *c = rn_conn_opts(req->conn)->cluster;
    return c && req->api && req->api->controller && !req->envelope && !rn_cluster_is_controller(c);
}

/* On the agent's thread. */
static void forwarded(void *ctx, rn_err err, const uint8_t *response, size_t len) {
    forward *f = ctx;
    pthread_mutex_lock(&f->lock);
    f->err = err;
    if (!err && (f->response = malloc(len)) != NULL) {
        memcpy(f->response, response, len);
        f->len = len;
    } else if (!err) {
        f->err = RN_ERR_NOMEM;
    }
    if (f->wake) event_active(f->wake, EV_READ, 0);
    pthread_mutex_unlock(&f->lock);
    forward_unref(f);
}

/* The controller's response body into req->resp: its header (correlation id, and a tag
 * section when flexible) is the controller's, the client gets its own. */
static int take_body(rn_request *req, const uint8_t *p, size_t len) {
    rn_reader r;
    rn_reader_init(&r, p, len, true);
    int32_t corr;
    if (rn_read_i32(&r, &corr) != 0 || corr != req->correlation_id) return -1;
    if (rn_api_flexible(req->api, req->api_version) && rn_read_tags(&r) != 0) return -1;
    rn_write_raw(&req->resp, r.p, rn_reader_remaining(&r));
    return 0;
}

static void wake_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    forward *f = arg;
    pthread_mutex_lock(&f->lock);
    event_free(f->wake);
    f->wake = NULL;
    rn_request *req = f->req;
    rn_err err = f->err;
    pthread_mutex_unlock(&f->lock);
    req->cancel = NULL;
    req->handler_state = NULL;
    if (!err && take_body(req, f->response, f->len) != 0) err = RN_KAFKA_CORRUPT_MESSAGE;
    forward_unref(f);
    if (err) {
        rn_log_info("%s: %s not forwarded to the controller (%s): answering here",
                    req->conn->peer, req->api->name, rn_err_name(err));
        rn_request_rerun(req);
        return;
    }
    rn_request_complete(req);
}

static void forward_cancel(rn_request *req) {
    forward *f = req->handler_state;
    pthread_mutex_lock(&f->lock);
    if (f->wake) event_free(f->wake);
    f->wake = NULL;
    pthread_mutex_unlock(&f->lock);
    forward_unref(f);
}

/* The client's address as Kafka sends it: 4 (IPv4) or 16 (IPv6) bytes; none when the
 * peer is not an address. */
static size_t client_address(const rn_conn *c, uint8_t out[16]) {
    char host[64];
    const char *colon = strrchr(c->peer, ':');
    size_t n = colon ? (size_t)(colon - c->peer) : strlen(c->peer);
    if (n >= sizeof host) return 0;
    memcpy(host, c->peer, n);
    host[n] = 0;
    if (inet_pton(AF_INET, host, out) == 1) return 4;
    if (inet_pton(AF_INET6, host, out) == 1) return 16;
    return 0;
}

enum rn_api_result rn_forward(rn_request *req) {
    rn_conn *c = req->conn;
    forward *f = calloc(1, sizeof *f);
    if (!f) return req->api->handler(req);
    f->wake = event_new(rn_conn_base(c), -1, 0, wake_cb, f);
    if (!f->wake) {
        free(f);
        return req->api->handler(req);
    }
    pthread_mutex_init(&f->lock, NULL);
    f->refs = 2;
    f->req = req;
    /* EnvelopeRequest v0 (flexible): request_data, request_principal, client_host_address */
    rn_writer w;
    rn_writer_init(&w, req->frame_len + 128, true);
    rn_write_bytes(&w, req->frame, (int32_t)req->frame_len);
    rn_write_bytes(&w, c->principal, (int32_t)strlen(c->principal));
    uint8_t addr[16];
    rn_write_bytes(&w, addr, (int32_t)client_address(c, addr));
    rn_write_tags(&w);
    int rc = w.failed ? -1 : rn_cluster_forward(rn_conn_opts(c)->cluster, w.buf, w.len, forwarded, f);
    rn_writer_free(&w);
    if (rc != 0) {
        event_free(f->wake);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return req->api->handler(req);
    }
    req->handler_state = f;
    req->cancel = forward_cancel;
    return RN_API_DEFERRED;
}
