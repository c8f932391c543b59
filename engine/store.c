/* engine/store.c: RocksDB behind a small C interface: one database, a fixed set of
 * column families, write batches, bounded iterators, group-committed WAL syncs. Log
 * families keep record batches in blob files (MEASURED.md: 2.6x the ingest of plain SSTs
 * and 2.5x less write amplification for these values).
 *
 * Invariant of the WAL sync: synced_seq is a sequence number such that every write with
 * a sequence at or below it is on disk; at most one thread syncs at a time and the
 * others wait for it when its sync covers their writes. */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/statvfs.h>
#include <time.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnlog.h"

#define RN_STORE_MAX_CF 80
#define RN_STORE_BOUND_MAX 1100 /* log keys need 12 bytes; group keys carry a group id (<= 1024) */

struct rn_store {
    rocksdb_t *db;
    rocksdb_options_t *db_opts;
    rocksdb_options_t *cf_opts[RN_STORE_MAX_CF];
    rocksdb_column_family_handle_t *cf[RN_STORE_MAX_CF];
    int ncf;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *table;
    rocksdb_writeoptions_t *wo_sync, *wo_nosync;
    rocksdb_readoptions_t *ro;

    char *dir;
    _Atomic uint64_t min_free, free_bytes;
    _Atomic int64_t free_checked_us;
    atomic_bool space_low;

    pthread_mutex_t sync_lock;
    pthread_cond_t sync_done;
    bool syncing;
    uint64_t synced_seq;
};

struct rn_store_batch {
    rocksdb_writebatch_t *wb;
};

struct rn_store_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro;
    char lower[RN_STORE_BOUND_MAX], upper[RN_STORE_BOUND_MAX]; /* RocksDB keeps pointers */
};

static const char *const fixed_cf_names[] = {"meta", "index", "timeindex", "producers", "groups",
                                             "processors"};

static rn_err storage_error(const char *what, char *msg) {
    rn_log_error("storage: %s: %s", what, msg ? msg : "?");
    free(msg);
    return RN_KAFKA_KAFKA_STORAGE_ERROR;
}

static rocksdb_options_t *family_options(rn_store *s, bool log) {
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_block_based_table_factory(o, s->table);
    if (log) {
        rocksdb_options_set_enable_blob_files(o, 1);
        rocksdb_options_set_min_blob_size(o, 512);
        rocksdb_options_set_blob_file_size(o, 256ull << 20);
        rocksdb_options_set_enable_blob_gc(o, 1);
        /* Batches arrive compressed by producers as often as not; RocksDB does not
         * compress them again. */
        rocksdb_options_set_compression(o, rocksdb_no_compression);
        rocksdb_options_set_write_buffer_size(o, 64u << 20);
    } else {
        rocksdb_options_set_compression(o, rocksdb_lz4_compression);
    }
    return o;
}

rn_err rn_store_open(const char *dir, int log_cfs, size_t block_cache_bytes, rn_store **out,
                     int *log_cfs_out, char *err, size_t errlen) {
    rn_store *s = calloc(1, sizeof *s);
    if (!s) return RN_ERR_NOMEM;
    if (!(s->dir = strdup(dir))) {
        free(s);
        return RN_ERR_NOMEM;
    }
    pthread_mutex_init(&s->sync_lock, NULL);
    pthread_cond_init(&s->sync_done, NULL);
    s->cache = rocksdb_cache_create_lru(block_cache_bytes ? block_cache_bytes : (8u << 20));
    s->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(s->table, s->cache);
    s->db_opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->db_opts, 1);
    rocksdb_options_set_create_missing_column_families(s->db_opts, 1);
    rocksdb_options_increase_parallelism(s->db_opts, 2);
    rocksdb_options_set_max_background_jobs(s->db_opts, 4);
    /* Without a cap, a small family's old memtable pins every WAL file since it was last
     * flushed: the data dir grows by everything produced and a restart replays it all.
     * Past 256 MiB of WAL RocksDB flushes the families that hold the oldest ones. */
    rocksdb_options_set_max_total_wal_size(s->db_opts, 256u << 20);

    /* The families that exist decide how many log families there are. */
    char *msg = NULL;
    size_t nexisting = 0;
    char **existing = rocksdb_list_column_families(s->db_opts, dir, &nexisting, &msg);
    free(msg); /* a missing database is not an error here */
    msg = NULL;
    int nlog = 0;
    for (size_t i = 0; existing && i < nexisting; i++)
        if (strncmp(existing[i], "log_", 4) == 0) nlog++;
    if (existing) rocksdb_list_column_families_destroy(existing, nexisting);
    if (nlog == 0) nlog = log_cfs < 1 ? 1 : log_cfs;
    if (nlog + RN_CF_LOG0 + 1 > RN_STORE_MAX_CF) nlog = RN_STORE_MAX_CF - RN_CF_LOG0 - 1;
    if (log_cfs > 0 && nlog != log_cfs)
        rn_log_warn("data.dir has %d log column families; log.column.families=%d applies only "
                    "to a new data dir",
                    nlog, log_cfs);

    /* "default" first (RocksDB insists it is opened), then ours. */
    char names_buf[RN_STORE_MAX_CF][16];
    const char *names[RN_STORE_MAX_CF];
    const rocksdb_options_t *opts[RN_STORE_MAX_CF];
    rocksdb_column_family_handle_t *handles[RN_STORE_MAX_CF];
    int n = 0;
    names[n] = "default";
    s->cf_opts[n] = family_options(s, false);
    opts[n] = s->cf_opts[n];
    n++;
    for (int i = 0; i < RN_CF_LOG0; i++, n++) {
        names[n] = fixed_cf_names[i];
        s->cf_opts[n] = family_options(s, false);
        opts[n] = s->cf_opts[n];
    }
    for (int i = 0; i < nlog; i++, n++) {
        snprintf(names_buf[n], sizeof names_buf[n], "log_%d", i);
        names[n] = names_buf[n];
        s->cf_opts[n] = family_options(s, true);
        opts[n] = s->cf_opts[n];
    }
    s->db = rocksdb_open_column_families(s->db_opts, dir, n, names, opts, handles, &msg);
    if (!s->db) {
        snprintf(err, errlen, "RocksDB open failed: %s", msg ? msg : "?");
        free(msg);
        s->ncf = n;
        memset(s->cf, 0, sizeof s->cf);
        rn_store_close(s);
        return RN_KAFKA_KAFKA_STORAGE_ERROR;
    }
    /* s->cf[i] is our family i (the default family is handles[0], kept at the end). */
    for (int i = 1; i < n; i++) s->cf[i - 1] = handles[i];
    s->cf[n - 1] = handles[0];
    s->ncf = n;
    s->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wo_sync, 1);
    s->wo_nosync = rocksdb_writeoptions_create();
    s->ro = rocksdb_readoptions_create();
    *log_cfs_out = nlog;
    *out = s;
    return RN_KAFKA_NONE;
}

