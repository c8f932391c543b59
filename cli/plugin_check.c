/* cli/plugin_check.c: `runnel plugin check`: loads a Lua hook script with the broker's
 * own plugin host (plugins/, linked in), offline: does it compile, run and define its
 * hook, and with --records what it does to records read from stdin. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "plugins.h"
#include "rnlog.h"

#define CHECK_BUDGET 10000000
#define CHECK_MEMORY (64 * 1024 * 1024)

typedef struct {
    const char **names, **values;
    int n;
} config_list;

static void print_text(const char *label, const uint8_t *p, int32_t n) {
    printf("%s", label);
    if (!p)
        printf("null");
    else
        fwrite(p, 1, (size_t)n, stdout);
}

/* One verdict line (text or JSON); returns 1 when the script failed on the record. */
static int run_record(const cli_args *a, rn_plugins *p, const char *script, int partition_hook, int32_t count,
                      const rn_plugin_config *cfg, long line, const char *value, size_t len) {
    const char *sep = cli_opt(a, "key-separator");
    const char *key = NULL;
    size_t key_len = 0;
    if (sep && *sep) {
        const char *at = memmem(value, len, sep, strlen(sep));
        if (at) {
            key = value;
            key_len = (size_t)(at - value);
            len -= key_len + strlen(sep);
            value = at + strlen(sep);
        }
    }
    rn_plugin_record rec = {0};
    rec.topic = "check";
    rec.partition = -1;
    rec.offset = -1;
    rec.timestamp = 0;
    rec.key = (const uint8_t *)key;
    rec.key_len = (int32_t)key_len;
    rec.value = (const uint8_t *)value;
    rec.value_len = (int32_t)len;
    char err[1024] = "";
    const char *verdict;
    int failed = 0;
    int32_t index = -1;
    rn_plugin_record_out out = {0};
    int have_out = 0;
    if (partition_hook) {
        rn_err e = rn_plugins_partition(p, script, &rec, count, cfg, &index, err, sizeof err);
        verdict = e ? "error" : "partition";
        failed = e != 0;
    } else {
        switch (rn_plugins_filter(p, script, &rec, cfg, &out, err, sizeof err)) {
        case RN_FILTER_KEEP: verdict = "keep"; break;
        case RN_FILTER_DROP: verdict = "drop"; break;
        case RN_FILTER_REWRITE: verdict = "rewrite"; have_out = 1; break;
        case RN_FILTER_REJECT: verdict = "reject"; break;
        default: verdict = "error"; failed = 1; break;
        }
    }
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "line");
        cli_json_int(&j, line);
        cli_json_key(&j, "verdict");
        cli_json_string(&j, verdict);
        if (index >= 0) {
            cli_json_key(&j, "partition");
            cli_json_int(&j, index);
        }
        if (have_out) {
            cli_json_bytes_field(&j, "key", out.rec.key, out.rec.key ? (size_t)out.rec.key_len : 0);
            cli_json_bytes_field(&j, "value", out.rec.value, out.rec.value ? (size_t)out.rec.value_len : 0);
            cli_json_key(&j, "headers");
            cli_json_begin_array(&j);
            for (int h = 0; h < out.rec.nheaders; h++) {
                const rn_plugin_header *hd = &out.rec.headers[h];
                cli_json_begin_object(&j);
                cli_json_bytes_field(&j, "key", hd->name, (size_t)hd->name_len);
                cli_json_bytes_field(&j, "value", hd->value, hd->value ? (size_t)hd->value_len : 0);
                cli_json_end_object(&j);
            }
            cli_json_end_array(&j);
        }
        if (err[0]) {
            cli_json_key(&j, "reason");
            cli_json_string(&j, err);
        }
        cli_json_end_object(&j);
        cli_json_newline(&j);
    } else {
        printf("%ld: %s", line, verdict);
        if (index >= 0) printf(" %d", (int)index);
        if (have_out) {
            print_text(" key=", out.rec.key, out.rec.key_len);
            print_text(" value=", out.rec.value, out.rec.value_len);
            for (int h = 0; h < out.rec.nheaders; h++) {
                print_text(" header ", out.rec.headers[h].name, out.rec.headers[h].name_len);
                print_text("=", out.rec.headers[h].value, out.rec.headers[h].value_len);
            }
        }
        if (err[0]) printf(": %s", err);
        putchar('\n');
    }
    if (have_out) rn_plugin_record_out_free(&out);
    return failed;
}

