/* engine/batch.c: RecordBatch v2: parse, validate, rewrite, iterate, build, encode.
 * Invariant: no read goes past the bytes given; lengths from the wire are never trusted
 * before being checked against what is there. */
#include "batch.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "crc32c.h"

/* Offsets of the header fields (see the diagram in batch.h). */
enum {
    OFF_BASE_OFFSET = 0,
    OFF_LENGTH = 8,
    OFF_LEADER_EPOCH = 12,
    OFF_MAGIC = 16,
    OFF_CRC = 17,
    OFF_ATTRIBUTES = 21,
    OFF_LAST_OFFSET_DELTA = 23,
    OFF_BASE_TIMESTAMP = 27,
    OFF_MAX_TIMESTAMP = 35,
    OFF_PRODUCER_ID = 43,
    OFF_PRODUCER_EPOCH = 51,
    OFF_BASE_SEQUENCE = 53,
    OFF_RECORD_COUNT = 57,
};

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t be64(const uint8_t *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

rn_err rn_batch_header_parse(const uint8_t *buf, size_t len, rn_batch_header *h) {
    if (len < OFF_MAGIC + 1) return RN_KAFKA_CORRUPT_MESSAGE;
    h->magic = (int8_t)buf[OFF_MAGIC];
    if (h->magic != 2) return RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    if (len < RN_BATCH_HEADER_SIZE) return RN_KAFKA_CORRUPT_MESSAGE;
    h->base_offset = (int64_t)be64(buf + OFF_BASE_OFFSET);
    h->batch_length = (int32_t)be32(buf + OFF_LENGTH);
    h->partition_leader_epoch = (int32_t)be32(buf + OFF_LEADER_EPOCH);
    h->crc = be32(buf + OFF_CRC);
    h->attributes = (int16_t)be16(buf + OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)be32(buf + OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)be64(buf + OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)be64(buf + OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)be64(buf + OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)be16(buf + OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)be32(buf + OFF_BASE_SEQUENCE);
    h->record_count = (int32_t)be32(buf + OFF_RECORD_COUNT);
    if (h->batch_length < RN_BATCH_HEADER_SIZE - RN_BATCH_LOG_OVERHEAD)
        return RN_KAFKA_CORRUPT_MESSAGE;
    return RN_KAFKA_NONE;
}

/* ---- varints inside records ------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} cursor;

static int read_varlong(cursor *c, int64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (c->p >= c->end) return -1;
        uint8_t b = *c->p++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = (int64_t)((x >> 1) ^ (~(x & 1) + 1));
            return 0;
        }
    }
    return -1;
}

static int read_varint(cursor *c, int32_t *v) {
    int64_t x;
    if (read_varlong(c, &x) || x < INT32_MIN || x > INT32_MAX) return -1;
    *v = (int32_t)x;
    return 0;
}

/* A length-prefixed field: -1 is null; otherwise the bytes must be there. */
static int read_sized(cursor *c, const uint8_t **ptr, int32_t *len) {
    if (read_varint(c, len)) return -1;
    if (*len < -1) return -1;
    if (*len == -1) {
        *ptr = NULL;
        return 0;
    }
    if ((size_t)(c->end - c->p) < (size_t)*len) return -1;
    *ptr = c->p;
    c->p += *len;
    return 0;
}

/* Parse one record at c (length-prefixed) into rec, relative to the header. */
static int parse_record(cursor *c, const rn_batch_header *h, rn_record *rec) {
    int32_t len;
    if (read_varint(c, &len) || len < 0 || (size_t)(c->end - c->p) < (size_t)len) return -1;
    cursor r = {c->p, c->p + len};
    c->p += len;
    int64_t ts_delta;
    int32_t offset_delta;
    if (r.p >= r.end) return -1;
    r.p++; /* attributes: unused in v2 */
    if (read_varlong(&r, &ts_delta) || read_varint(&r, &offset_delta)) return -1;
    if (read_sized(&r, &rec->key, &rec->key_len)) return -1;
    if (read_sized(&r, &rec->value, &rec->value_len)) return -1;
    if (read_varint(&r, &rec->header_count) || rec->header_count < 0) return -1;
    rec->headers = r.p;
    for (int32_t i = 0; i < rec->header_count; i++) {
        const uint8_t *ptr;
        int32_t n;
        if (read_sized(&r, &ptr, &n) || n < 0 || read_sized(&r, &ptr, &n)) return -1;
    }
    rec->headers_len = (size_t)(r.p - rec->headers);
    if (r.p != r.end) return -1; /* the record's length must be exact */
    /* Both fields come from the wire: they wrap like Java's longs, never overflow (UB). */
    rec->offset = (int64_t)((uint64_t)h->base_offset + (uint64_t)(int64_t)offset_delta);
    rec->timestamp = (h->attributes & RN_BATCH_TIMESTAMP_LOG_APPEND)
                         ? h->max_timestamp
                         : (int64_t)((uint64_t)h->base_timestamp + (uint64_t)ts_delta);
    return 0;
}

/* ---- validation ------------------------------------------------------------------- */

rn_err rn_batch_validate(const uint8_t *buf, size_t len, size_t *batch_size) {
    rn_batch_header h;
    rn_err err = rn_batch_header_parse(buf, len, &h);
    if (err) return err;
    size_t size = (size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD;
    if (size > len) return RN_KAFKA_CORRUPT_MESSAGE;
    if (rn_crc32c(0, buf + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES) != h.crc)
        return RN_KAFKA_CORRUPT_MESSAGE;
    int codec = h.attributes & RN_BATCH_COMPRESSION_MASK;
    if (codec > RN_COMPRESSION_ZSTD) return RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
    if (h.record_count < 0 || h.last_offset_delta < 0) return RN_KAFKA_CORRUPT_MESSAGE;
    if (h.record_count > 0 && h.last_offset_delta + 1 != h.record_count && h.record_count != 0)
        return RN_KAFKA_CORRUPT_MESSAGE;
    if (codec == RN_COMPRESSION_NONE) {
        cursor c = {buf + RN_BATCH_HEADER_SIZE, buf + size};
        for (int32_t i = 0; i < h.record_count; i++) {
            rn_record rec;
            if (parse_record(&c, &h, &rec)) return RN_KAFKA_INVALID_RECORD;
        }
        if (c.p != c.end) return RN_KAFKA_CORRUPT_MESSAGE;
    }
    *batch_size = size;
    return RN_KAFKA_NONE;
}

rn_err rn_batch_validate_set(const uint8_t *buf, size_t len, int *count) {
    size_t pos = 0;
    int n = 0;
    if (len == 0) return RN_KAFKA_CORRUPT_MESSAGE;
    while (pos < len) {
        size_t size;
        rn_err err = rn_batch_validate(buf + pos, len - pos, &size);
        if (err) return err;
        pos += size;
        n++;
    }
    *count = n;
    return RN_KAFKA_NONE;
}

/* ---- rewrites --------------------------------------------------------------------- */

void rn_batch_set_base_offset(uint8_t *buf, int64_t base_offset) {
    put64(buf + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void rn_batch_set_leader_epoch(uint8_t *buf, int32_t leader_epoch) {
    put32(buf + OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

void rn_batch_set_log_append_time(uint8_t *buf, size_t len, int64_t ts) {
    uint16_t attrs = be16(buf + OFF_ATTRIBUTES) | RN_BATCH_TIMESTAMP_LOG_APPEND;
    put16(buf + OFF_ATTRIBUTES, attrs);
    put64(buf + OFF_MAX_TIMESTAMP, (uint64_t)ts);
    put32(buf + OFF_CRC, rn_crc32c(0, buf + OFF_ATTRIBUTES, len - OFF_ATTRIBUTES));
}

/* ---- decompression ---------------------------------------------------------------- */

/* A growing output buffer capped at max bytes. */
typedef struct {
    uint8_t *data;
    size_t len, cap, max;
} outbuf;

static int out_grow(outbuf *o, size_t want) {
    if (want > o->max) return -1;
    if (want <= o->cap) return 0;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < want) cap *= 2;
    if (cap > o->max) cap = o->max;
    uint8_t *d = realloc(o->data, cap);
    if (!d) return -1;
    o->data = d;
    o->cap = cap;
    return 0;
}

static int inflate_gzip(const uint8_t *in, size_t len, outbuf *o) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return -1; /* gzip or zlib header */
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    int rc;
    do {
        if (o->cap - o->len < 4096 && out_grow(o, o->len + (o->len > 4096 ? o->len : 4096))) {
            inflateEnd(&zs);
            return -1;
        }
        zs.next_out = o->data + o->len;
        zs.avail_out = (uInt)(o->cap - o->len);
        rc = inflate(&zs, Z_NO_FLUSH);
        o->len = o->cap - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            return -1;
        }
    } while (rc != Z_STREAM_END);
    inflateEnd(&zs);
    return 0;
}

static int unsnappy_block(const uint8_t *in, size_t len, outbuf *o) {
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK) return -1;
    if (n == 0) return 0;
    if (out_grow(o, o->len + n)) return -1;
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)o->data + o->len, &got) != SNAPPY_OK)
        return -1;
    o->len += got;
    return 0;
}

