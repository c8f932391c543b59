/* net/peer.c: one outbound Kafka connection to another broker, with in-order response
 * matching, per-request timeouts and lazy reconnects.
 *
 *   +-------------+---------+-------------+----------------+---------------+-----+------+
 *   | size i32 BE | api_key | api_version | correlation_id | client_id     | tags| body |
 *   |             | i16     | i16         | i32            | classic string| (v2)|      |
 *   +-------------+---------+-------------+----------------+---------------+-----+------+
 *   response:  size i32 | correlation_id i32 | tags (header v1) | body
 *
 * Invariant: head..tail holds every accepted request whose callback has not run, in send
 * order; while there is no connection their frames wait in `out`. Callbacks run only from
 * the event loop (bufferevents defer theirs), never inside rn_peer_send. */
#include "peer.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "rnlog.h"

#define PEER_BACKOFF_MS 100          /* after a failure, before the next connect */
#define PEER_MAX_RESPONSE (128u << 20) /* a Fetch answer is 16 MiB and a bit, by request */

typedef struct peer_req {
    rn_peer *peer;
    int32_t correlation_id;
    int16_t api_key, api_version;
    bool flexible;
    rn_peer_cb cb;
    void *ctx;
    struct event *timer;
    struct peer_req *next;
} peer_req;

struct rn_peer {
    struct event_base *base;
    int32_t node_id;
    char *host;
    int port;
    char client_id[32];
    struct bufferevent *bev;  /* NULL while not connected (or connecting) */
    struct evbuffer *out;     /* frames waiting for the next connection */
    struct event *connect_ev; /* the next connect, after the backoff */
    int64_t retry_at_ms;      /* no connect before this */
    int32_t next_correlation_id;
    peer_req *head, *tail;    /* waiting for an answer */
    peer_req *failing;        /* being failed, callbacks still to run */
    int depth;                /* callbacks running now */
    bool freed;               /* rn_peer_free called: destroy when depth is 0 */
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void peer_destroy(rn_peer *p) {
    if (p->bev) bufferevent_free(p->bev);
    if (p->connect_ev) event_free(p->connect_ev);
    if (p->out) evbuffer_free(p->out);
    free(p->host);
    free(p);
}

/* Run a callback with the peer held; returns true when the peer is gone after it. */
static bool peer_call(rn_peer *p, peer_req *r, rn_err err, rn_reader *body) {
    rn_peer_cb cb = r->cb;
    void *ctx = r->ctx;
    if (r->timer) event_free(r->timer);
    free(r);
    p->depth++;
    cb(ctx, err, body);
    if (--p->depth == 0 && p->freed) {
        peer_destroy(p);
        return true;
    }
    return false;
}

static void peer_disconnect(rn_peer *p) {
    if (p->bev) {
        bufferevent_free(p->bev);
        p->bev = NULL;
    }
    evbuffer_drain(p->out, evbuffer_get_length(p->out));
    p->retry_at_ms = now_ms() + PEER_BACKOFF_MS;
}

/* Close the connection and fail every request: `timed_out` (if any) with
 * REQUEST_TIMED_OUT, the rest with err. Returns true when the peer is gone. */
static bool peer_fail(rn_peer *p, peer_req *timed_out, rn_err err) {
    peer_disconnect(p);
    /* The queue moves to `failing` first, so callbacks that send again start a fresh
     * queue (for the next connection) instead of being failed in this loop. */
    if (p->head) {
        peer_req **end = &p->failing;
        while (*end) end = &(*end)->next;
        *end = p->head;
        p->head = p->tail = NULL;
    }
    p->depth++; /* a callback's rn_peer_free must not destroy p under this loop */
    while (p->failing) {
        peer_req *r = p->failing;
        p->failing = r->next;
        peer_call(p, r, r == timed_out ? RN_KAFKA_REQUEST_TIMED_OUT : err, NULL);
    }
    if (--p->depth == 0 && p->freed) {
        peer_destroy(p);
        return true;
    }
    return false;
}

static void peer_timeout_cb(evutil_socket_t fd, short what, void *arg) {
    peer_req *r = arg;
    rn_peer *p = r->peer;
    rn_log_warn("peer %s:%d: request %d (api %d v%d) timed out; closing the connection",
                p->host, p->port, r->correlation_id, r->api_key, r->api_version);
    peer_fail(p, r, RN_KAFKA_NETWORK_EXCEPTION);
}

/* Answer the head request with one response frame (size prefix removed). Returns true
 * when the peer is gone. */
static bool peer_dispatch(rn_peer *p, const uint8_t *frame, size_t len) {
    peer_req *r = p->head;
    rn_reader rd;
    int32_t correlation_id;
    rn_reader_init(&rd, frame, len, false);
    RN_R_I32(&rd, &correlation_id);
    if (!r || correlation_id != r->correlation_id) {
        rn_log_warn("peer %s:%d: response with correlation id %d, expected %d; closing",
                    p->host, p->port, correlation_id, r ? r->correlation_id : -1);
        return peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
    }
    rd.flexible = r->flexible;
    if (r->flexible && r->api_key != 18) RN_R_TAGS(&rd); /* response header v1 */
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    return peer_call(p, r, 0, &rd);

err_parse:
    rn_log_warn("peer %s:%d: malformed response header (%s); closing", p->host, p->port,
                rd.fail_what ? rd.fail_what : "?");
    return peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
}

static void peer_read_cb(struct bufferevent *bev, void *arg) {
    rn_peer *p = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    while (p->bev == bev) {
        uint8_t prefix[4];
        if (evbuffer_copyout(in, prefix, 4) < 4) return;
        uint32_t size = rn_be32(prefix);
        if (size < 4 || size > PEER_MAX_RESPONSE) {
            rn_log_warn("peer %s:%d: response frame of %u bytes; closing", p->host, p->port,
                        size);
            peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
            return;
        }
        if (evbuffer_get_length(in) < 4 + (size_t)size) return;
        uint8_t *frame = malloc(size);
        if (!frame) {
            peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
            return;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, size);
        bool gone = peer_dispatch(p, frame, size);
        free(frame);
        if (gone) return;
    }
}

static void peer_event_cb(struct bufferevent *bev, short what, void *arg) {
    rn_peer *p = arg;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        rn_log_debug("peer %s:%d: connected", p->host, p->port);
        return;
    }
    if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        rn_log_debug("peer %s:%d: connection %s", p->host, p->port,
                     what & BEV_EVENT_EOF ? "closed" : "failed");
        peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
    }
}

