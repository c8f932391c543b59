/* engine/store.h: the RocksDB boundary. Nothing else includes rocksdb/c.h. Column
 * families are named by enum; log families follow RN_CF_LOG0. Every RocksDB error
 * becomes RN_KAFKA_KAFKA_STORAGE_ERROR here, with a log line saying what failed. */
#ifndef RN_STORE_H
#define RN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum rn_cf {
    RN_CF_META = 0,      /* cluster id, topics, partitions, counters */
    RN_CF_INDEX = 1,     /* (partition id, base offset) -> last offset, max timestamp, size */
    RN_CF_TIMEINDEX = 2, /* (partition id, timestamp) -> offset, when the running max rises */
    RN_CF_PRODUCERS = 3, /* (partition id, producer id) -> idempotence state */
    RN_CF_GROUPS = 4,    /* group metadata and committed offsets (group_store.h) */
    RN_CF_PROCESSORS = 5, /* stream processors: definitions, positions, state, timers (processor.h) */
    RN_CF_LOG0 = 6,      /* log_0 .. log_{n-1}: (partition id, base offset) -> batch */
};

typedef struct rn_store rn_store;
typedef struct rn_store_batch rn_store_batch;
typedef struct rn_store_iter rn_store_iter;

/* Open or create. log_cfs is used when creating; an existing database keeps the log
 * families it has (*log_cfs_out says how many). */
rn_err rn_store_open(const char *dir, int log_cfs, size_t block_cache_bytes, rn_store **out,
                     int *log_cfs_out, char *err, size_t errlen);
void rn_store_close(rn_store *s);

rn_store_batch *rn_store_batch_new(void);
void rn_store_batch_free(rn_store_batch *b);
void rn_store_batch_put(rn_store_batch *b, rn_store *s, int cf, const void *k, size_t kl,
                        const void *v, size_t vl);
void rn_store_batch_delete(rn_store_batch *b, rn_store *s, int cf, const void *k, size_t kl);
void rn_store_batch_delete_range(rn_store_batch *b, rn_store *s, int cf, const void *start,
                                 size_t sl, const void *end, size_t el);
/* Apply atomically; sync fsyncs the WAL first. */
rn_err rn_store_write(rn_store *s, rn_store_batch *b, bool sync);
/* Make everything written before the call durable (WAL fsync). Group-committed: callers
 * whose writes a running or finished fsync covers share it instead of queueing their
 * own, so call it outside any lock. */
rn_err rn_store_sync_wal(rn_store *s);

/* Free space on the database's filesystem: appends are refused (KAFKA_STORAGE_ERROR)
 * while it is below min_free (log.dir.min.free.bytes), so RocksDB never runs out of space
 * mid-write (which stops it until a restart) and writes resume by themselves when space
 * returns. The figure is read at most every 100 ms. 0 disables the check. */
void rn_store_set_min_free(rn_store *s, uint64_t min_free);
bool rn_store_space_ok(rn_store *s);
uint64_t rn_store_free_bytes(rn_store *s);

/* A RocksDB integer property ("rocksdb.cur-size-all-mem-tables"...) summed over every
 * column family, or of the database; 0 when RocksDB does not know it. */
uint64_t rn_store_property_sum(rn_store *s, const char *prop);
uint64_t rn_store_property(rn_store *s, const char *prop);

/* *val is malloc'd (caller frees) or NULL when the key is absent. */
rn_err rn_store_get(rn_store *s, int cf, const void *k, size_t kl, char **val, size_t *vl);

/* An iterator bounded to [lower, upper) (bounds copied; at most 1100 bytes each, NULL for
 * longer bounds or when out of memory). */
rn_store_iter *rn_store_iter_new(rn_store *s, int cf, const void *lower, size_t ll,
                                 const void *upper, size_t ul);
void rn_store_iter_seek(rn_store_iter *it, const void *k, size_t kl);
void rn_store_iter_seek_for_prev(rn_store_iter *it, const void *k, size_t kl);
void rn_store_iter_seek_last(rn_store_iter *it);
bool rn_store_iter_valid(rn_store_iter *it);
void rn_store_iter_next(rn_store_iter *it);
const uint8_t *rn_store_iter_key(rn_store_iter *it, size_t *kl);
const uint8_t *rn_store_iter_value(rn_store_iter *it, size_t *vl);
/* RN_KAFKA_KAFKA_STORAGE_ERROR if iteration stopped on an error. */
rn_err rn_store_iter_status(rn_store_iter *it);
void rn_store_iter_free(rn_store_iter *it);

/* Big-endian key helpers: byte order is sort order. */
static inline void rn_key_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void rn_key_put64(uint8_t *p, uint64_t v) {
    rn_key_put32(p, (uint32_t)(v >> 32));
    rn_key_put32(p + 4, (uint32_t)v);
}
static inline uint32_t rn_key_get32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rn_key_get64(const uint8_t *p) {
    return ((uint64_t)rn_key_get32(p) << 32) | rn_key_get32(p + 4);
}

/* The smallest key above every key that starts with prefix[0..len), written to buf (len
 * bytes at most): the exclusive upper bound of a prefix scan. Returns its length; 0 when
 * there is none (the prefix is all 0xff bytes). */
size_t rn_key_prefix_end(uint8_t *buf, const uint8_t *prefix, size_t len);

#endif
