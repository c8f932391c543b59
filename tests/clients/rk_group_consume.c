/* tests/clients/rk_group_consume.c: a librdkafka group consumer for the integration tests.
 *
 *   rk_group_consume BOOTSTRAP GROUP TOPIC [--max=N] [--idle=MS] [--commit=sync|async|none]
 *                    [--delay=MS] [librdkafka.key=value ...]
 *
 * Subscribes TOPIC in GROUP and prints, line by line (flushed, so a test can read them
 * while it runs and after a kill -9):
 *   OWNED <topic:partition,...>   the whole assignment after every rebalance event
 *   LOST                          before the OWNED of a revocation librdkafka made because
 *                                 it considers the assignment lost (an error such as a
 *                                 commit's ILLEGAL_GENERATION), not because the group
 *                                 asked for the partitions
 *   MSG <topic> <partition> <offset> <key> <value>
 *   DONE <count>
 * Each record is printed first and committed after (--commit=sync, the default: at least
 * once). --delay sleeps that long after each record (a slow consumer). It stops after N
 * records, or after MS without a record or rebalance once it owns partitions, then closes
 * (leaving the group); SIGTERM stops it the same way. Eager and cooperative (incremental) rebalance protocols are both handled.
 * Exit 0 on a clean run, 1 on an error. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "rk_group_consume: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static int64_t now_ms(void);
static int64_t last_activity; /* a record or a rebalance: the idle clock starts again */

static void print_owned(rd_kafka_t *rk) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    printf("OWNED ");
    for (int i = 0; i < a->cnt; i++)
        printf("%s%s:%d", i ? "," : "", a->elems[i].topic, a->elems[i].partition);
    printf("\n");
    fflush(stdout);
    rd_kafka_topic_partition_list_destroy(a);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    (void)opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) die("incremental_assign", rd_kafka_error_string(e));
        } else {
            rd_kafka_assign(rk, parts);
        }
    } else {
        if (rd_kafka_assignment_lost(rk)) {
            printf("LOST\n");
            fflush(stdout);
        }
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) die("incremental_unassign", rd_kafka_error_string(e));
        } else {
            rd_kafka_assign(rk, NULL);
        }
    }
    print_owned(rk);
    last_activity = now_ms();
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t stop;
static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv) {
    if (argc < 4) die("usage: rk_group_consume BOOTSTRAP GROUP TOPIC [options]", NULL);
    long max = -1, idle_ms = 10000, delay_ms = 0;
    const char *commit = "sync";
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *base[][2] = {{"bootstrap.servers", argv[1]},
                             {"group.id", argv[2]},
                             {"enable.auto.commit", "false"},
                             {"auto.offset.reset", "earliest"},
                             {"session.timeout.ms", "6000"},
                             {"heartbeat.interval.ms", "500"}};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        if (rd_kafka_conf_set(conf, base[i][0], base[i][1], err, sizeof err) != RD_KAFKA_CONF_OK)
            die(base[i][0], err);
    for (int i = 4; i < argc; i++) {
        if (strncmp(argv[i], "--max=", 6) == 0) max = atol(argv[i] + 6);
        else if (strncmp(argv[i], "--idle=", 7) == 0) idle_ms = atol(argv[i] + 7);
        else if (strncmp(argv[i], "--delay=", 8) == 0) delay_ms = atol(argv[i] + 8);
        else if (strncmp(argv[i], "--commit=", 9) == 0) commit = argv[i] + 9;
        else {
            char *eq = strchr(argv[i], '=');
            if (!eq) die("not key=value", argv[i]);
            *eq = 0;
            if (rd_kafka_conf_set(conf, argv[i], eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK)
                die(argv[i], err);
        }
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new", err);
    rd_kafka_poll_set_consumer(rk);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, argv[3], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) die("subscribe", rd_kafka_err2str(e));

    long count = 0;
    int rc = 0;
    last_activity = now_ms();
    bool owned_any = false;
    while (!stop && (max < 0 || count < max)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (!owned_any) {
                rd_kafka_topic_partition_list_t *a = NULL;
                if (rd_kafka_assignment(rk, &a) == 0) {
                    owned_any = a->cnt > 0;
                    rd_kafka_topic_partition_list_destroy(a);
                }
                if (owned_any) last_activity = now_ms();
            }
            if (owned_any && now_ms() - last_activity > idle_ms) break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "consume error: %s\n", rd_kafka_message_errstr(m));
                if (m->err != RD_KAFKA_RESP_ERR__TRANSPORT && m->err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
                    rc = 1;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        printf("MSG %s %d %lld %.*s %.*s\n", rd_kafka_topic_name(m->rkt), m->partition,
               (long long)m->offset, (int)m->key_len, m->key ? (const char *)m->key : "",
               (int)m->len, m->payload ? (const char *)m->payload : "");
        fflush(stdout);
        count++;
        last_activity = now_ms();
        if (strcmp(commit, "none") != 0) {
            /* A commit that fails (e.g. REBALANCE_IN_PROGRESS) is retried by redelivery:
             * the next owner starts from the last committed offset. */
            rd_kafka_resp_err_t ce = rd_kafka_commit_message(rk, m, strcmp(commit, "async") == 0);
            if (ce) fprintf(stderr, "commit: %s\n", rd_kafka_err2str(ce));
        }
        rd_kafka_message_destroy(m);
        if (delay_ms) usleep((useconds_t)delay_ms * 1000);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("DONE %ld\n", count);
    fflush(stdout);
    return rc;
}
