/* cli/common.c: argument parsing, client configuration, the reachability check and
 * admin plumbing shared by every command (see common.h). */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_CONNECT_TIMEOUT_MS 5000
#define CLI_ADMIN_TIMEOUT_MS 15000

/* Options every command accepts. */
static const cli_option global_options[] = {
    {"bootstrap", "HOST:PORT", "broker(s) to contact (env RUNNEL_BOOTSTRAP, default " CLI_DEFAULT_BOOTSTRAP ")"},
    {"json", NULL, "print machine-readable JSON"},
    {"set", "k=v", "set a librdkafka client property (repeatable), e.g. security.protocol=SSL"},
    {"help", NULL, "show this help"},
    {NULL, NULL, NULL},
};

int64_t cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("runnel: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("runnel: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (cmd) {
        fprintf(stderr, "usage: runnel %s%s%s\n", cmd->path, *cmd->synopsis ? " " : "", cmd->synopsis);
        fprintf(stderr, "Try 'runnel %s --help'.\n", cmd->path);
    }
    return CLI_USAGE;
}

static void print_options(const cli_option *o, FILE *f) {
    for (; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(f, "  %-24s %s\n", left, o->help);
    }
}

void cli_print_help(const cli_command *cmd, FILE *f) {
    fprintf(f, "usage: runnel %s %s\n\n%s\n", cmd->path, cmd->synopsis, cmd->summary);
    if (cmd->details) fprintf(f, "\n%s", cmd->details);
    fprintf(f, "\noptions:\n");
    print_options(cmd->options, f);
    print_options(global_options, f);
    fprintf(f, "\nexit status: 0 success, 1 the operation failed, 2 bad usage\n");
}

static const cli_option *find_option(const cli_command *cmd, const char *name, size_t len) {
    for (const cli_option *o = global_options; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    for (const cli_option *o = cmd->options; o && o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

int cli_parse(const cli_command *cmd, int argc, char **argv, cli_args *a) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && !strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        if (only_positional || strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (a->npositional >= cmd->max_positional || a->npositional >= CLI_MAX_POSITIONAL)
                return cli_usage_error(cmd, "unexpected argument '%s'", arg);
            a->positional[a->npositional++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = find_option(cmd, name, len);
        if (!o) return cli_usage_error(cmd, "unknown option '--%.*s'", (int)len, name);
        const char *value = NULL;
        if (o->metavar) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return cli_usage_error(cmd, "option '--%s' needs a value (%s)", o->name, o->metavar);
        } else if (eq) {
            return cli_usage_error(cmd, "option '--%s' takes no value", o->name);
        }
        if (!strcmp(o->name, "help")) {
            cli_print_help(cmd, stdout);
            return -1;
        }
        if (a->nopts >= CLI_MAX_OPTIONS) return cli_usage_error(cmd, "too many options");
        a->opts[a->nopts].name = o->name;
        a->opts[a->nopts].value = value ? value : "";
        a->nopts++;
    }
    if (a->npositional < cmd->min_positional)
        return cli_usage_error(cmd, "missing argument (%s)", cmd->synopsis);
    a->json = cli_flag(a, "json");
    a->bootstrap = cli_opt(a, "bootstrap");
    if (!a->bootstrap || !*a->bootstrap) a->bootstrap = getenv("RUNNEL_BOOTSTRAP");
    if (!a->bootstrap || !*a->bootstrap) a->bootstrap = CLI_DEFAULT_BOOTSTRAP;
    return CLI_OK;
}

const char *cli_opt(const cli_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->nopts; i++)
        if (!strcmp(a->opts[i].name, name)) v = a->opts[i].value;
    return v;
}

int cli_flag(const cli_args *a, const char *name) { return cli_opt(a, name) != NULL; }

const char *cli_opt_nth(const cli_args *a, const char *name, int n) {
    for (int i = 0; i < a->nopts; i++)
        if (!strcmp(a->opts[i].name, name) && n-- == 0) return a->opts[i].value;
    return NULL;
}

int cli_parse_int64(const char *s, int64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, int lo, int hi, int *out) {
    int64_t v;
    if (cli_parse_int64(s, &v) || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

char *cli_split_kv(const char *s, const char **value) {
    const char *eq = strchr(s, '=');
    if (!eq || eq == s) return NULL;
    *value = eq + 1;
    return strndup(s, (size_t)(eq - s));
}

/* What the last failed connection said, captured from librdkafka's error callback. */
static struct {
    char transport[512];
    int all_down;
} seen;

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) seen.all_down = 1;
    if ((err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL) && !seen.transport[0])
        snprintf(seen.transport, sizeof seen.transport, "%s", reason);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    if (getenv("RUNNEL_DEBUG")) fprintf(stderr, "librdkafka %d %s: %s\n", level, fac, buf);
}

int cli_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        cli_error("bad client property %s=%s: %s", k, v, err);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *cli_conf_new(const cli_args *a) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (cli_conf_set(conf, "bootstrap.servers", a->bootstrap) || cli_conf_set(conf, "client.id", "runnel-cli"))
        goto fail;
    for (int i = 0; cli_opt_nth(a, "set", i); i++) {
        const char *v;
        char *k = cli_split_kv(cli_opt_nth(a, "set", i), &v);
        if (!k) {
            cli_error("--set wants key=value, got '%s'", cli_opt_nth(a, "set", i));
            goto fail;
        }
        int bad = cli_conf_set(conf, k, v);
        free(k);
        if (bad) goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *cli_client_new(const cli_args *a, rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        cli_error("cannot create a client: %s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* "... Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state
 * CONNECT)" -> "connection refused". */
static void transport_reason(char *out, size_t n) {
    const char *r = seen.transport;
    const char *f = strstr(r, "failed: "), *b = strstr(r, "/bootstrap: ");
    if (f)
        r = f + 8;
    else if (b)
        r = b + 12;
    snprintf(out, n, "%s", r);
    char *after = strstr(out, " (after ");
    if (after) *after = '\0';
    if (out[0] && isupper((unsigned char)out[0]) && !isupper((unsigned char)out[1]))
        out[0] = (char)tolower((unsigned char)out[0]);
}

int cli_check_reachable(const cli_args *a, rd_kafka_t *rk, const struct rd_kafka_metadata **mdp) {
    memset(&seen, 0, sizeof seen);
    int64_t deadline = cli_now_ms() + CLI_CONNECT_TIMEOUT_MS;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    while (cli_now_ms() < deadline) {
        const struct rd_kafka_metadata *md = NULL;
        err = rd_kafka_metadata(rk, 1, NULL, &md, 250);
        if (!err) {
            if (mdp)
                *mdp = md;
            else
                rd_kafka_metadata_destroy(md);
            return CLI_OK;
        }
        rd_kafka_poll(rk, 0);
        if (seen.all_down && seen.transport[0]) break;
    }
    char reason[512];
    if (seen.transport[0])
        transport_reason(reason, sizeof reason);
    else
        snprintf(reason, sizeof reason, "%s", rd_kafka_err2str(err));
    cli_error("cannot reach broker at %s: %s", a->bootstrap, reason);
    return CLI_FAILED;
}

rd_kafka_t *cli_admin_new(const cli_args *a) {
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return NULL;
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_PRODUCER, conf);
    if (!rk) return NULL;
    if (cli_check_reachable(a, rk, NULL) != CLI_OK) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

rd_kafka_AdminOptions_t *cli_admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op) {
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(o, CLI_ADMIN_TIMEOUT_MS, err, sizeof err);
    if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS)
        rd_kafka_AdminOptions_set_operation_timeout(o, CLI_ADMIN_TIMEOUT_MS, err, sizeof err);
    return o;
}

rd_kafka_event_t *cli_admin_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type, const char *what) {
    int64_t deadline = cli_now_ms() + CLI_ADMIN_TIMEOUT_MS + 5000;
    while (cli_now_ms() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 500);
        if (!ev) continue;
        if (rd_kafka_event_type(ev) != type) {
            rd_kafka_event_destroy(ev);
            continue;
        }
        if (rd_kafka_event_error(ev)) {
            cli_error("%s: %s", what, rd_kafka_event_error_string(ev));
            rd_kafka_event_destroy(ev);
            return NULL;
        }
        return ev;
    }
    cli_error("%s: timed out waiting for the broker", what);
    return NULL;
}

