/* engine/log.h: one partition's log (internal to engine/): offsets, the in-memory tail
 * of recent batches, producer state, watchers, and its keys in the store.
 *
 * Invariants: log_start_offset <= high_watermark <= durable_end <= log_end_offset (the
 * high watermark as replica.h's rule for the role says); batches are stored
 * under (partition id, base offset) with dense offsets; everything below
 * high_watermark is in RocksDB (and fsynced when flush_sync). `lock` guards every field
 * but the watchers, which have watch_lock. */
#ifndef RN_LOG_H
#define RN_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "durable.h"
#include "engine.h"
#include "producer.h"
#include "replica.h"
#include "store.h"
#include "topic_config.h"

typedef struct {
    int64_t base_offset, last_offset;
    uint8_t *data; /* reference-counted (log.c): a reader may hold it past its removal */
    size_t len;
} rn_tail_entry;

struct rn_partition {
    rn_store *store;
    int cf;               /* the log family: RN_CF_LOG0 + id % log families */
    uint32_t id;          /* stable internal id, never reused */
    int32_t index;        /* the Kafka partition number */
    char *topic;          /* owned, for log lines */
    int32_t node_id;      /* this broker: the leader's id when LEADER */
    rn_durable *durable;  /* the engine's sync thread (NULL: none), for replicated waits */
    bool flush_sync;
    size_t tail_max_bytes;

    pthread_mutex_t lock;
    bool deleted;
    int64_t log_start_offset, log_end_offset, high_watermark;
    int64_t durable_end;   /* local: fsynced (flush_sync) or written; the HW rule's input */
    int32_t leader_epoch;
    int64_t size_bytes;
    int64_t max_timestamp; /* running max, for the time index */
    rn_topic_settings settings;
    rn_tail_entry *tail;   /* ring */
    int tail_head, tail_count, tail_cap;
    size_t tail_bytes;
    rn_producer_table producers;
    rn_replica_state repl; /* role, ISR, followers, epoch cache (replica.h) */

    pthread_mutex_t watch_lock;
    rn_watcher *watchers;

    pthread_mutex_t trim_lock; /* one removal at a time (retention, DeleteRecords, delete);
                                * taken before `lock` */
};

/* Metadata key of a partition: 'p' + id BE32 -> log_start BE64, leader_epoch BE32. */
void rn_log_meta_key(uint32_t id, uint8_t key[5]);
/* Add p's metadata record to b; the caller holds p->lock or has not shared p yet. */
void rn_log_put_meta(const rn_partition *p, rn_store_batch *b);

/* Set up p (fields store, cf, id, index, topic, node_id, durable, flush_sync,
 * tail_max_bytes, settings, log_start_offset and leader_epoch filled by the caller) and
 * recover the rest from the store: log end, size, running max timestamp, producer states,
 * the epoch cache. */
rn_err rn_log_open(rn_partition *p);
/* Set up a partition just created: its id was never used, so there is nothing to
 * recover (creating thousands of partitions must not scan the store for each). */
void rn_log_init_new(rn_partition *p);
/* Free what p owns (not p itself). */
void rn_log_free(rn_partition *p);
/* Mark deleted: appends and reads fail from now on, parked fetches are woken. */
void rn_log_mark_deleted(rn_partition *p);
/* Add to b the removal of every key of partition ids [first, end) in every family:
 * one range per family however many partitions, so deleting a topic of thousands of
 * partitions leaves a handful of range tombstones, not thousands. */
void rn_log_delete_ids(rn_store *store, int log_cfs, uint32_t first, uint32_t end,
                       rn_store_batch *b);
void rn_log_set_settings(rn_partition *p, const rn_topic_settings *s);
/* One partition's share of an atomic append. */
typedef struct {
    rn_partition *p;
    uint8_t *records; /* batches validated or built by the engine; rewritten in place */
    size_t len;
    rn_append_result result; /* filled on success */
} rn_log_append_part;

/* Append to several partitions (at most one part each) and apply the caller's extra
 * writes already in wb, in ONE RocksDB write batch: all or nothing. Partition locks are
 * taken in id order. Batches with a producer id are refused (no idempotence here). With
 * sync (log.flush.sync) the WAL is synced before returning; high watermarks advance and
 * watchers are woken after. Errors as rn_partition_append. */
rn_err rn_log_append_atomic(rn_store *store, rn_log_append_part *parts, int n,
                            rn_store_batch *wb, bool sync);

/* After an fsync that covers the write that took the log to end: advance the durable end
 * to it (never back), the high watermark as the role's rule lets, and wake the watchers. */
void rn_log_publish(rn_partition *p, int64_t end);
/* Wake p's watchers (their notify runs here). */
void rn_log_notify(rn_partition *p);

/* Apply retention.ms / retention.bytes at now_ms. */
void rn_log_enforce_retention(rn_partition *p, int64_t now_ms);

#endif
