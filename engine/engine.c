/* engine/engine.c: the engine: opening the store and loading what it holds, the topic
 * operations (create, delete, grow, configs) as metadata writes, producer ids, the
 * retention thread.
 *
 *   meta: "cluster_id"              -> 22 characters
 *         "c.next_partition_id"     -> BE32 (partition ids are never reused)
 *         "c.producer_id_block"     -> BE64 end of the handed-out producer id block
 *         "c.log_column_families"   -> BE32, fixed when the data dir is created
 *         't' + topic name          -> the topic's record (topic.h)
 *         'p' + partition id BE32   -> log start BE64, leader epoch BE32 (log.h)
 *         'e' + partition id BE32 + epoch BE32 -> its start offset BE64 (replica.h)
 *         'a' + ...                 -> an ACL binding (acl.c)
 *
 * Metadata changes are serialised by meta_lock and written before the registry shows
 * them; readers only take the registry's read lock. */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "durable.h"
#include "group.h"
#include "log.h"
#include "processor_internal.h"
#include "rnlog.h"
#include "store.h"
#include "topic.h"
#include "topic_config.h"

#define RN_MAX_PARTITIONS 100000
#define RN_PRODUCER_ID_BLOCK 1000

struct rn_engine {
    rn_engine_options opts;
    rn_store *store;
    int log_cfs;
    char cluster_id[32];
    pthread_rwlock_t lock;    /* topics */
    rn_topic_registry topics; /* live topics */
    rn_topic *dead;           /* deleted topics: their partitions live until close */
    pthread_mutex_t meta_lock;
    uint32_t next_partition_id;
    int64_t next_producer_id, producer_block_end;
    rn_coordinator *coordinator;
    rn_acls *acls;
    rn_durable *durable; /* the sync thread: fsyncs (log.flush.sync), holds replicated waits */
    pthread_t retention_thread;
    bool retention_running, stopping;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
};

static const char KEY_CLUSTER_ID[] = "cluster_id";
static const char KEY_NEXT_PARTITION[] = "c.next_partition_id";
static const char KEY_PRODUCER_BLOCK[] = "c.producer_id_block";
static const char KEY_LOG_FAMILIES[] = "c.log_column_families";

/* The source topic of a view, or NULL for an ordinary topic. */
static const char *view_source(const rn_topic *t) {
    const char *v = rn_topic_configs_get(&t->configs, "view.of");
    return v && v[0] ? v : NULL;
}

static void partition_free(rn_partition *p) {
    if (!p) return;
    rn_log_free(p);
    free(p);
}

/* A new partition object (not yet in any topic); log_start and epoch from meta. fresh:
 * being created now, so nothing is stored under its id and there is nothing to recover. */
static rn_partition *partition_new(rn_engine *e, rn_topic *t, int32_t index, uint32_t id,
                                   int64_t log_start, int32_t leader_epoch, bool fresh) {
    rn_partition *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->store = e->store;
    p->cf = RN_CF_LOG0 + (int)(id % (uint32_t)e->log_cfs);
    p->id = id;
    p->index = index;
    p->topic = strdup(t->name);
    p->node_id = e->opts.node_id;
    p->durable = e->durable;
    p->flush_sync = e->opts.flush_sync;
    p->tail_max_bytes = e->opts.tail_cache_bytes;
    p->settings = t->settings;
    p->log_start_offset = log_start;
    p->leader_epoch = leader_epoch;
    if (!p->topic) {
        free(p);
        return NULL;
    }
    if (fresh) {
        rn_log_init_new(p);
    } else if (rn_log_open(p) != RN_KAFKA_NONE) {
        rn_log_free(p);
        free(p);
        return NULL;
    }
    /* In a cluster a partition is served only once the cluster agent gave it a role. */
    if (e->opts.replicated) p->repl.stopped = true;
    return p;
}

/* A topic from its meta record, with its partitions recovered from the store. */
static rn_topic *topic_load(rn_engine *e, const char *name, const uint8_t *v, size_t len) {
    rn_topic *t;
    uint32_t *ids;
    int32_t n;
    if (rn_topic_decode(name, v, len, RN_MAX_PARTITIONS, &t, &ids, &n)) goto err;
    rn_topic_config_resolve(&t->configs, &e->opts, &t->settings);
    for (int32_t i = 0; i < n; i++) {
        uint8_t mk[5];
        rn_log_meta_key(ids[i], mk);
        char *mv = NULL;
        size_t ml = 0;
        int64_t start = 0;
        int32_t epoch = 0;
        if (rn_store_get(e->store, RN_CF_META, mk, sizeof mk, &mv, &ml)) goto err;
        if (mv && ml == 12) {
            start = (int64_t)rn_key_get64((uint8_t *)mv);
            epoch = (int32_t)rn_key_get32((uint8_t *)mv + 8);
        }
        free(mv);
        t->parts[i] = partition_new(e, t, i, ids[i], start, epoch, false);
        if (!t->parts[i]) goto err;
        t->npart = i + 1;
    }
    free(ids);
    return t;
err:
    rn_log_error("topic '%s': unreadable metadata", name);
    free(ids); /* decode leaves NULLs when it fails */
    rn_topic_free(t);
    return NULL;
}

