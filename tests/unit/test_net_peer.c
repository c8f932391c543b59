/* tests/unit/test_net_peer.c: net/peer.c against a fake broker on the same event base
 * (framing, in-order matching, close, timeout, reconnect, free), and the replica
 * fetcher's wire building (net/replica_fetcher.c). */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "codec.h"
#include "engine.h"
#include "peer.h"
#include "replica_fetcher.h"

/* ---- the fake broker ---------------------------------------------------------------- */

enum fake_mode { FAKE_ECHO, FAKE_SILENT, FAKE_CLOSE };

typedef struct {
    int16_t api_key, api_version;
    int32_t correlation_id;
    char client_id[64];
    bool tagged;          /* a header tag section was present */
    uint8_t body[256];
    size_t body_len;
} fake_req;

static struct event_base *base;
static struct evconnlistener *listener;
static struct bufferevent *server_bev;
static int port;
static enum fake_mode mode;
static bool header_v2;    /* the fake expects request header v2 for the next requests */
static bool response_tags;/* answer with a response header v1 */
static fake_req reqs[16];
static int nreqs, accepts;
static bufferevent_data_cb server_read; /* the fake's request handler */

static void fake_read(struct bufferevent *bev, void *arg) {
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t pre[4];
        if (evbuffer_copyout(in, pre, 4) < 4) return;
        uint32_t size = rn_be32(pre);
        if (evbuffer_get_length(in) < 4 + size) return;
        uint8_t *frame = malloc(size);
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, size);
        cr_assert_lt(nreqs, 16);
        fake_req *q = &reqs[nreqs++];
        rn_reader r;
        rn_bytes cid;
        rn_reader_init(&r, frame, size, false);
        cr_assert_eq(rn_read_i16(&r, &q->api_key), 0);
        cr_assert_eq(rn_read_i16(&r, &q->api_version), 0);
        cr_assert_eq(rn_read_i32(&r, &q->correlation_id), 0);
        cr_assert_eq(rn_read_string(&r, &cid), 0);
        cr_assert(cid.len > 0 && cid.len < 64);
        memcpy(q->client_id, cid.ptr, (size_t)cid.len);
        q->client_id[cid.len] = 0;
        if (header_v2) {
            uint32_t ntags;
            cr_assert_eq(rn_read_uvarint(&r, &ntags), 0);
            cr_assert_eq(ntags, 0);
            q->tagged = true;
        }
        q->body_len = rn_reader_remaining(&r);
        cr_assert_leq(q->body_len, sizeof q->body);
        memcpy(q->body, r.p, q->body_len);
        free(frame);
        if (mode == FAKE_CLOSE) {
            bufferevent_free(bev);
            server_bev = NULL;
            return;
        }
        if (mode == FAKE_SILENT) continue;
        /* The answer: the correlation id, maybe tags, then the request body reversed. */
        uint8_t out[4 + 4 + 1 + 256];
        size_t n = 0;
        uint32_t rsize = 4 + (response_tags ? 1 : 0) + (uint32_t)q->body_len;
        rn_put_be32(out, rsize);
        rn_put_be32(out + 4, (uint32_t)q->correlation_id);
        n = 8;
        if (response_tags) out[n++] = 0;
        for (size_t i = 0; i < q->body_len; i++) out[n++] = q->body[q->body_len - 1 - i];
        bufferevent_write(bev, out, n);
    }
}

static void fake_event(struct bufferevent *bev, short what, void *arg) {
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        bufferevent_free(bev);
        if (server_bev == bev) server_bev = NULL;
    }
}

static void fake_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                        int socklen, void *arg) {
    accepts++;
    if (server_bev) bufferevent_free(server_bev);
    server_bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(server_bev, server_read, NULL, fake_event, NULL);
    bufferevent_enable(server_bev, EV_READ | EV_WRITE);
}

static void setup(void) {
    base = event_base_new();
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    listener = evconnlistener_new_bind(base, fake_accept, NULL,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                       (struct sockaddr *)&sin, sizeof sin);
    cr_assert(listener);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound, &blen);
    port = ntohs(bound.sin_port);
    mode = FAKE_ECHO;
    header_v2 = response_tags = false;
    nreqs = accepts = 0;
    server_bev = NULL;
    server_read = fake_read;
}

static void teardown(void) {
    if (server_bev) bufferevent_free(server_bev);
    evconnlistener_free(listener);
    event_base_free(base);
}

/* ---- the client side ---------------------------------------------------------------- */

