/* bench/harness/common.h: what every harness shares: a monotonic clock, latency
 * samples with nearest-rank percentiles, a fixed-rate pacer and the one "result" line
 * that bench/run.sh parses (space-separated name=value pairs after the word "result").
 *
 * Header-only (static functions) so each harness stays one .c file. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void bench_sleep_ns(int64_t ns) {
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static inline void bench_die(const char *what, const char *why) {
    fprintf(stderr, "harness: %s: %s\n", what, why ? why : "failed");
    exit(1);
}

/* A positive integer argument, or exit with usage status 2. */
static inline long long bench_arg(const char *s, const char *name) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0) {
        fprintf(stderr, "harness: %s wants a non-negative integer, got '%s'\n", name, s);
        exit(2);
    }
    return v;
}

/* ---- latency samples (microseconds), sorted once at the end ---- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} bench_samples;

static inline void bench_samples_add(bench_samples *s, int64_t ns) {
    int64_t us = ns / 1000;
    if (us < 0) us = 0;
    if (us > (int64_t)UINT32_MAX) us = UINT32_MAX;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) abort();
    }
    s->v[s->n++] = (uint32_t)us;
}

static int bench_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile q in (0, 1] of the sorted samples, in milliseconds. */
static inline double bench_pct_ms(const bench_samples *s, double q) {
    if (!s->n) return 0;
    size_t rank = (size_t)(q * (double)s->n);
    if ((double)rank < q * (double)s->n) rank++;
    if (rank < 1) rank = 1;
    if (rank > s->n) rank = s->n;
    return s->v[rank - 1] / 1000.0;
}

/* "result records=.. p50_ms=.. p99_ms=.. p999_ms=.. max_ms=.." plus any extra pairs. */
static inline void bench_print_latency(bench_samples *s, const char *extra_fmt, ...) {
    qsort(s->v, s->n, sizeof *s->v, bench_cmp_u32);
    printf("result records=%zu p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f", s->n, bench_pct_ms(s, 0.50),
           bench_pct_ms(s, 0.99), bench_pct_ms(s, 0.999), s->n ? s->v[s->n - 1] / 1000.0 : 0.0);
    if (extra_fmt) {
        va_list ap;
        va_start(ap, extra_fmt);
        putchar(' ');
        vprintf(extra_fmt, ap);
        va_end(ap);
    }
    putchar('\n');
    fflush(stdout);
}

/* "result records=.. bytes=.. seconds=.. rate=.. mbps=.." (MB = 10^6 bytes of values). */
static inline void bench_print_rate(long long records, long long bytes, int64_t ns) {
    double s = (double)ns / 1e9;
    printf("result records=%lld bytes=%lld seconds=%.3f rate=%.0f mbps=%.2f\n", records, bytes, s,
           s > 0 ? (double)records / s : 0.0, s > 0 ? (double)bytes / 1e6 / s : 0.0);
    fflush(stdout);
}

/* ---- fixed-rate pacing: record i is due at start + i / rate ---- */

typedef struct {
    int64_t start_ns;
    double interval_ns;
} bench_pacer;

static inline void bench_pacer_init(bench_pacer *p, double rate) {
    p->start_ns = bench_now_ns();
    p->interval_ns = 1e9 / rate;
}

static inline int64_t bench_pacer_due_ns(const bench_pacer *p, long long i) {
    return p->start_ns + (int64_t)((double)i * p->interval_ns);
}

/* How many records are due by now (sleeping up to 200 us first when none is). */
static inline long long bench_pacer_wait(const bench_pacer *p, long long sent) {
    int64_t now = bench_now_ns(), due = bench_pacer_due_ns(p, sent);
    if (due > now) {
        bench_sleep_ns(due - now < 200000 ? due - now : 200000);
        now = bench_now_ns();
    }
    return (long long)((double)(now - p->start_ns) / p->interval_ns) + 1;
}

/* The latency payload: bytes 0..7 the due time (CLOCK_MONOTONIC ns), 8..15 the record's
 * sequence number, the rest filler; sender and receiver share the process, so the clock
 * is the same. */
static inline void bench_stamp(char *buf, size_t size, int64_t due_ns, long long seq) {
    if (size < 16) return;
    memcpy(buf, &due_ns, 8);
    int64_t q = seq;
    memcpy(buf + 8, &q, 8);
}

static inline int bench_unstamp(const void *buf, size_t size, int64_t *due_ns, long long *seq) {
    if (size < 16) return -1;
    int64_t q;
    memcpy(due_ns, buf, 8);
    memcpy(&q, (const char *)buf + 8, 8);
    *seq = q;
    return 0;
}

/* Printable pseudo-random filler (what `runnel bench produce` sends too). */
static inline void bench_fill(char *buf, size_t n) {
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (char)(' ' + x % 95);
    }
}

#endif
