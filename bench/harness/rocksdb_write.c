/* bench/harness/rocksdb_write.c: the storage limit for workload 2: raw RocksDB writes
 * of the same bytes with runnel's log-family options (blob files, min_blob_size 512,
 * 256 MiB blob files, no compression, 64 MiB write buffer; increase_parallelism(2),
 * max_background_jobs 4). Keys as runnel's: partition id then base offset, both
 * big-endian, PARTITIONS partitions round robin; each value is one VALUE_BYTES
 * "record batch"; values go in write batches of BATCH_BYTES, with the WAL, each write
 * fsynced when SYNC is 1 (runnel log.flush.sync=true syncs the WAL per produce request).
 * THREADS writers share the partitions and the bytes, so RocksDB can group their commits
 * and overlap one writer's copying with another's fsync, as the broker's threads do.
 *
 *   rocksdb_write DIR TOTAL_BYTES VALUE_BYTES BATCH_BYTES PARTITIONS SYNC THREADS
 *
 * Prints "result records=<values> bytes= seconds= rate= mbps=" (ingest only). */
#include <pthread.h>

#include <rocksdb/c.h>

#include "common.h"

static void check(char *err, const char *what) {
    if (err) bench_die(what, err);
}

static void be(unsigned char *p, uint64_t v, int n) {
    for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

typedef struct {
    rocksdb_t *db;
    rocksdb_writeoptions_t *wo;
    long long bytes, value, batch, partitions, first, step, values;
} writer;

static void *write_share(void *arg) {
    writer *w = arg;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    char *buf = malloc((size_t)w->value * 2);
    uint64_t *next_offset = calloc((size_t)w->partitions, sizeof *next_offset);
    if (!buf || !next_offset) abort();
    bench_fill(buf, (size_t)w->value * 2);
    long long per_value_records = w->value >= 1024 ? w->value / 1024 : 1, written = 0, in_batch = 0, i = 0;
    char *err = NULL;
    while (written < w->bytes) {
        long long p = w->first + (i++ % ((w->partitions - w->first + w->step - 1) / w->step)) * w->step;
        unsigned char key[12];
        be(key, (uint64_t)p, 4);
        be(key + 4, next_offset[p], 8);
        next_offset[p] += (uint64_t)per_value_records;
        rocksdb_writebatch_put(wb, (const char *)key, sizeof key, buf + w->values % w->value, (size_t)w->value);
        w->values++, written += w->value, in_batch += w->value;
        if (in_batch >= w->batch || written >= w->bytes) {
            rocksdb_write(w->db, w->wo, wb, &err);
            check(err, "write");
            rocksdb_writebatch_clear(wb);
            in_batch = 0;
        }
    }
    rocksdb_writebatch_destroy(wb);
    free(buf);
    free(next_offset);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8)
        bench_die("usage", "rocksdb_write DIR TOTAL_BYTES VALUE_BYTES BATCH_BYTES PARTITIONS SYNC THREADS");
    const char *dir = argv[1];
    long long total = bench_arg(argv[2], "TOTAL_BYTES"), value = bench_arg(argv[3], "VALUE_BYTES"),
              batch = bench_arg(argv[4], "BATCH_BYTES"), partitions = bench_arg(argv[5], "PARTITIONS"),
              threads = bench_arg(argv[7], "THREADS");
    int sync = (int)bench_arg(argv[6], "SYNC");
    if (value < 1 || batch < value || partitions < 1 || threads < 1 || threads > partitions)
        bench_die("usage", "VALUE_BYTES >= 1, BATCH_BYTES >= VALUE_BYTES, 1 <= THREADS <= PARTITIONS");

    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_increase_parallelism(o, 2);
    rocksdb_options_set_max_background_jobs(o, 4);
    rocksdb_options_set_enable_blob_files(o, 1);
    rocksdb_options_set_min_blob_size(o, 512);
    rocksdb_options_set_blob_file_size(o, 256ull << 20);
    rocksdb_options_set_enable_blob_gc(o, 1);
    rocksdb_options_set_compression(o, rocksdb_no_compression);
    rocksdb_options_set_write_buffer_size(o, 64u << 20);
    char *err = NULL;
    rocksdb_t *db = rocksdb_open(o, dir, &err);
    check(err, "open");
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, (unsigned char)sync);

    writer *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!ws || !th) abort();
    int64_t t0 = bench_now_ns();
    for (long long t = 0; t < threads; t++) {
        ws[t] = (writer){db, wo, total / threads, value, batch, partitions, t, threads, 0};
        pthread_create(&th[t], NULL, write_share, &ws[t]);
    }
    long long values = 0, written = 0;
    for (long long t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        values += ws[t].values, written += ws[t].values * value;
    }
    bench_print_rate(values, written, bench_now_ns() - t0);
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    free(ws);
    free(th);
    return 0;
}