typedef struct {
    int calls;
    rn_err err;
    uint8_t body[256];
    size_t body_len;
    bool flexible;
    int order;      /* when it ran, among all callbacks */
    rn_peer *free_me;
} answer;

static int ran;

static void on_answer(void *ctx, rn_err err, rn_reader *body) {
    answer *a = ctx;
    a->calls++;
    a->err = err;
    a->order = ran++;
    if (body) {
        a->body_len = rn_reader_remaining(body);
        a->flexible = body->flexible;
        memcpy(a->body, body->p, a->body_len);
    } else {
        cr_assert_eq(err != 0, true);
    }
    if (a->free_me) rn_peer_free(a->free_me);
}

/* Run the loop until cond holds or 3 s pass. */
#define RUN_UNTIL(cond)                                                                   \
    do {                                                                                  \
        for (int i_ = 0; i_ < 3000 && !(cond); i_++) {                                    \
            struct timeval tv_ = {0, 1000};                                               \
            event_base_loopexit(base, &tv_);                                              \
            event_base_dispatch(base);                                                    \
        }                                                                                 \
        cr_assert(cond, "timed out waiting for " #cond);                                  \
    } while (0)

TestSuite(net_peer, .init = setup, .fini = teardown, .timeout = 20);

Test(net_peer, frames_a_classic_request_and_reads_the_answer) {
    rn_peer *p = rn_peer_new(base, 7, "127.0.0.1", port);
    cr_assert_str_eq(rn_peer_host(p), "127.0.0.1");
    cr_assert_eq(rn_peer_port(p), port);
    answer a = {0};
    const uint8_t body[] = {1, 2, 3};
    cr_assert_eq(rn_peer_send(p, 3, 1, body, sizeof body, 2000, on_answer, &a), 0);
    cr_assert_eq(a.calls, 0, "never inside send");
    cr_assert_eq(rn_peer_pending(p), 1);
    RUN_UNTIL(a.calls == 1);
    cr_assert_eq(nreqs, 1);
    cr_assert_eq(reqs[0].api_key, 3);
    cr_assert_eq(reqs[0].api_version, 1);
    cr_assert_eq(reqs[0].correlation_id, 1);
    cr_assert_str_eq(reqs[0].client_id, "runnel-broker-7");
    cr_assert_eq(reqs[0].body_len, 3);
    cr_assert_eq(memcmp(reqs[0].body, body, 3), 0);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(a.body_len, 3);
    cr_assert_eq(a.body[0], 3);
    cr_assert_eq(a.body[2], 1);
    cr_assert_eq(a.flexible, false);
    cr_assert_eq(rn_peer_pending(p), 0);
    rn_peer_free(p);
    cr_assert_eq(a.calls, 1);
}

Test(net_peer, flexible_versions_carry_tag_sections) {
    rn_peer *p = rn_peer_new(base, 2, "127.0.0.1", port);
    header_v2 = true;
    response_tags = true;
    answer a = {0};
    const uint8_t body[] = {9, 8};
    cr_assert_eq(rn_peer_send(p, 1, 12, body, sizeof body, 2000, on_answer, &a), 0); /* Fetch v12 */
    RUN_UNTIL(a.calls == 1);
    cr_assert(reqs[0].tagged);
    cr_assert_eq(reqs[0].body_len, 2);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(a.body_len, 2, "the response header's tags are skipped");
    cr_assert_eq(a.body[0], 8);
    cr_assert(a.flexible);
    /* ApiVersions v3: request header v2, but response header v0. */
    response_tags = false;
    answer b = {0};
    cr_assert_eq(rn_peer_send(p, 18, 3, body, sizeof body, 2000, on_answer, &b), 0);
    RUN_UNTIL(b.calls == 1);
    cr_assert(reqs[1].tagged);
    cr_assert_eq(reqs[1].correlation_id, 2);
    cr_assert_eq(b.body_len, 2);
    cr_assert_eq(b.body[0], 8);
    rn_peer_free(p);
}

Test(net_peer, answers_match_requests_in_order) {
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", port);
    answer a[3] = {{0}};
    for (uint8_t i = 0; i < 3; i++)
        cr_assert_eq(rn_peer_send(p, 3, 1, &i, 1, 2000, on_answer, &a[i]), 0);
    RUN_UNTIL(a[2].calls == 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(a[i].calls, 1);
        cr_assert_eq(a[i].err, 0);
        cr_assert_eq(a[i].body[0], i);
        cr_assert_eq(a[i].order, a[0].order + i);
        cr_assert_eq(reqs[i].correlation_id, i + 1);
    }
    cr_assert_eq(accepts, 1, "one connection");
    rn_peer_free(p);
}

Test(net_peer, a_closed_connection_fails_every_pending_request) {
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", port);
    mode = FAKE_CLOSE;
    answer a = {0}, b = {0};
    uint8_t x = 0;
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &a), 0);
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &b), 0);
    RUN_UNTIL(a.calls == 1 && b.calls == 1);
    cr_assert_eq(a.err, RN_KAFKA_NETWORK_EXCEPTION);
    cr_assert_eq(b.err, RN_KAFKA_NETWORK_EXCEPTION);
    cr_assert_lt(a.order, b.order);
    /* The next send reconnects (after the backoff). */
    mode = FAKE_ECHO;
    answer c = {0};
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &c), 0);
    RUN_UNTIL(c.calls == 1);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(accepts, 2);
    rn_peer_free(p);
    cr_assert_eq(a.calls + b.calls + c.calls, 3, "never twice");
}

