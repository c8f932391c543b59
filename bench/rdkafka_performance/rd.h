/* bench/rdkafka_performance/rd.h: the few definitions rdkafka_performance.c takes from
 * librdkafka's internal rd.h, so the example Debian ships builds against the installed
 * library. Not part of runnel. */
#ifndef RUNNEL_BENCH_RD_H
#define RUNNEL_BENCH_RD_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define rd_snprintf snprintf
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_UNUSED __attribute__((unused))
#endif
