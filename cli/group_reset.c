/* cli/group_reset.c: `runnel group reset-offsets`: commits new offsets for a group that
 * has no members, from a consumer handle with group.id = G that never subscribes (so the
 * commit carries generation -1, which the broker accepts only while the group is Empty). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "table.h"

#define WATERMARK_TIMEOUT_MS 5000
#define COMMIT_TIMEOUT_MS 15000

typedef enum { TO_EARLIEST, TO_LATEST, TO_OFFSET, TO_TIMESTAMP } to_kind;

static int parse_to(const char *s, to_kind *kind, int64_t *value) {
    if (!s) return -1;
    if (!strcmp(s, "earliest")) return *kind = TO_EARLIEST, 0;
    if (!strcmp(s, "latest")) return *kind = TO_LATEST, 0;
    if (s[0] == '@') {
        *kind = TO_TIMESTAMP;
        return cli_parse_int64(s + 1, value) || *value < 0 ? -1 : 0;
    }
    *kind = TO_OFFSET;
    return cli_parse_int64(s, value) || *value < 0 ? -1 : 0;
}

/* The group's member count from DescribeConsumerGroups (0 for an unknown group), or -1
 * after printing the error. *state gets the state's name. */
static int group_members(rd_kafka_t *rk, const char *group, char *state, size_t n) {
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = cli_admin_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    const char *ids[1] = {group};
    rd_kafka_DescribeConsumerGroups(rk, ids, 1, o, q);
    rd_kafka_AdminOptions_destroy(o);
    char what[512];
    snprintf(what, sizeof what, "cannot describe group %s", group);
    int members = -1;
    rd_kafka_event_t *ev = cli_admin_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT, what);
    if (ev) {
        size_t nd;
        const rd_kafka_ConsumerGroupDescription_t **ds =
            rd_kafka_DescribeConsumerGroups_result_groups(rd_kafka_event_DescribeConsumerGroups_result(ev), &nd);
        const rd_kafka_error_t *e = nd ? rd_kafka_ConsumerGroupDescription_error(ds[0]) : NULL;
        if (!nd) {
            cli_error("%s: no answer for it", what);
        } else if (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
            snprintf(state, n, "Dead");
            members = 0;
        } else if (e) {
            cli_error("%s: %s", what, rd_kafka_error_string(e));
        } else {
            snprintf(state, n, "%s",
                     rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(ds[0])));
            members = (int)rd_kafka_ConsumerGroupDescription_member_count(ds[0]);
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return members;
}

/* Fills each partition's offset with the target; -1 after printing the error. */
static int targets(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, to_kind kind, int64_t value,
                   int64_t *low, int64_t *high) {
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, tp->topic, tp->partition, &low[i], &high[i], WATERMARK_TIMEOUT_MS);
        if (err) {
            cli_error("cannot read the offsets of %s/%d: %s", tp->topic, (int)tp->partition, rd_kafka_err2str(err));
            return -1;
        }
        switch (kind) {
        case TO_EARLIEST: tp->offset = low[i]; break;
        case TO_LATEST: tp->offset = high[i]; break;
        case TO_OFFSET: tp->offset = value < low[i] ? low[i] : value > high[i] ? high[i] : value; break;
        case TO_TIMESTAMP: tp->offset = value; break;
        }
    }
    if (kind != TO_TIMESTAMP) return 0;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts, WATERMARK_TIMEOUT_MS);
    if (err) {
        cli_error("cannot look up offsets for timestamp %" PRId64 ": %s", value, rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->err) {
            cli_error("cannot look up offsets for timestamp %" PRId64 " in %s/%d: %s", value, tp->topic,
                      (int)tp->partition, rd_kafka_err2str(tp->err));
            return -1;
        }
        if (tp->offset < 0) tp->offset = high[i]; /* no record at or after it: the end */
    }
    return 0;
}

static void print_result(const cli_args *a, const char *group, const char *topic, int dry_run,
                         const rd_kafka_topic_partition_list_t *parts, const int64_t *previous) {
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "group");
        cli_json_string(&j, group);
        cli_json_key(&j, "topic");
        cli_json_string(&j, topic);
        cli_json_key(&j, "dry_run");
        cli_json_bool(&j, dry_run);
        cli_json_key(&j, "partitions");
        cli_json_begin_array(&j);
        for (int i = 0; i < parts->cnt; i++) {
            cli_json_begin_object(&j);
            cli_json_key(&j, "partition");
            cli_json_int(&j, parts->elems[i].partition);
            cli_json_key(&j, "previous");
            if (previous[i] >= 0) cli_json_int(&j, previous[i]); else cli_json_null(&j);
            cli_json_key(&j, "offset");
            cli_json_int(&j, parts->elems[i].offset);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_end_object(&j);
        cli_json_newline(&j);
        return;
    }
    cli_table *t = cli_table_new(4, "TOPIC", "PARTITION", "PREVIOUS", "NEW");
    for (int i = 0; i < parts->cnt; i++) {
        char p[16], prev[32], now[32];
        snprintf(p, sizeof p, "%d", (int)parts->elems[i].partition);
        snprintf(prev, sizeof prev, "%" PRId64, previous[i]);
        snprintf(now, sizeof now, "%" PRId64, parts->elems[i].offset);
        cli_table_add(t, topic, p, previous[i] >= 0 ? prev : NULL, now);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    if (dry_run)
        printf("\ndry run: group %s was not changed\n", group);
    else
        printf("\nreset the offsets of group %s on %s (%d partition%s)\n", group, topic, parts->cnt,
               parts->cnt == 1 ? "" : "s");
}