Test(net_peer, a_timeout_closes_and_fails_the_rest) {
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", port);
    mode = FAKE_SILENT;
    answer a = {0}, b = {0};
    uint8_t x = 0;
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 100, on_answer, &a), 0);
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 5000, on_answer, &b), 0);
    RUN_UNTIL(a.calls == 1 && b.calls == 1);
    cr_assert_eq(a.err, RN_KAFKA_REQUEST_TIMED_OUT);
    cr_assert_eq(b.err, RN_KAFKA_NETWORK_EXCEPTION);
    mode = FAKE_ECHO;
    answer c = {0};
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &c), 0);
    RUN_UNTIL(c.calls == 1);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(accepts, 2, "reconnected");
    rn_peer_free(p);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
}

Test(net_peer, refused_connection_fails_with_network_exception) {
    int closed_port = port;
    evconnlistener_disable(listener);
    evconnlistener_free(listener);
    listener = NULL;
    /* Nothing listens there now. */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    listener = evconnlistener_new_bind(base, fake_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 16,
                                       (struct sockaddr *)&sin, sizeof sin);
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", closed_port);
    answer a = {0};
    uint8_t x = 0;
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &a), 0);
    RUN_UNTIL(a.calls == 1);
    cr_assert_eq(a.err, RN_KAFKA_NETWORK_EXCEPTION);
    rn_peer_free(p);
}

Test(net_peer, free_fails_pending_requests_before_returning) {
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", port);
    mode = FAKE_SILENT;
    answer a = {0}, b = {0};
    uint8_t x = 0;
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &a), 0);
    RUN_UNTIL(nreqs == 1);
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &b), 0);
    rn_peer_free(p);
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(a.err, RN_KAFKA_NETWORK_EXCEPTION);
    cr_assert_eq(b.err, RN_KAFKA_NETWORK_EXCEPTION);
}

Test(net_peer, free_inside_a_callback_is_safe) {
    rn_peer *p = rn_peer_new(base, 1, "127.0.0.1", port);
    answer a = {0}, b = {0};
    a.free_me = p;
    uint8_t x = 1;
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &a), 0);
    cr_assert_eq(rn_peer_send(p, 3, 1, &x, 1, 2000, on_answer, &b), 0);
    RUN_UNTIL(a.calls == 1);
    cr_assert_eq(a.err, 0);
    cr_assert_eq(b.calls, 1, "the free failed the other one");
    cr_assert_eq(b.err, RN_KAFKA_NETWORK_EXCEPTION);
    /* Let any deferred work run: nothing may touch the freed peer. */
    struct timeval tv = {0, 50000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    cr_assert_eq(b.calls, 1);
}

/* ---- the replica fetcher's wire ----------------------------------------------------- */

