/* cli/topic.c: `runnel topic create|list|describe|alter|delete`: CreateTopics,
 * Metadata, ListOffsets (watermarks), DescribeConfigs, AlterConfigs, DeleteTopics. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "table.h"
#include "topic_configs.h"

#define WATERMARK_TIMEOUT_MS 5000

/* Adds every --config k=v to the set; CLI_USAGE (printed) on a malformed one. */
static int put_config_options(const cli_args *a, cli_config_set *s) {
    for (int i = 0; cli_opt_nth(a, "config", i); i++) {
        const char *v;
        char *k = cli_split_kv(cli_opt_nth(a, "config", i), &v);
        if (!k) return cli_usage_error(a->cmd, "--config wants key=value, got '%s'", cli_opt_nth(a, "config", i));
        cli_config_set_put(s, k, v, RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
        free(k);
    }
    return CLI_OK;
}

/* ---- topic create ---- */

static int topic_create(cli_args *a) {
    const char *name = a->positional[0];
    int partitions = -1, rf = -1;
    if (cli_opt(a, "partitions") && cli_parse_int(cli_opt(a, "partitions"), 1, 1000000, &partitions))
        return cli_usage_error(a->cmd, "--partitions wants a positive number, got '%s'", cli_opt(a, "partitions"));
    if (cli_opt(a, "replication-factor") && cli_parse_int(cli_opt(a, "replication-factor"), 1, 32767, &rf))
        return cli_usage_error(a->cmd, "--replication-factor wants a positive number, got '%s'",
                               cli_opt(a, "replication-factor"));
    cli_config_set configs = {0};
    int rc = put_config_options(a, &configs);
    if (rc != CLI_OK) goto done_configs;

    rc = CLI_FAILED;
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) goto done_configs;
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, rf, err, sizeof err);
    if (!nt) {
        cli_error("cannot create topic %s: %s", name, err);
        goto done_rk;
    }
    for (size_t i = 0; i < configs.n; i++)
        rd_kafka_NewTopic_set_config(nt, configs.entries[i].name, configs.entries[i].value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(rk, &nt, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_NewTopic_destroy(nt);
    char what[512];
    snprintf(what, sizeof what, "cannot create topic %s", name);
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (!e) continue;
            const char *m = rd_kafka_topic_result_error_string(tr[i]);
            cli_error("%s: %s", what, m && *m ? m : rd_kafka_err2str(e));
            rc = CLI_FAILED;
        }
        rd_kafka_event_destroy(ev);
    }
    if (rc == CLI_OK) {
        /* Report the partition count the broker chose. */
        const struct rd_kafka_metadata *md = NULL;
        int count = partitions;
        if (!rd_kafka_metadata(rk, 1, NULL, &md, 5000)) {
            const struct rd_kafka_metadata_topic *t = cli_find_topic(md, name);
            if (t && t->partition_cnt > 0) count = t->partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string(&j, name);
            cli_json_key(&j, "partitions");
            cli_json_int(&j, count);
            cli_json_key(&j, "created");
            cli_json_bool(&j, 1);
            cli_json_end_object(&j);
            cli_json_newline(&j);
        } else {
            printf("created topic %s with %d partition%s\n", name, count, count == 1 ? "" : "s");
        }
    }
    rd_kafka_queue_destroy(q);
done_rk:
    rd_kafka_destroy(rk);
done_configs:
    cli_config_set_free(&configs);
    return rc;
}

static const cli_option create_options[] = {
    {"partitions", "N", "number of partitions (default: the broker's num.partitions)"},
    {"replication-factor", "R", "replicas per partition (default: the broker's)"},
    {"config", "k=v", "a topic config, repeatable (e.g. partitioner.script=partitioners/murmur2.lua)"},
    {NULL, NULL, NULL},
};

const cli_command cli_topic_create = {
    "topic create", "NAME [--partitions N] [--config k=v ...]", "create a topic",
    "The broker checks the configs (a Lua hook script that does not load is refused);\n"
    "its message is printed and the exit status is 1.\n",
    create_options, 1, 1, topic_create,
};

/* ---- topic list ---- */

static int by_topic(const void *x, const void *y) {
    return strcmp(((const struct rd_kafka_metadata_topic *)x)->topic,
                  ((const struct rd_kafka_metadata_topic *)y)->topic);
}

static int topic_list(cli_args *a) {
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_PRODUCER, conf);
    if (!rk) return CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    if (cli_check_reachable(a, rk, &md) != CLI_OK) {
        rd_kafka_destroy(rk);
        return CLI_FAILED;
    }
    int n = md->topic_cnt;
    struct rd_kafka_metadata_topic *ts = calloc((size_t)n + 1, sizeof *ts);
    if (!ts) abort();
    memcpy(ts, md->topics, (size_t)n * sizeof *ts);
    qsort(ts, (size_t)n, sizeof *ts, by_topic);
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_array(&j);
        for (int i = 0; i < n; i++) {
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string(&j, ts[i].topic);
            cli_json_key(&j, "partitions");
            cli_json_int(&j, ts[i].partition_cnt);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_newline(&j);
    } else {
        cli_table *t = cli_table_new(2, "TOPIC", "PARTITIONS");
        for (int i = 0; i < n; i++) {
            char pc[16];
            snprintf(pc, sizeof pc, "%d", ts[i].partition_cnt);
            cli_table_add(t, ts[i].topic, pc);
        }
        cli_table_print(t, stdout);
        cli_table_free(t);
    }
    free(ts);
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return CLI_OK;
}

