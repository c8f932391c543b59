/* net/produce_hooks.c: produce.filter.script then partitioner.script over every record of
 * a record set, and the regrouping into one pool of records per target partition (see
 * produce_hooks.h). Records keep the order they arrived in within each target. The
 * iterators over the input batches stay open until the new batches are built: kept
 * records point into their (possibly decompressed) bytes. */
#include "produce_hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define POOL_BATCH_BYTES (512u << 10) /* a new batch once a pool's records pass this */

typedef struct {
    rn_record *recs;
    int n, cap;
    size_t bytes;
} pool;

typedef struct {
    rn_hooked_set *out;
    size_t pool_batch_bytes; /* a pool becomes a batch once its records pass this */
    pool *pools; /* per target partition */
    int32_t npools;
    int codec;
    rn_batch_records **iters;
    int niters, iters_cap;
    rn_plugin_record_out *rewrites; /* owned memory of rewritten records */
    uint8_t **header_bufs;          /* their encoded headers */
    int nrewrites, rewrites_cap;
} hook_run;

int rn_hooks_plugin_record(const rn_record *rec, const char *topic, int32_t partition,
                           rn_plugin_header *hdrs, rn_plugin_record *out) {
    size_t pos = 0;
    int n = 0;
    for (; n < rec->header_count; n++) {
        int r = rn_record_header_next(rec, &pos, &hdrs[n].name, &hdrs[n].name_len, &hdrs[n].value,
                                      &hdrs[n].value_len);
        if (r <= 0) return -1;
    }
    *out = (rn_plugin_record){
        .topic = topic,
        .partition = partition,
        .offset = -1,
        .timestamp = rec->timestamp,
        .key = rec->key_len >= 0 ? rec->key : NULL,
        .key_len = rec->key_len,
        .value = rec->value_len >= 0 ? rec->value : NULL,
        .value_len = rec->value_len,
        .headers = hdrs,
        .nheaders = n,
    };
    return 0;
}

/* A rewritten record as an rn_record: its headers encoded the way batches carry them. */
static int record_from_rewrite(hook_run *h, const rn_plugin_record_out *o, rn_record *rec) {
    size_t cap = 1;
    for (int i = 0; i < o->rec.nheaders; i++)
        cap += RN_RECORD_HEADER_OVERHEAD + (size_t)o->rec.headers[i].name_len +
               (o->rec.headers[i].value_len > 0 ? (size_t)o->rec.headers[i].value_len : 0);
    uint8_t *buf = malloc(cap);
    if (!buf) return -1;
    size_t n = 0;
    for (int i = 0; i < o->rec.nheaders; i++) {
        const rn_plugin_header *hd = &o->rec.headers[i];
        n += rn_record_header_put(buf + n, hd->name, hd->name_len, hd->value, hd->value_len);
    }
    h->header_bufs[h->nrewrites - 1] = buf;
    *rec = (rn_record){
        .offset = 0,
        .timestamp = o->rec.timestamp,
        .key = o->rec.key,
        .key_len = o->rec.key ? o->rec.key_len : -1,
        .value = o->rec.value,
        .value_len = o->rec.value ? o->rec.value_len : -1,
        .header_count = o->rec.nheaders,
        .headers = buf,
        .headers_len = n,
    };
    return 0;
}

static rn_err flush_pool(hook_run *h, int32_t partition) {
    pool *p = &h->pools[partition];
    if (p->n == 0) return RN_KAFKA_NONE;
    for (int i = 0; i < p->n; i++) p->recs[i].offset = i;
    rn_batch_spec spec = {
        .base_offset = 0,
        .last_offset_delta = -1,
        .codec = h->codec,
        .producer_id = -1,
        .producer_epoch = -1,
        .base_sequence = -1,
        .partition_leader_epoch = -1,
    };
    rn_hooked_set *out = h->out;
    rn_hooked_batch *nb = realloc(out->batches, (size_t)(out->nbatches + 1) * sizeof *nb);
    if (!nb) return RN_ERR_NOMEM;
    out->batches = nb;
    rn_hooked_batch *b = &out->batches[out->nbatches];
    rn_err err = rn_batch_encode(&spec, p->recs, p->n, &b->batch, &b->len);
    if (err) return err;
    b->partition = partition;
    b->nrecords = p->n;
    out->nbatches++;
    p->n = 0;
    p->bytes = 0;
    return RN_KAFKA_NONE;
}

