/* cli/admin.h: the broker's HTTP admin path (/v1/...) for CLI commands. */
#ifndef RUNNEL_CLI_ADMIN_H
#define RUNNEL_CLI_ADMIN_H

#include <stddef.h>

#include "common.h"
#include "http_client.h"

/* --http HOST:PORT, for commands that use the admin path (ends with {NULL}). */
extern const cli_option cli_http_options[];

/* METHOD path (with an optional form body) to the endpoint (--http, RUNNEL_HTTP or the
 * bootstrap host on 9644, written to endpoint). On a transport failure prints "cannot
 * reach the broker's HTTP endpoint at ADDR: reason" and returns CLI_FAILED. */
int cli_admin_call(const cli_args *a, const char *method, const char *path, const char *body,
                   char *endpoint, size_t n, cli_http_response *res);
/* A reply that is not what the command expects: prints the broker's own words and
 * returns CLI_FAILED. */
int cli_admin_unexpected(const char *endpoint, const char *path, const cli_http_response *res);

/* Reading the broker's JSON: the first "key": in doc (a value pointer), an integer, a
 * string (decoded, malloc'd). -1 / NULL when absent or not of that type. */
const char *cli_json_find(const char *doc, const char *key);
int cli_json_read_int(const char *doc, const char *key, long long *out);
char *cli_json_read_str(const char *doc, const char *key);

/* An application/x-www-form-urlencoded body being built (s malloc'd, NUL-terminated). */
typedef struct {
    char *s;
    size_t len, cap;
} cli_form;
void cli_form_raw(cli_form *f, const char *s, size_t n);
/* key=value, percent-encoded, '&'-separated. */
void cli_form_add(cli_form *f, const char *key, const char *value);

#endif