/* Java's and librdkafka's snappy: xerial framing (magic, two versions, then chunks of
 * [int32 length][raw snappy]); a raw block otherwise. */
static int unsnappy(const uint8_t *in, size_t len, outbuf *o) {
    static const uint8_t xerial[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    if (len < 16 || memcmp(in, xerial, 8) != 0) return unsnappy_block(in, len, o);
    size_t pos = 16;
    while (pos < len) {
        if (len - pos < 4) return -1;
        uint32_t n = be32(in + pos);
        pos += 4;
        if (n > len - pos || unsnappy_block(in + pos, n, o)) return -1;
        pos += n;
    }
    return 0;
}

static int unlz4(const uint8_t *in, size_t len, outbuf *o) {
    LZ4F_dctx *d;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) return -1;
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        if (o->cap - o->len < 4096 && out_grow(o, o->len + (o->len > 65536 ? o->len : 65536))) {
            rc = -1;
            break;
        }
        size_t out_n = o->cap - o->len, in_n = len - pos;
        size_t hint = LZ4F_decompress(d, o->data + o->len, &out_n, in + pos, &in_n, NULL);
        if (LZ4F_isError(hint)) {
            rc = -1;
            break;
        }
        o->len += out_n;
        pos += in_n;
        if (hint == 0) break;                    /* frame complete */
        if (pos >= len && out_n == 0) { rc = -1; break; } /* truncated */
    }
    LZ4F_freeDecompressionContext(d);
    return rc;
}

