/* cli/consume.c: `runnel consume TOPIC`: reads records with assign() (no --group) or
 * as a member of a consumer group (subscribe, commit on exit), from a chosen start,
 * until --count records, the end of every assigned partition, or an idle timeout. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "record_format.h"

#define CONSUME_DEFAULT_IDLE_MS 30000 /* safety net when stopping at the end */
#define OFFSETS_FOR_TIMES_TIMEOUT_MS 10000

/* Ctrl-C / SIGTERM: stop, commit (with --group) and leave cleanly. */
static volatile sig_atomic_t stopping;
static void on_signal(int sig) { stopping = sig; }

typedef enum { FROM_DEFAULT, FROM_BEGINNING, FROM_END, FROM_OFFSET, FROM_TIMESTAMP } from_kind;

typedef struct {
    from_kind from;
    int64_t from_value;
    cli_partition_ends ends;
    int failed; /* the rebalance callback could not resolve start offsets */
} consume_state;

static int parse_from(const char *s, consume_state *st) {
    if (!s) {
        st->from = FROM_DEFAULT;
        return 0;
    }
    if (!strcmp(s, "beginning")) {
        st->from = FROM_BEGINNING;
        return 0;
    }
    if (!strcmp(s, "end")) {
        st->from = FROM_END;
        return 0;
    }
    if (s[0] == '@') {
        st->from = FROM_TIMESTAMP;
        return cli_parse_int64(s + 1, &st->from_value) || st->from_value < 0 ? -1 : 0;
    }
    st->from = FROM_OFFSET;
    return cli_parse_int64(s, &st->from_value) || st->from_value < 0 ? -1 : 0;
}

/* Sets each partition's start offset from --from. */
static int apply_from(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, const consume_state *st) {
    for (int i = 0; i < parts->cnt; i++) {
        switch (st->from) {
        case FROM_DEFAULT: parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID; break;
        case FROM_BEGINNING: parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING; break;
        case FROM_END: parts->elems[i].offset = RD_KAFKA_OFFSET_END; break;
        case FROM_OFFSET:
        case FROM_TIMESTAMP: parts->elems[i].offset = st->from_value; break;
        }
    }
    if (st->from != FROM_TIMESTAMP || !parts->cnt) return 0;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, parts, OFFSETS_FOR_TIMES_TIMEOUT_MS);
    if (err) {
        cli_error("cannot look up offsets for timestamp %lld: %s", (long long)st->from_value, rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].err) {
            cli_error("cannot look up the offset for timestamp %lld in partition %d: %s",
                      (long long)st->from_value, (int)parts->elems[i].partition,
                      rd_kafka_err2str(parts->elems[i].err));
            return -1;
        }
        /* No record at or after the timestamp: start at the end. */
        if (parts->elems[i].offset < 0) parts->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
    return 0;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    consume_state *st = opaque;
    int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (assign && st->from != FROM_DEFAULT && apply_from(rk, parts, st)) st->failed = 1;
    cli_partition_ends_mark(&st->ends, parts, assign);
    cli_rebalance_apply(rk, err, parts);
}

