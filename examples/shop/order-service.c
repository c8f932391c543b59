/* order-service: produces order-created events to the topic `orders`, keyed by customer id.
 *   --generate N --rate R   N orders at R per second (0: as fast as possible)
 *   --minutes M             stamp them as placed over the last M minutes: order i of N
 *                           at now - M min + i * M min / N (the record timestamp, the
 *                           event time the broker's stream processors count by), so a
 *                           burst of a few seconds fills M one-minute windows; without
 *                           it each order is stamped when it is sent
 * 2% are malformed on purpose (orders 25, 75, 125, ...: in turn not JSON, no
 * customer_id, cut short, no amount): the broker's produce filter
 * (filters/require_json_fields.lua) rejects them with INVALID_RECORD, counted here from
 * the delivery reports. The orders are the same every run.
 *   --http HOST:PORT        instead, serve POST /orders: the body (a JSON order) is
 *                           produced keyed by its customer_id; the answer waits for the
 *                           broker: 201 when written, 422 when its filter refused it. */
#include "common.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct { const char *name; double price; } items[] = {
    {"mouse", 25.00}, {"keyboard", 60.00}, {"headphones", 150.00}, {"monitor", 320.00}, {"laptop", 1100.00},
};
#define NITEMS (sizeof items / sizeof items[0])

static struct shop_opts opts;
static long delivered, rejected, failed;

static void http_reply(struct evhttp_request *req, const rd_kafka_message_t *m);

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->_private) http_reply(m->_private, m); /* the HTTP request waiting for this one */
    if (!m->err) delivered++;
    else if (m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD) {
        rejected++;
        shop_log(&opts, "rejected by the broker (%s): %.*s", rd_kafka_err2name(m->err), (int)m->len,
                 (const char *)m->payload);
    } else {
        failed++;
        shop_log(&opts, "delivery failed: %s", rd_kafka_err2str(m->err));
    }
}

/* A small deterministic generator, so every run sends the same orders. */
static unsigned long long rng = 88172645463325252ULL;
static unsigned next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* --- HTTP mode ------------------------------------------------------------------------ */

static rd_kafka_t *http_producer;

static void send_json(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "%s\n", body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static void http_reply(struct evhttp_request *req, const rd_kafka_message_t *m)
{
    char body[256];
    if (!m->err) {
        /* no partition/offset: the broker's partitioner placed the order by customer_id,
         * and the delivery report only knows the partition the client picked (offset -1) */
        jfmt(body, sizeof body, "{\"status\":\"accepted\"}");
        send_json(req, 201, "Created", body);
    } else {
        jfmt(body, sizeof body, "{\"status\":\"rejected\",\"error\":\"%s\"}", rd_kafka_err2name(m->err));
        send_json(req, m->err == RD_KAFKA_RESP_ERR_INVALID_RECORD ? 422 : 503, "Rejected", body);
    }
}

static void on_orders(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        send_json(req, 405, "Method Not Allowed", "{\"error\":\"POST a JSON order\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len == 0 || len > 4096) {
        send_json(req, 400, "Bad Request", "{\"error\":\"the body must be a JSON order of at most 4096 bytes\"}");
        return;
    }
    char *body = malloc(len + 1), customer[64];
    evbuffer_remove(in, body, len);
    body[len] = '\0';
    bool keyed = json_str(body, len, "customer_id", customer, sizeof customer);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        http_producer, RD_KAFKA_V_TOPIC("orders"), RD_KAFKA_V_KEY(keyed ? customer : NULL, keyed ? strlen(customer) : 0),
        RD_KAFKA_V_VALUE(body, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(req), RD_KAFKA_V_END);
    if (e) {
        free(body);
        send_json(req, 503, "Unavailable", "{\"error\":\"the producer queue is full\"}");
    }
    /* else the delivery report answers */
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    rd_kafka_poll(http_producer, 0);
    if (shop_stop) event_base_loopbreak(arg);
}

static int serve_http(void)
{
    char host[256];
    const char *colon = strrchr(opts.http, ':');
    if (!colon || (size_t)(colon - opts.http) >= sizeof host) {
        fprintf(stderr, "--http wants HOST:PORT\n");
        return 2;
    }
    memcpy(host, opts.http, (size_t)(colon - opts.http));
    host[colon - opts.http] = '\0';
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    evhttp_set_cb(http, "/orders", on_orders, NULL);
    if (evhttp_bind_socket(http, host, (ev_uint16_t)atoi(colon + 1))) {
        fprintf(stderr, "cannot listen on %s\n", opts.http);
        return 1;
    }
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, base);
    struct timeval ten_ms = {0, 10000};
    event_add(tick, &ten_ms);
    shop_log(&opts, "serving POST http://%s/orders", opts.http);
    event_base_dispatch(base);
    rd_kafka_flush(http_producer, 10000);
    event_free(tick);
    evhttp_free(http);
    event_base_free(base);
    printf("orders accepted=%ld rejected=%ld failed=%ld\n", delivered, rejected, failed);
    rd_kafka_destroy(http_producer);
    return 0;
}

