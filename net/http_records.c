/* net/http_records.c: the console's message browser,
 *   GET /v1/topics/<name>/records?partition=P&offset=O|timestamp=T&limit=N&max_bytes=B
 * reads records of one partition from offset O (default: the log start; clamped into the
 * log) or from the first record with a timestamp >= T, at most N records (default 50,
 * up to 500) out of at most B bytes of stored batches (default 1 MiB, up to 8 MiB):
 *
 *   {"topic", "partition", "log_start_offset", "high_watermark", "start_offset",
 *    "next_offset" (where to read on), "records": [{"offset", "timestamp",
 *    "key", "key_encoding", "key_size", "key_truncated", "value", ... (the same four),
 *    "headers": [{"name", "name_encoding", "value", "value_encoding", ...}]}]}
 *
 * A key, value or header is a JSON string: its text when the bytes are UTF-8
 * ("..._encoding": "text"), else base64 ("base64"); null when null. Past FIELD_CAP bytes
 * only the first FIELD_CAP are given ("..._truncated": true; "..._size" is the whole).
 * A view's records are read from its source through the view's filter, as its consumers
 * see them. The read runs on the HTTP loop, which these bounds keep short. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "batch.h"
#include "http_console.h"
#include "produce_hooks.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT 500
#define DEFAULT_MAX_BYTES (1 << 20)
#define MAX_MAX_BYTES (8 << 20)
#define FIELD_CAP (64 << 10)          /* bytes of one key, value or header shown */
#define OUT_CAP (4 << 20)             /* JSON bytes of records in one answer */
#define MAX_DECOMPRESSED (64u << 20)  /* as fetches allow */

typedef struct {
    struct evbuffer *out;
    int64_t start;       /* records below are skipped (a batch starts before it) */
    int limit, count;
    int64_t next_offset; /* the first offset not looked at */
    bool full;           /* stopped at limit or OUT_CAP */
    bool corrupt;
    /* a view: its filter */
    rn_plugins *plugins;
    const char *script;
    rn_plugin_config config;
    const char *topic;
    int32_t partition;
} browse;

/* "name": string, "name_encoding": "text"|"base64", "name_size": n, "name_truncated": t */
static void field(struct evbuffer *b, const char *name, const uint8_t *p, int32_t len) {
    evbuffer_add_printf(b, "\"%s\": ", name);
    if (len < 0 || (!p && len > 0)) {
        evbuffer_add_printf(b, "null, \"%s_encoding\": null, \"%s_size\": -1, \"%s_truncated\": false",
                            name, name, name);
        return;
    }
    size_t n = (size_t)len > FIELD_CAP ? FIELD_CAP : (size_t)len;
    bool text = rn_http_utf8_valid(p, n);
    /* A cut through a character: back off to its first byte. */
    if (!text && n < (size_t)len) {
        size_t k = n;
        while (k > 0 && n - k < 4 && (p[k - 1] & 0xc0) == 0x80) k--;
        if (k > 0 && (p[k - 1] & 0xc0) == 0xc0 && rn_http_utf8_valid(p, k - 1)) {
            n = k - 1;
            text = true;
        }
    }
    if (text)
        rn_http_json_text(b, p ? p : (const uint8_t *)"", n);
    else
        rn_http_json_base64(b, p, n, false);
    evbuffer_add_printf(b, ", \"%s_encoding\": \"%s\", \"%s_size\": %d, \"%s_truncated\": %s", name,
                        text ? "text" : "base64", name, len, name, n < (size_t)len ? "true" : "false");
}

static void record_json(browse *br, const rn_record *rec) {
    struct evbuffer *b = br->out;
    evbuffer_add_printf(b, "%s{\"offset\": %lld, \"timestamp\": %lld, ", br->count ? ",\n" : "",
                        (long long)rec->offset, (long long)rec->timestamp);
    field(b, "key", rec->key, rec->key_len);
    RN_HTTP_LIT(b, ", ");
    field(b, "value", rec->value, rec->value_len);
    RN_HTTP_LIT(b, ", \"headers\": [");
    size_t pos = 0;
    const uint8_t *hn, *hv;
    int32_t hnl, hvl;
    for (int i = 0; rn_record_header_next(rec, &pos, &hn, &hnl, &hv, &hvl) == 1; i++) {
        if (i) RN_HTTP_LIT(b, ", ");
        RN_HTTP_LIT(b, "{");
        field(b, "name", hn, hnl);
        RN_HTTP_LIT(b, ", ");
        field(b, "value", hv, hvl);
        RN_HTTP_LIT(b, "}");
    }
    RN_HTTP_LIT(b, "]}");
    br->count++;
}

/* A view keeps what its filter keeps. */
static bool kept(browse *br, const rn_record *rec) {
    if (!br->script) return true;
    rn_plugin_header stack[16];
    rn_plugin_header *hdrs = rec->header_count <= 16 ? stack : malloc((size_t)rec->header_count * sizeof *hdrs);
    rn_plugin_record pr;
    bool keep = false;
    if (hdrs && rn_hooks_plugin_record(rec, br->topic, br->partition, hdrs, &pr) == 0) {
        pr.offset = rec->offset;
        rn_plugin_record_out out;
        char err[256];
        keep = rn_plugins_filter(br->plugins, br->script, &pr, &br->config, &out, err, sizeof err) ==
               RN_FILTER_KEEP;
        rn_plugin_record_out_free(&out);
    }
    if (hdrs != stack) free(hdrs);
    return keep;
}

