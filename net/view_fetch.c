/* net/view_fetch.c: rebuilding source batches for a view (see view_fetch.h). A record is
 * served when filter(record, config) returns true; anything else (false, a rewrite, a
 * rejection, a failing script) leaves it out, and failures are logged and counted. */
#include "view_fetch.h"

#include <stdlib.h>

#include "batch.h"
#include "produce_hooks.h"
#include "rnlog.h"


int rn_view_filter_batch(rn_view_filter *vf, const uint8_t *batch, size_t len, rn_writer *w) {
    if (!vf->script) {
        rn_batch_header h;
        if (rn_batch_header_parse(batch, len, &h) == 0) vf->last_offset = h.base_offset + h.last_offset_delta;
        rn_write_raw(w, batch, len);
        return 0;
    }
    rn_batch_header h;
    if (rn_batch_header_parse(batch, len, &h) != 0) return -1;
    vf->last_offset = h.base_offset + h.last_offset_delta;
    rn_batch_records *it;
    if (rn_batch_records_open(batch, len, RN_BATCH_MAX_DECOMPRESSED, &it) != 0) return -1;
    rn_record *kept = malloc((size_t)(h.record_count > 0 ? h.record_count : 1) * sizeof *kept);
    int n = 0, rc = 0, r;
    rn_record rec;
    while (kept && (r = rn_batch_records_next(it, &rec)) == 1 && n < h.record_count) {
        rn_plugin_header stack_hdrs[16];
        rn_plugin_header *hdrs = rec.header_count <= 16 ? stack_hdrs
                                                        : malloc((size_t)rec.header_count * sizeof *hdrs);
        rn_plugin_record pr;
        if (!hdrs || rn_hooks_plugin_record(&rec, vf->topic, vf->partition, hdrs, &pr) != 0) {
            if (hdrs != stack_hdrs) free(hdrs);
            rc = -1;
            break;
        }
        pr.offset = rec.offset;
        rn_plugin_record_out out;
        char err[512];
        enum rn_filter_verdict v = rn_plugins_filter(vf->plugins, vf->script, &pr, &vf->config, &out,
                                                     err, sizeof err);
        rn_plugin_record_out_free(&out);
        if (hdrs != stack_hdrs) free(hdrs);
        if (v == RN_FILTER_KEEP) {
            kept[n++] = rec;
            vf->kept++;
        } else if (v == RN_FILTER_ERROR || v == RN_FILTER_REJECT) {
            if (vf->failed++ % 1000 == 0)
                rn_log_warn("view %s-%d: record at offset %lld left out: %s", vf->topic,
                            vf->partition, (long long)rec.offset, err);
        } else {
            vf->dropped++;
        }
    }
    if (!kept) rc = -1;
    if (rc == 0 && (n > 0 || vf->write_empty)) {
        rn_batch_spec spec = {
            .base_offset = h.base_offset,
            .last_offset_delta = h.last_offset_delta,
            .codec = rn_batch_codec(batch),
            .log_append_time = (h.attributes & 0x08) != 0,
            .log_append_time_ms = h.max_timestamp,
            .producer_id = h.producer_id,
            .producer_epoch = h.producer_epoch,
            .base_sequence = h.base_sequence,
            .partition_leader_epoch = h.partition_leader_epoch,
        };
        uint8_t *nb;
        size_t nl;
        if (rn_batch_encode(&spec, kept, n, &nb, &nl) != 0) {
            rc = -1;
        } else {
            rn_write_raw(w, nb, nl);
            free(nb);
        }
    }
    free(kept);
    rn_batch_records_close(it);
    return rc;
}
