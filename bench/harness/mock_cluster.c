/* bench/harness/mock_cluster.c: librdkafka's in-memory mock cluster as a process of its
 * own, so every Kafka client in the benchmarks talks to it over loopback TCP exactly as
 * it talks to runnel: the client-side ceiling, same client, same settings.
 *
 *   mock_cluster TOPIC:PARTITIONS ...
 *
 * Creates the topics, prints "bootstrap HOST:PORT" and one "result" line with the time
 * it took to be ready, then serves until SIGTERM or SIGINT. */
#include <signal.h>
#include <pthread.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common.h"

int main(int argc, char **argv) {
    int64_t t0 = bench_now_ns();
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; keep its logs quiet. */
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err)) bench_die("conf", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) bench_die("rd_kafka_new", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) bench_die("rd_kafka_mock_cluster_new", "failed");
    long long partitions = 0;
    for (int i = 1; i < argc; i++) {
        char *colon = strrchr(argv[i], ':');
        if (!colon) bench_die("usage", "mock_cluster TOPIC:PARTITIONS ...");
        *colon = '\0';
        int n = (int)bench_arg(colon + 1, "PARTITIONS");
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], n, 1);
        if (e) bench_die(argv[i], rd_kafka_err2str(e));
        partitions += n;
    }
    printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    printf("result partitions=%lld ready_s=%.3f\n", partitions, (double)(bench_now_ns() - t0) / 1e9);
    fflush(stdout);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
