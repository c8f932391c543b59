/* cli/kafka_client.c: blocking Kafka requests over one socket (see kafka_client.h).
 * Invariant: a response is read whole (its length prefix checked against a cap) before
 * any field of it is decoded, and every decode is bounds-checked by rn_reader. */
#include "kafka_client.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 5000
#define IO_TIMEOUT_MS 30000 /* above the requests' own TimeoutMs */
#define MAX_RESPONSE_BYTES (64 * 1024 * 1024)
#define CONTROLLER_ATTEMPTS 6
#define CLIENT_ID "runnel-cli"

enum { API_METADATA = 3 };

/* Connects fd to one resolved address within the timeout. 0 or -1 with errno set. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len) {
    struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, (CONNECT_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds a blocking connect */
    if (connect(fd, sa, len) != 0) {
        if (errno == EINPROGRESS || errno == EAGAIN) errno = ETIMEDOUT;
        return -1;
    }
    tv.tv_sec = IO_TIMEOUT_MS / 1000;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return 0;
}

/* "Connection refused" -> "connection refused", as the CLI's other messages read. */
static void lower_first(char *s) {
    if (s[0] >= 'A' && s[0] <= 'Z' && !(s[1] >= 'A' && s[1] <= 'Z')) s[0] = (char)(s[0] - 'A' + 'a');
}

rn_err cli_kafka_connect(cli_kafka_conn *c, const char *host, int port, char *err, size_t errlen) {
    c->fd = -1;
    c->next_correlation_id = 1;
    snprintf(c->addr, sizeof c->addr, "%s:%d", host, port);
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return RN_ERR_IO;
    }
    int saved = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect_timeout(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            c->fd = fd;
            break;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (c->fd < 0) {
        snprintf(err, errlen, "cannot reach broker at %s: %s", c->addr, strerror(saved));
        lower_first(err + strlen(err) - strlen(strerror(saved)));
        return RN_ERR_IO;
    }
    return 0;
}

void cli_kafka_close(cli_kafka_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 0, or -1 with errno (0 when the peer closed the connection). */
static int read_all(int fd, uint8_t *p, size_t n) {
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) errno = 0;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/*
 * A request on the wire (header v1; v2 adds the tag section):
 *
 *   +-----------+---------+-------------+----------------+-----------+------+------+
 *   | size i32  | key i16 | version i16 | correlation i32| client_id | tags | body |
 *   +-----------+---------+-------------+----------------+-----------+------+------+
 *                                                          classic str  v2 only
 */
rn_err cli_kafka_call(cli_kafka_conn *c, int16_t api_key, int16_t api_version, bool flexible,
                      const rn_writer *body, uint8_t **frame, rn_reader *resp, char *err,
                      size_t errlen) {
    *frame = NULL;
    int32_t correlation_id = c->next_correlation_id++;
    rn_writer w;
    rn_writer_init(&w, 64 + body->len, false); /* the header's client_id is always classic */
    size_t size_at = rn_write_i32_placeholder(&w);
    rn_write_i16(&w, api_key);
    rn_write_i16(&w, api_version);
    rn_write_i32(&w, correlation_id);
    rn_write_string(&w, CLIENT_ID);
    if (flexible) rn_write_uvarint(&w, 0); /* no tagged fields */
    rn_write_raw(&w, body->buf, body->len);
    rn_write_i32_at(&w, size_at, (int32_t)(w.len - 4));
    if (w.failed || body->failed) {
        rn_writer_free(&w);
        snprintf(err, errlen, "out of memory");
        return RN_ERR_NOMEM;
    }
    int sent = write_all(c->fd, w.buf, w.len);
    rn_writer_free(&w);
    if (sent != 0) {
        snprintf(err, errlen, "cannot send to %s: %s", c->addr, strerror(errno));
        return RN_ERR_IO;
    }

    uint8_t prefix[4];
    if (read_all(c->fd, prefix, 4) != 0) goto err_io;
    uint32_t size = rn_be32(prefix);
    if (size < 4 || size > MAX_RESPONSE_BYTES) {
        snprintf(err, errlen, "%s answered a frame of %u bytes", c->addr, size);
        return RN_ERR_PARSE;
    }
    uint8_t *buf = malloc(size);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return RN_ERR_NOMEM;
    }
    if (read_all(c->fd, buf, size) != 0) {
        free(buf);
        goto err_io;
    }
    rn_reader h;
    rn_reader_init(&h, buf, size, flexible);
    int32_t got_id;
    RN_R_I32(&h, &got_id);
    if (got_id != correlation_id) {
        snprintf(err, errlen, "%s answered correlation id %d to request %d", c->addr, got_id,
                 correlation_id);
        free(buf);
        return RN_ERR_PARSE;
    }
    /* A refused API or version: runnel answers header v0 and a bare int16 error code
     * (no real response is that short: they all start with more than two bytes). */
    if (rn_reader_remaining(&h) == 2) {
        int16_t code;
        RN_R_I16(&h, &code);
        free(buf);
        snprintf(err, errlen, "%s refused API key %d v%d", c->addr, api_key, api_version);
        return code ? code : RN_KAFKA_UNSUPPORTED_VERSION;
    }
    if (flexible) RN_R_TAGS(&h);
    rn_reader_init(resp, h.p, rn_reader_remaining(&h), flexible);
    *frame = buf;
    return 0;

err_parse:
    snprintf(err, errlen, "malformed response header from %s", c->addr);
    free(buf);
    return RN_ERR_PARSE;
err_io:
    if (errno == 0)
        snprintf(err, errlen, "%s closed the connection (does it support API key %d v%d?)",
                 c->addr, api_key, api_version);
    else
        snprintf(err, errlen, "no answer from %s: %s", c->addr, strerror(errno));
    return RN_ERR_IO;
}

