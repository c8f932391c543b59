/* cli/plugin.c: `runnel plugin list|reload`: the broker's Lua plugin host through its
 * HTTP endpoint (GET /v1/plugins, POST /v1/plugins/reload), which Kafka's protocol has
 * no API for. --json passes the broker's JSON through unchanged. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "http_client.h"
#include "table.h"

#define HTTP_TIMEOUT_MS 10000

static const cli_option http_options[] = {
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

/* ---- reading the broker's small, flat JSON objects ---- */

/* Points past "key": in a flat object, or NULL. */
static const char *json_find(const char *doc, const char *key) {
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

static int json_int(const char *doc, const char *key, long long *out) {
    const char *v = json_find(doc, key);
    if (!v) return -1;
    char *end;
    *out = strtoll(v, &end, 10);
    return end == v ? -1 : 0;
}

static int hexval(int c) {
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* A string value, decoded (malloc'd), or NULL. */
static char *json_str(const char *doc, const char *key) {
    const char *v = json_find(doc, key);
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
static int call(const cli_args *a, const char *method, const char *path, char *endpoint, size_t n,
                cli_http_response *res) {
    cli_http_endpoint(cli_opt(a, "http"), a->bootstrap, endpoint, n);
    char err[512];
    if (cli_http_request(endpoint, method, path, NULL, HTTP_TIMEOUT_MS, res, err, sizeof err) != 0) {
        cli_error("cannot reach the broker's HTTP endpoint at %s: %s", endpoint, err);
        return CLI_FAILED;
    }
    return CLI_OK;
}

/* A reply that is not the JSON the command expects: the broker's own words. */
static int unexpected(const char *endpoint, const char *path, const cli_http_response *res) {
    size_t l = res->body_len;
    while (l && isspace((unsigned char)res->body[l - 1])) l--;
    cli_error("%s%s answered HTTP %d: %.*s", endpoint, path, res->status, (int)(l > 400 ? 400 : l), res->body);
    return CLI_FAILED;
}

/* ---- plugin list ---- */

static int plugin_list(cli_args *a) {
    char endpoint[300];
    cli_http_response res;
    if (call(a, "GET", "/v1/plugins", endpoint, sizeof endpoint, &res) != CLI_OK) return CLI_FAILED;
    int rc = CLI_OK;
    long long calls;
    if (res.status != 200 || json_int(res.body, "calls", &calls) != 0) {
        rc = unexpected(endpoint, "/v1/plugins", &res);
    } else if (a->json) {
        fwrite(res.body, 1, res.body_len, stdout);
        if (!res.body_len || res.body[res.body_len - 1] != '\n') putchar('\n');
    } else {
        static const char *const counters[][2] = {
            {"calls", "hook calls made"},
            {"errors", "calls that failed (the record was refused)"},
            {"budget_exceeded", "calls stopped by the instruction budget"},
            {"memory_exceeded", "calls stopped by the memory cap"},
            {"reloads", "scripts reloaded with a new version"},
            {"reload_failures", "reloads refused (the old version kept running)"},
        };
        cli_table *t = cli_table_new(3, "COUNTER", "VALUE", "MEANING");
        for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
            long long v;
            if (json_int(res.body, counters[i][0], &v) != 0) continue;
            char num[32];
            snprintf(num, sizeof num, "%lld", v);
            cli_table_add(t, counters[i][0], num, counters[i][1]);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    cli_http_response_free(&res);
    return rc;
}

const cli_command cli_plugin_list = {
    "plugin list", "[--http HOST:PORT]", "show the broker's Lua plugin counters (calls, errors, reloads)",
    "Reads GET /v1/plugins from the broker's HTTP endpoint (its http.listener setting).\n",
    http_options, 0, 0, plugin_list,
};

/* ---- plugin reload ---- */

static int plugin_reload(cli_args *a) {
    char endpoint[300];
    cli_http_response res;
    if (call(a, "POST", "/v1/plugins/reload", endpoint, sizeof endpoint, &res) != CLI_OK) return CLI_FAILED;
    int rc;
    long long failed;
    char *report = NULL;
    if ((res.status != 200 && res.status != 422) || json_int(res.body, "failed", &failed) != 0 ||
        !(report = json_str(res.body, "report"))) {
        rc = unexpected(endpoint, "/v1/plugins/reload", &res);
    } else {
        rc = failed ? CLI_FAILED : CLI_OK;
        if (a->json) {
            fwrite(res.body, 1, res.body_len, stdout);
            if (!res.body_len || res.body[res.body_len - 1] != '\n') putchar('\n');
        } else if (!failed) {
            printf("reloaded the Lua scripts: no failures%s%s\n", *report ? ": " : "", report);
        }
        if (failed)
            cli_error("reload failed for %lld script%s, the previous version%s keep%s running: %s", failed,
                      failed == 1 ? "" : "s", failed == 1 ? "" : "s", failed == 1 ? "s" : "", report);
    }
    free(report);
    cli_http_response_free(&res);
    return rc;
}

const cli_command cli_plugin_reload = {
    "plugin reload", "[--http HOST:PORT]", "reload the broker's changed Lua scripts (like kill -HUP)",
    "POSTs /v1/plugins/reload to the broker's HTTP endpoint (its http.listener setting).\n"
    "A script that fails to load keeps its previous version running; then this exits 1\n"
    "and prints the broker's report naming the script.\n",
    http_options, 0, 0, plugin_reload,
};