const struct rd_kafka_metadata_topic *cli_find_topic(const struct rd_kafka_metadata *md, const char *topic) {
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic)) return &md->topics[i];
    return NULL;
}

void cli_partition_ends_init(cli_partition_ends *e, const rd_kafka_metadata_topic_t *t) {
    e->partition_cnt = 0;
    for (int i = 0; i < t->partition_cnt; i++)
        if (t->partitions[i].id + 1 > e->partition_cnt) e->partition_cnt = t->partitions[i].id + 1;
    e->assigned = calloc((size_t)(e->partition_cnt ? e->partition_cnt : 1), 1);
    e->at_end = calloc((size_t)(e->partition_cnt ? e->partition_cnt : 1), 1);
    if (!e->assigned || !e->at_end) abort();
}

void cli_partition_ends_free(cli_partition_ends *e) {
    free(e->assigned);
    free(e->at_end);
    e->assigned = e->at_end = NULL;
}

void cli_partition_ends_mark(cli_partition_ends *e, const rd_kafka_topic_partition_list_t *parts,
                             int assigned) {
    for (int i = 0; i < parts->cnt; i++) {
        int p = parts->elems[i].partition;
        if (p < 0 || p >= e->partition_cnt) continue;
        e->assigned[p] = (char)assigned;
        e->at_end[p] = 0;
    }
}

void cli_partition_ends_set(cli_partition_ends *e, int32_t p, int at_end) {
    if (p >= 0 && p < e->partition_cnt) e->at_end[p] = (char)at_end;
}

int cli_partition_ends_all(const cli_partition_ends *e) {
    int any = 0;
    for (int p = 0; p < e->partition_cnt; p++) {
        if (!e->assigned[p]) continue;
        if (!e->at_end[p]) return 0;
        any = 1;
    }
    return any;
}

void cli_rebalance_apply(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts) {
    int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *e = assign ? rd_kafka_incremental_assign(rk, parts)
                                     : rd_kafka_incremental_unassign(rk, parts);
        if (e) rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, assign ? parts : NULL);
    }
}
