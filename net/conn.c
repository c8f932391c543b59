/* net/conn.c: one Kafka connection: framing, request dispatch, in-order responses,
 * back-pressure and idle timeout.
 *
 *   +-----------------+-----------------------------+
 *   | size int32 BE   | request header + body       |   size bytes follow the prefix;
 *   +-----------------+-----------------------------+   size is checked against
 *                                                       socket.request.max.bytes before
 *                                                       anything is allocated.
 * Invariant: c->head..c->tail holds every request not yet answered, in arrival order;
 * only the head's response may be written. */
#include "conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "forward.h"
#include "rnlog.h"
#include "tls.h"
#include "users.h"

#define RN_CONN_MAX_INFLIGHT 128

static void conn_process_input(rn_conn *c);
static int64_t now_us(void);

int rn_conn_credential_lookup(void *ctx, const char *user, int8_t mechanism,
                              rn_scram_credential *out) {
    rn_err err = rn_users_get(ctx, user, mechanism, out);
    return err == RN_KAFKA_NONE ? 0 : err == RN_KAFKA_RESOURCE_NOT_FOUND ? 1 : -1;
}

void rn_conn_sasl_done(rn_conn *c) {
    snprintf(c->principal, sizeof c->principal, "User:%s", rn_sasl_user(c->sasl));
    rn_log_info("%s (client %s): authenticated as %s with %s", c->peer,
                c->client_id[0] ? c->client_id : "-", c->principal,
                rn_sasl_mechanism_name(rn_sasl_mechanism(c->sasl)));
    rn_sasl_free(c->sasl);
    c->sasl = NULL;
    c->auth = RN_AUTH_DONE;
}

void rn_conn_sasl_failed(rn_conn *c, const char *msg) {
    const char *user = c->sasl ? rn_sasl_user(c->sasl) : "";
    rn_log_warn("%s (client %s): SASL %s authentication failed for user '%s': %s", c->peer,
                c->client_id[0] ? c->client_id : "-",
                c->sasl ? rn_sasl_mechanism_name(rn_sasl_mechanism(c->sasl)) : "-",
                user, msg);
    rn_sasl_free(c->sasl);
    c->sasl = NULL;
}

/* A bare SASL token after a v0 SaslHandshake (kafka-python, Kafka clients before 1.0):
 * no request header; the answer is the server token with a size prefix (empty when
 * PLAIN succeeds), and a failure closes the connection without a word, as Kafka does.
 * Takes the frame. Returns -1 when the connection was closed. */
static int conn_sasl_raw(rn_conn *c, uint8_t *frame, size_t len) {
    uint8_t *out = NULL;
    size_t outlen = 0;
    char msg[256] = "";
    rn_metrics *m = rn_server_metrics(c->thread->server);
    int64_t start = now_us();
    enum rn_sasl_step st = c->head ? RN_SASL_FAILED
                                   : rn_sasl_step(c->sasl, frame, len, &out, &outlen, msg, sizeof msg);
    if (c->head) snprintf(msg, sizeof msg, "a SASL token arrived while requests were pending");
    free(frame);
    rn_metrics_request(m, 36, now_us() - start, len + 4, st == RN_SASL_FAILED ? 0 : outlen + 4);
    if (st == RN_SASL_FAILED) {
        free(out);
        rn_metrics_errors(m, 36, RN_KAFKA_SASL_AUTHENTICATION_FAILED, 1);
        rn_conn_sasl_failed(c, msg);
        rn_conn_close(c, NULL);
        return -1;
    }
    uint8_t hdr[4];
    rn_put_be32(hdr, (uint32_t)outlen);
    struct evbuffer *ob = bufferevent_get_output(c->bev);
    evbuffer_add(ob, hdr, 4);
    if (outlen) evbuffer_add(ob, out, outlen);
    free(out);
    if (st == RN_SASL_DONE) rn_conn_sasl_done(c);
    return 0;
}

const rn_server_options *rn_conn_opts(const rn_conn *c) {
    return rn_server_opts(c->thread->server);
}

struct event_base *rn_conn_base(const rn_conn *c) { return c->thread->base; }

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void rn_request_free(rn_request *req) {
    rn_writer_free(&req->resp);
    rn_arena_free(&req->arena);
    free(req->frame);
    free(req);
}

static void free_stolen(const void *data, size_t len, void *extra) {
    (void)len;
    (void)extra;
    free((void *)data);
}

/* Pause reading while the output is above the high-water mark or too many requests
 * wait; resume below half of it. */