static int plugin_check(cli_args *a) {
    const char *script = a->positional[0];
    const char *dir = cli_opt(a, "dir");
    if (!dir || !*dir) dir = getenv("RUNNEL_PLUGINS_DIR");
    if (!dir || !*dir) dir = RUNNEL_LUA_DIR;
    const char *hook = cli_opt(a, "hook");
    if (hook && strcmp(hook, "filter") && strcmp(hook, "partition"))
        return cli_usage_error(a->cmd, "--hook wants filter or partition, got '%s'", hook);
    int count = 3;
    if (cli_opt(a, "partitions") && cli_parse_int(cli_opt(a, "partitions"), 1, 1000000, &count))
        return cli_usage_error(a->cmd, "--partitions wants a count >= 1, got '%s'", cli_opt(a, "partitions"));
    config_list cfg = {0};
    int n = 0;
    while (cli_opt_nth(a, "config", n)) n++;
    cfg.names = calloc((size_t)n + 1, sizeof *cfg.names);
    cfg.values = calloc((size_t)n + 1, sizeof *cfg.values);
    if (!cfg.names || !cfg.values) abort();
    int rc = CLI_USAGE;
    for (int i = 0; i < n; i++) {
        const char *v;
        char *k = cli_split_kv(cli_opt_nth(a, "config", i), &v);
        if (!k) {
            cli_usage_error(a->cmd, "--config wants key=value, got '%s'", cli_opt_nth(a, "config", i));
            goto out_cfg;
        }
        cfg.names[cfg.n] = k;
        cfg.values[cfg.n++] = v;
    }

    rn_log_set_level(RN_LOG_ERROR);
    rn_plugins_options opts = {dir, CHECK_BUDGET, CHECK_MEMORY};
    rn_plugins *p = NULL;
    char err[1024];
    rc = CLI_FAILED;
    if (rn_plugins_open(&opts, &p, err, sizeof err)) {
        cli_error("cannot open the plugins dir %s: %s", dir, err);
        goto out_cfg;
    }
    /* Which hook: --hook, else whichever the script defines (filter first). */
    char err2[1024] = "";
    rn_err e;
    if (hook) {
        e = rn_plugins_check(p, script, hook, err, sizeof err);
    } else {
        hook = "filter";
        e = rn_plugins_check(p, script, "filter", err, sizeof err);
        if (e && !rn_plugins_check(p, script, "partition", err2, sizeof err2)) {
            hook = "partition";
            e = 0;
        }
    }
    if (e) {
        cli_error("%s", err);
        goto out;
    }
    if (!cli_flag(a, "records")) {
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_object(&j);
            cli_json_key(&j, "script");
            cli_json_string(&j, script);
            cli_json_key(&j, "hook");
            cli_json_string(&j, hook);
            cli_json_key(&j, "ok");
            cli_json_bool(&j, 1);
            cli_json_end_object(&j);
            cli_json_newline(&j);
        } else {
            printf("%s: ok (defines %s)\n", script, hook);
        }
        rc = CLI_OK;
        goto out;
    }
    rn_plugin_config pc = {cfg.names, cfg.values, cfg.n};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int errors = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (len && line[len - 1] == '\n') len--;
        if (len && line[len - 1] == '\r') len--;
        errors += run_record(a, p, script, !strcmp(hook, "partition"), count, &pc, lineno, line, (size_t)len);
    }
    free(line);
    fflush(stdout);
    if (errors) cli_error("%s failed on %d of %ld record%s", script, errors, lineno, lineno == 1 ? "" : "s");
    rc = errors ? CLI_FAILED : CLI_OK;
out:
    rn_plugins_close(p);
out_cfg:
    for (int i = 0; i < cfg.n; i++) free((char *)cfg.names[i]);
    free(cfg.names);
    free(cfg.values);
    return rc;
}

static const cli_option check_options[] = {
    {"dir", "DIR", "the plugins dir the script is named in (env RUNNEL_PLUGINS_DIR, default the shipped lua/)"},
    {"hook", "HOOK", "filter or partition (default: whichever the script defines)"},
    {"records", NULL, "run the hook on records from stdin, one value per line, printing each verdict"},
    {"config", "k=v", "a topic config the script reads (repeatable), e.g. produce.filter.fields=id"},
    {"key-separator", "SEP", "with --records: the text before SEP on a line is the record's key"},
    {"partitions", "N", "the partition count given to a partitioner (default 3)"},
    {NULL, NULL, NULL},
};

const cli_command cli_plugin_check = {
    "plugin check", "SCRIPT [--dir DIR] [--records [--key-separator SEP]] [--config k=v ...]",
    "check a Lua hook script offline (no broker), optionally on records from stdin",
    "SCRIPT is a path relative to --dir, as in a topic's produce.filter.script or\n"
    "partitioner.script. It is loaded by the broker's own plugin host, with its sandbox\n"
    "and limits. With --records each stdin line is a record's value (and its key, with\n"
    "--key-separator); a verdict line is printed per record: keep, drop, rewrite (with\n"
    "the new record), reject or error (with the reason), or partition N. Exits 1 when\n"
    "the script fails to load or fails on a record (a reject is a verdict, not a failure).\n",
    check_options, 1, 1, plugin_check,
};