static int group_reset_offsets(cli_args *a) {
    const char *group = a->positional[0], *topic = cli_opt(a, "topic");
    to_kind kind;
    int64_t value = 0;
    int only = -1;
    int dry_run = cli_flag(a, "dry-run");
    if (!topic || !*topic) return cli_usage_error(a->cmd, "--topic is required");
    if (parse_to(cli_opt(a, "to"), &kind, &value))
        return cli_usage_error(a->cmd, "--to wants earliest, latest, an offset or @TIMESTAMP_MS, got '%s'",
                               cli_opt(a, "to") ? cli_opt(a, "to") : "nothing");
    if (cli_opt(a, "partition") && cli_parse_int(cli_opt(a, "partition"), 0, INT32_MAX, &only))
        return cli_usage_error(a->cmd, "--partition wants a partition number, got '%s'", cli_opt(a, "partition"));

    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    if (cli_conf_set(conf, "group.id", group) || cli_conf_set(conf, "enable.auto.commit", "false") ||
        cli_conf_set(conf, "enable.auto.offset.store", "false")) {
        rd_kafka_conf_destroy(conf);
        return CLI_FAILED;
    }
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_CONSUMER, conf);
    if (!rk) return CLI_FAILED;
    int rc = CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t *low = NULL, *high = NULL, *previous = NULL;
    if (cli_check_reachable(a, rk, &md) != CLI_OK) goto out;

    const struct rd_kafka_metadata_topic *mt = cli_find_topic(md, topic);
    if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        cli_error("topic %s does not exist", topic);
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(mt->partition_cnt);
    for (int i = 0; i < mt->partition_cnt; i++)
        if (only < 0 || mt->partitions[i].id == only) rd_kafka_topic_partition_list_add(parts, topic, mt->partitions[i].id);
    if (!parts->cnt) {
        cli_error("topic %s has no partition %d (it has %d)", topic, only, mt->partition_cnt);
        goto out;
    }
    rd_kafka_topic_partition_list_sort(parts, NULL, NULL);

    char state[64] = "";
    int members = group_members(rk, group, state, sizeof state);
    if (members < 0) goto out;
    if (members > 0) {
        cli_error("cannot reset the offsets of group %s: it has %d active member%s (state %s); stop its "
                  "consumers first",
                  group, members, members == 1 ? "" : "s", state);
        goto out;
    }

    low = calloc((size_t)parts->cnt, sizeof *low);
    high = calloc((size_t)parts->cnt, sizeof *high);
    previous = calloc((size_t)parts->cnt, sizeof *previous);
    if (!low || !high || !previous) abort();
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t err = rd_kafka_committed(rk, committed, WATERMARK_TIMEOUT_MS);
    for (int i = 0; i < parts->cnt; i++)
        previous[i] = !err && !committed->elems[i].err ? committed->elems[i].offset : -1;
    rd_kafka_topic_partition_list_destroy(committed);
    if (err) {
        cli_error("cannot fetch the committed offsets of group %s: %s", group, rd_kafka_err2str(err));
        goto out;
    }
    if (targets(rk, parts, kind, value, low, high)) goto out;

    if (!dry_run) {
        err = rd_kafka_commit(rk, parts, 0);
        int bad = 0;
        for (int i = 0; !err && i < parts->cnt; i++)
            if (parts->elems[i].err) {
                err = parts->elems[i].err;
                bad = i;
            }
        if (err) {
            if (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
                err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS)
                cli_error("cannot reset the offsets of group %s: it has active members (%s); stop its consumers "
                          "first", group, rd_kafka_err2str(err));
            else
                cli_error("cannot commit the offsets of group %s on %s/%d: %s", group, topic,
                          (int)parts->elems[bad].partition, rd_kafka_err2str(err));
            goto out;
        }
    }
    print_result(a, group, topic, dry_run, parts, previous);
    rc = CLI_OK;
out:
    free(low);
    free(high);
    free(previous);
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

static const cli_option reset_options[] = {
    {"topic", "T", "the topic whose offsets to reset (required)"},
    {"to", "WHERE", "earliest|latest|OFFSET|@TIMESTAMP_MS (required)"},
    {"partition", "N", "only this partition (default: every partition of the topic)"},
    {"dry-run", NULL, "print the new offsets without committing them"},
    {NULL, NULL, NULL},
};

const cli_command cli_group_reset_offsets = {
    "group reset-offsets", "G --topic T --to earliest|latest|OFFSET|@TS [--partition N] [--dry-run]",
    "commit new offsets for a group with no members",
    "The group must be Empty (or not exist yet): stop its consumers first. An OFFSET\n"
    "outside a partition's range is clamped to it; @TS (milliseconds) picks the first\n"
    "record at or after that time, or the end when there is none.\n",
    reset_options, 1, 1, group_reset_offsets,
};