static int unzstd(const uint8_t *in, size_t len, outbuf *o) {
    ZSTD_DStream *d = ZSTD_createDStream();
    if (!d) return -1;
    ZSTD_initDStream(d);
    ZSTD_inBuffer ib = {in, len, 0};
    int rc = 0;
    for (;;) {
        if (o->cap - o->len < 4096 && out_grow(o, o->len + (o->len > 65536 ? o->len : 65536))) {
            rc = -1;
            break;
        }
        ZSTD_outBuffer ob = {o->data + o->len, o->cap - o->len, 0};
        size_t r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r)) {
            rc = -1;
            break;
        }
        o->len += ob.pos;
        if (r == 0 && ib.pos == ib.size) break;
        if (ib.pos == ib.size && ob.pos == 0) { rc = -1; break; } /* truncated */
    }
    ZSTD_freeDStream(d);
    return rc;
}

/* ---- record iteration ------------------------------------------------------------- */

struct rn_batch_records {
    rn_batch_header h;
    cursor c;
    int32_t left;
    bool failed;
    uint8_t *owned; /* decompressed records */
};

rn_err rn_batch_records_open(const uint8_t *buf, size_t len, size_t max_decompressed,
                             rn_batch_records **out) {
    rn_batch_records *it = calloc(1, sizeof *it);
    if (!it) return RN_ERR_NOMEM;
    rn_err err = rn_batch_header_parse(buf, len, &it->h);
    size_t size = (size_t)it->h.batch_length + RN_BATCH_LOG_OVERHEAD;
    if (!err && (size > len || it->h.record_count < 0)) err = RN_KAFKA_CORRUPT_MESSAGE;
    if (err) {
        free(it);
        return err;
    }
    const uint8_t *recs = buf + RN_BATCH_HEADER_SIZE;
    size_t recs_len = size - RN_BATCH_HEADER_SIZE;
    int codec = it->h.attributes & RN_BATCH_COMPRESSION_MASK;
    if (codec != RN_COMPRESSION_NONE) {
        outbuf o = {NULL, 0, 0, max_decompressed};
        int rc = codec == RN_COMPRESSION_GZIP     ? inflate_gzip(recs, recs_len, &o)
                 : codec == RN_COMPRESSION_SNAPPY ? unsnappy(recs, recs_len, &o)
                 : codec == RN_COMPRESSION_LZ4    ? unlz4(recs, recs_len, &o)
                 : codec == RN_COMPRESSION_ZSTD   ? unzstd(recs, recs_len, &o)
                                                  : -2;
        if (rc) {
            free(o.data);
            free(it);
            return rc == -2 ? RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE : RN_KAFKA_CORRUPT_MESSAGE;
        }
        static const uint8_t empty[1];
        it->owned = o.data;
        recs = o.data ? o.data : empty; /* decompressed to nothing */
        recs_len = o.len;
    }
    it->c.p = recs;
    it->c.end = recs + recs_len;
    it->left = it->h.record_count;
    *out = it;
    return RN_KAFKA_NONE;
}

