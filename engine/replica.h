/* engine/replica.h: a partition's replication state (internal to engine/): its role, the
 * ISR and what the leader knows of each follower, the leader epoch cache, and the high
 * watermark rule that follows from them.
 *
 *   meta: 'e' + partition id BE32 + epoch BE32 -> start offset BE64 (the epoch cache)
 *
 * Invariant: the epoch cache is sorted by epoch and by start offset, both strictly
 * rising; everything here is guarded by the partition's lock (log.h). */
#ifndef RN_REPLICA_H
#define RN_REPLICA_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "store.h"

#define RN_REPLICAS_MAX 16

typedef struct {
    int32_t epoch;
    int64_t start_offset;
} rn_epoch_entry;

typedef struct {
    rn_epoch_entry *v; /* sorted, owned */
    int n, cap;
} rn_epoch_cache;

/* What a leader knows of one other replica (Kafka's Replica state). */
typedef struct {
    int32_t id;
    int64_t log_end_offset;       /* -1 until it fetches */
    int64_t last_caught_up_ms;    /* INT64_MIN: not judged yet (the first proposal starts it) */
    int64_t last_fetch_leader_end, last_fetch_ms;
} rn_follower_state;

typedef struct {
    rn_partition_role role;
    bool stopped;                 /* stop_replica: NONE, yet refusing appends */
    int32_t leader;
    int32_t isr[RN_REPLICAS_MAX];
    int nisr;
    rn_follower_state followers[RN_REPLICAS_MAX]; /* LEADER: the replicas but this broker */
    int nfollowers;
    int64_t leader_high_watermark; /* FOLLOWER: as the leader last said */
    rn_epoch_cache epochs;
} rn_replica_state;

/* Meta key of an epoch-cache entry, and the bounds of partition ids [first, end)'s
 * entries (5-byte prefixes) for a range delete. */
void rn_epoch_key(uint32_t id, int32_t epoch, uint8_t key[9]);
void rn_epoch_bounds(uint32_t first, uint32_t end, uint8_t lo[5], uint8_t hi[5]);
/* Load partition id's entries from the store into c (empty before). */
rn_err rn_epoch_cache_load(rn_store *s, uint32_t id, rn_epoch_cache *c);
void rn_epoch_cache_free(rn_epoch_cache *c);
/* The latest epoch, -1 when empty. */
int32_t rn_epoch_cache_latest(const rn_epoch_cache *c);
/* Add (epoch, start) when epoch is above the latest, staging its key in b (b NULL: memory
 * only). Returns true when added. RN_ERR_NOMEM is logged and the entry dropped. */
bool rn_epoch_cache_assign(rn_epoch_cache *c, rn_store *s, uint32_t id, rn_store_batch *b,
                           int32_t epoch, int64_t start);
/* Drop entries starting at or after offset, staging their deletion in b. */
void rn_epoch_cache_truncate(rn_epoch_cache *c, rn_store *s, uint32_t id, rn_store_batch *b,
                             int64_t offset);
/* Drop every entry (the caller deletes the keys by range). */
void rn_epoch_cache_clear(rn_epoch_cache *c);

/* The high watermark rule of the partition's role (lock held), from its durable end, the
 * ISR's log ends or the leader's word. Returns true when it moved; the caller then wakes
 * watchers and durable waits (rn_replica_hw_moved) after unlocking. */
bool rn_replica_update_high_watermark(rn_partition *p);
/* Wake the partition's watchers and have the sync thread re-check replicated waits. */
void rn_replica_hw_moved(rn_partition *p);

/* A replicated durable wait's partition: 1 when its high watermark reached end, 0 when
 * not yet, or an error (RN_KAFKA_NOT_LEADER_OR_FOLLOWER: not led here any more, or the
 * log was truncated below end; RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION: deleted). */
int rn_replica_wait_state(rn_partition *p, int64_t end);

/* Whether local appends are refused (a follower, or a replica stopped). Lock held. */
bool rn_replica_refuses_appends(const rn_partition *p);

void rn_replica_free(rn_replica_state *r);

#endif