static int sink(void *ctx, const uint8_t *batch, size_t len) {
    browse *br = ctx;
    rn_batch_header h;
    rn_batch_records *it;
    if (rn_batch_header_parse(batch, len, &h) != 0 ||
        rn_batch_records_open(batch, len, MAX_DECOMPRESSED, &it) != 0) {
        br->corrupt = true;
        return 1;
    }
    rn_record rec;
    int rc;
    while ((rc = rn_batch_records_next(it, &rec)) == 1) {
        if (rec.offset < br->start) continue;
        if (br->count >= br->limit || evbuffer_get_length(br->out) >= OUT_CAP) {
            br->full = true;
            break;
        }
        if (kept(br, &rec)) record_json(br, &rec);
        br->next_offset = rec.offset + 1;
    }
    rn_batch_records_close(it);
    if (rc < 0) br->corrupt = true;
    if (br->full || br->corrupt) return 1;
    /* the batch may cover offsets past its last record (a view, compaction later) */
    int64_t last = h.base_offset + h.last_offset_delta + 1;
    if (last > br->next_offset) br->next_offset = last;
    return 0;
}

void rn_http_records(struct evhttp_request *r, const rn_http_options *o, const char *topic) {
    struct evkeyvalq q;
    char err[512] = "";
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "the query string does not parse");
        return;
    }
    int64_t partition = 0, offset = -1, ts = -1, limit = DEFAULT_LIMIT, max_bytes = DEFAULT_MAX_BYTES;
    int has_offset = 0, has_ts = 0;
    if (rn_http_param_int(&q, "partition", 0, INT32_MAX, &partition, err, sizeof err) < 0 ||
        (has_offset = rn_http_param_int(&q, "offset", 0, INT64_MAX, &offset, err, sizeof err)) < 0 ||
        (has_ts = rn_http_param_int(&q, "timestamp", 0, INT64_MAX, &ts, err, sizeof err)) < 0 ||
        rn_http_param_int(&q, "limit", 1, MAX_LIMIT, &limit, err, sizeof err) < 0 ||
        rn_http_param_int(&q, "max_bytes", 1, MAX_MAX_BYTES, &max_bytes, err, sizeof err) < 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "%s", err);
        return;
    }
    evhttp_clear_headers(&q);
    if (has_offset && has_ts) {
        rn_http_json_error(r, 400, "give offset or timestamp, not both");
        return;
    }
    rn_topic_hooks hooks;
    if (rn_engine_topic_hooks(o->engine, topic, &hooks) != 0) {
        rn_http_json_error(r, 404, "no topic named '%.300s'", topic);
        return;
    }
    rn_err e;
    rn_partition *p = rn_engine_partition(o->engine, topic, (int32_t)partition, &e);
    rn_partition_offsets off;
    if (!p || rn_partition_offsets_get(p, &off) != 0) {
        rn_topic_hooks_free(&hooks);
        rn_http_json_error(r, 404, "topic '%.300s' has no partition %lld", topic, (long long)partition);
        return;
    }
    int64_t start = has_offset ? offset : off.log_start_offset;
    if (has_ts) {
        int64_t found_ts;
        if (rn_partition_offset_for_time(p, ts, &start, &found_ts) != 0) start = -1;
        if (start < 0) start = off.high_watermark; /* nothing that recent */
    }
    if (start < off.log_start_offset) start = off.log_start_offset;
    if (start > off.high_watermark) start = off.high_watermark;

    browse br = {.start = start, .limit = (int)limit, .next_offset = start, .topic = topic,
                 .partition = (int32_t)partition};
    if (hooks.view_of && hooks.view_filter_script) {
        br.plugins = o->plugins;
        br.script = hooks.view_filter_script;
        br.config = rn_hooks_config(&hooks);
    }
    struct evbuffer *b = evbuffer_new();
    br.out = evbuffer_new();
    if (!b || !br.out || (br.script && !br.plugins)) {
        rn_http_json_error(r, 500, "%s",
                           b && br.out ? "no Lua plugin host to run the view's filter" : "out of memory");
        goto out;
    }
    if (start < off.high_watermark) {
        size_t got = 0;
        e = rn_partition_read(p, start, (size_t)max_bytes, true, sink, &br, NULL, &got);
        if (e && e != RN_KAFKA_OFFSET_OUT_OF_RANGE) { /* out of range: retention won a race */
            rn_http_json_error(r, 500, "reading %.300s-%lld failed: %s", topic, (long long)partition,
                               rn_err_name(e));
            goto out;
        }
        if (br.corrupt) {
            rn_http_json_error(r, 500, "a stored batch of %.300s-%lld near offset %lld does not decode",
                               topic, (long long)partition, (long long)br.next_offset);
            goto out;
        }
    }
    RN_HTTP_LIT(b, "{\"topic\": ");
    rn_http_json_string(b, topic);
    evbuffer_add_printf(b,
                        ", \"partition\": %lld, \"log_start_offset\": %lld, \"high_watermark\": %lld, "
                        "\"start_offset\": %lld, \"next_offset\": %lld, \"records\": [",
                        (long long)partition, (long long)off.log_start_offset,
                        (long long)off.high_watermark, (long long)start, (long long)br.next_offset);
    evbuffer_add_buffer(b, br.out);
    RN_HTTP_LIT(b, "]}\n");
    rn_http_json_reply(r, 200, b);
out:
    if (b) evbuffer_free(b);
    if (br.out) evbuffer_free(br.out);
    rn_topic_hooks_free(&hooks);
}
