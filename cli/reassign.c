/* cli/reassign.c: `runnel partition reassign|reassignments`: AlterPartitionReassignments
 * and ListPartitionReassignments, sent to the active controller with the raw client
 * (kafka_client.h) since librdkafka has no admin API for them. Every Kafka error is
 * printed with its name and sentence, and the exit status is 1. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "kafka_client.h"
#include "table.h"

enum { API_ALTER_PARTITION_REASSIGNMENTS = 45, API_LIST_PARTITION_REASSIGNMENTS = 46 };

#define REQUEST_TIMEOUT_MS 15000 /* the requests' TimeoutMs */
#define MAX_REPLICAS 1024

/* Kafka's tools say --bootstrap-server; the CLI's own name is --bootstrap. */
static const char *bootstrap_of(const cli_args *a) {
    const char *b = cli_opt(a, "bootstrap-server");
    return b && *b ? b : a->bootstrap;
}

/* "what: NAME: the broker's message, else Kafka's sentence[ (where)]" on stderr. err is
 * the client's sentence: all there is for a local error, where it happened for a Kafka
 * one (NULL when the error came in a response body). */
static void print_kafka_error(const char *what, rn_err code, const rn_bytes *msg, const char *err) {
    if (code < 0) {
        cli_error("%s: %s", what, err);
        return;
    }
    const char *text = rn_err_message(code);
    int len = (int)strlen(text);
    if (msg && msg->len > 0) {
        text = (const char *)msg->ptr;
        len = (int)msg->len;
    }
    char name[64];
    if (strcmp(rn_err_name(code), "UNKNOWN") != 0)
        snprintf(name, sizeof name, "%s", rn_err_name(code));
    else /* a code newer than our table */
        snprintf(name, sizeof name, "Kafka error %d", code);
    if (err && *err)
        cli_error("%s: %s: %.*s (%s)", what, name, len, text, err);
    else
        cli_error("%s: %s: %.*s", what, name, len, text);
}

/* ---- partition reassign ---- */

/* "2,3,4" into ids[]; the count, or -1 when malformed (empty, not a broker id, repeated). */
static int parse_replicas(const char *s, int32_t *ids, int cap) {
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) abort();
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int id;
        if (n >= cap || cli_parse_int(t, 0, INT32_MAX, &id)) goto bad;
        for (int i = 0; i < n; i++)
            if (ids[i] == id) goto bad;
        ids[n++] = id;
    }
    free(copy);
    return n ? n : -1;
bad:
    free(copy);
    return -1;
}

/*
 * AlterPartitionReassignments v0 (flexible):
 *
 *   +------------+--------------------------------------------------------------+------+
 *   | timeout_ms | topics: name | partitions: index i32 | replicas []i32|null | tags |
 *   +------------+--------------------------------------------------------------+------+
 */
static void write_alter_request(rn_writer *w, const char *topic, int32_t partition,
                                const int32_t *replicas, int n) {
    rn_write_i32(w, REQUEST_TIMEOUT_MS);
    rn_write_array_len(w, 1);
    rn_write_string(w, topic);
    rn_write_array_len(w, 1);
    rn_write_i32(w, partition);
    rn_write_array_len(w, replicas ? n : -1); /* null cancels */
    for (int i = 0; replicas && i < n; i++) rn_write_i32(w, replicas[i]);
    rn_write_tags(w); /* partition */
    rn_write_tags(w); /* topic */
    rn_write_tags(w); /* request */
}

