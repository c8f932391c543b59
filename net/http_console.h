/* net/http_console.h: the web console and the /v1 JSON it is built from. http_console.c
 * serves the pages (net/console/, embedded at build time by net/console/embed.cmake) at /
 * and /console/, routes the console's /v1 paths and holds what their handlers share:
 *   GET  /v1/overview                         http_overview.c
 *   GET  /v1/topics, /v1/topics/<name>        http_topics.c
 *   POST /v1/topics                           (an action: create a topic)
 *   GET  /v1/topics/<name>/records            http_records.c (the message browser)
 *   GET  /v1/groups, /v1/groups/<id>          http_groups.c
 *   POST /v1/groups/<id>/offsets              (an action: reset committed offsets)
 * Reads never change anything. Actions answer 403 unless http.console.actions.enable is
 * true. Errors are {"error": sentence} with 400, 403, 404, 405, 409 or 500. */
#ifndef RN_HTTP_CONSOLE_H
#define RN_HTTP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http.h"
#include "http_internal.h"

/* One embedded file of net/console/ (the table is generated at build time). */
typedef struct {
    const char *name;         /* "index.html", "app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const char *etag;         /* quoted, from the file's hash */
} rn_console_asset;

extern const rn_console_asset rn_console_assets[];
extern const int rn_console_nassets;
/* A hash of every file: index.html asks for /console/<file>?v=<this>, which may then be
 * cached for good. */
extern const char rn_console_version[];

/* Answer r when path belongs to the console (the pages or the /v1 paths above) and
 * return true; false leaves r to the caller. started_ms: CLOCK_MONOTONIC ms when the
 * endpoint started (uptime). */
bool rn_http_console_route(struct evhttp_request *r, const rn_http_options *opts,
                           int64_t started_ms, const char *path);

/* ---- the handlers (rest is the path after the noun, "" or "/...") ----------------------- */

void rn_http_overview(struct evhttp_request *r, const rn_http_options *opts, int64_t started_ms);
void rn_http_topics(struct evhttp_request *r, const rn_http_options *opts, const char *rest);
/* The message browser of one topic (name already decoded and known to be a topic name). */
void rn_http_records(struct evhttp_request *r, const rn_http_options *opts, const char *topic);
void rn_http_groups(struct evhttp_request *r, const rn_http_options *opts, const char *rest);
/* /v1/users[/<name>] (net/http_users.c): SCRAM users; changes are actions. */
void rn_http_users(struct evhttp_request *r, const rn_http_options *opts, const char *rest);

/* ---- shared by the handlers ------------------------------------------------------------ */

/* Append a string literal. */
#define RN_HTTP_LIT(b, s) evbuffer_add((b), "" s, sizeof(s) - 1) /* s: a literal */

/* Send a JSON body (the caller keeps and frees it), not to be cached. */
void rn_http_json_reply(struct evhttp_request *r, int code, struct evbuffer *body);
/* {"error": sentence} with code. */
void rn_http_json_error(struct evhttp_request *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* GET and HEAD pass; anything else gets 405 naming what is allowed (false). */
bool rn_http_console_readonly(struct evhttp_request *r);
/* An action may go on (true), or r got 403: actions are off, or the request came from a
 * page of another origin (a browser's Origin header that is not this endpoint). */
bool rn_http_console_action(struct evhttp_request *r, const rn_http_options *opts);

/* Split rest ("", "/", "/a", "/a/b"...) into percent-decoded segments, each malloc'd
 * (free with rn_http_segments_free). Returns how many, or -1 when there are more than
 * max, a segment is empty, or one does not decode (a NUL in it, say). */
int rn_http_segments(const char *rest, char **segs, int max);
void rn_http_segments_free(char **segs, int n);

/* A whole number parameter: 0 when absent (*out untouched), 1 when read into *out, -1
 * with a sentence in err when it is not a number within [min, max]. */
int rn_http_param_int(struct evkeyvalq *q, const char *key, int64_t min, int64_t max,
                      int64_t *out, char *err, size_t errlen);

/* A JSON string of len bytes that are valid UTF-8 (control characters escaped). */
void rn_http_json_text(struct evbuffer *b, const uint8_t *p, size_t len);
bool rn_http_utf8_valid(const uint8_t *p, size_t len);
/* Base64 of len bytes, as a JSON string; url: the URL alphabet without padding. */
void rn_http_json_base64(struct evbuffer *b, const uint8_t *p, size_t len, bool url);
/* CLOCK_REALTIME and CLOCK_MONOTONIC in ms. */
int64_t rn_http_now_ms(void);
int64_t rn_http_monotonic_ms(void);

#endif
