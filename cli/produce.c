/* cli/produce.c: `runnel produce TOPIC`: one record per input line (stdin or --file),
 * optional key split and headers, waits for every delivery report and summarises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"

#define PRODUCE_MESSAGE_TIMEOUT_MS "30000"

typedef struct {
    long delivered, failed;
    char first_error[512];
} delivery_stats;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    delivery_stats *st = opaque;
    if (!m->err) {
        st->delivered++;
        return;
    }
    /* Not rd_kafka_message_errstr: in a delivery report the payload is the record. */
    if (!st->failed) snprintf(st->first_error, sizeof st->first_error, "%s", rd_kafka_err2str(m->err));
    st->failed++;
}

static int check_choice(const char *v, const char *const *choices) {
    for (; *choices; choices++)
        if (!strcmp(v, *choices)) return 0;
    return -1;
}

static int produce(cli_args *a) {
    const char *topic = a->positional[0];
    const char *sep = cli_opt(a, "key-separator");
    int partition = RD_KAFKA_PARTITION_UA;
    if (sep && !*sep) return cli_usage_error(a->cmd, "--key-separator must not be empty");
    if (cli_opt(a, "partition") && cli_parse_int(cli_opt(a, "partition"), 0, 1 << 30, &partition))
        return cli_usage_error(a->cmd, "--partition wants a partition number, got '%s'", cli_opt(a, "partition"));
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
    static const char *const acks[] = {"0", "1", "all", "-1", NULL};
    const char *compression = cli_opt(a, "compression"), *ack = cli_opt(a, "acks");
    if (compression && check_choice(compression, codecs))
        return cli_usage_error(a->cmd, "--compression wants none|gzip|snappy|lz4|zstd, got '%s'", compression);
    if (ack && check_choice(ack, acks)) return cli_usage_error(a->cmd, "--acks wants 0|1|all, got '%s'", ack);
    for (int i = 0; cli_opt_nth(a, "header", i); i++)
        if (!strchr(cli_opt_nth(a, "header", i), '=') || cli_opt_nth(a, "header", i)[0] == '=')
            return cli_usage_error(a->cmd, "--header wants key=value, got '%s'", cli_opt_nth(a, "header", i));

    FILE *in = stdin;
    const char *path = cli_opt(a, "file");
    if (path && !(in = fopen(path, "rb"))) {
        cli_error("cannot open %s: %s", path, strerror(errno));
        return CLI_FAILED;
    }

    delivery_stats st = {0};
    int rc = CLI_FAILED;
    rd_kafka_conf_t *conf = cli_conf_new(a);
    if (!conf) goto out_file;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &st);
    if (cli_conf_set(conf, "message.timeout.ms", PRODUCE_MESSAGE_TIMEOUT_MS) ||
        (compression && cli_conf_set(conf, "compression.codec", compression)) ||
        (ack && cli_conf_set(conf, "acks", ack)) || cli_conf_set(conf, "linger.ms", "5")) {
        rd_kafka_conf_destroy(conf);
        goto out_file;
    }
    rd_kafka_t *rk = cli_client_new(a, RD_KAFKA_PRODUCER, conf);
    if (!rk) goto out_file;
    if (cli_check_reachable(a, rk, NULL) != CLI_OK) goto out_rk;

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long sent = 0, refused = 0;
    char refused_error[512] = "";
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        const char *key = NULL, *value = line;
        size_t keylen = 0, valuelen = (size_t)len;
        if (sep) {
            char *at = strstr(line, sep);
            if (at) {
                key = line;
                keylen = (size_t)(at - line);
                value = at + strlen(sep);
                valuelen = (size_t)len - keylen - strlen(sep);
            }
        }
        rd_kafka_headers_t *hdrs = NULL;
        if (cli_opt(a, "header")) {
            hdrs = rd_kafka_headers_new(4);
            for (int i = 0; cli_opt_nth(a, "header", i); i++) {
                const char *h = cli_opt_nth(a, "header", i), *eq = strchr(h, '=');
                rd_kafka_header_add(hdrs, h, eq - h, eq + 1, (ssize_t)strlen(eq + 1));
            }
        }
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, keylen),
                RD_KAFKA_V_VALUE((void *)value, valuelen), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            if (err) {
                if (hdrs) rd_kafka_headers_destroy(hdrs);
                if (!refused)
                    snprintf(refused_error, sizeof refused_error, "%s", rd_kafka_err2str(err));
                refused++;
            } else {
                sent++;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    free(line);
    if (ferror(in)) cli_error("reading %s: %s", path ? path : "stdin", strerror(errno));
    while (rd_kafka_outq_len(rk) > 0) rd_kafka_flush(rk, 1000);
    rd_kafka_poll(rk, 0);

    long failed = st.failed + refused;
    const char *first = refused ? refused_error : st.first_error;
    if (a->json) {
        cli_json j;
        cli_json_init(&j, stdout);
        cli_json_begin_object(&j);
        cli_json_key(&j, "topic");
        cli_json_string(&j, topic);
        cli_json_key(&j, "records");
        cli_json_int(&j, sent + refused);
        cli_json_key(&j, "delivered");
        cli_json_int(&j, st.delivered);
        cli_json_key(&j, "failed");
        cli_json_int(&j, failed);
        cli_json_key(&j, "error");
        cli_json_string(&j, failed ? first : NULL);
        cli_json_end_object(&j);
        cli_json_newline(&j);
    }
    if (failed)
        fprintf(stderr, "runnel: %ld of %ld records to %s failed: %s\n", failed, sent + refused, topic, first);
    else
        fprintf(stderr, "runnel: produced %ld record%s to %s\n", st.delivered, st.delivered == 1 ? "" : "s", topic);
    rc = failed || ferror(in) ? CLI_FAILED : CLI_OK;
out_rk:
    rd_kafka_destroy(rk);
out_file:
    if (in != stdin) fclose(in);
    return rc;
}

static const cli_option produce_options[] = {
    {"key-separator", "SEP", "split each line at the first SEP into key and value (no SEP: no key)"},
    {"header", "k=v", "add this header to every record, repeatable"},
    {"partition", "N", "write to partition N (default: the partitioner chooses)"},
    {"compression", "CODEC", "none|gzip|snappy|lz4|zstd (default none)"},
    {"acks", "ACKS", "0|1|all (default all)"},
    {"file", "PATH", "read records from PATH instead of stdin"},
    {NULL, NULL, NULL},
};

const cli_command cli_produce = {
    "produce", "TOPIC [--key-separator SEP] [--header k=v ...] [--file PATH]",
    "produce one record per input line",
    "Every record is waited for; a summary (records, failures and the first error) is\n"
    "printed on stderr, and with --json as an object on stdout. Exit status 1 if any\n"
    "record failed.\n",
    produce_options, 1, 1, produce,
};