/* ---- open and close ----------------------------------------------------------------- */

static void make_cluster_id(char out[32]) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t r[16];
    if (getrandom(r, sizeof r, 0) != sizeof r)
        for (int i = 0; i < 16; i++) r[i] = (uint8_t)(rand() ^ time(NULL));
    int o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 16; i++) {
        acc = (acc << 8) | r[i];
        bits += 8;
        while (bits >= 6) {
            out[o++] = b64[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits) out[o++] = b64[(acc << (6 - bits)) & 63];
    out[o] = 0;
}

static void *retention_main(void *arg);

static rn_err load_topics(rn_engine *e) {
    uint8_t lo[1] = {RN_TOPIC_KEY_LO}, hi[1] = {RN_TOPIC_KEY_HI};
    rn_store_iter *it = rn_store_iter_new(e->store, RN_CF_META, lo, 1, hi, 1);
    if (!it) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    for (rn_store_iter_seek(it, lo, 1); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = rn_store_iter_key(it, &kl);
        const uint8_t *v = rn_store_iter_value(it, &vl);
        char name[256];
        if (rn_topic_key_name(k, kl, name)) continue;
        rn_topic *t = topic_load(e, name, v, vl);
        if (!t || rn_topic_insert(&e->topics, t)) {
            rn_topic_free(t);
            err = RN_KAFKA_KAFKA_STORAGE_ERROR;
            break;
        }
    }
    if (!err) err = rn_store_iter_status(it);
    rn_store_iter_free(it);
    return err;
}

static rn_err read_counter(rn_engine *e, const char *key, uint64_t *v, int width) {
    char *val = NULL;
    size_t len = 0;
    rn_err err = rn_store_get(e->store, RN_CF_META, key, strlen(key), &val, &len);
    if (err) return err;
    if (val && (int)len == width)
        *v = width == 4 ? rn_key_get32((uint8_t *)val) : rn_key_get64((uint8_t *)val);
    free(val);
    return RN_KAFKA_NONE;
}

rn_err rn_engine_open(const rn_engine_options *opts, rn_engine **out, char *errbuf,
                      size_t errlen) {
    rn_engine *e = calloc(1, sizeof *e);
    if (!e) return RN_ERR_NOMEM;
    e->opts = *opts;
    e->opts.data_dir = strdup(opts->data_dir);
    if (e->opts.tail_cache_bytes == 0) e->opts.tail_cache_bytes = 8u << 20;
    if (e->opts.default_partitions < 1) e->opts.default_partitions = 1;
    if (e->opts.default_max_message_bytes <= 0) e->opts.default_max_message_bytes = 1048588;
    pthread_rwlock_init(&e->lock, NULL);
    pthread_mutex_init(&e->meta_lock, NULL);
    pthread_mutex_init(&e->stop_lock, NULL);
    pthread_cond_init(&e->stop_cond, NULL);
    if (mkdir(opts->data_dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "cannot create %s: %s", opts->data_dir, strerror(errno));
        rn_engine_close(e);
        return RN_ERR_IO;
    }
    rn_err err = rn_store_open(opts->data_dir, opts->log_column_families,
                               opts->rocksdb_block_cache_bytes, &e->store, &e->log_cfs, errbuf,
                               errlen);
    if (err) {
        rn_engine_close(e);
        return err;
    }
    rn_store_set_min_free(e->store, opts->min_free_bytes);
    char *cid = NULL;
    size_t cl = 0;
    err = rn_store_get(e->store, RN_CF_META, KEY_CLUSTER_ID, strlen(KEY_CLUSTER_ID), &cid, &cl);
    if (!err && cid && cl > 0 && cl < sizeof e->cluster_id) {
        memcpy(e->cluster_id, cid, cl);
    } else if (!err) {
        make_cluster_id(e->cluster_id);
        rn_store_batch *b = rn_store_batch_new();
        rn_store_batch_put(b, e->store, RN_CF_META, KEY_CLUSTER_ID, strlen(KEY_CLUSTER_ID),
                           e->cluster_id, strlen(e->cluster_id));
        err = rn_store_write(e->store, b, true);
        rn_store_batch_free(b);
    }
    free(cid);
    uint64_t next_pid = 0, block = 0;
    if (!err) err = read_counter(e, KEY_NEXT_PARTITION, &next_pid, 4);
    if (!err) err = read_counter(e, KEY_PRODUCER_BLOCK, &block, 8);
    e->next_partition_id = (uint32_t)next_pid;
    /* Ids below the persisted block end may have been handed out before a crash. */
    e->next_producer_id = e->producer_block_end = (int64_t)block;
    /* Partition id mod the family count picks a partition's family, so the count is
     * fixed at creation: kept in meta, and it must agree with the families that exist. */
    uint64_t families = 0;
    if (!err) err = read_counter(e, KEY_LOG_FAMILIES, &families, 4);
    if (!err && families == 0) {
        uint8_t v[4];
        rn_key_put32(v, (uint32_t)e->log_cfs);
        rn_store_batch *b = rn_store_batch_new();
        rn_store_batch_put(b, e->store, RN_CF_META, KEY_LOG_FAMILIES, strlen(KEY_LOG_FAMILIES),
                           v, 4);
        err = rn_store_write(e->store, b, true);
        rn_store_batch_free(b);
    } else if (!err && families != (uint64_t)e->log_cfs) {
        rn_log_error("engine: %s has %d log column families but its metadata says %llu",
                     opts->data_dir, e->log_cfs, (unsigned long long)families);
        err = RN_KAFKA_KAFKA_STORAGE_ERROR;
    }
    /* Before the topics: partitions keep a pointer to it. Without log.flush.sync it only
     * holds replicated (acks=all) waits. */
    if (!err && !(e->durable = rn_durable_start(e->store, opts->flush_sync)))
        rn_log_warn("engine: no sync thread; produce waits for its own fsync");
    if (!err) err = load_topics(e);
    if (!err)
        err = rn_coordinator_open(e->store, e, &opts->groups, opts->flush_sync,
                                  opts->coordinator_thread, &e->coordinator);
    if (!err) err = rn_acls_open(e->store, &e->acls);
    if (err) {
        snprintf(errbuf, errlen, "cannot load metadata: %s", rn_err_message(err));
        rn_engine_close(e);
        return err;
    }
    if (opts->retention_check_interval_ms > 0) {
        if (pthread_create(&e->retention_thread, NULL, retention_main, e) == 0)
            e->retention_running = true;
    }
    rn_log_info("engine: %s opened: %d topics, %d log column families, cluster id %s",
                opts->data_dir, e->topics.n, e->log_cfs, e->cluster_id);
    *out = e;
    return RN_KAFKA_NONE;
}

void rn_engine_close(rn_engine *e) {
    if (!e) return;
    if (e->retention_running) {
        pthread_mutex_lock(&e->stop_lock);
        e->stopping = true;
        pthread_cond_signal(&e->stop_cond);
        pthread_mutex_unlock(&e->stop_lock);
        pthread_join(e->retention_thread, NULL);
    }
    rn_durable_stop(e->durable);
    rn_coordinator_close(e->coordinator);
    rn_acls_close(e->acls);
    rn_topic_registry_free(&e->topics);
    while (e->dead) {
        rn_topic *n = e->dead->next_dead;
        rn_topic_free(e->dead);
        e->dead = n;
    }
    rn_store_close(e->store);
    pthread_rwlock_destroy(&e->lock);
    pthread_mutex_destroy(&e->meta_lock);
    pthread_mutex_destroy(&e->stop_lock);
    pthread_cond_destroy(&e->stop_cond);
    free((char *)e->opts.data_dir);
    free(e);
}

const char *rn_engine_cluster_id(const rn_engine *e) { return e->cluster_id; }
/* For the processor runtime (processor_internal.h). */
rn_store *rn_engine_store(rn_engine *e) { return e->store; }
bool rn_engine_flush_sync(const rn_engine *e) { return e->opts.flush_sync; }

rn_coordinator *rn_engine_coordinator(rn_engine *e) { return e->coordinator; }
rn_acls *rn_engine_acls(rn_engine *e) { return e->acls; }

void rn_engine_when_durable(rn_engine *e, rn_durable_wait *w) {
    if (e->durable && (e->opts.flush_sync || w->replicated)) {
        rn_durable_add(e->durable, w);
        return;
    }
    w->next = NULL;
    rn_durable_serve(e->store, w); /* no thread: this caller waits */
}

void rn_engine_durable_cancel(rn_engine *e, rn_durable_wait *w) {
    if (e->durable) rn_durable_cancel(e->durable, w);
}

void rn_engine_storage_stats(rn_engine *e, rn_storage_stats *out) {
    out->memtable_bytes = rn_store_property_sum(e->store, "rocksdb.cur-size-all-mem-tables");
    out->pending_compaction_bytes =
        rn_store_property_sum(e->store, "rocksdb.estimate-pending-compaction-bytes");
    out->live_sst_bytes = rn_store_property_sum(e->store, "rocksdb.live-sst-files-size");
    out->blob_bytes = rn_store_property_sum(e->store, "rocksdb.total-blob-file-size");
    out->delayed_write_rate = rn_store_property(e->store, "rocksdb.actual-delayed-write-rate");
    out->write_stopped = rn_store_property(e->store, "rocksdb.is-write-stopped") != 0;
    out->free_bytes = rn_store_free_bytes(e->store);
    out->min_free_bytes = e->opts.min_free_bytes;
}

rn_err rn_engine_topic_hooks(rn_engine *e, const char *topic, rn_topic_hooks *out) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&e->lock);
    rn_topic *t = rn_topic_find(&e->topics, topic, NULL);
    rn_err err = t ? RN_KAFKA_NONE : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    if (t) {
        const char *sv = view_source(t);
        const rn_topic *src = sv ? rn_topic_find(&e->topics, sv, NULL) : t;
        out->partition_count = src ? src->npart : 0;
        out->max_message_bytes = t->settings.max_message_bytes;
    }
    const char *hooks[] = {"view.of", "partitioner.script", "produce.filter.script",
                           "view.filter.script"};
    bool any = false;
    for (size_t i = 0; t && i < sizeof hooks / sizeof hooks[0]; i++) {
        const char *v = rn_topic_configs_get(&t->configs, hooks[i]);
        if (v && v[0]) any = true;
    }
    if (t && any) {
        const rn_topic_configs *c = &t->configs;
        out->names = calloc((size_t)c->n + 1, sizeof *out->names);
        out->values = calloc((size_t)c->n + 1, sizeof *out->values);
        if (!out->names || !out->values) err = RN_ERR_NOMEM;
        for (int i = 0; !err && i < c->n; i++) {
            out->names[i] = strdup(c->names[i]);
            out->values[i] = strdup(c->values[i]);
            out->nconfigs = i + 1;
            if (!out->names[i] || !out->values[i]) err = RN_ERR_NOMEM;
        }
        const char *const *n = (const char *const *)out->names;
        for (int i = 0; !err && i < out->nconfigs; i++) {
            const char *v = out->values[i][0] ? out->values[i] : NULL;
            if (strcmp(n[i], "view.of") == 0) out->view_of = v;
            else if (strcmp(n[i], "partitioner.script") == 0) out->partitioner_script = v;
            else if (strcmp(n[i], "produce.filter.script") == 0) out->produce_filter_script = v;
            else if (strcmp(n[i], "view.filter.script") == 0) out->view_filter_script = v;
        }
    }
    pthread_rwlock_unlock(&e->lock);
    if (err) rn_topic_hooks_free(out);
    return err;
}

