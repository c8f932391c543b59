/* net/metrics.h: the broker's request counters, kept lock-free by the network threads
 * and read by the HTTP endpoint (/metrics). One rn_metrics per server. */
#ifndef RN_METRICS_H
#define RN_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#define RN_METRICS_API_MAX 64 /* API keys below this are counted */
#define RN_METRICS_BUCKETS 14
#define RN_METRICS_ERROR_MAX 128 /* Kafka error codes below this are counted */

/* Upper bounds of the latency histogram's buckets, in microseconds (the last is +Inf). */
extern const int64_t rn_metrics_bucket_us[RN_METRICS_BUCKETS];

typedef struct {
    _Atomic uint64_t errors[RN_METRICS_ERROR_MAX]; /* error codes carried by responses */
    _Atomic uint64_t requests;
    _Atomic uint64_t bucket[RN_METRICS_BUCKETS]; /* not cumulative: one bucket per request */
    _Atomic uint64_t sum_us;
} rn_api_metrics;

typedef struct {
    rn_api_metrics api[RN_METRICS_API_MAX];
    _Atomic uint64_t bytes_in, bytes_out;
    _Atomic uint64_t connections_opened, connections_closed, malformed_requests;
} rn_metrics;

/* Error codes a response of api_key carried (code, how many times). */
void rn_metrics_errors(rn_metrics *m, int16_t api_key, int16_t code, uint32_t count);

/* A request answered (or dropped, acks=0): its API, time from arrival, and sizes. */
void rn_metrics_request(rn_metrics *m, int16_t api_key, int64_t took_us, uint64_t in, uint64_t out);

#endif
