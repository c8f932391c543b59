/* net/http_console.c: the web console's pages (embedded from net/console/) at / and
 * /console/, the routing of the /v1 paths the console reads, and what their handlers
 * share (see http_console.h). Pages are served from read-only arrays with an ETag:
 * index.html is revalidated on every load, and the files it names carry the build's hash
 * (?v=...), so those may be cached for good. Nothing here keeps state. */
#include "http_console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

/* The pages build their DOM from text nodes; this keeps anything a record carries from
 * ever running as script. */
#define CONSOLE_CSP                                                                          \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "         \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

int64_t rn_http_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rn_http_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rn_http_json_reply(struct evhttp_request *r, int code, struct evbuffer *body) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(r, code, NULL, body); /* NULL: libevent's phrase for the code */
}

void rn_http_json_error(struct evhttp_request *r, int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    RN_HTTP_LIT(b, "{\"error\": ");
    rn_http_json_string(b, msg);
    RN_HTTP_LIT(b, "}\n");
    rn_http_json_reply(r, code, b);
    evbuffer_free(b);
}

bool rn_http_console_readonly(struct evhttp_request *r) {
    enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
    if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD) return true;
    evhttp_add_header(evhttp_request_get_output_headers(r), "Allow", "GET, HEAD");
    rn_http_json_error(r, 405, "this path is read-only: GET it");
    return false;
}

bool rn_http_console_action(struct evhttp_request *r, const rn_http_options *opts) {
    if (!opts->console_actions) {
        rn_http_json_error(r, 403,
                           "actions are off: the console is read-only unless the broker runs with "
                           "http.console.actions.enable=true");
        return false;
    }
    /* A page elsewhere can make a browser POST a form here; only this origin may act. */
    struct evkeyvalq *in = evhttp_request_get_input_headers(r);
    const char *origin = evhttp_find_header(in, "Origin"), *host = evhttp_find_header(in, "Host");
    if (origin && (!host || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0)) {
        rn_http_json_error(r, 403, "actions are refused from pages of another origin (%s)", origin);
        return false;
    }
    return true;
}

int rn_http_segments(const char *rest, char **segs, int max) {
    int n = 0;
    const char *p = rest;
    size_t len = strlen(p);
    if (len && p[len - 1] == '/') len--; /* one trailing slash is allowed */
    const char *end = p + len;
    while (p < end) {
        if (*p != '/' || n == max) goto fail;
        p++;
        const char *s = p;
        while (p < end && *p != '/') p++;
        if (p == s) goto fail;
        char *raw = strndup(s, (size_t)(p - s));
        size_t dl = 0;
        char *dec = raw ? evhttp_uridecode(raw, 0, &dl) : NULL;
        free(raw);
        if (!dec || dl != strlen(dec) || dl == 0) {
            free(dec);
            goto fail;
        }
        segs[n++] = dec;
    }
    return n;
fail:
    rn_http_segments_free(segs, n);
    return -1;
}

void rn_http_segments_free(char **segs, int n) {
    for (int i = 0; i < n; i++) free(segs[i]);
}

int rn_http_form(struct evhttp_request *r, struct evkeyvalq *q) {
    TAILQ_INIT(q);
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r));
    if (query && evhttp_parse_query_str(query, q) != 0) return -1;
    if (evhttp_request_get_command(r) != EVHTTP_REQ_POST) return 0;
    struct evbuffer *in = evhttp_request_get_input_buffer(r);
    size_t len = evbuffer_get_length(in);
    if (!len) return 0;
    if (len > 1 << 20) return -1;
    char *body = malloc(len + 1);
    if (!body) return -1;
    evbuffer_copyout(in, body, len);
    body[len] = 0;
    struct evkeyvalq more;
    TAILQ_INIT(&more);
    int rc = evhttp_parse_query_str(body, &more);
    free(body);
    for (struct evkeyval *kv = more.tqh_first; rc == 0 && kv; kv = kv->next.tqe_next)
        evhttp_add_header(q, kv->key, kv->value);
    evhttp_clear_headers(&more);
    return rc == 0 ? 0 : -1;
}

int rn_http_param_int(struct evkeyvalq *q, const char *key, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t errlen) {
    const char *v = evhttp_find_header(q, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < min || x > max) {
        snprintf(err, errlen, "%s must be a whole number from %lld to %lld, not '%.64s'", key,
                 (long long)min, (long long)max, v);
        return -1;
    }
    *out = x;
    return 1;
}

/* ---- text -------------------------------------------------------------------------------- */

bool rn_http_utf8_valid(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) n = 3, cp = c & 0x07;
        else return false;
        if (len - i <= n) return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, past U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

