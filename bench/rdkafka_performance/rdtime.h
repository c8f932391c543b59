/* bench/rdkafka_performance/rdtime.h: rd_clock() in microseconds (monotonic). */
#ifndef RUNNEL_BENCH_RDTIME_H
#define RUNNEL_BENCH_RDTIME_H
#include <stdint.h>
#include <time.h>
typedef int64_t rd_ts_t;
static inline rd_ts_t rd_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#endif
