/* engine/engine.h: the storage engine's contract: topics, partitions, their logs and
 * offsets, topic configs, producer (idempotence) state. No sockets, no Kafka framing,
 * no RocksDB in this header.
 *
 * Every function is thread-safe. Offsets: log_start_offset <= high_watermark <=
 * log_end_offset; on a single broker the high watermark is the end of what is durable
 * (fsynced when flush_sync, written to the WAL otherwise), and readers never see past it.
 * Partition handles stay valid until rn_engine_close, even after their topic is deleted
 * (operations on a deleted partition return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION). */
#ifndef RN_ENGINE_H
#define RN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl.h"
#include "error.h"
#include "group.h"

typedef struct rn_engine rn_engine;
typedef struct rn_partition rn_partition;

typedef struct {
    const char *data_dir;          /* created if missing */
    int32_t node_id;               /* node.id: the leader of every local partition */
    int log_column_families;       /* log.column.families: shared log CFs (>= 1) */
    bool flush_sync;               /* log.flush.sync: fsync the WAL before an append returns */
    size_t tail_cache_bytes;       /* log.tail.cache.bytes: recent batches kept per partition */
    int64_t retention_check_interval_ms; /* log.retention.check.interval.ms; 0: no thread */
    size_t rocksdb_block_cache_bytes;
    uint64_t min_free_bytes;       /* log.dir.min.free.bytes: appends refused below it (0: off) */
    /* Broker-wide defaults that topic configs fall back to. */
    int32_t default_partitions;      /* num.partitions: used when a create asks for -1 */
    int64_t default_retention_ms;    /* log.retention.ms, -1 = forever */
    int64_t default_retention_bytes; /* log.retention.bytes, -1 = unlimited */
    int32_t default_max_message_bytes; /* message.max.bytes */
    bool default_log_append_time;    /* log.message.timestamp.type=LogAppendTime */
    rn_group_options groups;         /* the group coordinator's settings */
    /* Checks a Lua script named by a hook config (plugins/ provides it; NULL: hook
     * configs are refused): 0, or non-zero with a sentence in err. */
    int (*script_check)(void *ctx, const char *script, const char *fn, char *err, size_t errlen);
    void *script_check_ctx;
    bool coordinator_thread;         /* run the coordinator's timers on their own thread */
    bool replicated;                 /* a cluster member: every partition starts unserved
                                      * (rn_partition_stop_replica) until given a role */
} rn_engine_options;

/* Open (creating when missing) the database under opts->data_dir and load every topic.
 * On failure returns an error and writes a sentence to errbuf. */
rn_err rn_engine_open(const rn_engine_options *opts, rn_engine **out, char *errbuf,
                      size_t errlen);
/* Stop the retention thread, flush and close. Partition handles die here. */
void rn_engine_close(rn_engine *e);

/* A 22-character cluster id (base64url of 16 random bytes), made on first open and kept. */
const char *rn_engine_cluster_id(const rn_engine *e);
int32_t rn_engine_node_id(const rn_engine *e);
/* num.partitions: what a create asking for -1 partitions gets. */
int32_t rn_engine_default_partitions(const rn_engine *e);
/* The group coordinator (engine/group.h), alive until rn_engine_close. */
rn_coordinator *rn_engine_coordinator(rn_engine *e);
/* The ACL bindings (engine/acl.h), alive until rn_engine_close. */
rn_acls *rn_engine_acls(rn_engine *e);

/* ---- topics ---------------------------------------------------------------------- */

typedef struct {
    const char *name;  /* points into the caller's memory */
    const char *value; /* NULL: delete / reset to default */
} rn_config_kv;

/* Topic name rule as Kafka's: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". */
bool rn_topic_name_valid(const char *name, size_t len);

/* Create a topic with `partitions` partitions (-1: num.partitions default) and the given
 * configs (validated against the topic config table). validate_only checks and writes
 * nothing. Errors: RN_KAFKA_TOPIC_ALREADY_EXISTS, RN_KAFKA_INVALID_TOPIC_EXCEPTION,
 * RN_KAFKA_INVALID_PARTITIONS, RN_KAFKA_INVALID_CONFIG, RN_KAFKA_KAFKA_STORAGE_ERROR; a
 * sentence in errmsg (may be NULL) says which name/value is wrong. */
rn_err rn_engine_create_topic(rn_engine *e, const char *name, int32_t partitions,
                              const rn_config_kv *configs, int nconfigs, bool validate_only,
                              char *errmsg, size_t errlen);

/* Delete a topic: its metadata goes at once, its log and index ranges with DeleteRange.
 * RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION when absent. */