/* The partition's error from the response body (top-level first); its message in msg. */
static rn_err read_alter_response(rn_reader *r, const char *topic, int32_t partition, rn_bytes *msg) {
    int32_t throttle_ms, ntopics;
    int16_t code;
    rn_err err = 0;
    msg->len = -1;
    RN_R_I32(r, &throttle_ms);
    RN_R_I16(r, &code);
    RN_R_STR(r, msg);
    if (code) return code;
    int found = 0;
    RN_R_ARRAY(r, &ntopics, 1 + 1 + 1);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_bytes name;
        int32_t nparts;
        RN_R_STR(r, &name);
        RN_R_ARRAY(r, &nparts, 4 + 2 + 1 + 1);
        for (int32_t p = 0; p < nparts; p++) {
            int32_t index;
            int16_t pcode;
            rn_bytes pmsg;
            RN_R_I32(r, &index);
            RN_R_I16(r, &pcode);
            RN_R_STR(r, &pmsg);
            RN_R_TAGS(r);
            if (index == partition && name.len == (int32_t)strlen(topic) &&
                !memcmp(name.ptr, topic, (size_t)name.len)) {
                found = 1;
                if (!err) {
                    err = pcode;
                    *msg = pmsg;
                }
            }
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);
    return found ? err : RN_ERR_PARSE;

err_parse:
    return RN_ERR_PARSE;
}

static int partition_reassign(cli_args *a) {
    const char *topic = cli_opt(a, "topic"), *replicas_s = cli_opt(a, "replicas");
    int cancel = cli_flag(a, "cancel");
    int partition;
    if (!topic || !*topic) return cli_usage_error(a->cmd, "--topic is required");
    if (!cli_opt(a, "partition")) return cli_usage_error(a->cmd, "--partition is required");
    if (cli_parse_int(cli_opt(a, "partition"), 0, INT32_MAX, &partition))
        return cli_usage_error(a->cmd, "--partition wants a partition number, got '%s'",
                               cli_opt(a, "partition"));
    if (!!replicas_s == !!cancel)
        return cli_usage_error(a->cmd, "give either --replicas IDS or --cancel");
    int32_t replicas[MAX_REPLICAS];
    int n = 0;
    if (replicas_s && (n = parse_replicas(replicas_s, replicas, MAX_REPLICAS)) < 0)
        return cli_usage_error(a->cmd,
                               "--replicas wants distinct broker ids separated by commas, got '%s'",
                               replicas_s);

    char what[512];
    snprintf(what, sizeof what, cancel ? "cannot cancel the reassignment of %s-%d"
                                       : "cannot reassign %s-%d", topic, partition);
    rn_writer body;
    rn_writer_init(&body, 64, true);
    write_alter_request(&body, topic, partition, cancel ? NULL : replicas, n);
    uint8_t *frame = NULL;
    rn_reader r;
    char err[512] = "";
    rn_err e = cli_kafka_controller_call(bootstrap_of(a), API_ALTER_PARTITION_REASSIGNMENTS, 0,
                                         true, &body, &frame, &r, err, sizeof err);
    rn_writer_free(&body);
    if (e) {
        print_kafka_error(what, e, NULL, err);
        return CLI_FAILED;
    }
    rn_bytes msg;
    e = read_alter_response(&r, topic, partition, &msg);
    if (e == RN_ERR_PARSE)
        snprintf(err, sizeof err, "the controller's answer is malformed or leaves out %s-%d", topic,
                 partition);
    if (e) {
        print_kafka_error(what, e, &msg, e < 0 ? err : NULL);
        free(frame);
        return CLI_FAILED;
    }
    free(frame);

    char list[MAX_REPLICAS * 12] = "";
    for (int i = 0, off = 0; i < n && off < (int)sizeof list; i++)
        off += snprintf(list + off, sizeof list - (size_t)off, "%s%" PRId32, i ? "," : "", replicas[i]);
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "topic");
        cli_json_string(&j, topic);
        cli_json_key(&j, "partition");
        cli_json_int(&j, partition);
        cli_json_key(&j, "replicas");
        if (cancel) {
            cli_json_null(&j);
        } else {
            cli_json_begin_array(&j);
            for (int i = 0; i < n; i++) cli_json_int(&j, replicas[i]);
            cli_json_end_array(&j);
        }
        cli_json_key(&j, "cancelled");
        cli_json_bool(&j, cancel);
        cli_json_end_object(&j);
        cli_json_newline(&j);
    } else if (cancel) {
        printf("cancelled the reassignment of %s-%d\n", topic, partition);
    } else {
        printf("reassigning %s-%d to replicas %s ('runnel partition reassignments' shows "
               "progress)\n", topic, partition, list);
    }
    return CLI_OK;
}