static void conn_update_flow(rn_conn *c) {
    const rn_server_options *o = rn_conn_opts(c);
    size_t out = evbuffer_get_length(bufferevent_get_output(c->bev));
    bool too_much = out > o->output_high_water || c->inflight >= RN_CONN_MAX_INFLIGHT;
    if (!c->paused && (too_much || c->close_after_flush)) {
        c->paused = true;
        bufferevent_disable(c->bev, EV_READ);
    } else if (c->paused && !c->close_after_flush && out <= o->output_high_water / 2 &&
               c->inflight < RN_CONN_MAX_INFLIGHT / 2) {
        c->paused = false;
        if (c->muted) return; /* the unmute timer resumes reading */
        bufferevent_enable(c->bev, EV_READ);
        if (!c->processing) conn_process_input(c);
    }
}

static void conn_unmute_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    rn_conn *c = arg;
    c->muted = false;
    if (c->paused) return; /* back-pressure resumes reading when the output drains */
    bufferevent_enable(c->bev, EV_READ);
    if (!c->processing) conn_process_input(c);
}

void rn_conn_throttle(rn_conn *c, int32_t ms) {
    if (ms <= 0) return;
    int64_t until = now_us() + (int64_t)ms * 1000;
    if (c->muted && until <= c->muted_until_us) return;
    if (!c->unmute && !(c->unmute = evtimer_new(c->thread->base, conn_unmute_cb, c))) return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    c->muted = true;
    c->muted_until_us = until;
    bufferevent_disable(c->bev, EV_READ);
    evtimer_add(c->unmute, &tv);
}

static void conn_run_handler(rn_conn *c, rn_request *req);

/* Write every finished response at the head of the queue; run a waiting request's
 * handler once everything before it is answered. */
static void conn_flush(rn_conn *c) {
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (c->head && c->head->state != RN_REQ_RUNNING) {
        rn_request *req = c->head;
        if (req->state == RN_REQ_WAITING) {
            conn_run_handler(c, req);
            continue;
        }
        rn_metrics *m = rn_server_metrics(c->thread->server);
        rn_metrics_request(m, req->api_key, now_us() - req->received_us, req->frame_len + 4,
                           req->state == RN_REQ_DONE ? req->resp.len + 9 : 0);
        for (int i = 0; i < req->nerrors; i++)
            rn_metrics_errors(m, req->api_key, req->errors[i].code, req->errors[i].count);
        if (req->state == RN_REQ_DONE && !req->resp.failed) {
            /* Response header v0 is the correlation id; v1 (flexible responses) adds a
             * tag section, except ApiVersions, whose header stays v0 so a client can
             * read it before it knows what the broker speaks (PROTOCOL.md trap 2). */
            bool header_tags = req->api && rn_api_flexible(req->api, req->api_version) &&
                               req->api_key != 18;
            uint8_t hdr[9];
            size_t hlen = header_tags ? 9 : 8;
            rn_put_be32(hdr, (uint32_t)(hlen - 4 + req->resp.len));
            rn_put_be32(hdr + 4, (uint32_t)req->correlation_id);
            hdr[8] = 0;
            evbuffer_add(out, hdr, hlen);
            size_t len;
            uint8_t *body = rn_writer_steal(&req->resp, &len);
            if (len)
                evbuffer_add_reference(out, body, len, free_stolen, NULL);
            else
                free(body);
        } else if (req->state == RN_REQ_DONE) {
            rn_log_error("out of memory building a %s response for %s; closing",
                         req->api ? req->api->name : "?", c->peer);
            c->close_after_flush = true;
        }
        c->head = req->next;
        if (!c->head) c->tail = NULL;
        c->inflight--;
        rn_request_free(req);
    }
}

void rn_request_complete(rn_request *req) {
    if (req->envelope) {
        rn_envelope_complete(req);
        return;
    }
    rn_conn *c = req->conn;
    req->state = RN_REQ_DONE;
    conn_flush(c);
    conn_update_flow(c);
}

/* Answer a request we cannot serve with the bare error an old client can read:
 * correlation id then int16 UNSUPPORTED_VERSION, queued behind earlier requests like any
 * response, and close once it is written. Takes req (already queued). */
static void conn_reject(rn_conn *c, rn_request *req, const char *why) {
    rn_log_warn("%s: %s; answering UNSUPPORTED_VERSION and closing", c->peer, why);
    req->api = NULL; /* response header v0 */
    rn_write_i16(&req->resp, RN_KAFKA_UNSUPPORTED_VERSION);
    req->state = RN_REQ_DONE;
    c->close_after_flush = true;
}