rn_err rn_engine_delete_topic(rn_engine *e, const char *name);

/* Grow a topic to new_total partitions. RN_KAFKA_INVALID_PARTITIONS if new_total is not
 * larger than the current count (errmsg says so), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION. */
rn_err rn_engine_create_partitions(rn_engine *e, const char *name, int32_t new_total,
                                   bool validate_only, char *errmsg, size_t errlen);

typedef struct {
    int32_t index;
    int32_t leader_epoch;
} rn_partition_meta;

typedef struct {
    char *name;
    uint8_t topic_id[16];
    int32_t partition_count;
    rn_partition_meta *partitions; /* partition_count entries */
} rn_topic_meta;

/* A snapshot of topics, sorted by name. names == NULL: all topics; otherwise only those
 * that exist among names[0..nnames-1] (absent ones are simply not in the result).
 * The caller frees the array with rn_topic_meta_free. */
rn_err rn_engine_topics(rn_engine *e, const char *const *names, int nnames,
                        rn_topic_meta **out, int *count);
void rn_topic_meta_free(rn_topic_meta *topics, int count);

/* ---- topic configs --------------------------------------------------------------- */

enum rn_config_source { /* DescribeConfigs ConfigSource values */
    RN_CONFIG_SOURCE_DYNAMIC_TOPIC = 1,
    RN_CONFIG_SOURCE_STATIC_BROKER = 4,
    RN_CONFIG_SOURCE_DEFAULT = 5,
};

typedef struct {
    char *name;
    char *value; /* NULL for a sensitive or absent value */
    bool read_only;
    bool is_default;
    bool sensitive;
    int8_t source;
    int8_t type; /* DescribeConfigs v3 ConfigType: 1 BOOLEAN 2 STRING 3 INT 4 SHORT 5 LONG 6 DOUBLE 7 LIST */
    const char *doc; /* static */
} rn_config_entry;

/* Every topic config (the table's keys, in table order) with the topic's value or the
 * broker default. RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION when absent. Free with
 * rn_config_entries_free. */
rn_err rn_engine_describe_topic_configs(rn_engine *e, const char *topic,
                                        rn_config_entry **out, int *count);
void rn_config_entries_free(rn_config_entry *entries, int count);

enum rn_config_op { RN_CONFIG_SET = 0, RN_CONFIG_DELETE = 1, RN_CONFIG_APPEND = 2,
                    RN_CONFIG_SUBTRACT = 3 };
typedef struct {
    const char *name;
    const char *value;
    int8_t op; /* enum rn_config_op */
} rn_config_alter;

/* incremental=false (AlterConfigs): the topic's configs become exactly the given SETs.
 * incremental=true (IncrementalAlterConfigs): apply each op. Validation first, then one
 * write; nothing changes on error. RN_KAFKA_INVALID_CONFIG (unknown key, bad value,
 * APPEND/SUBTRACT on a non-list), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION. */
rn_err rn_engine_alter_topic_configs(rn_engine *e, const char *topic,
                                     const rn_config_alter *ops, int nops, bool incremental,
                                     bool validate_only, char *errmsg, size_t errlen);

/* The Lua hooks of a topic (the configs that name scripts, and every explicit config,
 * which scripts receive). A view (view.of) reads its source's partitions: rn_engine_partition
 * on a view gives the source's partition, so offsets, ListOffsets and group commits work
 * on views; writes to views are refused by net/. All NULL / 0 for a topic without hooks.
 * Free with rn_topic_hooks_free. RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION when absent. */
typedef struct {
    const char *view_of, *partitioner_script, *produce_filter_script, *view_filter_script;
    char **names, **values; /* every explicit config of the topic */
    int nconfigs;
    int32_t partition_count; /* the topic's (a view's: its source's; 0 if that is gone) */
    int32_t max_message_bytes; /* the topic's max.message.bytes: rebuilt batches stay below */
} rn_topic_hooks;
rn_err rn_engine_topic_hooks(rn_engine *e, const char *topic, rn_topic_hooks *out);
void rn_topic_hooks_free(rn_topic_hooks *h);

/* ---- partitions ------------------------------------------------------------------ */

/* The partition, or NULL with *err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION. The handle is
 * borrowed from the engine (see the top of this file). */
rn_partition *rn_engine_partition(rn_engine *e, const char *topic, int32_t index, rn_err *err);

typedef struct {
    int64_t log_start_offset;
    int64_t high_watermark;
    int64_t log_end_offset;
    int64_t last_stable_offset; /* == high_watermark until transactions exist */
    int32_t leader_epoch;
    int64_t size_bytes; /* bytes of batches between log start and log end */
} rn_partition_offsets;

