/* net/metrics.c: counting requests into rn_metrics (see metrics.h). */
#include "metrics.h"

const int64_t rn_metrics_bucket_us[RN_METRICS_BUCKETS] = {
    500, 1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
    10000000, INT64_MAX};

void rn_metrics_request(rn_metrics *m, int16_t api_key, int64_t took_us, uint64_t in, uint64_t out) {
    atomic_fetch_add_explicit(&m->bytes_in, in, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_out, out, memory_order_relaxed);
    if (api_key < 0 || api_key >= RN_METRICS_API_MAX) return;
    rn_api_metrics *a = &m->api[api_key];
    int b = 0;
    while (b < RN_METRICS_BUCKETS - 1 && took_us > rn_metrics_bucket_us[b]) b++;
    atomic_fetch_add_explicit(&a->requests, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->sum_us, took_us > 0 ? (uint64_t)took_us : 0, memory_order_relaxed);
}

void rn_metrics_errors(rn_metrics *m, int16_t api_key, int16_t code, uint32_t count) {
    if (api_key < 0 || api_key >= RN_METRICS_API_MAX) return;
    int c = code < 0 ? 0 : code; /* -1 UNKNOWN_SERVER_ERROR counts in slot 0 */
    if (c >= RN_METRICS_ERROR_MAX) return;
    atomic_fetch_add_explicit(&m->api[api_key].errors[c], count, memory_order_relaxed);
}
