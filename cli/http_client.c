/* cli/http_client.c: see http_client.h. */
#include "http_client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (16 * 1024 * 1024)

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_errno_reason(char *err, size_t n, int e) {
    snprintf(err, n, "%s", strerror(e));
    if (err[0] && isupper((unsigned char)err[0]) && !isupper((unsigned char)err[1]))
        err[0] = (char)tolower((unsigned char)err[0]);
}

/* Splits "host:port" / "[v6]:port" / "host" into host and port (default 9644). */
static int split_hostport(const char *hp, char *host, size_t hn, char *port, size_t pn) {
    const char *colon;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close) return -1;
        snprintf(host, hn, "%.*s", (int)(close - hp - 1), hp + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) return -1;
    } else {
        colon = strrchr(hp, ':');
        snprintf(host, hn, "%.*s", colon ? (int)(colon - hp) : (int)strlen(hp), hp);
    }
    snprintf(port, pn, "%s", colon && colon[1] ? colon + 1 : CLI_DEFAULT_HTTP_PORT);
    for (const char *c = port; *c; c++)
        if (!isdigit((unsigned char)*c)) return -1;
    return host[0] ? 0 : -1;
}

void cli_http_endpoint(const char *opt, const char *bootstrap, char *out, size_t n) {
    if (opt && *opt) {
        snprintf(out, n, "%s", opt);
        return;
    }
    const char *env = getenv("RUNNEL_HTTP");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    /* The first bootstrap server, without a scheme ("PLAINTEXT://") and its port. */
    const char *b = bootstrap ? bootstrap : "localhost";
    const char *scheme = strstr(b, "://");
    if (scheme && scheme < b + strcspn(b, ",")) b = scheme + 3;
    size_t len = strcspn(b, ",");
    char first[256];
    snprintf(first, sizeof first, "%.*s", (int)(len < sizeof first ? len : sizeof first - 1), b);
    char host[256], port[32];
    if (split_hostport(first, host, sizeof host, port, sizeof port) != 0) snprintf(host, sizeof host, "localhost");
    if (strchr(host, ':'))
        snprintf(out, n, "[%s]:%s", host, CLI_DEFAULT_HTTP_PORT);
    else
        snprintf(out, n, "%s:%s", host, CLI_DEFAULT_HTTP_PORT);
}

/* Connects within the deadline; returns the socket or -1. */
static int connect_to(const char *hostport, int64_t deadline, int timeout_ms, char *err, size_t n) {
    char host[256], port[32];
    if (split_hostport(hostport, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, n, "not a HOST:PORT address");
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        snprintf(err, n, "cannot resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1, last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int left = (int)(deadline - now_ms());
            int r = left > 0 ? poll(&p, 1, left) : 0;
            if (r == 1) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (!soerr) break;
                last = soerr;
            } else {
                last = r == 0 ? ETIMEDOUT : errno;
            }
        } else {
            last = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (last == ETIMEDOUT)
            snprintf(err, n, "connection timed out after %d ms", timeout_ms);
        else
            set_errno_reason(err, n, last);
    }
    return fd;
}

/* Waits until fd is ready for events or the deadline passes: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline) {
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        return r > 0 ? 1 : r;
    }
}

/* Decodes a chunked body in place; -1 if malformed or incomplete. */
static int dechunk(char *b, size_t len, size_t *out_len) {
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= len) return -1;
        unsigned long long sz = strtoull(b + in, &end, 16);
        if (end == b + in) return -1;
        char *crlf = memmem(end, len - (size_t)(end - b), "\r\n", 2);
        if (!crlf) return -1;
        in = (size_t)(crlf - b) + 2;
        if (sz == 0) break;
        if (sz > len - in || len - in - sz < 2) return -1;
        memmove(b + out, b + in, sz);
        out += sz;
        in += sz + 2;
    }
    *out_len = out;
    return 0;
}