rn_err rn_partition_offsets_get(rn_partition *p, rn_partition_offsets *out);

typedef struct {
    int64_t base_offset;      /* offset of the first record appended */
    int64_t log_append_time;  /* -1 unless the topic uses LogAppendTime */
    int64_t log_start_offset;
    bool duplicate;           /* an idempotent retry: nothing written, original offsets */
    int64_t log_end_offset;   /* the log end after the append: what must be durable */
    bool durable;             /* already durable (rn_partition_append, or no log.flush.sync) */
} rn_append_result;

/* Append a record set (one or more batches, each already validated with
 * rn_batch_validate) as one atomic write: offsets assigned densely (the base offset and
 * leader epoch of each batch are rewritten in place in `records`, and for LogAppendTime
 * topics the timestamp too), idempotent-producer sequence checks, batches, indexes and
 * producer state in ONE RocksDB write batch; then (flush_sync) the WAL is fsynced, the
 * high watermark advances and watchers are notified. Returns when durable.
 * Errors: RN_KAFKA_MESSAGE_TOO_LARGE (a batch over max.message.bytes),
 * RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, RN_KAFKA_INVALID_PRODUCER_EPOCH,
 * RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION (deleted), RN_KAFKA_KAFKA_STORAGE_ERROR.
 * `records` is the caller's; the engine copies what it keeps. */
rn_err rn_partition_append(rn_partition *p, uint8_t *records, size_t len,
                           rn_append_result *out);

/* The same, without waiting for the fsync: with log.flush.sync it returns once the write is
 * in RocksDB (out->durable false; the high watermark has not moved), and the caller hands
 * (p, out->log_end_offset) to rn_engine_when_durable, which fsyncs for many appenders at
 * once on the engine's own thread and then advances the high watermarks. A network thread
 * so never waits for a disk. Without log.flush.sync it is rn_partition_append. */
rn_err rn_partition_append_nowait(rn_partition *p, uint8_t *records, size_t len,
                                  rn_append_result *out);

/* Wait here (group-committed fsync) until the log is durable up to end, and advance the
 * high watermark to it: for an appender that cannot park (rn_partition_append_nowait). */
rn_err rn_partition_await_durable(rn_partition *p, int64_t end);

/* A wait for durability: done runs on the engine's sync thread once the WAL holding every
 * write made before rn_engine_when_durable was fsynced and each parts[i]'s high watermark
 * reached ends[i] (err != 0 when the fsync failed: nothing was published). done must be
 * quick and must not call back into the engine (net wakes its loop). */
typedef struct rn_durable_wait {
    void (*done)(struct rn_durable_wait *w, rn_err err);
    void *ctx;
    rn_partition **parts;
    int64_t *ends;
    int n;
    /* acks=all: done waits for each high watermark (min of the ISR's log ends) to reach
     * ends[i], not only for the local fsync; done gets RN_KAFKA_NOT_LEADER_OR_FOLLOWER if
     * the partition stops being led here first. */
    bool replicated;
    struct rn_durable_wait *next; /* engine-owned linkage */
} rn_durable_wait;

void rn_engine_when_durable(rn_engine *e, rn_durable_wait *w);
/* Take w back: afterwards done is not running and will never run for it (it may have
 * run already). For a request that goes away before it is answered. */
void rn_engine_durable_cancel(rn_engine *e, rn_durable_wait *w);

/* Called with each whole batch, in offset order; returns 0 to go on, non-zero to stop.
 * The bytes are valid only during the call. No engine lock is held during the call, so
 * a sink may take its time and may call the engine. */
typedef int (*rn_batch_sink)(void *ctx, const uint8_t *batch, size_t len);

/* Read batches from the one containing `offset` up to the high watermark: stops before
 * a batch that would take the total past max_bytes, except that the first batch is
 * always given whole when at_least_one (Kafka's rule: a consumer can always progress).
 * Recent batches come from the in-memory tail, older ones from RocksDB.
 * RN_KAFKA_OFFSET_OUT_OF_RANGE when offset < log_start_offset or offset > high_watermark.
 * Fills *offsets (may be NULL) as of the read and *bytes with what was given to sink. */
rn_err rn_partition_read(rn_partition *p, int64_t offset, size_t max_bytes, bool at_least_one,
                         rn_batch_sink sink, void *ctx, rn_partition_offsets *offsets,
                         size_t *bytes);

/* The earliest offset whose record timestamp is >= ts (to the record, not only the
 * batch), with that record's timestamp; *offset = -1 and *timestamp = -1 when no record
 * is that recent. */