static const cli_option no_options[] = {{NULL, NULL, NULL}};

const cli_command cli_topic_list = {
    "topic list", "", "list topics and their partition counts", NULL, no_options, 0, 0, topic_list,
};

/* ---- topic describe ---- */

static void json_int_array(cli_json *j, const int32_t *v, int n) {
    cli_json_begin_array(j);
    for (int i = 0; i < n; i++) cli_json_int(j, v[i]);
    cli_json_end_array(j);
}

static void fmt_int_list(char *out, size_t n, const int32_t *v, int cnt) {
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < cnt && off < n; i++)
        off += (size_t)snprintf(out + off, n - off, "%s%" PRId32, i ? "," : "", v[i]);
}

static int topic_describe(cli_args *a) {
    const char *name = a->positional[0];
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_PRODUCER, conf);
    if (!rk) return CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    int rc = CLI_FAILED;
    cli_config_set configs = {0};
    if (cli_check_reachable(a, rk, &md) != CLI_OK) goto out;
    const struct rd_kafka_metadata_topic *t = cli_find_topic(md, name);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        cli_error("topic %s does not exist", name);
        goto out;
    }
    if (t->err) {
        cli_error("cannot describe topic %s: %s", name, rd_kafka_err2str(t->err));
        goto out;
    }
    if (cli_topic_configs(rk, name, &configs) != CLI_OK) goto out;
    if (!cli_flag(a, "all-configs")) /* only the topic's own overrides */
        for (size_t i = configs.n; i-- > 0;)
            if (configs.entries[i].source != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
                cli_config_set_put(&configs, configs.entries[i].name, NULL, 0);
    int np = t->partition_cnt;
    int64_t *low = calloc((size_t)np + 1, sizeof *low), *high = calloc((size_t)np + 1, sizeof *high);
    if (!low || !high) abort();
    for (int i = 0; i < np; i++) {
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, name, t->partitions[i].id, &low[i], &high[i],
                                                                 WATERMARK_TIMEOUT_MS);
        if (e) low[i] = high[i] = -1;
    }
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "topic");
        cli_json_string(&j, name);
        cli_json_key(&j, "partitions");
        cli_json_begin_array(&j);
        for (int i = 0; i < np; i++) {
            const struct rd_kafka_metadata_partition *p = &t->partitions[i];
            cli_json_begin_object(&j);
            cli_json_key(&j, "partition");
            cli_json_int(&j, p->id);
            cli_json_key(&j, "leader");
            cli_json_int(&j, p->leader);
            cli_json_key(&j, "replicas");
            json_int_array(&j, p->replicas, p->replica_cnt);
            cli_json_key(&j, "isr");
            json_int_array(&j, p->isrs, p->isr_cnt);
            cli_json_key(&j, "low");
            cli_json_int(&j, low[i]);
            cli_json_key(&j, "high");
            cli_json_int(&j, high[i]);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_key(&j, "configs");
        cli_json_begin_object(&j);
        for (size_t i = 0; i < configs.n; i++) {
            cli_json_key(&j, configs.entries[i].name);
            cli_json_string(&j, configs.entries[i].value);
        }
        cli_json_end_object(&j);
        cli_json_end_object(&j);
        cli_json_newline(&j);
    } else {
        printf("topic %s: %d partition%s\n\n", name, np, np == 1 ? "" : "s");
        cli_table *tb = cli_table_new(6, "PARTITION", "LEADER", "REPLICAS", "ISR", "LOW", "HIGH");
        for (int i = 0; i < np; i++) {
            const struct rd_kafka_metadata_partition *p = &t->partitions[i];
            char id[16], leader[16], reps[256], isr[256], lo[24], hi[24];
            snprintf(id, sizeof id, "%" PRId32, p->id);
            snprintf(leader, sizeof leader, "%" PRId32, p->leader);
            fmt_int_list(reps, sizeof reps, p->replicas, p->replica_cnt);
            fmt_int_list(isr, sizeof isr, p->isrs, p->isr_cnt);
            snprintf(lo, sizeof lo, "%" PRId64, low[i]);
            snprintf(hi, sizeof hi, "%" PRId64, high[i]);
            cli_table_add(tb, id, leader, reps, isr, lo, hi);
        }
        cli_table_print(tb, stdout);
        cli_table_free(tb);
        printf("\n");
        if (!configs.n) {
            printf("configs: all defaults\n");
        } else {
            cli_table *ct = cli_table_new(3, "CONFIG", "VALUE", "SOURCE");
            for (size_t i = 0; i < configs.n; i++)
                cli_table_add(ct, configs.entries[i].name, configs.entries[i].value,
                              rd_kafka_ConfigSource_name(configs.entries[i].source));
            cli_table_print(ct, stdout);
            cli_table_free(ct);
        }
    }
    free(low);
    free(high);
    rc = CLI_OK;
