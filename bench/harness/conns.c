/* bench/harness/conns.c: hold N client connections open to a server, each having done
 * the protocol's opening exchange, so the server's memory per connection can be read
 * from its RSS before and after.
 *
 *   conns HOST PORT N kafka|redis|nats|tcp
 *
 * kafka: ApiVersions v0 and its response; redis: PING / +PONG; nats: INFO, CONNECT +
 * PING / PONG; tcp: connect only. Prints "result connections=N seconds=S" once all are
 * open, then holds them until SIGTERM or SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

static void send_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) bench_die("write", strerror(errno));
        p += w, n -= (size_t)w;
    }
}

/* Reads until `until` appears in what was read (text protocols) or `want` bytes came. */
static void read_until(int fd, const char *until, size_t want) {
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) bench_die("read", r ? strerror(errno) : "server closed the connection");
        have += (size_t)r;
        buf[have] = '\0';
        if (until ? strstr(buf, until) != NULL : have >= want) return;
        if (have == sizeof buf - 1) have = 0; /* keep looking in fresh space */
    }
}

static void kafka_hello(int fd) {
    /* ApiVersions v0: size, api_key 18, version 0, correlation id 1, client id "bench". */
    static const unsigned char req[] = {0, 0, 0, 15, 0, 18, 0, 0, 0, 0, 0, 1, 0, 5, 'b', 'e', 'n', 'c', 'h'};
    send_all(fd, req, sizeof req);
    unsigned char hdr[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t r = read(fd, hdr + got, 4 - got);
        if (r <= 0) bench_die("read", "kafka: no response");
        got += (size_t)r;
    }
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    char buf[4096];
    while (len) {
        ssize_t r = read(fd, buf, len < sizeof buf ? len : sizeof buf);
        if (r <= 0) bench_die("read", "kafka: short response");
        len -= (uint32_t)r;
    }
}

int main(int argc, char **argv) {
    if (argc != 5) bench_die("usage", "conns HOST PORT N kafka|redis|nats|tcp");
    const char *proto = argv[4];
    long long n = bench_arg(argv[3], "N");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bench_arg(argv[2], "PORT"))};
    if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) bench_die("HOST", "wants an IPv4 address");
    int *fds = calloc((size_t)n, sizeof *fds);
    if (!fds) abort();
    int64_t t0 = bench_now_ns();
    for (long long i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) bench_die("socket", strerror(errno));
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) bench_die("connect", strerror(errno));
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (!strcmp(proto, "kafka")) {
            kafka_hello(fd);
        } else if (!strcmp(proto, "redis")) {
            send_all(fd, "PING\r\n", 6);
            read_until(fd, "+PONG\r\n", 0);
        } else if (!strcmp(proto, "nats")) {
            read_until(fd, "\r\n", 0); /* INFO {...} */
            static const char hello[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";
            send_all(fd, hello, sizeof hello - 1);
            read_until(fd, "PONG\r\n", 0);
        } else if (strcmp(proto, "tcp")) {
            bench_die("protocol", "kafka|redis|nats|tcp");
        }
        fds[i] = fd;
    }
    printf("result connections=%lld seconds=%.3f\n", n, (double)(bench_now_ns() - t0) / 1e9);
    fflush(stdout);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    for (long long i = 0; i < n; i++) close(fds[i]);
    free(fds);
    return 0;
}