/* A waiting request at the head of the queue: run its handler now. A malformed one is
 * not answered and the connection closes once the answers before it are written. */
static void conn_run_handler(rn_conn *c, rn_request *req) {
    req->state = RN_REQ_RUNNING;
    switch (req->api->handler(req)) {
    case RN_API_DONE: req->state = RN_REQ_DONE; break;
    case RN_API_NO_RESPONSE: req->state = RN_REQ_SKIP; break;
    case RN_API_DEFERRED: req->state = RN_REQ_RUNNING; break;
    case RN_API_MALFORMED:
        atomic_fetch_add(&rn_server_metrics(c->thread->server)->malformed_requests, 1);
        req->state = RN_REQ_SKIP;
        c->close_after_flush = true;
        break;
    }
}

void rn_request_rerun(rn_request *req) {
    rn_conn *c = req->conn;
    rn_writer_free(&req->resp);
    rn_writer_init(&req->resp, 0, rn_api_flexible(req->api, req->api_version));
    rn_reader_init(&req->body, req->body_start, (size_t)(req->body.end - req->body_start),
                   req->body.flexible);
    req->nerrors = 0;
    conn_run_handler(c, req);
    conn_flush(c);
    conn_update_flow(c);
}

rn_request *rn_request_inner(rn_request *envelope, const uint8_t *frame, size_t len, rn_err *err) {
    *err = RN_ERR_NOMEM;
    rn_request *req = calloc(1, sizeof *req);
    uint8_t *copy = malloc(len ? len : 1);
    if (!req || !copy) {
        free(req);
        free(copy);
        return NULL;
    }
    memcpy(copy, frame, len);
    *req = (rn_request){.frame = copy, .frame_len = len, .conn = envelope->conn,
                        .server = envelope->server, .received_us = now_us(),
                        .envelope = envelope, .state = RN_REQ_RUNNING};
    rn_arena_init(&req->arena); /* req->resp stays zeroed (free-safe) until the API is known */
    *err = RN_KAFKA_INVALID_REQUEST;
    rn_reader h;
    rn_reader_init(&h, copy, len, false);
    RN_R_I16(&h, &req->api_key);
    RN_R_I16(&h, &req->api_version);
    RN_R_I32(&h, &req->correlation_id);
    RN_R_STR(&h, &req->client_id);
    req->api = rn_api_find(req->api_key);
    if (!req->api || req->api_version < req->api->min_version ||
        req->api_version > req->api->max_version) {
        *err = RN_KAFKA_UNSUPPORTED_VERSION;
        goto fail;
    }
    if (!req->api->controller) goto fail; /* only what brokers forward */
    bool flexible = rn_api_flexible(req->api, req->api_version);
    if (flexible) {
        h.flexible = true;
        RN_R_TAGS(&h);
    }
    rn_reader_init(&req->body, h.p, rn_reader_remaining(&h), flexible);
    req->body_start = req->body.p;
    rn_writer_init(&req->resp, 0, flexible);
    *err = RN_KAFKA_NONE;
    return req;
err_parse:
fail:
    rn_request_free(req);
    return NULL;
}

/* Parse the header of one frame and run its handler. Takes the frame. Returns -1 when
 * the connection was closed. */
