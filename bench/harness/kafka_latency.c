/* bench/harness/kafka_latency.c: end-to-end latency through a Kafka broker at a fixed
 * rate (librdkafka): one producer (acks=all, linger.ms=1) sends SIZE-byte records at
 * RATE records/s for SECONDS, a consumer in the same process (assigned to every
 * partition from the end) receives them; latency runs from each record's due time on
 * the fixed schedule to its arrival, so a late send counts against the system. The
 * first second is warm-up and not counted.
 *
 *   kafka_latency BROKERS TOPIC RATE SECONDS SIZE
 *
 * Prints "result records=N p50_ms= p99_ms= p999_ms= max_ms= lost=L sent_rate=R". */
#include <pthread.h>
#include <stdatomic.h>

#include <librdkafka/rdkafka.h>

#include "common.h"

static const char *brokers, *topic;
static long long total, warm;
static atomic_int producer_done;
static atomic_llong delivery_errors;
static bench_samples lat;
static int64_t done_ns;

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) bench_die(k, err);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk, (void)opaque;
    if (m->err) atomic_fetch_add(&delivery_errors, 1);
}

static void *consume(void *arg) {
    rd_kafka_t *rk = arg;
    long long got = 0;
    while (got < total - warm) {
        if (atomic_load(&producer_done) && bench_now_ns() > done_ns + 10LL * 1000000000) break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        int64_t now = bench_now_ns(), due;
        long long seq;
        if (!m->err && !bench_unstamp(m->payload, m->len, &due, &seq) && seq >= warm && seq < total) {
            bench_samples_add(&lat, now - due);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) bench_die("usage", "kafka_latency BROKERS TOPIC RATE SECONDS SIZE");
    brokers = argv[1], topic = argv[2];
    long long rate = bench_arg(argv[3], "RATE"), seconds = bench_arg(argv[4], "SECONDS");
    size_t size = (size_t)bench_arg(argv[5], "SIZE");
    if (rate < 1 || seconds < 2 || size < 16) bench_die("usage", "RATE >= 1, SECONDS >= 2, SIZE >= 16");
    total = rate * seconds, warm = rate;
    char err[512];

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", brokers);
    set(cc, "group.id", "bench-latency"); /* assign() wants one; nothing joins */
    set(cc, "enable.auto.commit", "false");
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!consumer) bench_die("consumer", err);
    rd_kafka_poll_set_consumer(consumer);
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *mt = rd_kafka_topic_new(consumer, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(consumer, 0, mt, &md, 10000);
    if (e) bench_die("metadata", rd_kafka_err2str(e));
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        bench_die(topic, "no such topic");
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_END;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(mt);
    if ((e = rd_kafka_assign(consumer, parts))) bench_die("assign", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(parts);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", brokers);
    set(pc, "acks", "all");
    set(pc, "linger.ms", "1");
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!producer) bench_die("producer", err);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(producer, topic, NULL);

    pthread_t th;
    pthread_create(&th, NULL, consume, consumer);
    char *buf = malloc(size);
    if (!buf) abort();
    bench_fill(buf, size);
    bench_pacer pace;
    bench_pacer_init(&pace, (double)rate);
    long long sent = 0;
    while (sent < total) {
        long long due = bench_pacer_wait(&pace, sent);
        for (; sent < due && sent < total; sent++) {
            bench_stamp(buf, size, bench_pacer_due_ns(&pace, sent), sent);
            while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, NULL) ==
                   -1) {
                if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    bench_die("produce", rd_kafka_err2str(rd_kafka_last_error()));
                rd_kafka_poll(producer, 1);
            }
        }
        rd_kafka_poll(producer, 0);
    }
    double sent_rate = (double)sent / ((double)(bench_now_ns() - pace.start_ns) / 1e9);
    rd_kafka_flush(producer, 30000);
    done_ns = bench_now_ns();
    atomic_store(&producer_done, 1);
    pthread_join(th, NULL);
    long long lost = total - warm - (long long)lat.n;
    bench_print_latency(&lat, "lost=%lld delivery_errors=%lld sent_rate=%.0f", lost,
                        (long long)atomic_load(&delivery_errors), sent_rate);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(producer);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    free(buf);
    free(lat.v);
    return lost || atomic_load(&delivery_errors) ? 1 : 0;
}