void rn_topic_hooks_free(rn_topic_hooks *h) {
    for (int i = 0; i < h->nconfigs; i++) {
        free(h->names[i]);
        free(h->values[i]);
    }
    free(h->names);
    free(h->values);
    memset(h, 0, sizeof *h);
}
int32_t rn_engine_node_id(const rn_engine *e) { return e->opts.node_id; }
int32_t rn_engine_default_partitions(const rn_engine *e) { return e->opts.default_partitions; }

/* ---- topics ------------------------------------------------------------------------- */

static void put_counter(rn_engine *e, rn_store_batch *b) {
    uint8_t v[4];
    rn_key_put32(v, e->next_partition_id);
    rn_store_batch_put(b, e->store, RN_CF_META, KEY_NEXT_PARTITION, strlen(KEY_NEXT_PARTITION),
                       v, 4);
}

#define ERRMSG(...)                                                                       \
    do {                                                                                  \
        if (errmsg) snprintf(errmsg, errlen, __VA_ARGS__);                                 \
    } while (0)

/* Scripts named by hook configs must load and define their function. */
static rn_err check_scripts(rn_engine *e, const char *const *names, const char *const *values,
                            int n, char *errmsg, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const char *fn = rn_topic_config_script_fn(names[i]);
        if (!fn || !values[i] || !values[i][0]) continue;
        if (!e->opts.script_check) {
            ERRMSG("%s: this broker runs no Lua plugin host", names[i]);
            return RN_KAFKA_INVALID_CONFIG;
        }
        char why[512];
        if (e->opts.script_check(e->opts.script_check_ctx, values[i], fn, why, sizeof why)) {
            ERRMSG("%s=%s: %s", names[i], values[i], why);
            return RN_KAFKA_INVALID_CONFIG;
        }
    }
    return RN_KAFKA_NONE;
}

