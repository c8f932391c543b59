/* net/http_internal.h: what the HTTP endpoint's pieces share (net/http*.c only). */
#ifndef RN_HTTP_INTERNAL_H
#define RN_HTTP_INTERNAL_H

#include <event2/buffer.h>
#include <event2/http.h>

#include "processor.h"

/* Send body (the caller keeps and frees it) with a Content-Type. */
void rn_http_reply(struct evhttp_request *r, int code, const char *type, struct evbuffer *body);
/* A one-line text/plain reply. */
void rn_http_text(struct evhttp_request *r, int code, const char *msg);
/* A JSON string: quotes, backslashes and control characters escaped. */
void rn_http_json_string(struct evbuffer *b, const char *s);

struct evkeyvalq;
/* The query string, and for a POST also an application/x-www-form-urlencoded body, into
 * q (always initialised: clear with evhttp_clear_headers). -1 when it does not parse. */
int rn_http_form(struct evhttp_request *r, struct evkeyvalq *q);

/* /v1/processors[/<name>[/start|stop|reset|delete]] (net/http_processors.c); rest is the
 * path after "/v1/processors". ps may be NULL (404). */
void rn_http_processors(struct evhttp_request *r, rn_processors *ps, const char *rest);

#endif