/* "host:port" (the last ':' splits, so "[::1]:9092" and "::1:9092" work) into host and
 * port; -1 when malformed. */
static int split_host_port(const char *s, size_t n, char *host, size_t hostlen, int *port) {
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':') colon = s + i;
    if (!colon || colon == s) return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostlen) return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char digits[8];
    size_t dl = n - (size_t)(colon + 1 - s);
    if (dl == 0 || dl >= sizeof digits) return -1;
    memcpy(digits, colon + 1, dl);
    digits[dl] = '\0';
    char *end;
    long p = strtol(digits, &end, 10);
    if (*end || p < 1 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}

/*
 * Metadata v1 response, as far as we read it:
 *
 *   +----------+---------------------------------------------+-------------------+-----
 *   | brokers  | node_id i32 | host str | port i32 | rack str | controller_id i32 | ...
 *   +----------+---------------------------------------------+-------------------+-----
 */
static rn_err ask_controller(cli_kafka_conn *c, char *host, size_t hostlen, int *port, char *err,
                             size_t errlen) {
    rn_writer body;
    rn_writer_init(&body, 8, false);
    rn_write_array_len(&body, 0); /* no topics: brokers and the controller only */
    uint8_t *frame = NULL;
    rn_reader r;
    rn_err e = cli_kafka_call(c, API_METADATA, 1, false, &body, &frame, &r, err, errlen);
    rn_writer_free(&body);
    if (e) return e;
    struct broker {
        int32_t node_id, port;
        rn_bytes host; /* points into frame */
    } *brokers = NULL;
    int32_t nbrokers, controller_id;
    RN_R_ARRAY(&r, &nbrokers, 4 + 2 + 4 + 2);
    if (nbrokers > 0 && !(brokers = calloc((size_t)nbrokers, sizeof *brokers))) {
        snprintf(err, errlen, "out of memory");
        free(frame);
        return RN_ERR_NOMEM;
    }
    for (int32_t i = 0; i < nbrokers; i++) {
        rn_bytes rack;
        RN_R_I32(&r, &brokers[i].node_id);
        RN_R_STR(&r, &brokers[i].host);
        RN_R_I32(&r, &brokers[i].port);
        RN_R_STR(&r, &rack);
    }
    RN_R_I32(&r, &controller_id); /* after the brokers */
    const struct broker *b = NULL;
    for (int32_t i = 0; controller_id >= 0 && !b && i < nbrokers; i++)
        if (brokers[i].node_id == controller_id) b = &brokers[i];
    rn_err result = RN_KAFKA_NONE;
    if (controller_id < 0) {
        snprintf(err, errlen, "%s knows no active controller yet", c->addr);
        result = RN_KAFKA_NOT_CONTROLLER;
    } else if (!b) {
        snprintf(err, errlen, "%s names controller %d but not its address", c->addr, controller_id);
        result = RN_KAFKA_NOT_CONTROLLER;
    } else if (b->host.len <= 0 || (size_t)b->host.len >= hostlen || b->port < 1 || b->port > 65535) {
        snprintf(err, errlen, "%s names controller %d at a bad address", c->addr, controller_id);
        result = RN_ERR_PARSE;
    } else {
        memcpy(host, b->host.ptr, (size_t)b->host.len);
        host[b->host.len] = '\0';
        *port = b->port;
    }
    free(brokers);
    free(frame);
    return result;

err_parse:
    snprintf(err, errlen, "malformed Metadata response from %s (%s at byte %zu)", c->addr,
             r.fail_what ? r.fail_what + (r.fail_what[0] == '&') : "?", rn_reader_offset(&r));
    free(brokers);
    free(frame);
    return RN_ERR_PARSE;
}