/* A topic as CreateTopics asks (id NULL: a new random one) or as the cluster's metadata
 * image says (id given, partitions exact). */
static rn_err create_topic(rn_engine *e, const char *name, const uint8_t *id, int32_t partitions,
                           const rn_config_kv *configs, int nconfigs, bool validate_only,
                           char *errmsg, size_t errlen) {
    if (!rn_topic_name_valid(name, strlen(name))) {
        ERRMSG("topic name '%s' is not 1 to 249 characters of [a-zA-Z0-9._-] (nor '.' or '..')",
               name);
        return RN_KAFKA_INVALID_TOPIC_EXCEPTION;
    }
    if (partitions == -1 && !id) partitions = e->opts.default_partitions;
    if (partitions < 1 || partitions > RN_MAX_PARTITIONS) {
        ERRMSG("number of partitions must be from 1 to %d, not %d", RN_MAX_PARTITIONS, partitions);
        return RN_KAFKA_INVALID_PARTITIONS;
    }
    const char *view_of = NULL;
    for (int i = 0; i < nconfigs; i++) {
        rn_err err = rn_topic_config_check(configs[i].name, configs[i].value, errmsg, errlen);
        if (err) return err;
        if (strcmp(configs[i].name, "view.of") == 0 && configs[i].value && configs[i].value[0])
            view_of = configs[i].value;
        const char *nm[1] = {configs[i].name}, *vl[1] = {configs[i].value};
        if ((err = check_scripts(e, nm, vl, 1, errmsg, errlen))) return err;
    }
    pthread_mutex_lock(&e->meta_lock);
    pthread_rwlock_rdlock(&e->lock);
    bool exists = rn_topic_find(&e->topics, name, NULL) != NULL;
    const rn_topic *src = view_of ? rn_topic_find(&e->topics, view_of, NULL) : NULL;
    bool src_is_view = src && view_source(src);
    pthread_rwlock_unlock(&e->lock);
    rn_err err = RN_KAFKA_NONE;
    if (exists) {
        ERRMSG("topic '%s' already exists", name);
        err = RN_KAFKA_TOPIC_ALREADY_EXISTS;
    } else if (view_of && (!src || src_is_view)) {
        ERRMSG("view.of=%s: %s", view_of,
               !src ? "no such topic" : "a view cannot be the source of another view");
        err = RN_KAFKA_INVALID_CONFIG;
    } else if (view_of && strcmp(view_of, name) == 0) {
        ERRMSG("view.of: a topic cannot be a view of itself");
        err = RN_KAFKA_INVALID_CONFIG;
    }
    /* A view owns no partitions: it reads its source's. */
    if (view_of) partitions = 0;
    if (err || validate_only) {
        pthread_mutex_unlock(&e->meta_lock);
        return err;
    }
    rn_topic *t = calloc(1, sizeof *t);
    rn_store_batch *b = rn_store_batch_new();
    if (!t || !b || !(t->name = strdup(name)) ||
        !(t->parts = calloc((size_t)(partitions ? partitions : 1), sizeof *t->parts))) {
        err = RN_ERR_NOMEM;
        goto out;
    }
    if (id)
        memcpy(t->id, id, sizeof t->id);
    else if (getrandom(t->id, sizeof t->id, 0) != sizeof t->id)
        memset(t->id, 0x5a, sizeof t->id);
    for (int i = 0; i < nconfigs; i++)
        if (configs[i].value && rn_topic_configs_set(&t->configs, configs[i].name, configs[i].value)) {
            err = RN_ERR_NOMEM;
            goto out;
        }
    rn_topic_config_resolve(&t->configs, &e->opts, &t->settings);
    for (int32_t i = 0; i < partitions; i++) {
        t->parts[i] = partition_new(e, t, i, e->next_partition_id + (uint32_t)i, 0, 0, true);
        if (!t->parts[i]) {
            err = RN_ERR_NOMEM;
            goto out;
        }
        t->npart = i + 1;
        rn_log_put_meta(t->parts[i], b);
    }
    e->next_partition_id += (uint32_t)partitions;
    put_counter(e, b);
    if ((err = rn_topic_put(e->store, b, t))) goto out;
    if ((err = rn_store_write(e->store, b, true))) goto out;
    pthread_rwlock_wrlock(&e->lock);
    if (rn_topic_insert(&e->topics, t)) err = RN_ERR_NOMEM;
    pthread_rwlock_unlock(&e->lock);
    if (!err) {
        if (view_of) rn_log_info("created topic '%s', a view of '%s'", name, view_of);
        else rn_log_info("created topic '%s' with %d partitions", name, partitions);
        t = NULL;
    }
out:
    rn_topic_free(t);
    rn_store_batch_free(b);
    pthread_mutex_unlock(&e->meta_lock);
    if (err < 0) ERRMSG("%s", rn_err_message(err));
    return err;
}