static const cli_option reassign_options[] = {
    {"topic", "T", "the topic"},
    {"partition", "P", "the partition number"},
    {"replicas", "IDS", "the new replica broker ids, comma-separated, preferred leader first"},
    {"cancel", NULL, "cancel the partition's in-flight reassignment instead"},
    {"bootstrap-server", "HOSTS", "the same as --bootstrap (Kafka's tools' name)"},
    {NULL, NULL, NULL},
};

const cli_command cli_partition_reassign = {
    "partition reassign", "--topic T --partition P (--replicas 2,3,4 | --cancel)",
    "move a partition to other brokers, or cancel a move",
    "Sent to the active controller (AlterPartitionReassignments), found through the\n"
    "bootstrap brokers' Metadata. The new replicas catch up first; the old ones leave\n"
    "once every new one is in sync. --cancel returns to the original replicas.\n"
    "A plain Kafka client of its own (no librdkafka): PLAINTEXT listeners, no --set.\n",
    reassign_options, 0, 0, partition_reassign,
};

/* ---- partition reassignments ---- */

/* A broker id list as it lies in the frame: n big-endian int32s. */
typedef struct {
    const uint8_t *p;
    int32_t n;
} id_list;

typedef struct {
    rn_bytes topic;
    int32_t partition;
    id_list replicas, adding, removing;
} reassignment_row;

static int read_id_list(rn_reader *r, id_list *l) {
    if (rn_read_array_len(r, &l->n, 4) || l->n < 0) return -1;
    return rn_read_raw(r, (size_t)l->n * 4, &l->p);
}

static int by_topic_partition(const void *x, const void *y) {
    const reassignment_row *a = x, *b = y;
    int32_t n = a->topic.len < b->topic.len ? a->topic.len : b->topic.len;
    int c = memcmp(a->topic.ptr, b->topic.ptr, (size_t)n);
    if (c) return c;
    if (a->topic.len != b->topic.len) return a->topic.len < b->topic.len ? -1 : 1;
    return (a->partition > b->partition) - (a->partition < b->partition);
}

