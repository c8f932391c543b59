/* cli/topic_configs.c: DescribeConfigs for one topic (see topic_configs.h). */
#include "topic_configs.h"

#include <stdlib.h>
#include <string.h>

void cli_config_set_put(cli_config_set *s, const char *name, const char *value,
                        rd_kafka_ConfigSource_t source) {
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->entries[i].name, name) != 0) continue;
        free(s->entries[i].value);
        if (!value) {
            free(s->entries[i].name);
            memmove(&s->entries[i], &s->entries[i + 1], (s->n - i - 1) * sizeof *s->entries);
            s->n--;
            return;
        }
        s->entries[i].value = strdup(value);
        s->entries[i].source = source;
        return;
    }
    if (!value) return;
    s->entries = realloc(s->entries, (s->n + 1) * sizeof *s->entries);
    if (!s->entries) abort();
    s->entries[s->n].name = strdup(name);
    s->entries[s->n].value = strdup(value);
    s->entries[s->n].source = source;
    s->n++;
}

void cli_config_set_free(cli_config_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].name);
        free(s->entries[i].value);
    }
    free(s->entries);
    s->entries = NULL;
    s->n = 0;
}

static int by_name(const void *x, const void *y) {
    return strcmp(((const cli_config_entry *)x)->name, ((const cli_config_entry *)y)->name);
}

int cli_topic_configs(rd_kafka_t *rk, const char *topic, cli_config_set *out) {
    memset(out, 0, sizeof *out);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    char what[512];
    snprintf(what, sizeof what, "cannot describe the configs of topic %s", topic);
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, what);
    int rc = CLI_FAILED;
    if (!ev) goto out;
    size_t nres;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &nres);
    for (size_t i = 0; i < nres; i++) {
        if (rd_kafka_ConfigResource_error(rs[i])) {
            const char *m = rd_kafka_ConfigResource_error_string(rs[i]);
            cli_error("%s: %s", what, m && *m ? m : rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[i])));
            goto out;
        }
        size_t nc;
        const rd_kafka_ConfigEntry_t **cs = rd_kafka_ConfigResource_configs(rs[i], &nc);
        for (size_t k = 0; k < nc; k++) {
            rd_kafka_ConfigSource_t src = rd_kafka_ConfigEntry_source(cs[k]);
            if (rd_kafka_ConfigEntry_is_default(cs[k]) || src == RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG) continue;
            const char *v = rd_kafka_ConfigEntry_value(cs[k]);
            cli_config_set_put(out, rd_kafka_ConfigEntry_name(cs[k]), v ? v : "", src);
        }
    }
    if (out->n) qsort(out->entries, out->n, sizeof *out->entries, by_name);
    rc = CLI_OK;
out:
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return rc;
}