rn_err rn_engine_create_topic(rn_engine *e, const char *name, int32_t partitions,
                              const rn_config_kv *configs, int nconfigs, bool validate_only,
                              char *errmsg, size_t errlen) {
    return create_topic(e, name, NULL, partitions, configs, nconfigs, validate_only, errmsg,
                        errlen);
}

rn_err rn_engine_create_topic_with_id(rn_engine *e, const char *name, const uint8_t id[16],
                                      int32_t partitions, const rn_config_kv *configs,
                                      int nconfigs, char *errmsg, size_t errlen) {
    return create_topic(e, name, id, partitions, configs, nconfigs, false, errmsg, errlen);
}

rn_err rn_engine_delete_topic(rn_engine *e, const char *name) {
    pthread_mutex_lock(&e->meta_lock);
    pthread_rwlock_wrlock(&e->lock);
    rn_topic *t = rn_topic_remove(&e->topics, name);
    if (t) {
        t->next_dead = e->dead;
        e->dead = t;
    }
    pthread_rwlock_unlock(&e->lock);
    if (!t) {
        pthread_mutex_unlock(&e->meta_lock);
        return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    }
    rn_store_batch *b = rn_store_batch_new();
    rn_topic_put_delete(e->store, b, t);
    for (int32_t i = 0; i < t->npart; i++) rn_log_mark_deleted(t->parts[i]);
    /* Ids were handed out in runs (one per create); one set of ranges per run. */
    for (int32_t i = 0; i < t->npart;) {
        int32_t j = i + 1;
        while (j < t->npart && t->parts[j]->id == t->parts[j - 1]->id + 1) j++;
        rn_log_delete_ids(e->store, e->log_cfs, t->parts[i]->id, t->parts[j - 1]->id + 1, b);
        i = j;
    }
    rn_err err = rn_store_write(e->store, b, true);
    rn_store_batch_free(b);
    pthread_mutex_unlock(&e->meta_lock);
    if (!err) {
        rn_log_info("deleted topic '%s'", name);
        rn_coordinator_topic_deleted(e->coordinator, name);
    }
    return err;
}

