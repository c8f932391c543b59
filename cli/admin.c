/* cli/admin.c: the broker's HTTP admin path (/v1/...) as the CLI's plugin and processor
 * commands use it: the request, the error for a reply it did not expect, and reading the
 * small JSON objects the broker answers with. */
#include "admin.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_TIMEOUT_MS 10000

const cli_option cli_http_options[] = {
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

/* ---- reading the broker's small, flat JSON objects ---- */

/* Points past "key": in a flat object, or NULL. */
const char *cli_json_find(const char *doc, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = strchr(doc, '"'); p; p = strchr(p + 1, '"')) {
        if (!strncmp(p + 1, key, kl) && p[1 + kl] == '"') {
            const char *q = p + 2 + kl;
            while (isspace((unsigned char)*q)) q++;
            if (*q != ':') continue;
            q++;
            while (isspace((unsigned char)*q)) q++;
            return q;
        }
    }
    return NULL;
}

int cli_json_read_int(const char *doc, const char *key, long long *out) {
    const char *v = cli_json_find(doc, key);
    if (!v) return -1;
    char *end;
    *out = strtoll(v, &end, 10);
    return end == v ? -1 : 0;
}

static int hexval(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* A string value, decoded (malloc'd), or NULL. */
char *cli_json_read_str(const char *doc, const char *key) {
    const char *v = cli_json_find(doc, key);
    if (!v || *v != '"') return NULL;
    v++;
    char *out = malloc(strlen(v) * 3 + 1), *o = out; /* \uXXXX grows to at most 3 bytes */
    if (!out) abort();
    for (; *v && *v != '"'; v++) {
        if (*v != '\\') {
            *o++ = *v;
            continue;
        }
        v++;
        switch (*v) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned cp = 0;
            int k;
            for (k = 1; k <= 4 && hexval((unsigned char)v[k]) >= 0; k++) cp = cp * 16 + (unsigned)hexval((unsigned char)v[k]);
            if (k != 5) goto bad;
            v += 4;
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xc0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *o++ = (char)(0xe0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *o++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        case '\0': goto bad;
        default: *o++ = *v; break; /* \" \\ \/ */
        }
    }
    if (*v != '"') goto bad;
    *o = '\0';
    return out;
bad:
    free(out);
    return NULL;
}

/* ---- the request both commands make ---- */

/* Makes the request; on a transport failure prints "cannot reach the broker's HTTP
 * endpoint at ADDR: reason" and returns CLI_FAILED. */
int cli_admin_call(const cli_args *a, const char *method, const char *path, const char *body,
                   char *endpoint, size_t n, cli_http_response *res) {
    cli_http_endpoint(cli_opt(a, "http"), a->bootstrap, endpoint, n);
    char err[512];
    if (cli_http_request(endpoint, method, path, body, HTTP_TIMEOUT_MS, res, err, sizeof err) != 0) {
        cli_error("cannot reach the broker's HTTP endpoint at %s: %s", endpoint, err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* A reply that is not the JSON the command expects: the broker's own words. */
int cli_admin_unexpected(const char *endpoint, const char *path, const cli_http_response *res) {
    size_t l = res->body_len;
    while (l && isspace((unsigned char)res->body[l - 1])) l--;
    cli_error("%s%s answered HTTP %d: %.*s", endpoint, path, res->status, (int)(l > 400 ? 400 : l), res->body);
    return CLI_FAILED;
}

/* ---- forms ---- */

void cli_form_raw(cli_form *f, const char *s, size_t n) {
    if (f->len + n + 1 > f->cap) {
        f->cap = (f->len + n + 1) * 2;
        f->s = realloc(f->s, f->cap);
        if (!f->s) abort();
    }
    memcpy(f->s + f->len, s, n);
    f->len += n;
    f->s[f->len] = 0;
}

/* key=value, percent-encoded, '&'-separated. */
void cli_form_add(cli_form *f, const char *key, const char *value) {
    if (f->len) cli_form_raw(f, "&", 1);
    for (int part = 0; part < 2; part++) {
        for (const unsigned char *p = (const unsigned char *)(part ? value : key); *p; p++) {
            if (isalnum(*p) || strchr("-._~,", *p)) {
                cli_form_raw(f, (const char *)p, 1);
            } else {
                char esc[4];
                snprintf(esc, sizeof esc, "%%%02X", *p);
                cli_form_raw(f, esc, 3);
            }
        }
        if (!part) cli_form_raw(f, "=", 1);
    }
}