static void peer_connect_cb(evutil_socket_t fd, short what, void *arg) {
    rn_peer *p = arg;
    if (p->bev || !p->head) return;
    /* Deferred callbacks: a failed connect reports from the loop, never from inside
     * this function or rn_peer_send. */
    struct bufferevent *bev =
        bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
        return;
    }
    bufferevent_setcb(bev, peer_read_cb, NULL, peer_event_cb, p);
    p->bev = bev;
    if (bufferevent_socket_connect_hostname(bev, NULL, AF_UNSPEC, p->host, p->port) != 0) {
        rn_log_debug("peer %s:%d: cannot connect", p->host, p->port);
        if (p->bev == bev) peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION);
        return;
    }
    if (p->bev != bev) return;
    bufferevent_write_buffer(bev, p->out);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Connect at the end of the backoff (at once when there was no failure), from the loop. */
static void peer_schedule_connect(rn_peer *p) {
    if (p->bev || evtimer_pending(p->connect_ev, NULL)) return;
    int64_t wait = p->retry_at_ms - now_ms();
    if (wait < 0) wait = 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(p->connect_ev, &tv);
}

rn_peer *rn_peer_new(struct event_base *base, int32_t node_id, const char *host, int port) {
    rn_peer *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->base = base;
    p->node_id = node_id;
    p->port = port;
    p->next_correlation_id = 1;
    snprintf(p->client_id, sizeof p->client_id, "runnel-broker-%d", (int)node_id);
    p->host = strdup(host ? host : "");
    p->out = evbuffer_new();
    p->connect_ev = evtimer_new(base, peer_connect_cb, p);
    if (!p->host || !p->out || !p->connect_ev) goto err;
    return p;
err:
    peer_destroy(p);
    return NULL;
}

void rn_peer_free(rn_peer *p) {
    if (!p || p->freed) return;
    p->freed = true;
    evtimer_del(p->connect_ev);
    if (!peer_fail(p, NULL, RN_KAFKA_NETWORK_EXCEPTION) && p->depth == 0) peer_destroy(p);
}

int rn_peer_send(rn_peer *p, int16_t api_key, int16_t api_version, const uint8_t *body,
                 size_t len, int timeout_ms, rn_peer_cb cb, void *ctx) {
    if (p->freed || len > PEER_MAX_RESPONSE) return -1;
    const rn_api *api = rn_api_find(api_key);
    bool flexible = api && rn_api_flexible(api, api_version);
    peer_req *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->peer = p;
    r->api_key = api_key;
    r->api_version = api_version;
    r->flexible = flexible;
    r->cb = cb;
    r->ctx = ctx;
    r->correlation_id = p->next_correlation_id;
    p->next_correlation_id = p->next_correlation_id == INT32_MAX ? 1 : p->next_correlation_id + 1;

    rn_writer w;
    rn_writer_init(&w, 64 + len, false); /* the client id is a classic string in v1 and v2 */
    size_t size_pos = rn_write_i32_placeholder(&w);
    rn_write_i16(&w, api_key);
    rn_write_i16(&w, api_version);
    rn_write_i32(&w, r->correlation_id);
    rn_write_string(&w, p->client_id);
    if (flexible) rn_write_uvarint(&w, 0); /* request header v2: no tagged fields */
    rn_write_raw(&w, body, len);
    if (w.failed) goto err;
    rn_write_i32_at(&w, size_pos, (int32_t)(w.len - 4));

    if (timeout_ms > 0) {
        r->timer = evtimer_new(p->base, peer_timeout_cb, r);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        if (!r->timer || evtimer_add(r->timer, &tv) != 0) goto err;
    }
    struct evbuffer *dst = p->bev ? bufferevent_get_output(p->bev) : p->out;
    if (evbuffer_add(dst, w.buf, w.len) != 0) goto err;
    rn_writer_free(&w);
    if (p->tail)
        p->tail->next = r;
    else
        p->head = r;
    p->tail = r;
    peer_schedule_connect(p);
    return 0;
err:
    rn_writer_free(&w);
    if (r->timer) event_free(r->timer);
    free(r);
    return -1;
}

const char *rn_peer_host(const rn_peer *p) { return p->host; }
int rn_peer_port(const rn_peer *p) { return p->port; }

int rn_peer_pending(const rn_peer *p) {
    int n = 0;
    for (const peer_req *r = p->head; r; r = r->next) n++;
    return n;
}