rn_err rn_engine_create_partitions(rn_engine *e, const char *name, int32_t new_total,
                                   bool validate_only, char *errmsg, size_t errlen) {
    pthread_mutex_lock(&e->meta_lock);
    pthread_rwlock_rdlock(&e->lock);
    rn_topic *t = rn_topic_find(&e->topics, name, NULL);
    int32_t current = t ? t->npart : 0;
    bool is_view = t && view_source(t);
    pthread_rwlock_unlock(&e->lock);
    rn_err err = RN_KAFKA_NONE;
    rn_partition **parts = NULL;
    rn_store_batch *b = NULL;
    int32_t made = 0;
    if (!t) {
        ERRMSG("topic '%s' does not exist", name);
        err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (is_view) {
        ERRMSG("topic '%s' is a view: it has its source's partitions", name);
        err = RN_KAFKA_INVALID_PARTITIONS;
    } else if (new_total <= current) {
        ERRMSG("topic '%s' has %d partitions already; the count can only grow", name, current);
        err = RN_KAFKA_INVALID_PARTITIONS;
    } else if (new_total > RN_MAX_PARTITIONS) {
        ERRMSG("at most %d partitions", RN_MAX_PARTITIONS);
        err = RN_KAFKA_INVALID_PARTITIONS;
    }
    if (err || validate_only) goto out;
    parts = calloc((size_t)new_total, sizeof *parts);
    b = rn_store_batch_new();
    if (!parts || !b) {
        err = RN_ERR_NOMEM;
        goto out;
    }
    memcpy(parts, t->parts, (size_t)current * sizeof *parts);
    for (int32_t i = current; i < new_total; i++) {
        parts[i] = partition_new(e, t, i, e->next_partition_id + (uint32_t)(i - current), 0, 0, true);
        if (!parts[i]) {
            err = RN_ERR_NOMEM;
            goto out;
        }
        made++;
        rn_log_put_meta(parts[i], b);
    }
    {
        /* Encode the grown topic before publishing it. */
        rn_topic grown = *t;
        grown.parts = parts;
        grown.npart = new_total;
        if ((err = rn_topic_put(e->store, b, &grown))) goto out;
    }
    e->next_partition_id += (uint32_t)(new_total - current);
    put_counter(e, b);
    if ((err = rn_store_write(e->store, b, true))) {
        e->next_partition_id -= (uint32_t)(new_total - current);
        goto out;
    }
    pthread_rwlock_wrlock(&e->lock);
    rn_partition **old = t->parts;
    t->parts = parts;
    t->npart = new_total;
    pthread_rwlock_unlock(&e->lock);
    free(old);
    parts = NULL;
    made = 0;
    rn_log_info("topic '%s' now has %d partitions", name, new_total);
out:
    for (int32_t i = 0; i < made; i++) partition_free(parts[current + i]);
    free(parts);
    rn_store_batch_free(b);
    pthread_mutex_unlock(&e->meta_lock);
    return err;
}

static int meta_cmp(const void *a, const void *b) {
    return strcmp(((const rn_topic_meta *)a)->name, ((const rn_topic_meta *)b)->name);
}

rn_err rn_engine_topics(rn_engine *e, const char *const *names, int nnames,
                        rn_topic_meta **out, int *count) {
    *out = NULL;
    *count = 0;
    pthread_rwlock_rdlock(&e->lock);
    int cap = names ? nnames : e->topics.n;
    rn_topic_meta *v = calloc((size_t)(cap ? cap : 1), sizeof *v);
    int n = 0;
    rn_err err = v ? RN_KAFKA_NONE : RN_ERR_NOMEM;
    for (int i = 0; !err && i < cap; i++) {
        const rn_topic *t = names ? rn_topic_find(&e->topics, names[i], NULL) : e->topics.v[i];
        if (!t) continue;
        if (rn_topic_snapshot(t, &v[n++])) err = RN_ERR_NOMEM;
        const char *sv = view_source(t);
        const rn_topic *src = sv ? rn_topic_find(&e->topics, sv, NULL) : NULL;
        if (!err && src) { /* a view shows its source's partitions */
            rn_topic_meta sm;
            if (rn_topic_snapshot(src, &sm)) {
                err = RN_ERR_NOMEM;
            } else {
                free(v[n - 1].partitions);
                v[n - 1].partitions = sm.partitions;
                v[n - 1].partition_count = sm.partition_count;
                free(sm.name);
            }
        }
    }
    pthread_rwlock_unlock(&e->lock);
    if (err) {
        rn_topic_meta_free(v, n);
        return err;
    }
    qsort(v, (size_t)n, sizeof *v, meta_cmp);
    int kept = 0; /* a name asked for twice: once (sorted, so duplicates are neighbours) */
    for (int i = 0; i < n; i++) {
        if (kept && strcmp(v[kept - 1].name, v[i].name) == 0) {
            free(v[i].name);
            free(v[i].partitions);
            continue;
        }
        v[kept++] = v[i];
    }
    *out = v;
    *count = kept;
    return RN_KAFKA_NONE;
}

/* ---- configs ------------------------------------------------------------------------ */

rn_err rn_engine_describe_topic_configs(rn_engine *e, const char *topic, rn_config_entry **out,
                                        int *count) {
    pthread_rwlock_rdlock(&e->lock);
    rn_topic *t = rn_topic_find(&e->topics, topic, NULL);
    rn_err err = t ? rn_topic_config_describe(&t->configs, &e->opts, out, count)
                   : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    pthread_rwlock_unlock(&e->lock);
    return err;
}

rn_err rn_engine_alter_topic_configs(rn_engine *e, const char *topic,
                                     const rn_config_alter *ops, int nops, bool incremental,
                                     bool validate_only, char *errmsg, size_t errlen) {
    pthread_mutex_lock(&e->meta_lock);
    pthread_rwlock_rdlock(&e->lock);
    rn_topic *t = rn_topic_find(&e->topics, topic, NULL);
    rn_topic_configs next = {0};
    rn_err err = RN_KAFKA_NONE;
    if (!t) {
        ERRMSG("topic '%s' does not exist", topic);
        err = RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (incremental && rn_topic_configs_copy(&next, &t->configs)) {
        err = RN_ERR_NOMEM;
    }
    pthread_rwlock_unlock(&e->lock);
    /* All ops on a working copy: one bad value changes nothing. */
    if (!err) err = rn_topic_configs_apply(&next, ops, nops, incremental, errmsg, errlen);
    if (!err) {
        pthread_rwlock_rdlock(&e->lock);
        const char *was = t ? rn_topic_configs_get(&t->configs, "view.of") : NULL;
        const char *now = rn_topic_configs_get(&next, "view.of");
        bool changed = !((!was || !was[0]) && (!now || !now[0])) &&
                       !(was && now && strcmp(was, now) == 0);
        pthread_rwlock_unlock(&e->lock);
        if (changed) {
            ERRMSG("view.of can only be given when the topic is created");
            err = RN_KAFKA_INVALID_CONFIG;
        }
    }
    if (!err)
        err = check_scripts(e, (const char *const *)next.names, (const char *const *)next.values,
                            next.n, errmsg, errlen);
    if (err || validate_only) goto out;
    rn_store_batch *b = rn_store_batch_new();
    rn_topic staged = *t;
    staged.configs = next;
    err = rn_topic_put(e->store, b, &staged);
    if (!err) err = rn_store_write(e->store, b, true);
    rn_store_batch_free(b);
    if (err) goto out;
    pthread_rwlock_wrlock(&e->lock);
    rn_topic_configs old = t->configs;
    t->configs = next;
    rn_topic_config_resolve(&t->configs, &e->opts, &t->settings);
    for (int32_t i = 0; i < t->npart; i++) rn_log_set_settings(t->parts[i], &t->settings);
    pthread_rwlock_unlock(&e->lock);
    memset(&next, 0, sizeof next);
    rn_topic_configs_free(&old);
    rn_log_info("topic '%s': configs changed", topic);
out:
    rn_topic_configs_free(&next);
    pthread_mutex_unlock(&e->meta_lock);
    return err;
}

/* ---- partitions and producers ------------------------------------------------------- */

rn_partition *rn_engine_partition(rn_engine *e, const char *topic, int32_t index, rn_err *err) {
    pthread_rwlock_rdlock(&e->lock);
    rn_topic *t = rn_topic_find(&e->topics, topic, NULL);
    const char *sv = t ? view_source(t) : NULL;
    if (sv) t = rn_topic_find(&e->topics, sv, NULL);
    rn_partition *p = t && index >= 0 && index < t->npart ? t->parts[index] : NULL;
    pthread_rwlock_unlock(&e->lock);
    *err = p ? RN_KAFKA_NONE : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    return p;
}

rn_err rn_engine_init_producer_id(rn_engine *e, int64_t *producer_id, int16_t *producer_epoch) {
    pthread_mutex_lock(&e->meta_lock);
    rn_err err = RN_KAFKA_NONE;
    if (e->next_producer_id >= e->producer_block_end) {
        /* Persist the end of a new block before handing out any id from it. */
        int64_t end = e->producer_block_end + RN_PRODUCER_ID_BLOCK;
        uint8_t v[8];
        rn_key_put64(v, (uint64_t)end);
        rn_store_batch *b = rn_store_batch_new();
        rn_store_batch_put(b, e->store, RN_CF_META, KEY_PRODUCER_BLOCK,
                           strlen(KEY_PRODUCER_BLOCK), v, 8);
        err = rn_store_write(e->store, b, true);
        rn_store_batch_free(b);
        if (!err) e->producer_block_end = end;
    }
    if (!err) {
        *producer_id = e->next_producer_id++;
        /* In a cluster every broker hands out ids, and a producer's id must mean one
         * producer on every replica: the broker's id goes in the high half. */
        if (e->opts.replicated) *producer_id |= (int64_t)e->opts.node_id << 32;
        *producer_epoch = 0;
    }
    pthread_mutex_unlock(&e->meta_lock);
    return err;
}

/* ---- retention ---------------------------------------------------------------------- */

void rn_engine_enforce_retention(rn_engine *e, int64_t now_ms) {
    pthread_rwlock_rdlock(&e->lock);
    int n = 0;
    for (int i = 0; i < e->topics.n; i++) n += e->topics.v[i]->npart;
    rn_partition **ps = malloc((size_t)(n ? n : 1) * sizeof *ps);
    int k = 0;
    for (int i = 0; ps && i < e->topics.n; i++)
        for (int32_t j = 0; j < e->topics.v[i]->npart; j++) ps[k++] = e->topics.v[i]->parts[j];
    pthread_rwlock_unlock(&e->lock);
    /* Partitions live until close, so using them outside the lock is safe. */
    for (int i = 0; i < k; i++) rn_log_enforce_retention(ps[i], now_ms);
    free(ps);
}

static void *retention_main(void *arg) {
    rn_engine *e = arg;
    pthread_mutex_lock(&e->stop_lock);
    while (!e->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (e->opts.retention_check_interval_ms % 1000) * 1000000;
        until.tv_sec += e->opts.retention_check_interval_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&e->stop_cond, &e->stop_lock, &until);
        if (e->stopping) break;
        pthread_mutex_unlock(&e->stop_lock);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        rn_engine_enforce_retention(e, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        pthread_mutex_lock(&e->stop_lock);
    }
    pthread_mutex_unlock(&e->stop_lock);
    return NULL;
}