out:
    cli_config_set_free(&configs);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

static const cli_option describe_options[] = {
    {"all-configs", NULL, "also show broker-level values that are not defaults, with their source"},
    {NULL, NULL, NULL},
};

const cli_command cli_topic_describe = {
    "topic describe", "NAME",
    "partitions with leaders and low/high watermarks, and the configs that are not default",
    "configs lists the topic's own settings (DescribeConfigs source DYNAMIC_TOPIC_CONFIG);\n"
    "--all-configs adds every other value that is not a default (e.g. the broker's).\n",
    describe_options, 1, 1, topic_describe,
};

/* ---- topic alter ---- */

static int topic_alter(cli_args *a) {
    const char *name = a->positional[0];
    if (!cli_opt(a, "config") && !cli_opt(a, "delete-config"))
        return cli_usage_error(a->cmd, "nothing to change: give --config k=v or --delete-config k");
    cli_config_set wanted = {0}, current = {0};
    int rc = put_config_options(a, &wanted);
    if (rc != CLI_OK) goto out_sets;
    rc = CLI_FAILED;
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) goto out_sets;
    /* librdkafka 2.0.2 has no IncrementalAlterConfigs and AlterConfigs replaces the
     * topic's whole set: start from the topic's own overrides and merge. */
    if (cli_topic_configs(rk, name, &current) != CLI_OK) goto out_rk;
    for (size_t i = current.n; i-- > 0;)
        if (current.entries[i].source != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG)
            cli_config_set_put(&current, current.entries[i].name, NULL, 0);
    for (size_t i = 0; i < wanted.n; i++)
        cli_config_set_put(&current, wanted.entries[i].name, wanted.entries[i].value,
                           RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    for (int i = 0; cli_opt_nth(a, "delete-config", i); i++)
        cli_config_set_put(&current, cli_opt_nth(a, "delete-config", i), NULL, 0);

    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    for (size_t i = 0; i < current.n; i++)
        rd_kafka_ConfigResource_set_config(res, current.entries[i].name, current.entries[i].value);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AlterConfigs(rk, &res, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_ConfigResource_destroy(res);
    char what[512];
    snprintf(what, sizeof what, "cannot alter topic %s", name);
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_ConfigResource_t **rs =
            rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(rs[i]);
            if (!e) continue;
            const char *m = rd_kafka_ConfigResource_error_string(rs[i]);
            cli_error("%s: %s", what, m && *m ? m : rd_kafka_err2str(e));
            rc = CLI_FAILED;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    if (rc == CLI_OK) {
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string(&j, name);
            cli_json_key(&j, "configs");
            cli_json_begin_object(&j);
            for (size_t i = 0; i < current.n; i++) {
                cli_json_key(&j, current.entries[i].name);
                cli_json_string(&j, current.entries[i].value);
            }
            cli_json_end_object(&j);
            cli_json_end_object(&j);
            cli_json_newline(&j);
        } else {
            printf("altered topic %s; its configs now:\n", name);
            for (size_t i = 0; i < current.n; i++)
                printf("  %s=%s\n", current.entries[i].name, current.entries[i].value);
        }
    }
out_rk:
    rd_kafka_destroy(rk);
out_sets:
    cli_config_set_free(&wanted);
    cli_config_set_free(&current);
    return rc;
}

static const cli_option alter_options[] = {
    {"config", "k=v", "set a topic config, repeatable"},
    {"delete-config", "k", "remove a topic config (back to the default), repeatable"},
    {NULL, NULL, NULL},
};

const cli_command cli_topic_alter = {
    "topic alter", "NAME --config k=v ... [--delete-config k ...]", "change a topic's configs",
    "Configs not named keep their values: the topic's current overrides are read\n"
    "(DescribeConfigs) and merged before AlterConfigs.\n",
    alter_options, 1, 1, topic_alter,
};

/* ---- topic delete ---- */

static int topic_delete(cli_args *a) {
    const char *name = a->positional[0];
    rd_kafka_t *rk = cli_admin_new(a);
    if (!rk) return CLI_FAILED;
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(rk, &dt, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_DeleteTopic_destroy(dt);
    char what[512];
    snprintf(what, sizeof what, "cannot delete topic %s", name);
    int rc = CLI_FAILED;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, what);
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        rc = CLI_OK;
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (!e) continue;
            const char *m = rd_kafka_topic_result_error_string(tr[i]);
            cli_error("%s: %s", what, m && *m ? m : rd_kafka_err2str(e));
            rc = CLI_FAILED;
        }
        rd_kafka_event_destroy(ev);
    }
    if (rc == CLI_OK) {
        if (a->json) {
            cli_json j;
            cli_json_init(&j, stdout);
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string(&j, name);
            cli_json_key(&j, "deleted");
            cli_json_bool(&j, 1);
            cli_json_end_object(&j);
            cli_json_newline(&j);
        } else
            printf("deleted topic %s\n", name);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

const cli_command cli_topic_delete = {
    "topic delete", "NAME", "delete a topic and its records", NULL, no_options, 1, 1, topic_delete,
};
