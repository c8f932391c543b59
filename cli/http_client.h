/* cli/http_client.h: a tiny HTTP/1.1 client over a plain TCP socket, for the broker's
 * HTTP endpoint (http.listener): one request per connection, bodies delimited by
 * Content-Length, chunked encoding or the connection's close, and an overall timeout. */
#ifndef RUNNEL_CLI_HTTP_CLIENT_H
#define RUNNEL_CLI_HTTP_CLIENT_H

#include <stddef.h>

#define CLI_DEFAULT_HTTP_PORT "9644"

typedef struct {
    int status;   /* 200, 422, ... */
    char *body;   /* malloc'd and NUL-terminated (free with cli_http_response_free) */
    size_t body_len;
} cli_http_response;

/* Sends METHOD path to hostport ("host:port" or "[v6]:port") with an optional body and
 * reads the whole response within timeout_ms. Returns 0, or -1 with a short lowercase
 * reason in err ("connection refused", "timed out after 10000 ms", "malformed response
 * ..."). */
int cli_http_request(const char *hostport, const char *method, const char *path, const char *body,
                     int timeout_ms, cli_http_response *out, char *err, size_t errlen);
void cli_http_response_free(cli_http_response *r);

/* The endpoint to use: --http, else RUNNEL_HTTP, else the first bootstrap host with
 * port 9644. Writes "host:port" into out. */
void cli_http_endpoint(const char *opt, const char *bootstrap, char *out, size_t n);

#endif