rn_err rn_partition_offset_for_time(rn_partition *p, int64_t ts, int64_t *offset,
                                    int64_t *timestamp);

/* DeleteRecords: advance log_start_offset to before_offset (-1: the high watermark).
 * RN_KAFKA_OFFSET_OUT_OF_RANGE when before_offset > high watermark. Batches wholly below
 * the new start are removed with DeleteRange; a batch that straddles it stays stored but
 * is never served below log_start_offset... (it is served whole; consumers skip
 * records below their position, as with Kafka). *low_watermark gets the new start. */
rn_err rn_partition_delete_records(rn_partition *p, int64_t before_offset,
                                   int64_t *low_watermark);

/* Long-poll support: a watcher's notify runs on the appending thread, after the high
 * watermark moved, with the partition's watch lock held: it must be quick and must not
 * call back into the engine (net uses it to wake the waiting connection's event loop).
 * After rn_partition_unwatch returns, notify is never called again for w. */
typedef struct rn_watcher {
    void (*notify)(struct rn_watcher *w);
    void *ctx;
    struct rn_watcher *next, *prev; /* engine-owned linkage */
} rn_watcher;
void rn_partition_watch(rn_partition *p, rn_watcher *w);
void rn_partition_unwatch(rn_partition *p, rn_watcher *w);

/* ---- replication (cluster mode; net/cluster.c drives it) --------------------------- */

/* A partition's role here. RN_ROLE_NONE: no replication (a single broker, or before the
 * cluster agent assigned one): the high watermark follows local durability, as always.
 * LEADER: the high watermark is min(local durable end, every other ISR member's log end)
 * and never moves back. FOLLOWER: appends come only through rn_partition_append_replica
 * and the high watermark is min(the leader's, local durable end). */
typedef enum { RN_ROLE_NONE = 0, RN_ROLE_LEADER, RN_ROLE_FOLLOWER } rn_partition_role;

typedef struct {
    rn_partition_role role;
    int32_t leader;       /* the leader's broker id (this broker's when LEADER), -1 NONE */
    int32_t leader_epoch;
    int32_t isr[16];      /* LEADER: the in-sync replicas the leader counts (itself included) */
    int nisr;
} rn_partition_replication;

void rn_partition_replication_get(rn_partition *p, rn_partition_replication *out);

/* Become the leader at leader_epoch with the given replicas and in-sync replicas (this
 * broker among them). A new epoch (larger than the last in the epoch cache) is recorded
 * as starting at the log end, persisted with the partition's metadata. Called again with
 * the same epoch when only the ISR or replicas changed. Followers outside the ISR are
 * tracked from here to tell when they catch up. RN_KAFKA_FENCED_LEADER_EPOCH when
 * leader_epoch is below the partition's. */
rn_err rn_partition_become_leader(rn_partition *p, int32_t leader_epoch, const int32_t *replicas,
                                  int nreplicas, const int32_t *isr, int nisr);
/* Become a follower of `leader` at leader_epoch: local appends (rn_partition_append*)
 * are refused with RN_KAFKA_NOT_LEADER_OR_FOLLOWER from now on; parked produce waits on
 * it fail the same way. Same epoch rule. leader -1: no leader known (offline). */
rn_err rn_partition_become_follower(rn_partition *p, int32_t leader_epoch, int32_t leader);
/* Drop any role (the broker is no longer a replica): back to RN_ROLE_NONE but refusing
 * appends as a follower would until a role is given again. */
void rn_partition_stop_replica(rn_partition *p);

/* Whether a client request may be served here: NONE or LEADER role (for
 * current_leader_epoch >= 0 it must equal ours: smaller -> RN_KAFKA_FENCED_LEADER_EPOCH,
 * larger -> RN_KAFKA_UNKNOWN_LEADER_EPOCH), else (a follower, or stopped by
 * rn_partition_stop_replica) RN_KAFKA_NOT_LEADER_OR_FOLLOWER. */
rn_err rn_partition_check_leader(rn_partition *p, int32_t current_leader_epoch);

/* Leader: a follower fetched from fetch_offset, which is its log end. Records its log end
 * and, when fetch_offset reached the leader's log end (as of now or of its previous fetch,
 * as Kafka's lastCaughtUpTime), its caught-up time; advances the high watermark (waking
 * watchers and replicated durable waits) when that lets it. RN_KAFKA_NOT_LEADER_OR_FOLLOWER
 * when not the leader. */
rn_err rn_partition_follower_fetched(rn_partition *p, int32_t replica, int64_t fetch_offset,
                                     int64_t now_ms);
