/* net/view_fetch.h: what a fetch from a view topic serves: each batch of the source
 * rebuilt with only the records the view's filter keeps. Offsets are the source's (gaps
 * where records were left out, as in a compacted topic) and each rebuilt batch still
 * covers its source batch's last offset. A batch with nothing kept is left out (some
 * clients, kafka-python among them, fail on empty batches); the fetch reads on past such
 * batches instead, so a consumer gets the next kept record however much was filtered
 * out before it. Only when a read finds nothing kept in RN_VIEW_SCAN_CAP bytes of source
 * does an empty batch tell the consumer to move on. */
#ifndef RN_VIEW_FETCH_H
#define RN_VIEW_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "plugins.h"

typedef struct {
    rn_plugins *plugins;
    const char *script;   /* view.filter.script (NULL: keep everything) */
    rn_plugin_config config;
    const char *topic;    /* the view's name, as scripts see it */
    int32_t partition;
    uint64_t kept, dropped, failed; /* counts, for logs and tests */
    int64_t last_offset;  /* the last source offset the latest batch covered (-1: none) */
    bool write_empty;     /* write a batch even when nothing in it was kept */
} rn_view_filter;

#define RN_VIEW_SCAN_CAP (32u << 20) /* source bytes one fetch may read for one partition */

/* Append the filtered form of one source batch to w. 0, or -1 when the batch does not
 * parse or memory ran out (the caller then stops reading this partition). */
int rn_view_filter_batch(rn_view_filter *vf, const uint8_t *batch, size_t len, rn_writer *w);

#endif
