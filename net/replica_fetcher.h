/* net/replica_fetcher.h: the follower side of replication (Kafka's ReplicaFetcherThread):
 * partitions this broker follows fetch from their leaders and append what they get.
 *
 * Runs on the caller's event_base thread (the cluster agent's): every function here must
 * be called on it. Disk work (rn_partition_append_replica and its sync, truncation) is
 * done on that thread too: it is the replication thread.
 *
 * Per leader broker one rn_peer (net/peer.h); per followed partition a state:
 *   TRUNCATING  OffsetForLeaderEpoch v3 to the leader (KIP-101/279), truncate the local
 *               log where it diverges, then
 *   FETCHING    Fetch v11 (replica_id = this broker, no fetch session) for all of that
 *               leader's FETCHING partitions in one request, the next one as soon as the
 *               last is answered (the leader long-polls up to max_wait_ms).
 * Errors from the leader (NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, network)
 * retry after a backoff; the cluster agent re-assigns when the metadata changes. */
#ifndef RN_REPLICA_FETCHER_H
#define RN_REPLICA_FETCHER_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "engine.h"

typedef struct rn_replica_fetcher rn_replica_fetcher;

/* node_id: this broker (the replica_id it fetches as). max_wait_ms: the Fetch long-poll
 * (500 as Kafka's replica.fetch.wait.max.ms). NULL when out of memory. */
rn_replica_fetcher *rn_replica_fetcher_new(struct event_base *base, int32_t node_id,
                                           int32_t max_wait_ms);
/* Drop every assignment and close the peers (requests in flight are abandoned; nothing
 * is written to a partition after this starts). NULL is allowed. */
void rn_replica_fetcher_free(rn_replica_fetcher *f);

/* Follow p (topic and index name it on the wire; topic is copied) from leader `leader_id`
 * at host:port, at leader_epoch. Replaces an earlier assignment of p: a new leader or
 * epoch restarts with truncation; the same leader, address and epoch changes nothing.
 * Answers still in flight for an earlier assignment are ignored. The caller has made p a
 * follower (rn_partition_become_follower). */
void rn_replica_fetcher_follow(rn_replica_fetcher *f, rn_partition *p, const char *topic,
                               int32_t index, int32_t leader_id, const char *host, int port,
                               int32_t leader_epoch);
/* Stop following p (no-op if not followed); an answer in flight for it is ignored. */
void rn_replica_fetcher_unfollow(rn_replica_fetcher *f, rn_partition *p);
/* Partitions followed, for metrics and tests. */
int rn_replica_fetcher_count(rn_replica_fetcher *f);

/* ---- the wire (exposed for tests) --------------------------------------------------- */

typedef struct {
    const char *topic;
    int32_t index;
    int32_t current_leader_epoch;
    int64_t fetch_offset;     /* Fetch: the local log end */
    int64_t log_start_offset; /* Fetch: the local log start */
    int32_t leader_epoch;     /* OffsetForLeaderEpoch: the local latest epoch */
} rn_replica_fetch_partition;

/* The Fetch v11 request body for n partitions (those of one topic adjacent) into w (a
 * classic writer). */
void rn_replica_fetch_build(rn_writer *w, int32_t replica_id, int32_t max_wait_ms,
                            const rn_replica_fetch_partition *parts, int n);
/* The OffsetForLeaderEpoch v3 request body, same grouping. */
void rn_replica_epoch_build(rn_writer *w, int32_t replica_id,
                            const rn_replica_fetch_partition *parts, int n);
/* The length of the whole batches at the start of records (a fetch answer may end in a
 * batch cut by the size limit, which is dropped). */
size_t rn_replica_whole_batches(const uint8_t *records, size_t len);

#endif