/* Leader: the ISR it should propose now (KIP-497 AlterPartition): members whose
 * caught-up time is older than lag_ms leave (never the leader itself), replicas outside
 * the ISR whose log end reached the high watermark join (and at least the leader's epoch
 * start). Returns the new count into isr (room for 16) when it differs from the current
 * ISR, 0 when no change. */
int rn_partition_isr_proposal(rn_partition *p, int64_t now_ms, int64_t lag_ms, int32_t isr[16]);

/* Follower: append batches fetched from the leader exactly as they are (their base
 * offsets and leader epochs kept; the epoch cache learns epochs it has not seen). The
 * first batch must start at the log end (RN_KAFKA_OFFSET_OUT_OF_RANGE otherwise); CRCs are
 * checked; idempotent producer state follows the batches (so a follower that becomes the
 * leader still knows every producer's sequences). Then the high watermark becomes
 * min(leader_high_watermark, local durable end). Synced as log.flush.sync says, on the
 * caller's thread. `records` is the caller's. */
rn_err rn_partition_append_replica(rn_partition *p, const uint8_t *records, size_t len,
                                   int64_t leader_high_watermark);
/* Follower: the high watermark only (a fetch response without records). */
void rn_partition_set_leader_high_watermark(rn_partition *p, int64_t leader_high_watermark);
/* Remove every batch at or above offset (a batch boundary; a batch straddling it is
 * removed whole), with its indexes, producer entries and epoch-cache entries above it; the
 * high watermark follows down if it was above. */
rn_err rn_partition_truncate(rn_partition *p, int64_t offset);
/* Empty the log and start it at offset (a follower behind the leader's log start). */
rn_err rn_partition_reset_to(rn_partition *p, int64_t offset);

/* OffsetForLeaderEpoch: for the largest epoch <= leader_epoch in the epoch cache, that
 * epoch and its end offset (the start of the next epoch, or the log end for the latest).
 * leader_epoch older than every cached epoch: leader_epoch and the first cached epoch's
 * start (Kafka's rule: the asker truncates there). -1 / -1 when leader_epoch < 0 or the
 * cache is empty (UNDEFINED). */
void rn_partition_epoch_end_offset(rn_partition *p, int32_t leader_epoch, int32_t *end_epoch,
                                   int64_t *end_offset);
/* The latest epoch in the cache (-1 if none): a follower asks the leader for its end. */
int32_t rn_partition_latest_epoch(rn_partition *p);

/* Read for a follower: as rn_partition_read but up to the log end, not the high
 * watermark. */
rn_err rn_partition_read_replica(rn_partition *p, int64_t offset, size_t max_bytes,
                                 rn_batch_sink sink, void *ctx, rn_partition_offsets *offsets,
                                 size_t *bytes);

/* Create a topic exactly as the metadata image says (id and partition count given, no
 * num.partitions default, configs already validated by the controller): every broker
 * keeps every topic, replica or not. RN_KAFKA_TOPIC_ALREADY_EXISTS when a topic of that
 * name exists (with another id: the caller deletes it first). */
rn_err rn_engine_create_topic_with_id(rn_engine *e, const char *name, const uint8_t id[16],
                                      int32_t partitions, const rn_config_kv *configs,
                                      int nconfigs, char *errmsg, size_t errlen);

/* ---- producers ------------------------------------------------------------------- */

/* A new producer id (never reused, persisted in blocks) with epoch 0. In a cluster
 * (opts.replicated) the broker's node id is its high 32 bits, so ids are unique
 * cluster-wide without asking the controller. */
rn_err rn_engine_init_producer_id(rn_engine *e, int64_t *producer_id, int16_t *producer_epoch);

/* ---- storage figures -------------------------------------------------------------- */

typedef struct {
    uint64_t memtable_bytes;           /* all memtables, every column family */
    uint64_t pending_compaction_bytes; /* RocksDB's estimate of what compaction must rewrite */
    uint64_t live_sst_bytes, blob_bytes;
    uint64_t delayed_write_rate;       /* bytes/s while RocksDB slows writes, 0 otherwise */
    bool write_stopped;                /* RocksDB stopped writes (a stall) */
    uint64_t free_bytes, min_free_bytes; /* data.dir's filesystem, and log.dir.min.free.bytes */
} rn_storage_stats;

void rn_engine_storage_stats(rn_engine *e, rn_storage_stats *out);

/* ---- housekeeping ---------------------------------------------------------------- */

/* Apply retention.ms / retention.bytes to every partition now (the retention thread calls
 * this every retention_check_interval_ms; tests may call it directly). */
void rn_engine_enforce_retention(rn_engine *e, int64_t now_ms);

#endif
