/* tests/fuzz/fuzz_request.c: libFuzzer target for request decoding. Each input is one
 * request frame (header + body) sent, with a correct size prefix, through a real
 * connection of an in-process broker (engine in a temporary data dir, one network
 * thread) over a socketpair; the response is drained until the broker closes or the
 * input side ends. Any crash, sanitizer report or hang is a finding. */
#include <event2/event.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "rnlog.h"
#include "server.h"

static rn_engine *engine;
static rn_server *server;
static struct event_base *base;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN); /* the broker may close before reading everything */
    static char dir[] = "/tmp/runnel-fuzz-XXXXXX";
    if (!mkdtemp(dir)) abort();
    rn_log_set_level(getenv("FUZZ_LOG_WARN") ? RN_LOG_WARN : RN_LOG_ERROR);
    rn_engine_options eo = {
        .data_dir = dir,
        .node_id = 1,
        .log_column_families = 2,
        .flush_sync = false,
        .tail_cache_bytes = 1 << 20,
        .rocksdb_block_cache_bytes = 8 << 20,
        .default_retention_ms = -1,
        .default_retention_bytes = -1,
        .default_max_message_bytes = 1 << 20,
        .default_partitions = 2,
        .coordinator_thread = true, /* group timers run, as in the server */
    };
    char err[512];
    if (rn_engine_open(&eo, &engine, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_request: %s\n", err);
        abort();
    }
    rn_engine_create_topic(engine, "t", 3, NULL, 0, false, NULL, 0);
    base = event_base_new();
    rn_server_options so = {
        .engine = engine,
        .node_id = 1,
        .listener_count = 0,
        .network_threads = 1,
        .socket_request_max_bytes = 1 << 20,
        .output_high_water = 1 << 20,
        .connections_max_idle_ms = 5000,
        .auto_create_topics = true,
        .delete_topic_enable = true,
        .message_max_bytes = 1 << 20,
        .fetch_max_wait_cap_ms = 5,
    };
    snprintf(so.advertised[0].host, sizeof so.advertised[0].host, "localhost");
    so.advertised[0].port = 9092;
    server = rn_server_start(base, &so, err, sizeof err);
    if (!server) {
        fprintf(stderr, "fuzz_request: %s\n", err);
        abort();
    }
    return 0;
}

/* Inputs create topics (up to 100,000 partitions each); left alone they pile up until
 * every Metadata answer lists millions of partitions and the sanitizer build takes
 * seconds per input. Deleting them now and then keeps the state bounded, so that a
 * timeout below means a hang, not a slow broker. */
static void forget_topics(void) {
    rn_topic_meta *t;
    int n;
    if (rn_engine_topics(engine, NULL, 0, &t, &n) != 0) return;
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, "t") != 0) rn_engine_delete_topic(engine, t[i].name);
    rn_topic_meta_free(t, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static unsigned runs;
    if (size > (1 << 20) - 4) return 0;
    if (++runs % 256 == 0) forget_topics();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    rn_server_adopt(server, sv[1]);
    uint8_t prefix[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                         (uint8_t)size};
    /* The size prefix, then the frame; EINTR (libFuzzer's SIGALRM) just retries. */
    const uint8_t *parts[2] = {prefix, data};
    size_t lens[2] = {4, size};
    for (int k = 0; k < 2; k++) {
        size_t off = 0;
        while (off < lens[k]) {
            ssize_t n = write(sv[0], parts[k] + off, lens[k] - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; /* the broker closed: fine, it may refuse early */
            off += (size_t)n;
        }
    }
    shutdown(sv[0], SHUT_WR);
    /* Drain until the broker closes its end (it does on EOF once the request is done).
     * libFuzzer's -timeout is a SIGALRM that may land on this thread: poll's EINTR is not
     * the broker's silence, so wait again for what is left of the 30 s. */
    char buf[65536];
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        struct pollfd pfd = {sv[0], POLLIN, 0};
        int rc = waited_ms < 30000 ? poll(&pfd, 1, (int)(30000 - waited_ms)) : 0;
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) {
            fprintf(stderr, "fuzz_request: no answer and no close within 30 s\n");
            if (getenv("FUZZ_HANG_SLEEP")) sleep(120); /* time to attach a debugger */
            abort();
        }
        ssize_t n = read(sv[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        clock_gettime(CLOCK_MONOTONIC, &start); /* progress: the 30 s count from here */
    }
    close(sv[0]);
    return 0;
}