static rn_err pool_add(hook_run *h, int32_t partition, const rn_record *rec) {
    pool *p = &h->pools[partition];
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        rn_record *nr = realloc(p->recs, (size_t)cap * sizeof *nr);
        if (!nr) return RN_ERR_NOMEM;
        p->recs = nr;
        p->cap = cap;
    }
    p->recs[p->n++] = *rec;
    p->bytes += (size_t)(rec->key_len > 0 ? rec->key_len : 0) +
                (size_t)(rec->value_len > 0 ? rec->value_len : 0) + rec->headers_len + 16;
    return p->bytes >= h->pool_batch_bytes ? flush_pool(h, partition) : RN_KAFKA_NONE;
}

static int grow_rewrites(hook_run *h) {
    if (h->nrewrites < h->rewrites_cap) return 0;
    int cap = h->rewrites_cap ? h->rewrites_cap * 2 : 16;
    rn_plugin_record_out *nr = realloc(h->rewrites, (size_t)cap * sizeof *nr);
    if (!nr) return -1;
    h->rewrites = nr;
    uint8_t **nb = realloc(h->header_bufs, (size_t)cap * sizeof *nb);
    if (!nb) return -1;
    h->header_bufs = nb;
    h->rewrites_cap = cap;
    return 0;
}

/* One record through the hooks into its pool. */
static rn_err hook_record(hook_run *h, rn_plugins *plugins, const rn_topic_hooks *hooks,
                          const char *topic, int32_t sent, int32_t count, const rn_record *rec,
                          int index) {
    rn_hooked_set *out = h->out;
    rn_plugin_header stack_hdrs[16];
    rn_plugin_header *hdrs = rec->header_count <= 16
                                 ? stack_hdrs
                                 : malloc((size_t)rec->header_count * sizeof *hdrs);
    if (!hdrs) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    rn_plugin_record pr;
    rn_record placed = *rec;
    rn_plugin_config cfg = rn_hooks_config(hooks);
    if (rn_hooks_plugin_record(rec, topic, sent, hdrs, &pr) != 0) {
        err = RN_KAFKA_CORRUPT_MESSAGE;
        goto out;
    }
    if (hooks->produce_filter_script) {
        if (grow_rewrites(h) != 0) {
            err = RN_ERR_NOMEM;
            goto out;
        }
        rn_plugin_record_out *o = &h->rewrites[h->nrewrites];
        enum rn_filter_verdict v = rn_plugins_filter(plugins, hooks->produce_filter_script, &pr,
                                                     &cfg, o, out->message, sizeof out->message);
        switch (v) {
        case RN_FILTER_KEEP: break;
        case RN_FILTER_DROP: out->dropped++; goto out;
        case RN_FILTER_REWRITE:
            h->header_bufs[h->nrewrites] = NULL;
            h->nrewrites++;
            if (record_from_rewrite(h, o, &placed) != 0) {
                err = RN_ERR_NOMEM;
                goto out;
            }
            pr = o->rec;
            pr.topic = topic;
            out->rewritten++;
            break;
        case RN_FILTER_REJECT:
            out->reject_index = index;
            err = RN_KAFKA_INVALID_RECORD;
            goto out;
        default: err = RN_KAFKA_INVALID_RECORD; goto out;
        }
    }
    int32_t target = sent;
    if (hooks->partitioner_script) {
        err = rn_plugins_partition(plugins, hooks->partitioner_script, &pr, count, &cfg, &target,
                                   out->message, sizeof out->message);
        if (err) {
            out->reject_index = index;
            goto out;
        }
    }
    out->kept++;
    err = pool_add(h, target, &placed);
out:
    if (hdrs != stack_hdrs) free(hdrs);
    return err;
}