Test(net_peer, fetch_request_body_groups_partitions_by_topic) {
    rn_replica_fetch_partition parts[] = {
        {.topic = "a", .index = 0, .current_leader_epoch = 3, .fetch_offset = 100, .log_start_offset = 5},
        {.topic = "a", .index = 2, .current_leader_epoch = 3, .fetch_offset = 7, .log_start_offset = 0},
        {.topic = "b", .index = 1, .current_leader_epoch = 9, .fetch_offset = 0, .log_start_offset = 0},
    };
    rn_writer w;
    rn_writer_init(&w, 0, false);
    rn_replica_fetch_build(&w, 4, 500, parts, 3);
    cr_assert_not(w.failed);
    rn_reader r;
    rn_reader_init(&r, w.buf, w.len, false);
    int32_t v32, ntopics, nparts;
    int8_t v8;
    int64_t v64;
    rn_bytes s;
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 4);        /* replica_id */
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 500);      /* max_wait_ms */
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 1);        /* min_bytes */
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 16 << 20); /* max_bytes */
    rn_read_i8(&r, &v8); cr_assert_eq(v8, 0);           /* isolation_level */
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 0);        /* session_id */
    rn_read_i32(&r, &v32); cr_assert_eq(v32, -1);       /* session_epoch */
    rn_read_array_len(&r, &ntopics, 1);
    cr_assert_eq(ntopics, 2);
    rn_read_string(&r, &s);
    cr_assert_eq(s.len, 1);
    cr_assert_eq(s.ptr[0], 'a');
    rn_read_array_len(&r, &nparts, 1);
    cr_assert_eq(nparts, 2);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 0);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 3);
    rn_read_i64(&r, &v64); cr_assert_eq(v64, 100);
    rn_read_i64(&r, &v64); cr_assert_eq(v64, 5);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 1 << 20);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 2);
    rn_read_i32(&r, &v32);
    rn_read_i64(&r, &v64); cr_assert_eq(v64, 7);
    rn_read_i64(&r, &v64);
    rn_read_i32(&r, &v32);
    rn_read_string(&r, &s);
    cr_assert_eq(s.ptr[0], 'b');
    rn_read_array_len(&r, &nparts, 1);
    cr_assert_eq(nparts, 1);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 1);
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 9);
    rn_read_i64(&r, &v64);
    rn_read_i64(&r, &v64);
    rn_read_i32(&r, &v32);
    rn_read_array_len(&r, &v32, 1); cr_assert_eq(v32, 0); /* forgotten_topics_data */
    rn_read_string(&r, &s); cr_assert_eq(s.len, 0);      /* rack_id */
    cr_assert_not(r.failed);
    cr_assert_eq(rn_reader_remaining(&r), 0);
    rn_writer_free(&w);
}

Test(net_peer, epoch_request_body) {
    rn_replica_fetch_partition parts[] = {
        {.topic = "t", .index = 0, .current_leader_epoch = 3, .leader_epoch = 2},
        {.topic = "t", .index = 1, .current_leader_epoch = 3, .leader_epoch = 1},
    };
    rn_writer w;
    rn_writer_init(&w, 0, false);
    rn_replica_epoch_build(&w, 6, parts, 2);
    rn_reader r;
    rn_reader_init(&r, w.buf, w.len, false);
    int32_t v32, n;
    rn_bytes s;
    rn_read_i32(&r, &v32); cr_assert_eq(v32, 6);
    rn_read_array_len(&r, &n, 1); cr_assert_eq(n, 1);
    rn_read_string(&r, &s); cr_assert_eq(s.ptr[0], 't');
    rn_read_array_len(&r, &n, 1); cr_assert_eq(n, 2);
    int32_t want[2][3] = {{0, 3, 2}, {1, 3, 1}};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            rn_read_i32(&r, &v32);
            cr_assert_eq(v32, want[i][j]);
        }
    cr_assert_not(r.failed);
    cr_assert_eq(rn_reader_remaining(&r), 0);
    rn_writer_free(&w);
}

Test(net_peer, whole_batches_drop_a_cut_last_batch) {
    uint8_t buf[1024];
    rn_record rec = {.offset = 0, .timestamp = 1000, .key = NULL, .key_len = -1,
                     .value = (const uint8_t *)"hello", .value_len = 5};
    size_t a = rn_batch_build(buf, sizeof buf, 0, &rec, 1, -1, 0, 0);
    size_t b = rn_batch_build(buf + a, sizeof buf - a, 1, &rec, 1, -1, 0, 0);
    cr_assert(a > 0 && b > 0);
    cr_assert_eq(rn_replica_whole_batches(buf, a + b), a + b);
    cr_assert_eq(rn_replica_whole_batches(buf, a + b - 1), a);
    cr_assert_eq(rn_replica_whole_batches(buf, a + 30), a, "a cut header");
    cr_assert_eq(rn_replica_whole_batches(buf, a - 1), 0);
    cr_assert_eq(rn_replica_whole_batches(buf, 0), 0);
}

/* ---- the replica fetcher against a fake leader, on the real engine ------------------- */