static int conn_handle_frame(rn_conn *c, uint8_t *frame, size_t len) {
    rn_request *req = calloc(1, sizeof *req);
    if (!req) {
        free(frame);
        rn_conn_close(c, "out of memory");
        return -1;
    }
    req->frame = frame;
    req->frame_len = len;
    req->conn = c;
    req->server = c->thread->server;
    req->received_us = now_us();
    rn_arena_init(&req->arena);

    rn_reader h;
    rn_reader_init(&h, frame, len, false);
    RN_R_I16(&h, &req->api_key);
    RN_R_I16(&h, &req->api_version);
    RN_R_I32(&h, &req->correlation_id);
    RN_R_STR(&h, &req->client_id); /* request header v1/v2: always a classic string */
    if (!c->client_id[0] && req->client_id.len > 0) {
        /* Printable characters only: it goes into log lines. */
        size_t n = 0;
        for (int32_t i = 0; i < req->client_id.len && n < sizeof c->client_id - 1; i++) {
            uint8_t ch = req->client_id.ptr[i];
            c->client_id[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        c->client_id[n] = 0;
        rn_log_debug("%s: client id %s", c->peer, c->client_id);
    }

    req->api = rn_api_find(req->api_key);
    if (c->auth != RN_AUTH_DONE && req->api_key != 18 && req->api_key != 17 &&
        req->api_key != 36) {
        /* Kafka closes too: nothing but the handshake is served before authentication. */
        rn_log_warn("%s (client %s): %s (key %d) before SASL authentication on a %s listener; "
                    "closing",
                    c->peer, c->client_id[0] ? c->client_id : "-",
                    req->api ? req->api->name : "unknown API", req->api_key,
                    c->security_protocol == RN_SECURITY_SASL_SSL ? "SASL_SSL" : "SASL_PLAINTEXT");
        rn_metrics_errors(rn_server_metrics(c->thread->server), req->api_key,
                          RN_KAFKA_ILLEGAL_SASL_STATE, 1);
        rn_request_free(req);
        rn_conn_close(c, NULL);
        return -1;
    }
    bool flexible = req->api && rn_api_flexible(req->api, req->api_version);
    bool supported = req->api && req->api_version >= req->api->min_version &&
                     req->api_version <= req->api->max_version;
    if (supported && flexible) { /* request header v2: its tag section */
        h.flexible = true;
        RN_R_TAGS(&h);
    }
    rn_reader_init(&req->body, h.p, rn_reader_remaining(&h), supported && flexible);
    req->body_start = req->body.p;
    /* ApiVersions at an unknown version is answered in the v0 body (not flexible). */
    rn_writer_init(&req->resp, 0, supported && flexible);

    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    c->inflight++;
    req->state = RN_REQ_RUNNING;

    if (!req->api || (!supported && req->api_key != 18)) {
        char why[96];
        if (!req->api)
            snprintf(why, sizeof why, "unknown API key %d", req->api_key);
        else
            snprintf(why, sizeof why, "%s v%d is not supported", req->api->name,
                     req->api_version);
        conn_reject(c, req, why);
        conn_flush(c);
        return 0;
    }
    /* Metadata behind an unfinished request (an acks=all produce waiting for its
     * replicas) is answered as of when its answer leaves, as Kafka's one-request-at-a-time
     * connections do: computed now, it could tell a client about a leader that was fenced
     * while it waited, after fresher answers from other brokers (librdkafka then moves the
     * partition back to the dead broker). */
    if (req->api_key == 3 && req != c->head) {
        req->state = RN_REQ_WAITING;
        return 0;
    }
    enum rn_api_result result = rn_forward_wanted(req) ? rn_forward(req) : req->api->handler(req);
    int64_t took_us = now_us() - req->received_us;
    if (took_us > 500000)
        rn_log_warn("%s: %s v%d took %lld ms on the network thread", c->peer, req->api->name,
                    req->api_version, (long long)(took_us / 1000));
    switch (result) {
    case RN_API_DONE: req->state = RN_REQ_DONE; break;
    case RN_API_NO_RESPONSE: req->state = RN_REQ_SKIP; break;
    case RN_API_DEFERRED: break;
    case RN_API_MALFORMED:
        atomic_fetch_add(&rn_server_metrics(c->thread->server)->malformed_requests, 1);
        rn_conn_close(c, "malformed request");
        return -1;
    }
    conn_flush(c);
    return 0;

err_parse:
    rn_log_warn("%s: malformed request header (%zu bytes); closing", c->peer, len);
    rn_request_free(req);
    rn_conn_close(c, NULL);
    return -1;
}

static void conn_process_input(rn_conn *c) {
    const rn_server_options *o = rn_conn_opts(c);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->processing = true;
    while (!c->paused && !c->muted) {
        uint8_t prefix[4];
        size_t avail = evbuffer_get_length(in);
        if (avail < 4) break;
        evbuffer_copyout(in, prefix, 4);
        int32_t size = (int32_t)rn_be32(prefix);
        int32_t min_size = c->auth == RN_AUTH_RAW ? 0 : 8; /* a bare SASL token has no header */
        if (size < min_size || size > o->socket_request_max_bytes) {
            rn_log_warn("%s: request size %d is outside %d..%d (socket.request.max.bytes); "
                        "closing",
                        c->peer, size, min_size, o->socket_request_max_bytes);
            rn_conn_close(c, NULL);
            return;
        }
        if (avail < 4 + (size_t)size) {
            /* Wake only when the whole frame is here. */
            bufferevent_setwatermark(c->bev, EV_READ, 4 + (size_t)size, 0);
            break;
        }
        bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
        uint8_t *frame = malloc(size ? (size_t)size : 1);
        if (!frame) {
            rn_conn_close(c, "out of memory");
            return;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, (size_t)size);
        if (c->auth == RN_AUTH_RAW) {
            if (conn_sasl_raw(c, frame, (size_t)size) < 0) return;
        } else if (conn_handle_frame(c, frame, (size_t)size) < 0) {
            return;
        }
        conn_update_flow(c);
    }
    c->processing = false;
}

static void conn_read_cb(struct bufferevent *bev, void *ctx) {
    (void)bev;
    conn_process_input(ctx);
}

static void conn_write_cb(struct bufferevent *bev, void *ctx) {
    rn_conn *c = ctx;
    if (c->close_after_flush && !c->head && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        rn_conn_close(c, NULL);
        return;
    }
    conn_update_flow(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *ctx) {
    rn_conn *c = ctx;
    if (what & BEV_EVENT_CONNECTED) { /* the TLS handshake is over */
        char subject[256];
        if (c->security_protocol == RN_SECURITY_SSL &&
            rn_tls_peer_subject(bev, subject, sizeof subject) == 0)
            snprintf(c->principal, sizeof c->principal, "User:%s", subject);
        rn_log_debug("%s: TLS handshake done (%s)", c->peer, c->principal);
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && c->head) {
        /* A parked fetch counts as activity: keep the connection. */
        bufferevent_enable(c->bev, c->paused || c->muted ? EV_WRITE : EV_READ | EV_WRITE);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        rn_conn_close(c, "idle longer than connections.max.idle.ms");
    else if ((what & BEV_EVENT_ERROR) && rn_security_tls(c->security_protocol)) {
        char why[300];
        rn_conn_close(c, rn_tls_error(bev, why, sizeof why));
    } else if (what & BEV_EVENT_ERROR)
        rn_conn_close(c, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    else
        rn_conn_close(c, NULL); /* EOF */
}

void rn_conn_create(rn_net_thread *t, evutil_socket_t fd, int listener) {
    const rn_server_options *o = rn_server_opts(t->server);
    rn_conn *c = calloc(1, sizeof *c);
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->thread = t;
    c->listener = listener;
    c->security_protocol =
        listener < o->listener_count ? o->listeners[listener].protocol : RN_SECURITY_PLAINTEXT;
    c->auth = rn_security_sasl(c->security_protocol) ? RN_AUTH_HANDSHAKE : RN_AUTH_DONE;
    snprintf(c->principal, sizeof c->principal, "User:ANONYMOUS");
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evutil_make_socket_nonblocking(fd);
    if (rn_security_tls(c->security_protocol)) {
        rn_tls *tls = rn_server_tls(t->server);
        c->bev = tls ? rn_tls_bufferevent(tls, t->base, fd) : NULL; /* closes fd on failure */
        if (!c->bev) {
            if (!tls) evutil_closesocket(fd);
            rn_log_error("%s: cannot start TLS on a new connection", c->peer);
            free(c);
            return;
        }
    } else if (!(c->bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE))) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, o->output_high_water / 2, 0);
    if (o->connections_max_idle_ms > 0) {
        struct timeval tv = {o->connections_max_idle_ms / 1000,
                             (o->connections_max_idle_ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, &tv, NULL);
    }
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = t->conns;
    if (t->conns) t->conns->prev = c;
    t->conns = c;
    rn_log_debug("%s: connected", c->peer);
    atomic_fetch_add(&rn_server_metrics(t->server)->connections_opened, 1);
}

void rn_conn_close(rn_conn *c, const char *why) {
    if (why)
        rn_log_info("%s (client %s): closing connection: %s", c->peer,
                    c->client_id[0] ? c->client_id : "-", why);
    else
        rn_log_debug("%s (client %s): connection closed", c->peer, c->client_id[0] ? c->client_id : "-");
    atomic_fetch_add(&rn_server_metrics(c->thread->server)->connections_closed, 1);
    rn_request *req = c->head;
    while (req) {
        rn_request *next = req->next;
        if (req->state == RN_REQ_RUNNING && req->cancel) req->cancel(req);
        rn_request_free(req);
        req = next;
    }
    c->head = c->tail = NULL;
    rn_sasl_free(c->sasl);
    if (c->unmute) event_free(c->unmute);
    bufferevent_free(c->bev);
    rn_net_thread *t = c->thread;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
}