rn_err rn_produce_hooks_apply(rn_plugins *plugins, const rn_topic_hooks *hooks, const char *topic,
                              int32_t sent_partition, int32_t partition_count,
                              const uint8_t *records, size_t len, rn_hooked_set *out) {
    memset(out, 0, sizeof *out);
    out->reject_index = -1;
    if (!plugins) {
        snprintf(out->message, sizeof out->message, "topic %s has Lua hooks but no plugin host runs",
                 topic);
        return RN_KAFKA_INVALID_RECORD;
    }
    hook_run h = {.out = out, .npools = partition_count, .codec = -1,
                  .pool_batch_bytes = POOL_BATCH_BYTES};
    /* Batches the hooks build must fit the topic's max.message.bytes, with room for the
     * batch and record framing (counted roughly per record in pool_add). */
    if (hooks->max_message_bytes > 0 && (size_t)hooks->max_message_bytes / 2 < h.pool_batch_bytes)
        h.pool_batch_bytes = (size_t)hooks->max_message_bytes / 2 > 0 ? (size_t)hooks->max_message_bytes / 2 : 1;
    h.pools = calloc((size_t)partition_count, sizeof *h.pools);
    if (!h.pools) return RN_ERR_NOMEM;
    rn_err err = RN_KAFKA_NONE;
    int index = 0;
    for (size_t pos = 0; !err && pos < len;) {
        size_t bsize;
        if (rn_batch_validate(records + pos, len - pos, &bsize) != 0) {
            err = RN_KAFKA_CORRUPT_MESSAGE;
            break;
        }
        if (h.codec < 0) h.codec = rn_batch_codec(records + pos);
        if (h.niters == h.iters_cap) {
            int cap = h.iters_cap ? h.iters_cap * 2 : 4;
            rn_batch_records **ni = realloc(h.iters, (size_t)cap * sizeof *ni);
            if (!ni) {
                err = RN_ERR_NOMEM;
                break;
            }
            h.iters = ni;
            h.iters_cap = cap;
        }
        rn_batch_records *it;
        if ((err = rn_batch_records_open(records + pos, bsize, RN_BATCH_MAX_DECOMPRESSED, &it))) break;
        h.iters[h.niters++] = it;
        rn_record rec;
        int r;
        while (!err && (r = rn_batch_records_next(it, &rec)) == 1) {
            err = hook_record(&h, plugins, hooks, topic, sent_partition, partition_count, &rec,
                              index++);
        }
        if (!err && r < 0) err = RN_KAFKA_CORRUPT_MESSAGE;
        pos += bsize;
    }
    for (int32_t p = 0; !err && p < partition_count; p++) err = flush_pool(&h, p);
    for (int32_t p = 0; p < partition_count; p++) free(h.pools[p].recs);
    free(h.pools);
    for (int i = 0; i < h.niters; i++) rn_batch_records_close(h.iters[i]);
    free(h.iters);
    for (int i = 0; i < h.nrewrites; i++) {
        rn_plugin_record_out_free(&h.rewrites[i]);
        free(h.header_bufs[i]);
    }
    free(h.rewrites);
    free(h.header_bufs);
    if (err) {
        if (err == RN_KAFKA_CORRUPT_MESSAGE && !out->message[0])
            snprintf(out->message, sizeof out->message, "a record batch does not parse");
        for (int i = 0; i < out->nbatches; i++) free(out->batches[i].batch);
        free(out->batches);
        out->batches = NULL;
        out->nbatches = 0;
    }
    return err;
}

void rn_hooked_set_free(rn_hooked_set *s) {
    for (int i = 0; i < s->nbatches; i++) free(s->batches[i].batch);
    free(s->batches);
    s->batches = NULL;
    s->nbatches = 0;
}