/* The fake leader's log of partition 0 and 1 of "t": offsets [leader_start, leader_end),
 * one record per batch, batches of epoch 3. OffsetForLeaderEpoch answers epoch_answer. */
static int64_t leader_start[2], leader_end[2];
static int64_t fetched_at[64];
static int nfetched, nepochs;
static int32_t epoch_answer_epoch;
static int64_t epoch_answer_offset;

static void put16(struct evbuffer *b, int16_t v) {
    uint8_t x[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    evbuffer_add(b, x, 2);
}
static void put32(struct evbuffer *b, int32_t v) {
    uint8_t x[4];
    rn_put_be32(x, (uint32_t)v);
    evbuffer_add(b, x, 4);
}
static void put64(struct evbuffer *b, int64_t v) {
    put32(b, (int32_t)((uint64_t)v >> 32));
    put32(b, (int32_t)v);
}

static void fake_leader_read(struct bufferevent *bev, void *arg) {
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t pre[4];
        if (evbuffer_copyout(in, pre, 4) < 4) return;
        uint32_t size = rn_be32(pre);
        if (evbuffer_get_length(in) < 4 + size) return;
        uint8_t *frame = malloc(size);
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, size);
        rn_reader r;
        rn_reader_init(&r, frame, size, false);
        int16_t key, version;
        int32_t cid, replica_id, ntopics, nparts, v32;
        int8_t v8;
        rn_bytes s;
        rn_read_i16(&r, &key);
        rn_read_i16(&r, &version);
        rn_read_i32(&r, &cid);
        rn_read_string(&r, &s);
        struct evbuffer *o = evbuffer_new();
        put32(o, cid);
        rn_read_i32(&r, &replica_id);
        cr_assert_eq(replica_id, 5);
        if (key == 23) {
            cr_assert_eq(version, 3);
            nepochs++;
            rn_read_array_len(&r, &ntopics, 1);
            put32(o, 0);
            put32(o, ntopics);
            for (int32_t t = 0; t < ntopics; t++) {
                rn_read_string(&r, &s);
                rn_read_array_len(&r, &nparts, 1);
                put16(o, 1);
                evbuffer_add(o, "t", 1);
                put32(o, nparts);
                for (int32_t i = 0; i < nparts; i++) {
                    int32_t index, current_leader_epoch, leader_epoch;
                    rn_read_i32(&r, &index);
                    rn_read_i32(&r, &current_leader_epoch);
                    rn_read_i32(&r, &leader_epoch);
                    cr_assert_eq(current_leader_epoch, 4);
                    cr_assert_eq(leader_epoch, 3, "the follower's latest epoch");
                    put16(o, 0);
                    put32(o, index);
                    put32(o, epoch_answer_epoch);
                    put64(o, epoch_answer_offset);
                }
            }
        } else {
            cr_assert_eq(key, 1);
            cr_assert_eq(version, 11);
            rn_read_i32(&r, &v32); /* max_wait_ms */
            rn_read_i32(&r, &v32);
            rn_read_i32(&r, &v32);
            rn_read_i8(&r, &v8);
            rn_read_i32(&r, &v32);
            rn_read_i32(&r, &v32);
            rn_read_array_len(&r, &ntopics, 1);
            put32(o, 0);
            put16(o, 0);
            put32(o, 0);
            put32(o, ntopics);
            for (int32_t t = 0; t < ntopics; t++) {
                rn_read_string(&r, &s);
                rn_read_array_len(&r, &nparts, 1);
                put16(o, 1);
                evbuffer_add(o, "t", 1);
                put32(o, nparts);
                for (int32_t i = 0; i < nparts; i++) {
                    int32_t index, partition_max_bytes;
                    int64_t fetch_offset, log_start_offset;
                    rn_read_i32(&r, &index);
                    rn_read_i32(&r, &v32);
                    rn_read_i64(&r, &fetch_offset);
                    rn_read_i64(&r, &log_start_offset);
                    rn_read_i32(&r, &partition_max_bytes);
                    if (index == 0 && nfetched < 64) fetched_at[nfetched++] = fetch_offset;
                    put32(o, index);
                    bool oor = fetch_offset < leader_start[index] || fetch_offset > leader_end[index];
                    put16(o, oor ? RN_KAFKA_OFFSET_OUT_OF_RANGE : 0);
                    put64(o, leader_end[index]);
                    put64(o, leader_end[index]);
                    put64(o, leader_start[index]);
                    put32(o, -1); /* aborted_transactions: null */
                    put32(o, -1);
                    if (oor || fetch_offset == leader_end[index]) {
                        put32(o, -1);
                        continue;
                    }
                    /* The batch at fetch_offset, and the next one cut short. */
                    uint8_t buf[512];
                    rn_record rec = {.timestamp = 1000, .key_len = -1,
                                     .value = (const uint8_t *)"v", .value_len = 1};
                    size_t a = rn_batch_build(buf, sizeof buf, fetch_offset, &rec, 1, -1, 0, 0);
                    size_t b = rn_batch_build(buf + a, sizeof buf - a, fetch_offset + 1, &rec, 1,
                                              -1, 0, 0);
                    rn_batch_set_leader_epoch(buf, 3);
                    rn_batch_set_leader_epoch(buf + a, 3);
                    size_t n = fetch_offset + 1 < leader_end[index] ? a + b - 7 : a;
                    put32(o, (int32_t)n);
                    evbuffer_add(o, buf, n);
                }
            }
        }
        free(frame);
        put32(bufferevent_get_output(bev), (int32_t)evbuffer_get_length(o));
        bufferevent_write_buffer(bev, o);
        evbuffer_free(o);
    }
}

