/* cli/plugin.c: `runnel plugin list|reload`: the broker's Lua plugin host through its
 * HTTP endpoint (GET /v1/plugins, POST /v1/plugins/reload), which Kafka's protocol has
 * no API for. --json passes the broker's JSON through unchanged. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "admin.h"
#include "table.h"

/* ---- plugin list ---- */

static int plugin_list(cli_args *a) {
    char endpoint[300];
    cli_http_response res;
    if (cli_admin_call(a, "GET", "/v1/plugins", NULL, endpoint, sizeof endpoint, &res) != CLI_OK) return CLI_FAILED;
    int rc = CLI_OK;
    long long calls;
    if (res.status != 200 || cli_json_read_int(res.body, "calls", &calls) != 0) {
        rc = cli_admin_unexpected(endpoint, "/v1/plugins", &res);
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
            if (cli_json_read_int(res.body, counters[i][0], &v) != 0) continue;
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
    cli_http_options, 0, 0, plugin_list,
};

/* ---- plugin reload ---- */

static int plugin_reload(cli_args *a) {
    char endpoint[300];
    cli_http_response res;
    if (cli_admin_call(a, "POST", "/v1/plugins/reload", NULL, endpoint, sizeof endpoint, &res) != CLI_OK) return CLI_FAILED;
    int rc;
    long long failed;
    char *report = NULL;
    if ((res.status != 200 && res.status != 422) || cli_json_read_int(res.body, "failed", &failed) != 0 ||
        !(report = cli_json_read_str(res.body, "report"))) {
        rc = cli_admin_unexpected(endpoint, "/v1/plugins/reload", &res);
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
    cli_http_options, 0, 0, plugin_reload,
};
