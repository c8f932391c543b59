/* cli/user.c: `runnel user list|set|delete`: SCRAM users through the broker's HTTP admin
 * path (/v1/users; librdkafka 2.0.2 has no SCRAM admin calls). Changes need the broker's
 * http.console.actions.enable. --json passes the broker's JSON through. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "commands.h"
#include "table.h"

/* The broker's {"error": ...}: printed; CLI_FAILED. */
static int broker_error(const char *endpoint, const char *path, const cli_http_response *res) {
    char *msg = cli_json_read_str(res->body, "error");
    if (!msg) return cli_admin_unexpected(endpoint, path, res);
    cli_error("%s", msg);
    free(msg);
    return CLI_FAILED;
}

/* Prints {"users": [...]} as a table (or the JSON). */
static int print_users(const cli_args *a, const cli_http_response *res) {
    if (a->json) {
        fwrite(res->body, 1, res->body_len, stdout);
        if (!res->body_len || res->body[res->body_len - 1] != '\n') putchar('\n');
        return CLI_OK;
    }
    cli_table *t = cli_table_new(3, "USER", "MECHANISM", "ITERATIONS");
    int rows = 0;
    char *user = NULL;
    /* {"name": "u", "mechanisms": [{"mechanism": "M", "iterations": N}, ...]}, ... */
    for (const char *p = res->body; (p = strchr(p, '"')); p++) {
        if (!strncmp(p, "\"name\"", 6)) {
            free(user);
            user = cli_json_read_str(p - 1 > res->body ? p - 1 : p, "name");
        } else if (!strncmp(p, "\"mechanism\"", 11)) {
            char *m = cli_json_read_str(p - 1 > res->body ? p - 1 : p, "mechanism");
            long long it = 0;
            cli_json_read_int(p, "iterations", &it);
            char num[32];
            snprintf(num, sizeof num, "%lld", it);
            cli_table_add(t, user ? user : "?", m ? m : "?", num);
            free(m);
            rows++;
        }
    }
    free(user);
    if (rows)
        cli_table_print(t, stdout);
    else
        printf("no users (runnel user set NAME --password ...)\n");
    cli_table_free(t);
    return CLI_OK;
}

static int request(cli_args *a, const char *method, const char *path, const char *body) {
    char endpoint[300];
    cli_http_response res;
    if (cli_admin_call(a, method, path, body, endpoint, sizeof endpoint, &res) != CLI_OK)
        return CLI_FAILED;
    int rc = res.status == 200 && cli_json_find(res.body, "users") ? print_users(a, &res)
                                                                    : broker_error(endpoint, path, &res);
    cli_http_response_free(&res);
    return rc;
}

static int user_list(cli_args *a) { return request(a, "GET", "/v1/users", NULL); }

const cli_command cli_user_list = {
    "user list", "[--http HOST:PORT]", "list the SASL/SCRAM users and their mechanisms",
    "Reads GET /v1/users from the broker's HTTP endpoint. No password is ever shown: the\n"
    "broker keeps only salted, iterated SCRAM keys.\n",
    cli_http_options, 0, 0, user_list,
};

static const cli_option set_options[] = {
    {"password", "P", "the new password (or --password-stdin)"},
    {"password-stdin", NULL, "read the password from the first line of stdin"},
    {"mechanism", "M", "SCRAM-SHA-256 or SCRAM-SHA-512 (default: both)"},
    {"iterations", "N", "PBKDF2 iterations, 4096 to 16384 (default 4096)"},
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

static char *path_for(const char *name) {
    cli_form f = {0};
    cli_form_raw(&f, "/v1/users/", 10);
    cli_form encoded = {0};
    cli_form_add(&encoded, "", name); /* "=<percent-encoded name>" */
    cli_form_raw(&f, encoded.s + 1, encoded.len - 1);
    free(encoded.s);
    return f.s;
}

static int user_set(cli_args *a) {
    const char *pw = cli_opt(a, "password");
    char line[1024];
    if (cli_flag(a, "password-stdin")) {
        if (!fgets(line, sizeof line, stdin)) return cli_usage_error(a->cmd, "no password on stdin");
        line[strcspn(line, "\r\n")] = 0;
        pw = line;
    }
    if (!pw || !*pw) return cli_usage_error(a->cmd, "give --password P or --password-stdin");
    cli_form f = {0};
    cli_form_add(&f, "password", pw);
    if (cli_opt(a, "mechanism")) cli_form_add(&f, "mechanism", cli_opt(a, "mechanism"));
    if (cli_opt(a, "iterations")) cli_form_add(&f, "iterations", cli_opt(a, "iterations"));
    char *path = path_for(a->positional[0]);
    int rc = request(a, "POST", path, f.s);
    free(path);
    free(f.s);
    return rc;
}

const cli_command cli_user_set = {
    "user set", "NAME (--password P | --password-stdin) [--mechanism M] [--iterations N]",
    "create a SASL/SCRAM user or change its password",
    "The broker salts and iterates the password (PBKDF2) and keeps only the SCRAM keys.\n"
    "Needs the broker's http.console.actions.enable=true (its HTTP endpoint does not\n"
    "authenticate: keep it on localhost).\n",
    set_options, 1, 1, user_set,
};

static const cli_option delete_options[] = {
    {"mechanism", "M", "remove only this mechanism's credential (default: both)"},
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

static int user_delete(cli_args *a) {
    cli_form f = {0};
    char *path = path_for(a->positional[0]);
    cli_form_raw(&f, path, strlen(path));
    free(path);
    if (cli_opt(a, "mechanism")) { /* a DELETE's parameters go in the query */
        cli_form q = {0};
        cli_form_add(&q, "mechanism", cli_opt(a, "mechanism"));
        cli_form_raw(&f, "?", 1);
        cli_form_raw(&f, q.s, q.len);
        free(q.s);
    }
    int rc = request(a, "DELETE", f.s, NULL);
    free(f.s);
    return rc;
}

const cli_command cli_user_delete = {
    "user delete", "NAME [--mechanism M]", "remove a SASL/SCRAM user (or one of its credentials)",
    "Needs the broker's http.console.actions.enable=true.\n", delete_options, 1, 1, user_delete,
};