static rn_partition *replica(rn_engine *e, int32_t index) {
    rn_err err;
    rn_partition *p = rn_engine_partition(e, "t", index, &err);
    cr_assert(p);
    cr_assert_eq(rn_partition_become_follower(p, 3, 2), 0);
    return p;
}

static int64_t log_end(rn_partition *p) {
    rn_partition_offsets o;
    rn_partition_offsets_get(p, &o);
    return o.log_end_offset;
}

Test(net_peer, fetcher_follows_truncates_and_resets) {
    char dir[] = "/tmp/runnel-peer-XXXXXX";
    cr_assert(mkdtemp(dir));
    rn_engine_options eo = {.data_dir = dir, .node_id = 5, .log_column_families = 2,
                            .default_retention_ms = -1, .default_retention_bytes = -1,
                            .default_max_message_bytes = 1 << 20, .default_partitions = 1};
    rn_engine *e = NULL;
    char msg[256] = "";
    cr_assert_eq(rn_engine_open(&eo, &e, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(rn_engine_create_topic(e, "t", 2, NULL, 0, false, msg, sizeof msg), 0, "%s", msg);
    rn_partition *p0 = replica(e, 0), *p1 = replica(e, 1);
    server_read = fake_leader_read;
    leader_start[0] = 0;
    leader_end[0] = 4;
    leader_start[1] = 3; /* behind the leader's log start: reset there */
    leader_end[1] = 5;

    rn_replica_fetcher *f = rn_replica_fetcher_new(base, 5, 100);
    rn_replica_fetcher_follow(f, p0, "t", 0, 2, "127.0.0.1", port, 3);
    rn_replica_fetcher_follow(f, p1, "t", 1, 2, "127.0.0.1", port, 3);
    cr_assert_eq(rn_replica_fetcher_count(f), 2);
    RUN_UNTIL(log_end(p0) == 4 && log_end(p1) == 5);
    cr_assert_eq(nepochs, 0, "an empty log has no epoch to ask about");
    rn_partition_offsets o;
    rn_partition_offsets_get(p1, &o);
    cr_assert_eq(o.log_start_offset, 3);
    rn_partition_offsets_get(p0, &o);
    RUN_UNTIL((rn_partition_offsets_get(p0, &o), o.high_watermark == 4));
    cr_assert_eq(rn_partition_latest_epoch(p0), 3);

    /* A new epoch: the leader says epoch 3 ended at 2, so 2 and 3 go and come back. */
    cr_assert_eq(rn_partition_become_follower(p0, 4, 2), 0);
    epoch_answer_epoch = 3;
    epoch_answer_offset = 2;
    nfetched = 0;
    rn_replica_fetcher_follow(f, p0, "t", 0, 2, "127.0.0.1", port, 4);
    RUN_UNTIL(nepochs == 1 && nfetched > 0 && log_end(p0) == 4);
    bool resumed = false; /* (a fetch at 4 may have been in flight meanwhile) */
    for (int i = 0; i < nfetched; i++) resumed |= fetched_at[i] == 2;
    cr_assert(resumed, "fetching resumed at the truncation point");

    rn_replica_fetcher_unfollow(f, p1);
    cr_assert_eq(rn_replica_fetcher_count(f), 1);
    rn_replica_fetcher_free(f);
    rn_engine_close(e);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
