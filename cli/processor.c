/* cli/processor.c: `runnel processor list|status|create|start|stop|reset|delete`: the
 * broker's stream processors through its HTTP admin path (/v1/processors), which Kafka's
 * protocol has no API for. --json passes the broker's JSON through. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "commands.h"
#include "table.h"

/* A processor name as a path segment: names are [a-zA-Z0-9._-] (checked here so a bad
 * one gets a clear error rather than a 404). */
static int name_ok(const char *n) {
    if (!*n) return 0;
    for (; *n; n++)
        if (!isalnum((unsigned char)*n) && !strchr("._-", *n)) return 0;
    return 1;
}

static void print_body(const cli_http_response *res) {
    fwrite(res->body, 1, res->body_len, stdout);
    if (!res->body_len || res->body[res->body_len - 1] != '\n') putchar('\n');
}

/* The broker's {"error": ..., "code": ...} as "runnel: <error>"; CLI_FAILED. */
static int broker_error(const char *endpoint, const char *path, const cli_http_response *res) {
    char *msg = cli_json_read_str(res->body, "error");
    if (!msg) return cli_admin_unexpected(endpoint, path, res);
    cli_error("%s", msg);
    free(msg);
    return CLI_FAILED;
}

/* ---- reading a status ---- */

/* The objects of the "processors" array, one at a time: *end is set past the object. */
static const char *next_object(const char *p, const char **end) {
    p = strchr(p, '{');
    if (!p) return NULL;
    int depth = 0;
    bool in_str = false;
    for (const char *q = p; *q; q++) {
        if (in_str) {
            if (*q == '\\' && q[1]) q++;
            else if (*q == '"') in_str = false;
        } else if (*q == '"') {
            in_str = true;
        } else if (*q == '{' || *q == '[') {
            depth++;
        } else if ((*q == '}' || *q == ']') && --depth == 0) {
            *end = q + 1;
            return p;
        }
    }
    return NULL;
}

/* The comma-separated strings of the array "key": [...] in obj (malloc'd). */
static char *json_list(const char *obj, const char *key) {
    const char *v = cli_json_find(obj, key);
    cli_form f = {0};
    cli_form_raw(&f, "", 0);
    if (!v || *v != '[') return f.s;
    for (v++; *v && *v != ']'; v++) {
        if (*v != '"') continue;
        const char *e = v + 1;
        while (*e && *e != '"') e += e[0] == '\\' && e[1] ? 2 : 1;
        if (f.len) cli_form_raw(&f, ",", 1);
        cli_form_raw(&f, v + 1, (size_t)(e - v - 1));
        v = e;
    }
    return f.s;
}

static void num(char *buf, size_t n, const char *obj, const char *key) {
    long long v;
    if (cli_json_read_int(obj, key, &v) == 0)
        snprintf(buf, n, "%lld", v);
    else
        snprintf(buf, n, "-");
}

/* ---- processor list ---- */

static int processor_list(cli_args *a) {
    char endpoint[300];
    cli_http_response res;
    if (cli_admin_call(a, "GET", "/v1/processors", NULL, endpoint, sizeof endpoint, &res) != CLI_OK)
        return CLI_FAILED;
    int rc = CLI_OK;
    if (res.status != 200 || !cli_json_find(res.body, "processors")) {
        rc = cli_admin_unexpected(endpoint, "/v1/processors", &res);
    } else if (a->json) {
        print_body(&res);
    } else {
        cli_table *t = cli_table_new(9, "NAME", "STATUS", "SCRIPT", "INPUTS", "OUTPUTS", "LAG",
                                     "IN", "OUT", "DEAD");
        const char *end, *p = strchr(res.body, '[');
        int n = 0;
        for (const char *o; p && (o = next_object(p, &end)); p = end, n++) {
            size_t ol = (size_t)(end - o);
            char *obj = strndup(o, ol);
            if (!obj) abort();
            char *name = cli_json_read_str(obj, "name"), *status = cli_json_read_str(obj, "status"),
                 *script = cli_json_read_str(obj, "script"), *in = json_list(obj, "inputs"),
                 *out = json_list(obj, "outputs");
            char lag[32], rin[32], rout[32], dead[32];
            num(lag, sizeof lag, obj, "lag");
            num(rin, sizeof rin, obj, "records_in");
            num(rout, sizeof rout, obj, "records_out");
            num(dead, sizeof dead, obj, "dead_letters");
            cli_table_add(t, name ? name : "?", status ? status : "?", script ? script : "?", in,
                          out, lag, rin, rout, dead);
            free(name);
            free(status);
            free(script);
            free(in);
            free(out);
            free(obj);
        }
        if (n)
            cli_table_print(t, stdout);
        else
            printf("no processors (create one with `runnel processor create`)\n");
        cli_table_free(t);
    }
    cli_http_response_free(&res);
    return rc;
}

