/* bench/hooks_produce.c: the producer side of bench/hooks.sh (librdkafka).
 *
 *   hooks_produce BROKER create TOPIC PARTITIONS [name=value ...]  create a topic with configs
 *   hooks_produce BROKER produce TOPIC COUNT VALUE_BYTES [ACKS]    the timed run
 *   hooks_produce BROKER watermarks TOPIC                          sum of high watermarks
 *   hooks_produce BROKER bad TOPIC                                 one non-JSON record: exit 0
 *                                                                  when the broker refuses it
 *
 * produce sends COUNT records with distinct keys ("key-<i>") and JSON values
 * {"id":<i>,"region":"<eu|us|ap>","pad":"xxx..."} padded to VALUE_BYTES, as fast as the
 * client takes them: acks=all (or ACKS), linger.ms=5, batch.size=1000000, Java-compatible
 * murmur2_random partitioner, no compression. The clock runs from the first produce call
 * (after the topic's metadata is known) until every delivery report is in; any delivery
 * error fails the run. Prints "<count> msgs in <s> s: <n> msgs/s and <x> MB/s" (MB =
 * 10^6 bytes of values, as rdkafka_performance counts them). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static long long delivered, failed;
static char first_error[512];
static const char *acks = "all";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "hooks_produce: %s: %s\n", what, why);
    exit(1);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) {
        if (failed++ == 0)
            snprintf(first_error, sizeof first_error, "%s", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static rd_kafka_t *client(const char *broker, rd_kafka_type_t type, int producer_tuning) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
#define SET(k, v)                                                                  \
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err)
    SET("bootstrap.servers", broker);
    if (producer_tuning) {
        SET("acks", acks);
        SET("linger.ms", "5");
        SET("batch.size", "1000000");
        SET("queue.buffering.max.kbytes", "1048576");
        SET("queue.buffering.max.messages", "10000000");
        SET("partitioner", "murmur2_random");
        SET("compression.type", "none");
    }
#undef SET
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new", err);
    return rk;
}

/* The topic's partition count, waiting (a few seconds at most) for it to be known. */
static int partition_count(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (int tries = 0; tries < 50; tries++) {
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
        if (e) die("metadata", rd_kafka_err2str(e));
        int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
        rd_kafka_metadata_destroy(md);
        if (n > 0) {
            rd_kafka_topic_destroy(rkt);
            return n;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    die(topic, "no such topic");
    return 0;
}

static int cmd_create(const char *broker, int argc, char **argv) {
    if (argc < 2) die("create", "TOPIC PARTITIONS [name=value ...]");
    char err[512];
    rd_kafka_t *rk = client(broker, RD_KAFKA_PRODUCER, 0);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[0], atoi(argv[1]), 1, err, sizeof err);
    if (!nt) die("NewTopic", err);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) die("config", argv[i]);
        *eq = '\0';
        if (rd_kafka_NewTopic_set_config(nt, argv[i], eq + 1)) die("set_config", argv[i]);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    if (!ev) die("CreateTopics", "timed out");
    if (rd_kafka_event_error(ev)) die("CreateTopics", rd_kafka_event_error_string(ev));
    size_t n;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_topic_result_error(res[i]))
            die(rd_kafka_topic_result_name(res[i]), rd_kafka_topic_result_error_string(res[i]));
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return 0;
}

static int cmd_produce(const char *broker, int argc, char **argv) {
    if (argc < 3) die("produce", "TOPIC COUNT VALUE_BYTES [ACKS]");
    const char *topic = argv[0];
    if (argc > 3) acks = argv[3];
    long long count = atoll(argv[1]);
    int vsize = atoi(argv[2]);
    if (count <= 0 || vsize < 64 || vsize > 100000) die("produce", "bad COUNT or VALUE_BYTES");
    rd_kafka_t *rk = client(broker, RD_KAFKA_PRODUCER, 1);
    partition_count(rk, topic);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    static const char *regions[] = {"eu", "us", "ap"};
    char *val = malloc((size_t)vsize + 1);
    char key[32];
    long long value_bytes = 0;
    double t0 = now_s();
    for (long long i = 0; i < count; i++) {
        int klen = snprintf(key, sizeof key, "key-%lld", i);
        int h = snprintf(val, (size_t)vsize + 1, "{\"id\":%lld,\"region\":\"%s\",\"pad\":\"", i,
                         regions[i % 3]);
        memset(val + h, 'x', (size_t)(vsize - h - 2));
        memcpy(val + vsize - 2, "\"}", 2);
        for (;;) {
            if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val,
                                 (size_t)vsize, key, (size_t)klen, NULL) == 0)
                break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 10);
        }
        value_bytes += vsize;
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    while (delivered + failed < count) rd_kafka_poll(rk, 100);
    double dt = now_s() - t0;
    if (failed) {
        fprintf(stderr, "hooks_produce: %lld of %lld records failed, first: %s\n", failed, count,
                first_error);
        return 1;
    }
    printf("%lld msgs in %.3f s: %.0f msgs/s and %.2f MB/s\n", count, dt, count / dt,
           value_bytes / dt / 1e6);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(val);
    return 0;
}

static int cmd_watermarks(const char *broker, int argc, char **argv) {
    if (argc < 1) die("watermarks", "TOPIC");
    rd_kafka_t *rk = client(broker, RD_KAFKA_PRODUCER, 0);
    int n = partition_count(rk, argv[0]);
    long long sum = 0;
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, argv[0], p, &lo, &hi, 10000);
        if (e) die("query_watermark_offsets", rd_kafka_err2str(e));
        fprintf(stderr, "%s-%d: high watermark %" PRId64 "\n", argv[0], p, hi);
        sum += hi;
    }
    printf("%lld\n", sum);
    rd_kafka_destroy(rk);
    return 0;
}

static int cmd_bad(const char *broker, int argc, char **argv) {
    if (argc < 1) die("bad", "TOPIC");
    rd_kafka_t *rk = client(broker, RD_KAFKA_PRODUCER, 1);
    partition_count(rk, argv[0]);
    const char *v = "not json at all";
    rd_kafka_resp_err_t e =
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[0]), RD_KAFKA_V_KEY("bad", 3),
                          RD_KAFKA_V_VALUE((void *)v, strlen(v)), RD_KAFKA_V_END);
    if (e) die("producev", rd_kafka_err2str(e));
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    if (delivered + failed != 1) die("bad", "no delivery report");
    if (failed) {
        printf("refused: %s\n", first_error);
        return 0;
    }
    printf("accepted (expected a refusal)\n");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BROKER create|produce|watermarks|bad ...\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[2], "create") == 0) return cmd_create(argv[1], argc - 3, argv + 3);
    if (strcmp(argv[2], "produce") == 0) return cmd_produce(argv[1], argc - 3, argv + 3);
    if (strcmp(argv[2], "watermarks") == 0) return cmd_watermarks(argv[1], argc - 3, argv + 3);
    if (strcmp(argv[2], "bad") == 0) return cmd_bad(argv[1], argc - 3, argv + 3);
    fprintf(stderr, "unknown command %s\n", argv[2]);
    return 2;
}