int rn_batch_records_next(rn_batch_records *it, rn_record *rec) {
    if (it->failed) return RN_KAFKA_CORRUPT_MESSAGE;
    if (it->left <= 0) return 0;
    if (parse_record(&it->c, &it->h, rec)) {
        it->failed = true;
        return RN_KAFKA_CORRUPT_MESSAGE;
    }
    it->left--;
    return 1;
}

void rn_batch_records_close(rn_batch_records *it) {
    if (!it) return;
    free(it->owned);
    free(it);
}

int rn_record_header_next(const rn_record *rec, size_t *pos, const uint8_t **name,
                          int32_t *name_len, const uint8_t **value, int32_t *value_len) {
    if (*pos >= rec->headers_len) return 0;
    cursor c = {rec->headers + *pos, rec->headers + rec->headers_len};
    if (read_sized(&c, name, name_len) || *name_len < 0 || read_sized(&c, value, value_len))
        return -1;
    *pos = (size_t)(c.p - rec->headers);
    return 1;
}

/* ---- building --------------------------------------------------------------------- */

typedef struct {
    uint8_t *p, *end;
    bool overflow;
} wcursor;

static void w_bytes(wcursor *w, const void *src, size_t n) {
    if (w->overflow || (size_t)(w->end - w->p) < n) {
        w->overflow = true;
        return;
    }
    if (n) memcpy(w->p, src, n);
    w->p += n;
}