rn_err cli_kafka_connect_controller(const char *bootstrap, cli_kafka_conn *c, char *err,
                                    size_t errlen) {
    rn_err e = RN_ERR_IO;
    snprintf(err, errlen, "no bootstrap broker given");
    for (const char *s = bootstrap; *s;) {
        size_t n = strcspn(s, ",");
        char host[256];
        int port;
        if (split_host_port(s, n, host, sizeof host, &port) != 0) {
            snprintf(err, errlen, "bad bootstrap address '%.*s' (want HOST:PORT)", (int)n, s);
            return RN_ERR_PARSE;
        }
        s += n + (s[n] == ',');
        e = cli_kafka_connect(c, host, port, err, errlen);
        if (e) continue;
        char chost[256];
        int cport;
        e = ask_controller(c, chost, sizeof chost, &cport, err, errlen);
        if (e == RN_ERR_IO || e == RN_ERR_PARSE) {
            cli_kafka_close(c);
            continue; /* try the next bootstrap broker */
        }
        if (e) {
            cli_kafka_close(c);
            return e;
        }
        char caddr[300];
        snprintf(caddr, sizeof caddr, "%s:%d", chost, cport);
        if (!strcmp(caddr, c->addr)) return 0; /* already there */
        cli_kafka_close(c);
        return cli_kafka_connect(c, chost, cport, err, errlen);
    }
    return e;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

rn_err cli_kafka_controller_call(const char *bootstrap, int16_t api_key, int16_t api_version,
                                 bool flexible, const rn_writer *body, uint8_t **frame,
                                 rn_reader *resp, char *err, size_t errlen) {
    rn_err e = RN_KAFKA_NOT_CONTROLLER;
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        if (attempt) sleep_ms(250 * attempt);
        cli_kafka_conn c;
        e = cli_kafka_connect_controller(bootstrap, &c, err, errlen);
        if (e == RN_KAFKA_NOT_CONTROLLER) continue;
        if (e) return e;
        e = cli_kafka_call(&c, api_key, api_version, flexible, body, frame, resp, err, errlen);
        char where[300];
        snprintf(where, sizeof where, "%s", c.addr);
        cli_kafka_close(&c);
        if (e) return e;
        /* Peek at ThrottleTimeMs, ErrorCode without consuming resp. */
        rn_reader peek = *resp;
        int32_t throttle_ms;
        int16_t code;
        if (rn_read_i32(&peek, &throttle_ms) || rn_read_i16(&peek, &code)) {
            snprintf(err, errlen, "malformed response from %s (API key %d)", where, api_key);
            free(*frame);
            *frame = NULL;
            return RN_ERR_PARSE;
        }
        if (code != RN_KAFKA_NOT_CONTROLLER) return 0;
        snprintf(err, errlen, "%s is not the controller", where);
        free(*frame);
        *frame = NULL;
        e = RN_KAFKA_NOT_CONTROLLER;
    }
    return e;
}