void rn_http_json_text(struct evbuffer *b, const uint8_t *p, size_t len) {
    RN_HTTP_LIT(b, "\"");
    size_t run = 0; /* bytes copied as they are, flushed in one add */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        if (run) evbuffer_add(b, p + i - run, run);
        run = 0;
        if (c == '"' || c == '\\') evbuffer_add_printf(b, "\\%c", c);
        else if (c == '\n') RN_HTTP_LIT(b, "\\n");
        else if (c == '\t') RN_HTTP_LIT(b, "\\t");
        else if (c == '\r') RN_HTTP_LIT(b, "\\r");
        else evbuffer_add_printf(b, "\\u%04x", c);
    }
    if (run) evbuffer_add(b, p + len - run, run);
    RN_HTTP_LIT(b, "\"");
}

void rn_http_json_base64(struct evbuffer *b, const uint8_t *p, size_t len, bool url) {
    const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                          : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[1024];
    size_t o = 0;
    RN_HTTP_LIT(b, "\"");
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        size_t chars = len - i >= 3 ? 4 : len - i + 1;
        for (size_t k = 0; k < 4; k++) {
            if (k < chars) out[o++] = abc[(v >> (18 - 6 * k)) & 63];
            else if (!url) out[o++] = '=';
        }
        if (o >= sizeof out - 4) {
            evbuffer_add(b, out, o);
            o = 0;
        }
    }
    evbuffer_add(b, out, o);
    RN_HTTP_LIT(b, "\"");
}

/* ---- the pages ---------------------------------------------------------------------------- */

static const rn_console_asset *asset(const char *name) {
    for (int i = 0; i < rn_console_nassets; i++)
        if (strcmp(rn_console_assets[i].name, name) == 0) return &rn_console_assets[i];
    return NULL;
}

static void serve_asset(struct evhttp_request *r, const rn_console_asset *a) {
    if (!rn_http_console_readonly(r)) return;
    struct evkeyvalq *out = evhttp_request_get_output_headers(r);
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(r));
    char want[64];
    snprintf(want, sizeof want, "v=%s", rn_console_version);
    bool pinned = strcmp(a->name, "index.html") != 0 && query && strcmp(query, want) == 0;
    evhttp_add_header(out, "Cache-Control", pinned ? "public, max-age=31536000, immutable" : "no-cache");
    evhttp_add_header(out, "ETag", a->etag);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    if (strcmp(a->name, "index.html") == 0) {
        evhttp_add_header(out, "Content-Security-Policy", CONSOLE_CSP);
        evhttp_add_header(out, "Referrer-Policy", "no-referrer");
        evhttp_add_header(out, "X-Frame-Options", "DENY");
    }
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r), "If-None-Match");
    if (inm && strstr(inm, a->etag)) {
        evhttp_send_reply(r, 304, "Not Modified", NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
    evhttp_add_header(out, "Content-Type", a->content_type);
    evhttp_send_reply(r, 200, "OK", b);
    evbuffer_free(b);
}

/* path is "/name" or "/name/..." exactly at the noun (so /v1/topicsx is not /v1/topics). */
static const char *after(const char *path, const char *noun) {
    size_t n = strlen(noun);
    if (strncmp(path, noun, n) != 0 || (path[n] && path[n] != '/')) return NULL;
    return path + n;
}

bool rn_http_console_route(struct evhttp_request *r, const rn_http_options *opts,
                           int64_t started_ms, const char *path) {
    const char *rest;
    if (!strcmp(path, "/") || !strcmp(path, "/console") || !strcmp(path, "/console/") ||
        !strcmp(path, "/index.html")) {
        const rn_console_asset *a = asset("index.html");
        if (!a) return false;
        serve_asset(r, a);
    } else if ((rest = after(path, "/console")) != NULL) {
        const rn_console_asset *a = asset(rest + 1);
        if (a)
            serve_asset(r, a);
        else
            rn_http_text(r, 404, "no such file in the console");
    } else if ((rest = after(path, "/v1/overview")) != NULL) {
        if (rest[0] && strcmp(rest, "/") != 0)
            rn_http_json_error(r, 404, "nothing under /v1/overview");
        else if (rn_http_console_readonly(r))
            rn_http_overview(r, opts, started_ms);
    } else if ((rest = after(path, "/v1/topics")) != NULL) {
        rn_http_topics(r, opts, rest);
    } else if ((rest = after(path, "/v1/groups")) != NULL) {
        rn_http_groups(r, opts, rest);
    } else if ((rest = after(path, "/v1/users")) != NULL) {
        rn_http_users(r, opts, rest);
    } else {
        return false;
    }
    return true;
}
