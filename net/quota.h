/* net/quota.h: client quotas, Kafka style: a produce byte rate and a fetch byte rate per
 * user, per client id, or per user and client id, from static configuration (this broker
 * has no DescribeClientQuotas/AlterClientQuotas yet):
 *
 *   client.quotas=users/alice:producer_byte_rate=1048576;clients/etl:consumer_byte_rate=2097152;
 *                 users/bob/clients/batch:producer_byte_rate=65536
 *   quota.producer.default=0, quota.consumer.default=0  (bytes/s per client id; 0: none)
 *
 * The most specific entry wins, in Kafka's order: users/U/clients/C, users/U, clients/C,
 * then the defaults. Clients matching one entry share its rate (every client id of
 * users/alice together); a default applies to each client id alone.
 *
 * Enforcement as Kafka since KIP-219: the request is served, its response carries
 * throttle_time_ms, and the connection is muted (not read) for that long. The rate is
 * kept as a virtual clock (GCRA): each request moves the entity's clock by bytes/rate
 * seconds; how far the clock runs ahead of now, beyond one second of burst, is the
 * throttle time. Thread-safe (one lock; entities are kept until shutdown). */
#ifndef RN_QUOTA_H
#define RN_QUOTA_H

#include <stddef.h>
#include <stdint.h>

typedef struct rn_request rn_request;

typedef enum { RN_QUOTA_PRODUCE = 0, RN_QUOTA_FETCH = 1 } rn_quota_kind;

typedef struct rn_quotas rn_quotas;

/* Parse client.quotas (spec, may be "") with the two defaults. NULL with a sentence in err
 * on a bad spec or out of memory. Free with rn_quotas_free. */
rn_quotas *rn_quotas_new(const char *spec, int64_t producer_default, int64_t consumer_default,
                         char *err, size_t errlen);
void rn_quotas_free(rn_quotas *q);

/* Count bytes against the quota of principal ("User:alice") and client_id; the throttle
 * time in ms (0: within its quota or no quota applies). */
int32_t rn_quotas_record(rn_quotas *q, rn_quota_kind kind, const char *principal,
                         const char *client_id, size_t bytes, int64_t now_us);

/* For handlers: count bytes for the request's connection (its server's quotas, if any)
 * and mute the connection for the throttle time, which is returned for the response's
 * throttle_time_ms. */
int32_t rn_quota_record(rn_request *req, rn_quota_kind kind, size_t bytes);

#endif