static void fmt_ids(char *out, size_t cap, const id_list *l) {
    size_t off = 0;
    out[0] = '\0';
    for (int32_t i = 0; i < l->n && off < cap; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%" PRIu32, i ? "," : "", rn_be32(l->p + 4 * i));
}

static void json_ids(cli_json *j, const id_list *l) {
    cli_json_begin_array(j);
    for (int32_t i = 0; i < l->n; i++) cli_json_int(j, (int32_t)rn_be32(l->p + 4 * i));
    cli_json_end_array(j);
}

static void print_rows(const cli_args *a, const reassignment_row *rows, size_t n) {
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_array(&j);
        for (size_t i = 0; i < n; i++) {
            cli_json_begin_object(&j);
            cli_json_key(&j, "topic");
            cli_json_string_len(&j, (const char *)rows[i].topic.ptr, (size_t)rows[i].topic.len);
            cli_json_key(&j, "partition");
            cli_json_int(&j, rows[i].partition);
            cli_json_key(&j, "replicas");
            json_ids(&j, &rows[i].replicas);
            cli_json_key(&j, "adding");
            json_ids(&j, &rows[i].adding);
            cli_json_key(&j, "removing");
            json_ids(&j, &rows[i].removing);
            cli_json_end_object(&j);
        }
        cli_json_end_array(&j);
        cli_json_newline(&j);
        return;
    }
    cli_table *t = cli_table_new(5, "TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING");
    for (size_t i = 0; i < n; i++) {
        char topic[512], part[16], rep[1024], add[1024], rem[1024];
        snprintf(topic, sizeof topic, "%.*s", (int)rows[i].topic.len, (const char *)rows[i].topic.ptr);
        snprintf(part, sizeof part, "%" PRId32, rows[i].partition);
        fmt_ids(rep, sizeof rep, &rows[i].replicas);
        fmt_ids(add, sizeof add, &rows[i].adding);
        fmt_ids(rem, sizeof rem, &rows[i].removing);
        cli_table_add(t, topic, part, rep, *add ? add : NULL, *rem ? rem : NULL);
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
}

/*
 * ListPartitionReassignments v0 (flexible) asks for every topic (null) and we filter:
 * naming a topic would need its partition indexes, i.e. another Metadata round trip.
 *
 *   +------------+--------------+------+
 *   | timeout_ms | topics: null | tags |
 *   +------------+--------------+------+
 */
static int partition_reassignments(cli_args *a) {
    const char *topic = cli_opt(a, "topic");
    rn_writer body;
    rn_writer_init(&body, 16, true);
    rn_write_i32(&body, REQUEST_TIMEOUT_MS);
    rn_write_array_len(&body, -1);
    rn_write_tags(&body);
    uint8_t *frame = NULL;
    rn_reader rd, *r = &rd;
    char err[512] = "";
    const char *what = "cannot list partition reassignments";
    rn_err e = cli_kafka_controller_call(bootstrap_of(a), API_LIST_PARTITION_REASSIGNMENTS, 0,
                                         true, &body, &frame, r, err, sizeof err);
    rn_writer_free(&body);
    if (e) {
        print_kafka_error(what, e, NULL, err);
        return CLI_FAILED;
    }
    reassignment_row *rows = NULL;
    size_t nrows = 0;
    int32_t throttle_ms, ntopics;
    int16_t code;
    rn_bytes msg;
    RN_R_I32(r, &throttle_ms);
    RN_R_I16(r, &code);
    RN_R_STR(r, &msg);
    if (code) {
        print_kafka_error(what, code, &msg, NULL);
        free(frame);
        return CLI_FAILED;
    }
    RN_R_ARRAY(r, &ntopics, 1 + 1 + 1);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_bytes name;
        int32_t nparts;
        RN_R_STR(r, &name);
        RN_R_ARRAY(r, &nparts, 4 + 1 + 1 + 1 + 1);
        int keep = name.len >= 0 && (!topic || (name.len == (int32_t)strlen(topic) &&
                                                !memcmp(name.ptr, topic, (size_t)name.len)));
        if (keep && nparts > 0) {
            reassignment_row *grown = realloc(rows, (nrows + (size_t)nparts) * sizeof *rows);
            if (!grown) abort();
            rows = grown;
        }
        for (int32_t p = 0; p < nparts; p++) {
            reassignment_row row = {.topic = name};
            RN_R_I32(r, &row.partition);
            if (read_id_list(r, &row.replicas) || read_id_list(r, &row.adding) ||
                read_id_list(r, &row.removing)) {
                rn_reader_fail(r, __FILE__, __LINE__, "replica list");
                goto err_parse;
            }
            RN_R_TAGS(r);
            if (keep) rows[nrows++] = row;
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);
    if (nrows) qsort(rows, nrows, sizeof *rows, by_topic_partition);
    print_rows(a, rows, nrows);
    free(rows);
    free(frame);
    return CLI_OK;

err_parse:
    snprintf(err, sizeof err, "malformed ListPartitionReassignments response (%s at byte %zu)",
             r->fail_what ? r->fail_what + (r->fail_what[0] == '&') : "?", rn_reader_offset(r));
    print_kafka_error(what, RN_ERR_PARSE, NULL, err);
    free(rows);
    free(frame);
    return CLI_FAILED;
}

static const cli_option reassignments_options[] = {
    {"topic", "T", "only this topic's partitions"},
    {"bootstrap-server", "HOSTS", "the same as --bootstrap (Kafka's tools' name)"},
    {NULL, NULL, NULL},
};

const cli_command cli_partition_reassignments = {
    "partition reassignments", "[--topic T]", "list in-flight partition reassignments",
    "ADDING are new replicas still catching up, REMOVING the ones that leave when they have.\n"
    "A plain Kafka client of its own (no librdkafka): PLAINTEXT listeners, no --set.\n",
    reassignments_options, 0, 0, partition_reassignments,
};