static void w_varlong(wcursor *w, int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    uint8_t b[10];
    size_t n = 0;
    while (u >= 0x80) {
        b[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    b[n++] = (uint8_t)u;
    w_bytes(w, b, n);
}

static size_t varlong_size(int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        n++;
    }
    return n;
}

static size_t sized_size(int32_t len) {
    return varlong_size(len) + (len > 0 ? (size_t)len : 0);
}

size_t rn_batch_build(uint8_t *buf, size_t cap, int64_t base_offset, const rn_record *recs,
                      int n, int64_t producer_id, int16_t producer_epoch,
                      int32_t base_sequence) {
    if (cap < RN_BATCH_HEADER_SIZE || n < 0) return 0;
    int64_t base_ts = n > 0 ? recs[0].timestamp : 0, max_ts = -1;
    for (int i = 0; i < n; i++)
        if (recs[i].timestamp > max_ts) max_ts = recs[i].timestamp;
    wcursor w = {buf + RN_BATCH_HEADER_SIZE, buf + cap, false};
    for (int i = 0; i < n; i++) {
        const rn_record *r = &recs[i];
        size_t body = 1 + varlong_size(r->timestamp - base_ts) + varlong_size(i) +
                      sized_size(r->key ? r->key_len : -1) +
                      sized_size(r->value ? r->value_len : -1) +
                      varlong_size(r->header_count) + r->headers_len;
        w_varlong(&w, (int64_t)body);
        uint8_t attrs = 0;
        w_bytes(&w, &attrs, 1);
        w_varlong(&w, r->timestamp - base_ts);
        w_varlong(&w, i);
        w_varlong(&w, r->key ? r->key_len : -1);
        if (r->key) w_bytes(&w, r->key, (size_t)r->key_len);
        w_varlong(&w, r->value ? r->value_len : -1);
        if (r->value) w_bytes(&w, r->value, (size_t)r->value_len);
        w_varlong(&w, r->header_count);
        w_bytes(&w, r->headers, r->headers_len);
    }
    if (w.overflow) return 0;
    size_t size = (size_t)(w.p - buf);
    put64(buf + OFF_BASE_OFFSET, (uint64_t)base_offset);
    put32(buf + OFF_LENGTH, (uint32_t)(size - RN_BATCH_LOG_OVERHEAD));
    put32(buf + OFF_LEADER_EPOCH, (uint32_t)-1);
    buf[OFF_MAGIC] = 2;
    put16(buf + OFF_ATTRIBUTES, 0);
    put32(buf + OFF_LAST_OFFSET_DELTA, (uint32_t)(n > 0 ? n - 1 : 0));
    put64(buf + OFF_BASE_TIMESTAMP, (uint64_t)base_ts);
    put64(buf + OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    put64(buf + OFF_PRODUCER_ID, (uint64_t)producer_id);
    put16(buf + OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
    put32(buf + OFF_BASE_SEQUENCE, (uint32_t)base_sequence);
    put32(buf + OFF_RECORD_COUNT, (uint32_t)n);
    put32(buf + OFF_CRC, rn_crc32c(0, buf + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES));
    return size;
}

/* ---- encoding --------------------------------------------------------------------- */

int rn_batch_codec(const uint8_t *batch) {
    return be16(batch + OFF_ATTRIBUTES) & RN_BATCH_COMPRESSION_MASK;
}

/* A key or value: -1 is null, otherwise the bytes must be there. */
static bool field_ok(const uint8_t *p, int32_t len) { return len >= -1 && (p || len <= 0); }

/* The encoded headers of r are exactly header_count well-formed headers. */
static bool headers_ok(const rn_record *r) {
    if (r->header_count < 0) return false;
    if (r->headers_len == 0) return r->header_count == 0;
    if (!r->headers || r->headers_len > INT32_MAX) return false;
    cursor c = {r->headers, r->headers + r->headers_len};
    for (int32_t i = 0; i < r->header_count; i++) {
        const uint8_t *p;
        int32_t n;
        if (read_sized(&c, &p, &n) || n < 0 || read_sized(&c, &p, &n)) return false;
    }
    return c.p == c.end;
}

size_t rn_record_header_put(uint8_t *p, const uint8_t *name, int32_t name_len,
                            const uint8_t *value, int32_t value_len) {
    size_t room = RN_RECORD_HEADER_OVERHEAD + (size_t)(name_len > 0 ? name_len : 0) +
                  (size_t)(value && value_len > 0 ? value_len : 0);
    wcursor w = {p, p + room, false};
    w_varlong(&w, name_len);
    w_bytes(&w, name, (size_t)(name_len > 0 ? name_len : 0));
    w_varlong(&w, value ? value_len : -1);
    if (value && value_len > 0) w_bytes(&w, value, (size_t)value_len);
    return (size_t)(w.p - p);
}

/* The size of a record after its length varint. */
static size_t record_body_size(const rn_record *r, int64_t ts_delta, int64_t off_delta) {
    return 1 + varlong_size(ts_delta) + varlong_size(off_delta) + sized_size(r->key_len) +
           sized_size(r->value_len) + varlong_size(r->header_count) + r->headers_len;
}

static void write_record(wcursor *w, const rn_record *r, int64_t ts_delta, int64_t off_delta) {
    w_varlong(w, (int64_t)record_body_size(r, ts_delta, off_delta));
    uint8_t attrs = 0;
    w_bytes(w, &attrs, 1);
    w_varlong(w, ts_delta);
    w_varlong(w, off_delta);
    w_varlong(w, r->key_len);
    if (r->key_len > 0) w_bytes(w, r->key, (size_t)r->key_len);
    w_varlong(w, r->value_len);
    if (r->value_len > 0) w_bytes(w, r->value, (size_t)r->value_len);
    w_varlong(w, r->header_count);
    if (r->headers_len) w_bytes(w, r->headers, r->headers_len);
}

rn_err rn_batch_encode(const rn_batch_spec *spec, const rn_record *recs, int n, uint8_t **out,
                       size_t *len) {
    if (!spec || n < 0 || (n > 0 && !recs)) return RN_KAFKA_INVALID_RECORD;
    if (spec->codec < RN_CODEC_NONE || spec->codec > RN_CODEC_ZSTD)
        return RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
    if (spec->base_offset < 0 || spec->last_offset_delta < -1) return RN_KAFKA_INVALID_RECORD;

    /* Pass 1: check everything and size the records part. */
    int64_t min_ts = n > 0 ? recs[0].timestamp : -1, max_ts = min_ts;
    for (int i = 0; i < n; i++) {
        const rn_record *r = &recs[i];
        if (i == 0 ? r->offset < spec->base_offset : r->offset <= recs[i - 1].offset)
            return RN_KAFKA_INVALID_RECORD;
        if (r->offset - spec->base_offset > INT32_MAX) return RN_KAFKA_INVALID_RECORD;
        if (!field_ok(r->key, r->key_len) || !field_ok(r->value, r->value_len) || !headers_ok(r))
            return RN_KAFKA_INVALID_RECORD;
        if (r->timestamp < min_ts) min_ts = r->timestamp;
        if (r->timestamp > max_ts) max_ts = r->timestamp;
    }
    int32_t last_offset_delta = spec->last_offset_delta;
    if (n > 0) {
        int32_t last = (int32_t)(recs[n - 1].offset - spec->base_offset);
        if (last_offset_delta == -1) last_offset_delta = last;
        if (last_offset_delta < last) return RN_KAFKA_INVALID_RECORD;
    } else if (last_offset_delta < 0) {
        return RN_KAFKA_INVALID_RECORD;
    }
    const size_t max_records = (size_t)INT32_MAX - (RN_BATCH_HEADER_SIZE - RN_BATCH_LOG_OVERHEAD);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const rn_record *r = &recs[i];
        int64_t ts_delta;
        if (__builtin_sub_overflow(r->timestamp, min_ts, &ts_delta)) return RN_KAFKA_INVALID_RECORD;
        size_t body = record_body_size(r, ts_delta, r->offset - spec->base_offset);
        if (body > INT32_MAX) return RN_KAFKA_MESSAGE_TOO_LARGE;
        total += varlong_size((int64_t)body) + body;
        if (total > max_records) return RN_KAFKA_MESSAGE_TOO_LARGE;
    }

    /* Pass 2: write the records, in place after the header when uncompressed. */
    int codec = n > 0 ? spec->codec : RN_CODEC_NONE; /* an empty batch has no records bytes */
    uint8_t *buf, *plain = malloc(RN_BATCH_HEADER_SIZE + total);
    if (!plain) return RN_ERR_NOMEM;
    wcursor w = {plain + RN_BATCH_HEADER_SIZE, plain + RN_BATCH_HEADER_SIZE + total, false};
    for (int i = 0; i < n; i++)
        write_record(&w, &recs[i], recs[i].timestamp - min_ts, recs[i].offset - spec->base_offset);
    if (w.overflow || w.p != w.end) { /* pass 1 sized it: cannot happen */
        free(plain);
        return RN_ERR_INTERNAL;
    }
    size_t records_len = total;
    if (codec == RN_CODEC_NONE) {
        buf = plain;
    } else {
        rn_err err = rn_compress(codec, plain + RN_BATCH_HEADER_SIZE, total,
                                 spec->compression_level, RN_BATCH_HEADER_SIZE, &buf, &records_len);
        free(plain);
        if (err) return err;
        if (records_len > max_records) {
            free(buf);
            return RN_KAFKA_MESSAGE_TOO_LARGE;
        }
    }

    size_t size = RN_BATCH_HEADER_SIZE + records_len;
    uint16_t attrs = (uint16_t)codec;
    if (spec->log_append_time) attrs |= RN_BATCH_TIMESTAMP_LOG_APPEND;
    if (spec->transactional) attrs |= RN_BATCH_TRANSACTIONAL;
    if (spec->control) attrs |= RN_BATCH_CONTROL;
    put64(buf + OFF_BASE_OFFSET, (uint64_t)spec->base_offset);
    put32(buf + OFF_LENGTH, (uint32_t)(size - RN_BATCH_LOG_OVERHEAD));
    put32(buf + OFF_LEADER_EPOCH, (uint32_t)spec->partition_leader_epoch);
    buf[OFF_MAGIC] = 2;
    put16(buf + OFF_ATTRIBUTES, attrs);
    put32(buf + OFF_LAST_OFFSET_DELTA, (uint32_t)last_offset_delta);
    put64(buf + OFF_BASE_TIMESTAMP, (uint64_t)min_ts);
    put64(buf + OFF_MAX_TIMESTAMP,
          (uint64_t)(spec->log_append_time ? spec->log_append_time_ms : max_ts));
    put64(buf + OFF_PRODUCER_ID, (uint64_t)spec->producer_id);
    put16(buf + OFF_PRODUCER_EPOCH, (uint16_t)spec->producer_epoch);
    put32(buf + OFF_BASE_SEQUENCE, (uint32_t)spec->base_sequence);
    put32(buf + OFF_RECORD_COUNT, (uint32_t)n);
    put32(buf + OFF_CRC, rn_crc32c(0, buf + OFF_ATTRIBUTES, size - OFF_ATTRIBUTES));
    *out = buf;
    *len = size;
    return RN_KAFKA_NONE;
}