uint64_t rn_store_property_sum(rn_store *s, const char *prop) {
    uint64_t total = 0;
    for (int i = 0; i < s->ncf; i++) {
        uint64_t v = 0;
        if (s->cf[i] && rocksdb_property_int_cf(s->db, s->cf[i], prop, &v) == 0) total += v;
    }
    return total;
}

uint64_t rn_store_property(rn_store *s, const char *prop) {
    uint64_t v = 0;
    return rocksdb_property_int(s->db, prop, &v) == 0 ? v : 0;
}

void rn_store_close(rn_store *s) {
    if (!s) return;
    if (s->db) {
        for (int i = 0; i < s->ncf; i++)
            if (s->cf[i]) rocksdb_column_family_handle_destroy(s->cf[i]);
        rocksdb_close(s->db);
    }
    for (int i = 0; i < s->ncf; i++)
        if (s->cf_opts[i]) rocksdb_options_destroy(s->cf_opts[i]);
    if (s->db_opts) rocksdb_options_destroy(s->db_opts);
    if (s->table) rocksdb_block_based_options_destroy(s->table);
    if (s->cache) rocksdb_cache_destroy(s->cache);
    if (s->wo_sync) rocksdb_writeoptions_destroy(s->wo_sync);
    if (s->wo_nosync) rocksdb_writeoptions_destroy(s->wo_nosync);
    if (s->ro) rocksdb_readoptions_destroy(s->ro);
    pthread_mutex_destroy(&s->sync_lock);
    pthread_cond_destroy(&s->sync_done);
    free(s->dir);
    free(s);
}

rn_store_batch *rn_store_batch_new(void) {
    rn_store_batch *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->wb = rocksdb_writebatch_create();
    return b;
}

