/* net/produce_hooks.h: a topic's produce hooks applied to one partition's record set:
 * every record goes through produce.filter.script (keep, drop, rewrite, reject) and then
 * partitioner.script (where it lands); the survivors are regrouped into new batches per
 * target partition, compressed with the codec the producer used.
 *
 * Batches rebuilt here carry no producer id: a hooked topic does not deduplicate
 * idempotent retries (the records a producer numbered for one partition may land in
 * several). */
#ifndef RN_PRODUCE_HOOKS_H
#define RN_PRODUCE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "engine.h"
#include "plugins.h"

typedef struct {
    int32_t partition; /* the target */
    uint8_t *batch;    /* malloc'd RecordBatch v2, base offset 0 */
    size_t len;
    int nrecords;
} rn_hooked_batch;

typedef struct {
    rn_hooked_batch *batches; /* in the order they must be appended */
    int nbatches;
    int kept, dropped, rewritten;
    int32_t reject_index;     /* the record the filter rejected (-1: none) */
    char message[2048];       /* why the set was refused (a script error: with its traceback) */
} rn_hooked_set;

/* Run the hooks over records (a validated record set sent to sent_partition of a topic of
 * partition_count partitions). RN_KAFKA_NONE and out->batches (possibly none: all
 * dropped); or RN_KAFKA_INVALID_RECORD (a rejection or a failing script: nothing is to be
 * appended, out->message says why), RN_KAFKA_CORRUPT_MESSAGE, RN_ERR_NOMEM. */
rn_err rn_produce_hooks_apply(rn_plugins *plugins, const rn_topic_hooks *hooks, const char *topic,
                              int32_t sent_partition, int32_t partition_count,
                              const uint8_t *records, size_t len, rn_hooked_set *out);
void rn_hooked_set_free(rn_hooked_set *s);

/* The plugin view of a decoded record (headers decoded into hdrs, which has room for
 * rec->header_count entries). Shared with view fetches. -1 on corrupt headers. */
int rn_hooks_plugin_record(const rn_record *rec, const char *topic, int32_t partition,
                           rn_plugin_header *hdrs, rn_plugin_record *out);

/* The topic's configs as scripts receive them. */
static inline rn_plugin_config rn_hooks_config(const rn_topic_hooks *h) {
    rn_plugin_config c = {(const char *const *)h->names, (const char *const *)h->values,
                          h->nconfigs};
    return c;
}

#endif