/* The value of a header (case-insensitive name) in the header block, or NULL. */
static const char *header(const char *head, const char *name, char *val, size_t n) {
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (!strncasecmp(l, name, nl) && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t vl = strcspn(v, "\r\n");
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
            snprintf(val, n, "%.*s", (int)vl, v);
            return val;
        }
    }
    return NULL;
}

int cli_http_request(const char *hostport, const char *method, const char *path, const char *body,
                     int timeout_ms, cli_http_response *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    int64_t deadline = now_ms() + timeout_ms;
    int fd = connect_to(hostport, deadline, timeout_ms, err, errlen);
    if (fd < 0) return -1;

    size_t blen = body ? strlen(body) : 0;
    char *req = NULL;
    int rl = asprintf(&req,
                      "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: runnel-cli/" RUNNEL_VERSION
                      "\r\nAccept: application/json\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                      method, path, hostport, blen, body ? body : "");
    if (rl < 0) abort();
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    for (size_t sent = 0; sent < (size_t)rl;) {
        int w = wait_fd(fd, POLLOUT, deadline);
        if (w <= 0) {
            if (w == 0) snprintf(err, errlen, "timed out after %d ms sending the request", timeout_ms);
            else set_errno_reason(err, errlen, errno);
            goto done;
        }
        ssize_t s = send(fd, req + sent, (size_t)rl - sent, MSG_NOSIGNAL);
        if (s < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            set_errno_reason(err, errlen, errno);
            goto done;
        }
        sent += (size_t)s;
    }

    /* Read until the body is complete (Content-Length) or the peer closes. */
    size_t head_end = 0; /* offset of the body once the headers are in */
    long long content_length = -1;
    int chunked = 0;
    for (;;) {
        if (head_end && content_length >= 0 && len - head_end >= (size_t)content_length) break;
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            if (w == 0) snprintf(err, errlen, "timed out after %d ms waiting for the response", timeout_ms);
            else set_errno_reason(err, errlen, errno);
            goto done;
        }
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            set_errno_reason(err, errlen, errno);
            goto done;
        }
        if (r == 0) break;
        len += (size_t)r;
        buf[len] = '\0';
        if (len > MAX_RESPONSE) {
            snprintf(err, errlen, "response larger than %d bytes", MAX_RESPONSE);
            goto done;
        }
        if (!head_end) {
            char *e = memmem(buf, len, "\r\n\r\n", 4);
            if (e) {
                head_end = (size_t)(e - buf) + 4;
                char saved = buf[head_end - 2];
                buf[head_end - 2] = '\0'; /* the header block ends at its last CRLF */
                char v[64];
                if (header(buf, "Content-Length", v, sizeof v)) {
                    char *end;
                    content_length = strtoll(v, &end, 10);
                    if (*end || content_length < 0) content_length = -1;
                }
                if (header(buf, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked")) chunked = 1;
                if (chunked) content_length = -1;
                buf[head_end - 2] = saved;
            }
        }
    }
    if (!buf || !head_end) {
        snprintf(err, errlen, "malformed response (%s)", len ? "no end of headers" : "connection closed without a reply");
        goto done;
    }
    int major, minor, status;
    if (sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 || status > 999) {
        snprintf(err, errlen, "malformed response (not HTTP: '%.40s')", buf);
        goto done;
    }
    size_t body_len = len - head_end;
    if (content_length >= 0) {
        if (body_len < (size_t)content_length) {
            snprintf(err, errlen, "response body truncated (%zu of %lld bytes)", body_len, content_length);
            goto done;
        }
        body_len = (size_t)content_length;
    } else if (chunked && dechunk(buf + head_end, body_len, &body_len) != 0) {
        snprintf(err, errlen, "malformed chunked response body");
        goto done;
    }
    out->status = status;
    out->body = malloc(body_len + 1);
    if (!out->body) abort();
    memcpy(out->body, buf + head_end, body_len);
    out->body[body_len] = '\0';
    out->body_len = body_len;
    rc = 0;
done:
    free(req);
    free(buf);
    close(fd);
    return rc;
}

void cli_http_response_free(cli_http_response *r) {
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}