void rn_store_batch_free(rn_store_batch *b) {
    if (!b) return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

void rn_store_batch_put(rn_store_batch *b, rn_store *s, int cf, const void *k, size_t kl,
                        const void *v, size_t vl) {
    rocksdb_writebatch_put_cf(b->wb, s->cf[cf], k, kl, v, vl);
}

void rn_store_batch_delete(rn_store_batch *b, rn_store *s, int cf, const void *k, size_t kl) {
    rocksdb_writebatch_delete_cf(b->wb, s->cf[cf], k, kl);
}

void rn_store_batch_delete_range(rn_store_batch *b, rn_store *s, int cf, const void *start,
                                 size_t sl, const void *end, size_t el) {
    rocksdb_writebatch_delete_range_cf(b->wb, s->cf[cf], start, sl, end, el);
}

rn_err rn_store_write(rn_store *s, rn_store_batch *b, bool sync) {
    char *msg = NULL;
    rocksdb_write(s->db, sync ? s->wo_sync : s->wo_nosync, b->wb, &msg);
    return msg ? storage_error("write", msg) : RN_KAFKA_NONE;
}

/* RocksDB's own SyncWAL makes concurrent callers queue and fsync one after another;
 * here a caller whose write is already covered by a finished or running sync shares it,
 * so N concurrent appenders pay about two fsyncs, not N. */
rn_err rn_store_sync_wal(rn_store *s) {
    uint64_t mine = rocksdb_get_latest_sequence_number(s->db); /* covers our write */
    rn_err err = RN_KAFKA_NONE;
    pthread_mutex_lock(&s->sync_lock);
    while (!err && s->synced_seq < mine) {
        if (s->syncing) {
            pthread_cond_wait(&s->sync_done, &s->sync_lock);
            continue;
        }
        s->syncing = true;
        pthread_mutex_unlock(&s->sync_lock);
        /* Everything up to target is in the WAL file, so the fsync makes it durable. */
        uint64_t target = rocksdb_get_latest_sequence_number(s->db);
        char *msg = NULL;
        rocksdb_flush_wal(s->db, 1, &msg);
        if (msg) err = storage_error("WAL sync", msg);
        pthread_mutex_lock(&s->sync_lock);
        s->syncing = false;
        if (!err && target > s->synced_seq) s->synced_seq = target;
        pthread_cond_broadcast(&s->sync_done);
    }
    pthread_mutex_unlock(&s->sync_lock);
    return err;
}

rn_err rn_store_get(rn_store *s, int cf, const void *k, size_t kl, char **val, size_t *vl) {
    char *msg = NULL;
    *val = rocksdb_get_cf(s->db, s->ro, s->cf[cf], k, kl, vl, &msg);
    return msg ? storage_error("get", msg) : RN_KAFKA_NONE;
}

rn_store_iter *rn_store_iter_new(rn_store *s, int cf, const void *lower, size_t ll,
                                 const void *upper, size_t ul) {
    if ((lower && ll > RN_STORE_BOUND_MAX) || (upper && ul > RN_STORE_BOUND_MAX)) return NULL;
    rn_store_iter *it = malloc(sizeof *it);
    if (!it) return NULL;
    it->ro = rocksdb_readoptions_create();
    if (lower) {
        memcpy(it->lower, lower, ll);
        rocksdb_readoptions_set_iterate_lower_bound(it->ro, it->lower, ll);
    }
    if (upper) {
        memcpy(it->upper, upper, ul);
        rocksdb_readoptions_set_iterate_upper_bound(it->ro, it->upper, ul);
    }
    it->it = rocksdb_create_iterator_cf(s->db, it->ro, s->cf[cf]);
    return it;
}

void rn_store_iter_seek(rn_store_iter *it, const void *k, size_t kl) {
    rocksdb_iter_seek(it->it, k, kl);
}
void rn_store_iter_seek_for_prev(rn_store_iter *it, const void *k, size_t kl) {
    rocksdb_iter_seek_for_prev(it->it, k, kl);
}
void rn_store_iter_seek_last(rn_store_iter *it) { rocksdb_iter_seek_to_last(it->it); }
bool rn_store_iter_valid(rn_store_iter *it) { return rocksdb_iter_valid(it->it) != 0; }
void rn_store_iter_next(rn_store_iter *it) { rocksdb_iter_next(it->it); }

const uint8_t *rn_store_iter_key(rn_store_iter *it, size_t *kl) {
    return (const uint8_t *)rocksdb_iter_key(it->it, kl);
}

const uint8_t *rn_store_iter_value(rn_store_iter *it, size_t *vl) {
    return (const uint8_t *)rocksdb_iter_value(it->it, vl);
}

rn_err rn_store_iter_status(rn_store_iter *it) {
    char *msg = NULL;
    rocksdb_iter_get_error(it->it, &msg);
    return msg ? storage_error("iterate", msg) : RN_KAFKA_NONE;
}

void rn_store_iter_free(rn_store_iter *it) {
    if (!it) return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}

size_t rn_key_prefix_end(uint8_t *buf, const uint8_t *prefix, size_t len) {
    memcpy(buf, prefix, len);
    while (len > 0) {
        if (buf[len - 1] != 0xFF) {
            buf[len - 1]++;
            return len;
        }
        len--;
    }
    return 0;
}

/* ---- free space ----------------------------------------------------------------------- */

void rn_store_set_min_free(rn_store *s, uint64_t min_free) { atomic_store(&s->min_free, min_free); }

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t rn_store_free_bytes(rn_store *s) {
    int64_t now = mono_us(), last = atomic_load(&s->free_checked_us);
    if (now - last >= 100000 && atomic_compare_exchange_strong(&s->free_checked_us, &last, now)) {
        struct statvfs st;
        if (statvfs(s->dir, &st) == 0)
            atomic_store(&s->free_bytes, (uint64_t)st.f_bavail * st.f_frsize);
    }
    return atomic_load(&s->free_bytes);
}

bool rn_store_space_ok(rn_store *s) {
    uint64_t min = atomic_load(&s->min_free);
    if (!min) return true;
    uint64_t free_now = rn_store_free_bytes(s);
    bool low = free_now < min, was = atomic_exchange(&s->space_low, low);
    if (low && !was)
        rn_log_error("storage: %llu bytes free on %s, below log.dir.min.free.bytes (%llu): "
                     "refusing produce until space returns",
                     (unsigned long long)free_now, s->dir, (unsigned long long)min);
    else if (!low && was)
        rn_log_info("storage: %llu bytes free on %s again: accepting produce",
                    (unsigned long long)free_now, s->dir);
    return !low;
}