const cli_command cli_processor_list = {
    "processor list", "[--http HOST:PORT]",
    "list the broker's stream processors: status, lag, records in and out, dead letters",
    "Reads GET /v1/processors from the broker's HTTP endpoint (its http.listener setting).\n"
    "IN/OUT/DEAD count records since the processor (or the broker) started.\n",
    cli_http_options, 0, 0, processor_list,
};

/* ---- processor status ---- */

static void print_status(const char *obj) {
    char *name = cli_json_read_str(obj, "name"), *status = cli_json_read_str(obj, "status"),
         *script = cli_json_read_str(obj, "script"), *in = json_list(obj, "inputs"),
         *out = json_list(obj, "outputs"), *err = cli_json_read_str(obj, "last_error");
    char lag[32], rin[32], rout[32], dead[32], timers[32], tasks[32], st[32];
    num(lag, sizeof lag, obj, "lag");
    num(rin, sizeof rin, obj, "records_in");
    num(rout, sizeof rout, obj, "records_out");
    num(dead, sizeof dead, obj, "dead_letters");
    num(timers, sizeof timers, obj, "timers_fired");
    num(tasks, sizeof tasks, obj, "tasks");
    num(st, sizeof st, obj, "stream_time");
    printf("processor %s: %s\n  script       %s\n  inputs       %s\n  outputs      %s\n"
           "  tasks        %s\n  lag          %s\n  records in   %s\n  records out  %s\n"
           "  dead letters %s (topic %s.dlq)\n  timers fired %s\n  stream time  %s (the earliest task's)\n",
           name ? name : "?", status ? status : "?", script ? script : "?", in, out, tasks, lag,
           rin, rout, dead, name ? name : "?", timers, st);
    if (err) printf("  last error   %s\n", err);
    const char *pos = cli_json_find(obj, "positions");
    if (pos && *pos == '[') {
        cli_table *t = cli_table_new(5, "INPUT", "PARTITION", "POSITION", "HIGH-WATERMARK", "LAG");
        const char *end;
        for (const char *o, *p = pos; (o = next_object(p, &end)); p = end) {
            char *po = strndup(o, (size_t)(end - o));
            if (!po) abort();
            char *topic = cli_json_read_str(po, "topic");
            char part[32], position[32], hw[32], plag[32];
            num(part, sizeof part, po, "partition");
            num(position, sizeof position, po, "position");
            num(hw, sizeof hw, po, "high_watermark");
            num(plag, sizeof plag, po, "lag");
            cli_table_add(t, topic ? topic : "?", part, position, hw, plag);
            free(topic);
            free(po);
        }
        printf("\n");
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    free(name);
    free(status);
    free(script);
    free(in);
    free(out);
    free(err);
}

/* METHOD /v1/processors/NAME[/action] with body; prints the returned status. */
static int name_request(cli_args *a, const char *method, const char *action, const char *body) {
    const char *name = a->positional[0];
    if (!name_ok(name))
        return cli_usage_error(a->cmd, "processor name '%s' must be letters, digits, '.', '_' or '-'", name);
    char path[400], endpoint[300];
    snprintf(path, sizeof path, "/v1/processors/%s%s%s", name, action ? "/" : "", action ? action : "");
    cli_http_response res;
    if (cli_admin_call(a, method, path, body, endpoint, sizeof endpoint, &res) != CLI_OK) return CLI_FAILED;
    int rc = CLI_OK;
    if (res.status != 200) {
        rc = broker_error(endpoint, path, &res);
    } else if (a->json) {
        print_body(&res);
    } else if (cli_json_find(res.body, "deleted")) {
        printf("deleted processor %s (its topics are kept)\n", name);
    } else {
        print_status(res.body);
    }
    cli_http_response_free(&res);
    return rc;
}

static int processor_status(cli_args *a) { return name_request(a, "GET", NULL, NULL); }

const cli_command cli_processor_status = {
    "processor status", "NAME [--http HOST:PORT]",
    "one processor: status, positions and lag per input partition, counters, last error",
    "Positions are the committed ones: where the processor resumes after a restart.\n",
    cli_http_options, 1, 1, processor_status,
};

/* ---- processor create ---- */

static const cli_option create_options[] = {
    {"script", "PATH", "the Lua script, relative to the broker's plugins.dir (required)"},
    {"input", "TOPIC", "an input topic (repeatable, or comma-separated; at least one)"},
    {"output", "TOPIC", "an output topic (repeatable, or comma-separated); missing ones are created"},
    {"option", "KEY=VALUE", "an option the script reads as ctx.options[KEY] (repeatable)"},
    {"stopped", NULL, "create it without starting it"},
    {"replace", NULL, "redefine an existing processor (its positions and state are kept)"},
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

static int processor_create(cli_args *a) {
    const char *name = a->positional[0], *script = cli_opt(a, "script");
    if (!script) return cli_usage_error(a->cmd, "--script is required");
    if (!cli_opt(a, "input")) return cli_usage_error(a->cmd, "at least one --input is required");
    cli_form f = {0};
    cli_form_add(&f, "name", name);
    cli_form_add(&f, "script", script);
    const char *v;
    for (int i = 0; (v = cli_opt_nth(a, "input", i)); i++) cli_form_add(&f, "inputs", v);
    for (int i = 0; (v = cli_opt_nth(a, "output", i)); i++) cli_form_add(&f, "outputs", v);
    for (int i = 0; (v = cli_opt_nth(a, "option", i)); i++) {
        const char *val;
        char *key = cli_split_kv(v, &val);
        if (!key) {
            free(f.s);
            return cli_usage_error(a->cmd, "--option %s: expected KEY=VALUE", v);
        }
        char full[512];
        snprintf(full, sizeof full, "option.%s", key);
        cli_form_add(&f, full, val);
        free(key);
    }
    if (cli_flag(a, "stopped")) cli_form_add(&f, "stopped", "true");
    if (cli_flag(a, "replace")) cli_form_add(&f, "replace", "true");
    char endpoint[300];
    cli_http_response res;
    int rc = cli_admin_call(a, "POST", "/v1/processors", f.s, endpoint, sizeof endpoint, &res);
    free(f.s);
    if (rc != CLI_OK) return CLI_FAILED;
    if (res.status != 200)
        rc = broker_error(endpoint, "/v1/processors", &res);
    else if (a->json)
        print_body(&res);
    else
        print_status(res.body);
    cli_http_response_free(&res);
    return rc;
}

const cli_command cli_processor_create = {
    "processor create", "NAME --script PATH --input TOPIC [--output TOPIC] [--option K=V ...]",
    "run a Lua stream processor inside the broker, exactly once",
    "The script defines process(record, ctx) (and on_timer(timer, ctx) for timers); see\n"
    "lua/README.md. Task i reads partition i of every input. Records whose call fails go\n"
    "to the topic NAME.dlq with the error in a header. Example:\n"
    "  runnel processor create clicks-per-minute --script processors/windowed_aggregate.lua \\\n"
    "      --input clicks --output clicks-per-minute --option window.size.ms=60000\n",
    create_options, 1, 1, processor_create,
};

/* ---- start, stop, delete ---- */

static int processor_start(cli_args *a) { return name_request(a, "POST", "start", NULL); }
static int processor_stop(cli_args *a) { return name_request(a, "POST", "stop", NULL); }
static int processor_delete(cli_args *a) { return name_request(a, "DELETE", NULL, NULL); }

const cli_command cli_processor_start = {
    "processor start", "NAME [--http HOST:PORT]", "start a stopped processor where it left off",
    NULL, cli_http_options, 1, 1, processor_start,
};

const cli_command cli_processor_stop = {
    "processor stop", "NAME [--http HOST:PORT]",
    "stop a processor (it stays stopped across restarts until started)",
    "A step in progress finishes and is committed first.\n", cli_http_options, 1, 1, processor_stop,
};

const cli_command cli_processor_delete = {
    "processor delete", "NAME [--http HOST:PORT]",
    "remove a processor with its positions, state and timers (its topics stay)",
    NULL, cli_http_options, 1, 1, processor_delete,
};

/* ---- reset ---- */

static const cli_option reset_options[] = {
    {"to", "WHERE", "earliest (default), latest or an OFFSET"},
    {"input", "TOPIC", "only this input (default: every input)"},
    {"partition", "N", "only this partition / task (default: all)"},
    {"keep-state", NULL, "keep the state and timers (default: clear them, as a reprocess needs)"},
    {"http", "HOST:PORT",
     "the broker's HTTP endpoint (env RUNNEL_HTTP, default the bootstrap host, port " CLI_DEFAULT_HTTP_PORT ")"},
    {NULL, NULL, NULL},
};

static int processor_reset(cli_args *a) {
    cli_form f = {0};
    cli_form_add(&f, "offset", cli_opt(a, "to") ? cli_opt(a, "to") : "earliest");
    if (cli_opt(a, "input")) cli_form_add(&f, "input", cli_opt(a, "input"));
    if (cli_opt(a, "partition")) cli_form_add(&f, "partition", cli_opt(a, "partition"));
    if (cli_flag(a, "keep-state")) cli_form_add(&f, "keep_state", "true");
    int rc = name_request(a, "POST", "reset", f.s);
    free(f.s);
    return rc;
}

const cli_command cli_processor_reset = {
    "processor reset", "NAME [--to earliest|latest|OFFSET] [--input T] [--partition N] [--keep-state]",
    "move a stopped processor's positions (to reprocess, or to skip ahead)",
    "The processor must be stopped. Unless --keep-state, its state and timers are cleared\n"
    "too, so reprocessing from earliest gives the results of a first run.\n",
    reset_options, 1, 1, processor_reset,
};