int main(int argc, char **argv)
{
    shop_parse_args(&opts, argc, argv,
                    "--generate N [--rate R] [--minutes M] | --http HOST:PORT  [--bootstrap HOST:PORT]");
    if (opts.http) {
        shop_install_signals();
        http_producer = shop_producer(&opts, on_delivery, true);
        return serve_http();
    }
    if (opts.generate <= 0) {
        fprintf(stderr, "usage: %s --generate N [--rate R] [--minutes M] | --http HOST:PORT  [--bootstrap HOST:PORT]\n",
                opts.name);
        return 2;
    }
    shop_install_signals();
    rd_kafka_t *p = shop_producer(&opts, on_delivery, true);
    struct timespec gap = {0, 0};
    if (opts.rate > 0) {
        double s = 1.0 / opts.rate;
        gap.tv_sec = (time_t)s;
        gap.tv_nsec = (long)((s - (double)gap.tv_sec) * 1e9);
    }
    long long first = 0, step = 0; /* order i's timestamp: first + i * step (0: when sent) */
    if (opts.minutes > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        step = (long long)(opts.minutes * 60000.0 / (double)opts.generate);
        first = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - step * opts.generate;
    }
    long sent = 0;
    for (long i = 1; i <= opts.generate && !shop_stop; i++) {
        char customer[16], value[256];
        unsigned it = next_rand() % NITEMS, qty = 1 + next_rand() % 3;
        jfmt(customer, sizeof customer, "c%u", 1 + next_rand() % 50);
        long malformed = i % 50 == 25 ? (i / 50) % 4 : -1; /* 2%, four kinds in turn */
        if (malformed == 0) /* not JSON */
            jfmt(value, sizeof value, "order %ld: %u x %s for %s", i, qty, items[it].name, customer);
        else if (malformed == 1) /* no customer_id */
            jfmt(value, sizeof value, "{\"order_id\":%ld,\"item\":\"%s\",\"qty\":%u,\"amount\":%.2f}", i,
                 items[it].name, qty, qty * items[it].price);
        else if (malformed == 2) /* cut short */
            jfmt(value, sizeof value, "{\"order_id\":%ld,\"customer_id\":\"%s\",\"item\":\"%s\",\"qty\":%u,\"amo",
                 i, customer, items[it].name, qty);
        else if (malformed == 3) /* no amount */
            jfmt(value, sizeof value, "{\"order_id\":%ld,\"customer_id\":\"%s\",\"item\":\"%s\",\"qty\":%u}", i,
                 customer, items[it].name, qty);
        else
            jfmt(value, sizeof value,
                 "{\"order_id\":%ld,\"customer_id\":\"%s\",\"item\":\"%s\",\"qty\":%u,\"amount\":%.2f}", i, customer,
                 items[it].name, qty, qty * items[it].price);
        rd_kafka_resp_err_t e = shop_produce_at(p, "orders", customer, value, step ? first + i * step : 0);
        if (e) shop_log(&opts, "produce: %s", rd_kafka_err2str(e));
        else sent++;
        rd_kafka_poll(p, 0);
        if (gap.tv_sec || gap.tv_nsec) nanosleep(&gap, NULL);
    }
    rd_kafka_flush(p, 30000);
    printf("orders sent=%ld accepted=%ld rejected=%ld failed=%ld\n", sent, delivered, rejected, failed);
    rd_kafka_destroy(p);
    return failed ? 1 : 0;
}