static int consume(cli_args *a) {
    const char *topic = a->positional[0];
    const char *group = cli_opt(a, "group");
    const char *fmt = cli_opt(a, "format");
    consume_state st = {0};
    int64_t count = -1, idle_ms = -1;
    int partition = -1;
    if (parse_from(cli_opt(a, "from"), &st))
        return cli_usage_error(a->cmd, "--from wants beginning, end, an offset or @TIMESTAMP_MS, got '%s'",
                               cli_opt(a, "from"));
    if (cli_opt(a, "count") && (cli_parse_int64(cli_opt(a, "count"), &count) || count < 1))
        return cli_usage_error(a->cmd, "--count wants a positive number, got '%s'", cli_opt(a, "count"));
    if (cli_opt(a, "timeout-ms") && (cli_parse_int64(cli_opt(a, "timeout-ms"), &idle_ms) || idle_ms < 0))
        return cli_usage_error(a->cmd, "--timeout-ms wants milliseconds, got '%s'", cli_opt(a, "timeout-ms"));
    if (cli_opt(a, "partition") && cli_parse_int(cli_opt(a, "partition"), 0, 1 << 30, &partition))
        return cli_usage_error(a->cmd, "--partition wants a partition number, got '%s'", cli_opt(a, "partition"));
    if (group && partition >= 0) return cli_usage_error(a->cmd, "--partition cannot be used with --group");
    if (group && !*group) return cli_usage_error(a->cmd, "--group must not be empty");
    if (fmt && a->json) return cli_usage_error(a->cmd, "--format and --json do not go together");
    if (!fmt) fmt = CLI_DEFAULT_FORMAT;
    const char *bad = cli_format_check(fmt);
    if (bad) return cli_usage_error(a->cmd, "bad --format '%s': %s", fmt, bad);
    int follow = cli_flag(a, "follow");
    int stop_at_end = count < 0 && !follow;
    if (idle_ms < 0 && stop_at_end) idle_ms = CONSUME_DEFAULT_IDLE_MS;

    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) return CLI_FAILED;
    if (cli_conf_set(conf, "enable.partition.eof", "true") || cli_conf_set(conf, "enable.auto.commit", "false") ||
        cli_conf_set(conf, "enable.auto.offset.store", "false") ||
        cli_conf_set(conf, "auto.offset.reset", st.from == FROM_END ? "latest" : "earliest") ||
        /* librdkafka's assign() wants a group.id even though nothing joins or commits. */
        cli_conf_set(conf, "group.id", group ? group : "runnel-cli-assign")) {
        rd_kafka_conf_destroy(conf);
        return CLI_FAILED;
    }
    if (group) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, &st);
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_CONSUMER, conf);
    if (!rk) return CLI_FAILED;

    int rc = CLI_FAILED;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (cli_check_reachable(a, rk, &md) != CLI_OK) goto out;
    const struct rd_kafka_metadata_topic *t = cli_find_topic(md, topic);
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0) {
        cli_error("topic %s does not exist", topic);
        goto out;
    }
    cli_partition_ends_init(&st.ends, t);
    if (partition >= st.ends.partition_cnt) {
        cli_error("topic %s has no partition %d (it has %d)", topic, partition, t->partition_cnt);
        goto out;
    }

    parts = rd_kafka_topic_partition_list_new(t->partition_cnt);
    if (group) {
        rd_kafka_topic_partition_list_add(parts, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, parts);
        if (err) {
            cli_error("cannot subscribe to %s: %s", topic, rd_kafka_err2str(err));
            goto out;
        }
    } else {
        for (int i = 0; i < t->partition_cnt; i++)
            if (partition < 0 || t->partitions[i].id == partition)
                rd_kafka_topic_partition_list_add(parts, topic, t->partitions[i].id);
        if (st.from == FROM_DEFAULT) st.from = FROM_BEGINNING;
        if (apply_from(rk, parts, &st)) goto out;
        cli_partition_ends_mark(&st.ends, parts, 1);
        rd_kafka_poll_set_consumer(rk);
        rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
        if (err) {
            cli_error("cannot assign partitions of %s: %s", topic, rd_kafka_err2str(err));
            goto out;
        }
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout (| head) is seen by fflush */
    int64_t seen = 0, last = cli_now_ms();
    int failed = 0;
    while (!failed && !st.failed && !stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (idle_ms >= 0 && cli_now_ms() - last >= idle_ms) break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            cli_partition_ends_set(&st.ends, m->partition, 1);
            rd_kafka_message_destroy(m);
            if (stop_at_end && cli_partition_ends_all(&st.ends)) break;
            continue;
        }
        if (m->err) {
            cli_error("consuming %s: %s", topic, rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || m->err == RD_KAFKA_RESP_ERR__FATAL ||
                m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
                failed = 1;
            rd_kafka_message_destroy(m);
            continue;
        }
        cli_partition_ends_set(&st.ends, m->partition, 0);
        if (a->json)
            cli_json_record(stdout, m);
        else
            cli_format_record(stdout, fmt, m);
        if (fflush(stdout) || ferror(stdout)) {
            rd_kafka_message_destroy(m); /* not printed, so not committed */
            break;
        }
        /* Only printed records count toward the commit. */
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
        last = cli_now_ms();
        if (count > 0 && ++seen >= count) break;
    }
    rc = failed || st.failed ? CLI_FAILED : CLI_OK;
    if (group) {
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            cli_error("cannot commit offsets for group %s: %s", group, rd_kafka_err2str(err));
            rc = CLI_FAILED;
        }
    }
    rd_kafka_consumer_close(rk);
out:
    if (parts) rd_kafka_topic_partition_list_destroy(parts);
    if (md) rd_kafka_metadata_destroy(md);
    cli_partition_ends_free(&st.ends);
    rd_kafka_destroy(rk);
    return rc;
}

static const cli_option consume_options[] = {
    {"group", "G", "consume as a member of group G (subscribe; commits what was printed)"},
    {"from", "WHERE", "beginning|end|OFFSET|@TIMESTAMP_MS (default: beginning, or the group's committed offset)"},
    {"count", "N", "stop after N records"},
    {"partition", "N", "read only partition N (not with --group)"},
    {"format", "TEMPLATE", "print each record as TEMPLATE (default \"%v\\n\")"},
    {"follow", NULL, "keep waiting for new records instead of stopping at the end"},
    {"timeout-ms", "T", "stop after T ms without a record (default: 30000 when stopping at the end)"},
    {NULL, NULL, NULL},
};

const cli_command cli_consume = {
    "consume", "TOPIC [--group G] [--from WHERE] [--count N] [--format TEMPLATE]",
    "print records from a topic",
    "Without --group the partitions are assigned directly (all, or --partition) and no\n"
    "offsets are committed. With --group the consumer joins the group, starts from the\n"
    "committed offsets (else the beginning; --from overrides), and commits the offsets\n"
    "of the records it printed when it stops.\n"
    "\n"
    "It stops: after --count records if given (waiting for more as needed); otherwise,\n"
    "unless --follow, when every assigned partition has reached its end; and in any\n"
    "case after --timeout-ms without a record.\n"
    "\n"
    "Template placeholders: %k key, %v value, %p partition, %o offset, %t timestamp (ms),\n"
    "%h headers (k=v,...), %T topic, %% a percent sign; escapes \\n \\t \\\\.\n"
    "--json prints one object per record: topic, partition, offset, timestamp, key,\n"
    "value, headers ([{key, value}]); bytes that are not UTF-8 come as key_base64 or\n"
    "value_base64 with key/value null.\n",
    consume_options, 1, 1, consume,
};
