/* tests/clients/rk_produce_verify.c: a librdkafka program for the integration tests.
 *
 *   rk_produce_verify BOOTSTRAP TOPIC COUNT CODEC ACKS IDEMPOTENT PARTITIONS [SIZE]
 *
 * Produces COUNT records (key "k<i>", a value of SIZE bytes starting "v<i>:", header
 * "seq" = i, header "null" with a null value) round-robin over PARTITIONS partitions with
 * compression CODEC, acks ACKS and enable.idempotence IDEMPOTENT; every delivery report
 * must succeed. Then consumes every partition from the beginning with assign() and
 * checks every record: key, value, headers, per-partition order, dense offsets, nothing
 * missing, nothing twice. Exit 0 on success; a message and exit 1 otherwise. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (failed++ < 5) fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "rk_produce_verify: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err);
}

/* CreateTopics through the Admin API; an existing topic is fine. */
static void create_topic(rd_kafka_t *rk, const char *topic, int partitions) {
    char errstr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, sizeof errstr);
    if (!nt) die("NewTopic", errstr);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    if (!ev) die("CreateTopics timed out", NULL);
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    if (rd_kafka_event_error(ev)) die("CreateTopics", rd_kafka_event_error_string(ev));
    if (n != 1) die("CreateTopics: no result", NULL);
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tr[0]);
    if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        die("CreateTopics", rd_kafka_topic_result_error_string(tr[0]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
}

int main(int argc, char **argv) {
    if (argc < 8) die("usage: BOOTSTRAP TOPIC COUNT CODEC ACKS IDEMPOTENT PARTITIONS [SIZE]", NULL);
    const char *bootstrap = argv[1], *topic = argv[2];
    int count = atoi(argv[3]), partitions = atoi(argv[7]);
    int size = argc > 8 ? atoi(argv[8]) : 32;
    if (count < 1 || partitions < 1 || size < 0 || size > (64 << 20)) die("bad COUNT, PARTITIONS or SIZE", NULL);
    char errstr[512];

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", bootstrap);
    set(pc, "compression.codec", argv[4]);
    set(pc, "acks", argv[5]);
    set(pc, "enable.idempotence", argv[6]);
    set(pc, "linger.ms", "5");
    set(pc, "message.timeout.ms", "30000");
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr);
    if (!p) die("producer", errstr);
    create_topic(p, topic, partitions);

    char *value = malloc((size_t)size + 32);
    for (int i = 0; i < count; i++) {
        char key[32], seq[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(seq, sizeof seq, "%d", i);
        int n = snprintf(value, (size_t)size + 32, "v%d:", i);
        for (int j = n; j < size; j++) value[j] = (char)('a' + (i + j) % 26);
        int vlen = size > n ? size : n;
        rd_kafka_headers_t *h = rd_kafka_headers_new(2);
        rd_kafka_header_add(h, "seq", -1, seq, -1);
        rd_kafka_header_add(h, "null", -1, NULL, 0);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
                                        RD_KAFKA_V_PARTITION(i % partitions),
                                        RD_KAFKA_V_KEY(key, strlen(key)),
                                        RD_KAFKA_V_VALUE(value, (size_t)vlen),
                                        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
        if (err) die("produce", rd_kafka_err2str(err));
    }
    if (rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("flush timed out", NULL);
    rd_kafka_destroy(p);
    if (failed || delivered != count) {
        fprintf(stderr, "delivered %d of %d, %d failed\n", delivered, count, failed);
        return 1;
    }
    /* acks=0 gives no offsets back, but the records must be there all the same. */

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", bootstrap);
    set(cc, "group.id", "rk_produce_verify");
    set(cc, "enable.auto.commit", "false");
    set(cc, "enable.partition.eof", "true");
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr);
    if (!c) die("consumer", errstr);
    rd_kafka_topic_partition_list_t *tps = rd_kafka_topic_partition_list_new(partitions);
    for (int i = 0; i < partitions; i++)
        rd_kafka_topic_partition_list_add(tps, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(c, tps)) die("assign", NULL);
    rd_kafka_topic_partition_list_destroy(tps);

    int64_t *next_offset = calloc((size_t)partitions, sizeof *next_offset);
    int *next_index = calloc((size_t)partitions, sizeof *next_index);
    char *seen = calloc((size_t)count, 1);
    for (int i = 0; i < partitions; i++) next_index[i] = i;
    int got = 0, eofs = 0, idle = 0;
    while (got < count && idle < 300) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) die("consume", rd_kafka_message_errstr(m));
        int part = m->partition;
        if (m->offset != next_offset[part]) {
            fprintf(stderr, "partition %d: offset %lld, expected %lld\n", part, (long long)m->offset,
                    (long long)next_offset[part]);
            return 1;
        }
        next_offset[part]++;
        int i = next_index[part];
        next_index[part] += partitions;
        char key[32], expect[64];
        snprintf(key, sizeof key, "k%d", i);
        int n = snprintf(expect, sizeof expect, "v%d:", i);
        int vlen = size > n ? size : n;
        if (i >= count || m->key_len != strlen(key) || memcmp(m->key, key, m->key_len) ||
            m->len != (size_t)vlen || memcmp(m->payload, expect, (size_t)n)) {
            fprintf(stderr, "partition %d offset %lld: unexpected record (wanted index %d)\n", part,
                    (long long)m->offset, i);
            return 1;
        }
        rd_kafka_headers_t *h;
        const void *hv;
        size_t hl;
        char seq[32];
        snprintf(seq, sizeof seq, "%d", i);
        if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, "seq", &hv, &hl) ||
            hl != strlen(seq) || memcmp(hv, seq, hl) ||
            rd_kafka_header_get_last(h, "null", &hv, &hl) || hv != NULL) {
            fprintf(stderr, "record %d: headers wrong\n", i);
            return 1;
        }
        if (seen[i]++) {
            fprintf(stderr, "record %d seen twice\n", i);
            return 1;
        }
        got++;
        idle = 0;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (got != count) {
        fprintf(stderr, "consumed %d of %d\n", got, count);
        return 1;
    }
    printf("ok: %d records produced and verified (%s, acks=%s, idempotence=%s)\n", count, argv[4],
           argv[5], argv[6]);
    free(value);
    free(next_offset);
    free(next_index);
    free(seen);
    return 0;
}
