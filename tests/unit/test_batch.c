/* tests/unit/test_batch.c: RecordBatch v2 parse, validation, rewrites, iteration with
 * each compression codec, and the encoder (rn_batch_encode) with each codec. */
#include <criterion/criterion.h>
#include <lz4.h>
#include <lz4frame.h>
#include <stdio.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "batch.h"
#include "compress.h"
#include "crc32c.h"

static rn_record rec(const char *k, const char *v, int64_t ts) {
    rn_record r = {0};
    r.key = (const uint8_t *)k;
    r.key_len = k ? (int32_t)strlen(k) : -1;
    r.value = (const uint8_t *)v;
    r.value_len = v ? (int32_t)strlen(v) : -1;
    r.timestamp = ts;
    return r;
}

static size_t build3(uint8_t *buf, size_t cap) {
    static const uint8_t hdrs[] = {4, 'h', '1', 2, 'x'}; /* one header "h1" = "x" (zigzag lengths) */
    rn_record rs[3] = {rec("a", "alpha", 1000), rec(NULL, "beta", 1005), rec("c", NULL, 1002)};
    rs[0].header_count = 1;
    rs[0].headers = hdrs;
    rs[0].headers_len = sizeof hdrs;
    return rn_batch_build(buf, cap, 0, rs, 3, -1, -1, -1);
}

Test(batch, build_parse_validate) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf);
    cr_assert_gt(n, RN_BATCH_HEADER_SIZE);
    rn_batch_header h;
    cr_assert_eq(rn_batch_header_parse(buf, n, &h), 0);
    cr_assert_eq(h.magic, 2);
    cr_assert_eq(h.record_count, 3);
    cr_assert_eq(h.last_offset_delta, 2);
    cr_assert_eq(h.base_timestamp, 1000);
    cr_assert_eq(h.max_timestamp, 1005);
    cr_assert_eq((size_t)h.batch_length + 12, n);
    size_t size;
    cr_assert_eq(rn_batch_validate(buf, n, &size), 0);
    cr_assert_eq(size, n);
}

Test(batch, iterate_records) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf);
    rn_batch_set_base_offset(buf, 100);
    rn_batch_records *it;
    cr_assert_eq(rn_batch_records_open(buf, n, 1 << 20, &it), 0);
    rn_record r;
    cr_assert_eq(rn_batch_records_next(it, &r), 1);
    cr_assert(r.offset == 100 && r.timestamp == 1000 && r.key_len == 1 && r.value_len == 5);
    cr_assert_eq(r.header_count, 1);
    size_t pos = 0;
    const uint8_t *hn, *hv;
    int32_t hnl, hvl;
    cr_assert_eq(rn_record_header_next(&r, &pos, &hn, &hnl, &hv, &hvl), 1);
    cr_assert(hnl == 2 && memcmp(hn, "h1", 2) == 0 && hvl == 1 && hv[0] == 'x');
    cr_assert_eq(rn_record_header_next(&r, &pos, &hn, &hnl, &hv, &hvl), 0);
    cr_assert_eq(rn_batch_records_next(it, &r), 1);
    cr_assert(r.offset == 101 && r.key_len == -1 && r.key == NULL && r.timestamp == 1005);
    cr_assert_eq(rn_batch_records_next(it, &r), 1);
    cr_assert(r.offset == 102 && r.value_len == -1);
    cr_assert_eq(rn_batch_records_next(it, &r), 0);
    rn_batch_records_close(it);
}

Test(batch, every_flipped_byte_inside_the_crc_is_caught) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf), size;
    for (size_t i = 21; i < n; i++) {
        buf[i] ^= 0x40;
        cr_assert_neq(rn_batch_validate(buf, n, &size), 0, "flip at %zu not caught", i);
        buf[i] ^= 0x40;
    }
    cr_assert_eq(rn_batch_validate(buf, n, &size), 0);
}

Test(batch, rewrites_keep_the_crc_valid) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf), size;
    rn_batch_set_base_offset(buf, 123456789);
    rn_batch_set_leader_epoch(buf, 7);
    cr_assert_eq(rn_batch_validate(buf, n, &size), 0);
    rn_batch_set_log_append_time(buf, n, 5555);
    cr_assert_eq(rn_batch_validate(buf, n, &size), 0);
    rn_batch_header h;
    rn_batch_header_parse(buf, n, &h);
    cr_assert(h.base_offset == 123456789 && h.partition_leader_epoch == 7 &&
              h.max_timestamp == 5555 && (h.attributes & RN_BATCH_TIMESTAMP_LOG_APPEND));
    rn_batch_records *it;
    rn_record r;
    cr_assert_eq(rn_batch_records_open(buf, n, 1 << 20, &it), 0);
    cr_assert_eq(rn_batch_records_next(it, &r), 1);
    cr_assert_eq(r.timestamp, 5555, "LogAppendTime records carry the batch time");
    rn_batch_records_close(it);
}

Test(batch, malformed_batches_rejected) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf), size;
    cr_assert_eq(rn_batch_validate(buf, n - 1, &size), RN_KAFKA_CORRUPT_MESSAGE, "truncated");
    cr_assert_eq(rn_batch_validate(buf, 10, &size), RN_KAFKA_CORRUPT_MESSAGE, "tiny");
    buf[16] = 1;
    cr_assert_eq(rn_batch_validate(buf, n, &size), RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    buf[16] = 0;
    cr_assert_eq(rn_batch_validate(buf, n, &size), RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT);
    buf[16] = 2;
    /* codec 6 (with a correct CRC) */
    buf[22] |= 6;
    uint32_t crc = rn_crc32c(0, buf + 21, n - 21);
    buf[17] = (uint8_t)(crc >> 24); buf[18] = (uint8_t)(crc >> 16);
    buf[19] = (uint8_t)(crc >> 8); buf[20] = (uint8_t)crc;
    cr_assert_eq(rn_batch_validate(buf, n, &size), RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE);
}

Test(batch, record_count_must_match) {
    uint8_t buf[1024];
    size_t n = build3(buf, sizeof buf), size;
    buf[60] = 4; /* record count 3 -> 4, CRC refreshed */
    uint32_t crc = rn_crc32c(0, buf + 21, n - 21);
    buf[17] = (uint8_t)(crc >> 24); buf[18] = (uint8_t)(crc >> 16);
    buf[19] = (uint8_t)(crc >> 8); buf[20] = (uint8_t)crc;
    cr_assert_neq(rn_batch_validate(buf, n, &size), 0);
}

Test(batch, validate_set) {
    uint8_t buf[2048];
    size_t n = build3(buf, sizeof buf);
    memcpy(buf + n, buf, n);
    int count;
    cr_assert_eq(rn_batch_validate_set(buf, 2 * n, &count), 0);
    cr_assert_eq(count, 2);
    cr_assert_eq(rn_batch_validate_set(buf, 2 * n - 5, &count), RN_KAFKA_CORRUPT_MESSAGE);
    buf[2 * n] = 0;
    cr_assert_eq(rn_batch_validate_set(buf, 2 * n + 1, &count), RN_KAFKA_CORRUPT_MESSAGE);
}

/* Re-wrap the records of an uncompressed batch with codec: header from src, records
 * compressed by compress(), CRC recomputed. */
typedef size_t (*compress_fn)(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

static size_t c_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in; z.avail_in = (uInt)n;
    z.next_out = out; z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = z.total_out;
    deflateEnd(&z);
    return len;
}
static size_t c_snappy_xerial(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    static const uint8_t magic[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(out, magic, 16);
    size_t clen = cap - 20;
    cr_assert_eq(snappy_compress((const char *)in, n, (char *)out + 20, &clen), SNAPPY_OK);
    out[16] = (uint8_t)(clen >> 24); out[17] = (uint8_t)(clen >> 16);
    out[18] = (uint8_t)(clen >> 8); out[19] = (uint8_t)clen;
    return 20 + clen;
}
static size_t c_lz4(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t r = LZ4F_compressFrame(out, cap, in, n, NULL);
    cr_assert(!LZ4F_isError(r));
    return r;
}
static size_t c_zstd(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t r = ZSTD_compress(out, cap, in, n, 3);
    cr_assert(!ZSTD_isError(r));
    return r;
}

static void round_trip(int codec, compress_fn fn) {
    uint8_t plain[1024], packed[4096];
    size_t n = build3(plain, sizeof plain);
    memcpy(packed, plain, RN_BATCH_HEADER_SIZE);
    size_t clen = fn(plain + RN_BATCH_HEADER_SIZE, n - RN_BATCH_HEADER_SIZE,
                     packed + RN_BATCH_HEADER_SIZE, sizeof packed - RN_BATCH_HEADER_SIZE);
    size_t total = RN_BATCH_HEADER_SIZE + clen;
    uint32_t len = (uint32_t)(total - 12);
    packed[8] = (uint8_t)(len >> 24); packed[9] = (uint8_t)(len >> 16);
    packed[10] = (uint8_t)(len >> 8); packed[11] = (uint8_t)len;
    packed[22] = (uint8_t)((packed[22] & ~7) | codec);
    uint32_t crc = rn_crc32c(0, packed + 21, total - 21);
    packed[17] = (uint8_t)(crc >> 24); packed[18] = (uint8_t)(crc >> 16);
    packed[19] = (uint8_t)(crc >> 8); packed[20] = (uint8_t)crc;
    size_t size;
    cr_assert_eq(rn_batch_validate(packed, total, &size), 0, "codec %d", codec);
    rn_batch_records *it;
    cr_assert_eq(rn_batch_records_open(packed, total, 1 << 20, &it), 0, "codec %d", codec);
    rn_record r;
    int count = 0;
    while (rn_batch_records_next(it, &r) == 1) count++;
    cr_assert_eq(count, 3, "codec %d", codec);
    rn_batch_records_close(it);
    /* A cap below the decompressed size is refused. */
    cr_assert_eq(rn_batch_records_open(packed, total, 8, &it), RN_KAFKA_CORRUPT_MESSAGE);
    /* Corrupt compressed bytes fail cleanly. */
    packed[RN_BATCH_HEADER_SIZE + clen / 2] ^= 0xff;
    if (rn_batch_records_open(packed, total, 1 << 20, &it) == 0) {
        while (rn_batch_records_next(it, &r) == 1) {}
        rn_batch_records_close(it);
    }
}

Test(batch, gzip) { round_trip(RN_COMPRESSION_GZIP, c_gzip); }
Test(batch, snappy_xerial) { round_trip(RN_COMPRESSION_SNAPPY, c_snappy_xerial); }
Test(batch, lz4) { round_trip(RN_COMPRESSION_LZ4, c_lz4); }
Test(batch, zstd) { round_trip(RN_COMPRESSION_ZSTD, c_zstd); }

/* ---- rn_batch_encode ---------------------------------------------------------------- */

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* Zigzag varint, as in records. */
static size_t put_varint(uint8_t *p, int64_t v) {
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}

/* One header: name, value (NULL: null value). */
static size_t put_header(uint8_t *p, const char *name, const char *value) {
    size_t n = put_varint(p, (int64_t)strlen(name));
    memcpy(p + n, name, strlen(name));
    n += strlen(name);
    if (!value) return n + put_varint(p + n, -1);
    n += put_varint(p + n, (int64_t)strlen(value));
    memcpy(p + n, value, strlen(value));
    return n + strlen(value);
}

#define NRECS 50
typedef struct {
    rn_record recs[NRECS];
    char keys[NRECS][32], values[NRECS][64];
    uint8_t headers[NRECS][64];
    int64_t min_ts, max_ts;
} recset;

/* 50 records from offset 100 with gaps (100, 103, 107, 108, 110, 113, ...), every 7th key
 * null, every 5th value null, every 11th value empty, headers on every 3rd record (one of
 * them with a null value), timestamps out of order (the smallest is not the first). With
 * contiguous, offsets are 100..149. */
static void make_recset(recset *s, bool contiguous) {
    static const int gaps[] = {3, 4, 1, 2};
    int64_t off = 100;
    s->min_ts = INT64_MAX;
    s->max_ts = INT64_MIN;
    for (int i = 0; i < NRECS; i++) {
        rn_record *r = &s->recs[i];
        memset(r, 0, sizeof *r);
        r->offset = off;
        off += contiguous ? 1 : gaps[i % 4];
        r->timestamp = 1700000000000 + ((i * 37) % NRECS) * 10;
        if (r->timestamp < s->min_ts) s->min_ts = r->timestamp;
        if (r->timestamp > s->max_ts) s->max_ts = r->timestamp;
        snprintf(s->keys[i], sizeof s->keys[i], "key-%d", i);
        snprintf(s->values[i], sizeof s->values[i], "value-%d-%.*s", i, i,
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        r->key = i % 7 == 3 ? NULL : (const uint8_t *)s->keys[i];
        r->key_len = r->key ? (int32_t)strlen(s->keys[i]) : -1;
        r->value = i % 5 == 4 ? NULL : (const uint8_t *)s->values[i];
        r->value_len = r->value ? (int32_t)strlen(s->values[i]) : -1;
        if (i % 11 == 0) r->value_len = 0; /* an empty (not null) value */
        if (i % 3 == 0) {
            size_t n = put_header(s->headers[i], "trace", s->keys[i]);
            n += put_header(s->headers[i] + n, "nul", NULL);
            n += put_header(s->headers[i] + n, "", "");
            r->headers = s->headers[i];
            r->headers_len = n;
            r->header_count = 3;
        }
    }
}

static rn_batch_spec spec_for(int codec) {
    rn_batch_spec sp = {.base_offset = 100, .last_offset_delta = -1, .codec = codec,
                        .producer_id = 4242, .producer_epoch = 3, .base_sequence = 17,
                        .partition_leader_epoch = 9};
    return sp;
}

static void same_field(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen,
                       const char *what, int i) {
    cr_assert_eq(alen, blen, "record %d %s length %d != %d", i, what, alen, blen);
    if (alen == -1) cr_assert_null(a, "record %d %s not null", i, what);
    if (alen > 0) cr_assert(memcmp(a, b, (size_t)alen) == 0, "record %d %s bytes", i, what);
}

/* Parse, CRC-check and iterate an encoded batch and compare it with what went in. */
static void check_batch(const uint8_t *b, size_t len, const rn_batch_spec *sp, int codec,
                        const rn_record *recs, int n, int32_t last_offset_delta,
                        int64_t base_ts, int64_t max_ts, size_t max_decompressed) {
    rn_batch_header h;
    cr_assert_eq(rn_batch_header_parse(b, len, &h), 0);
    cr_assert_eq((size_t)h.batch_length + RN_BATCH_LOG_OVERHEAD, len);
    cr_assert_eq(h.magic, 2);
    cr_assert_eq(h.crc, rn_crc32c(0, b + 21, len - 21), "CRC32C");
    cr_assert_eq(h.crc, rn_crc32c_sw(0, b + 21, len - 21), "CRC32C (table)");
    cr_assert_eq(h.base_offset, sp->base_offset);
    cr_assert_eq(h.partition_leader_epoch, sp->partition_leader_epoch);
    cr_assert_eq(h.attributes & RN_BATCH_COMPRESSION_MASK, codec, "codec bits %d", h.attributes);
    cr_assert_eq(rn_batch_codec(b), codec);
    cr_assert_eq(!!(h.attributes & RN_BATCH_TIMESTAMP_LOG_APPEND), sp->log_append_time);
    cr_assert_eq(!!(h.attributes & RN_BATCH_TRANSACTIONAL), sp->transactional);
    cr_assert_eq(!!(h.attributes & RN_BATCH_CONTROL), sp->control);
    cr_assert_eq(h.attributes & ~0x3f, 0);
    cr_assert_eq(h.record_count, n);
    cr_assert_eq(h.last_offset_delta, last_offset_delta);
    cr_assert_eq(h.base_timestamp, base_ts);
    cr_assert_eq(h.max_timestamp, max_ts);
    cr_assert_eq(h.producer_id, sp->producer_id);
    cr_assert_eq(h.producer_epoch, sp->producer_epoch);
    cr_assert_eq(h.base_sequence, sp->base_sequence);

    rn_batch_records *it;
    cr_assert_eq(rn_batch_records_open(b, len, max_decompressed, &it), 0);
    rn_record r;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(rn_batch_records_next(it, &r), 1, "record %d", i);
        cr_assert_eq(r.offset, recs[i].offset, "record %d offset", i);
        cr_assert_eq(r.timestamp, sp->log_append_time ? sp->log_append_time_ms : recs[i].timestamp,
                     "record %d timestamp", i);
        same_field(r.key, r.key_len, recs[i].key, recs[i].key_len, "key", i);
        same_field(r.value, r.value_len, recs[i].value, recs[i].value_len, "value", i);
        cr_assert_eq(r.header_count, recs[i].header_count, "record %d headers", i);
        cr_assert_eq(r.headers_len, recs[i].headers_len);
        if (r.headers_len) cr_assert(memcmp(r.headers, recs[i].headers, r.headers_len) == 0);
        size_t pos = 0, want_pos = 0;
        const uint8_t *hn, *hv;
        int32_t hnl, hvl, count = 0;
        int rc;
        while ((rc = rn_record_header_next(&r, &pos, &hn, &hnl, &hv, &hvl)) == 1) {
            rn_record want = recs[i];
            const uint8_t *wn, *wv;
            int32_t wnl, wvl;
            cr_assert_eq(rn_record_header_next(&want, &want_pos, &wn, &wnl, &wv, &wvl), 1);
            same_field(hn, hnl, wn, wnl, "header name", i);
            same_field(hv, hvl, wv, wvl, "header value", i);
            count++;
        }
        cr_assert_eq(rc, 0);
        cr_assert_eq(count, recs[i].header_count);
    }
    cr_assert_eq(rn_batch_records_next(it, &r), 0, "no more records than record_count");
    rn_batch_records_close(it);
}

/* ---- independent decoders: what a Kafka client does with the records part ---------- */

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint32_t rd_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Decompress the records part of batch b with codec as the Java client's streams would:
 * GZIPInputStream (gzip only), SnappyInputStream (xerial header, blocks), and
 * KafkaLZ4BlockInputStream (each block decompressed alone, no dictionary), ZstdInputStream.
 * Returns a malloc'd copy and its size in *n; *blocks gets the snappy/lz4 block count. */
static uint8_t *client_decompress(int codec, const uint8_t *in, size_t len, size_t *n,
                                  int *blocks) {
    size_t cap = 8 << 20, o = 0;
    uint8_t *out = malloc(cap);
    cr_assert(out);
    *blocks = 0;
    if (codec == RN_CODEC_GZIP) {
        cr_assert(len >= 18 && in[0] == 0x1f && in[1] == 0x8b && in[2] == 8, "gzip member");
        z_stream z = {0};
        cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only, no zlib/raw */
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)len;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
        cr_assert_eq(z.avail_in, 0, "nothing after the gzip member");
        o = z.total_out;
        inflateEnd(&z);
    } else if (codec == RN_CODEC_SNAPPY) {
        static const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
        cr_assert(len >= 16 && memcmp(in, hdr, 16) == 0, "xerial header, version 1, compat 1");
        size_t pos = 16;
        while (pos < len) {
            cr_assert_geq(len - pos, 4);
            uint32_t clen = rd_be32(in + pos);
            pos += 4;
            cr_assert_leq(clen, len - pos);
            size_t ulen;
            cr_assert_eq(snappy_uncompressed_length((const char *)in + pos, clen, &ulen), SNAPPY_OK);
            cr_assert_leq(ulen, RN_SNAPPY_XERIAL_BLOCK, "blocks of at most 32 KiB as snappy-java");
            cr_assert_leq(o + ulen, cap);
            cr_assert_eq(snappy_uncompress((const char *)in + pos, clen, (char *)out + o, &ulen),
                         SNAPPY_OK);
            o += ulen;
            pos += clen;
            (*blocks)++;
        }
    } else if (codec == RN_CODEC_LZ4) {
        cr_assert(len >= 7 && le32(in) == 0x184D2204, "lz4 frame magic");
        /* FLG: version 01, block independence, no block checksum, no content size, no
         * content checksum, no dict id. BD: 64 KiB max block. */
        cr_assert_eq(in[4], 0x60, "FLG %#x", in[4]);
        cr_assert_eq(in[5], 0x40, "BD %#x", in[5]);
        size_t pos = 7; /* magic, FLG, BD, HC */
        for (;;) {
            cr_assert_geq(len - pos, 4);
            uint32_t bsize = le32(in + pos);
            pos += 4;
            if (bsize == 0) break; /* EndMark */
            bool raw = bsize & 0x80000000u;
            bsize &= 0x7fffffffu;
            cr_assert_leq(bsize, len - pos);
            uint8_t block[65536];
            int got;
            if (raw) {
                cr_assert_leq(bsize, sizeof block);
                memcpy(block, in + pos, bsize);
                got = (int)bsize;
            } else {
                got = LZ4_decompress_safe((const char *)in + pos, (char *)block, (int)bsize,
                                          (int)sizeof block);
                cr_assert_geq(got, 0, "lz4 block %d decompresses alone", *blocks);
            }
            cr_assert_leq(o + (size_t)got, cap);
            memcpy(out + o, block, (size_t)got);
            o += (size_t)got;
            pos += bsize;
            (*blocks)++;
        }
        cr_assert_eq(pos, len, "nothing after the EndMark (no content checksum)");
    } else if (codec == RN_CODEC_ZSTD) {
        size_t r = ZSTD_decompress(out, cap, in, len);
        cr_assert(!ZSTD_isError(r), "%s", ZSTD_getErrorName(r));
        o = r;
    } else {
        cr_assert_fail("codec %d", codec);
    }
    *n = o;
    return out;
}

/* The compressed batch is the uncompressed one with its records part compressed: same
 * header fields but attributes, length and CRC, and the records decompress (by the
 * client-side decoders above) to exactly the uncompressed records part. */
static void check_against_plain(const uint8_t *b, size_t len, const rn_batch_spec *sp,
                                const rn_record *recs, int n, int *blocks) {
    rn_batch_spec plain_spec = *sp;
    plain_spec.codec = RN_CODEC_NONE;
    uint8_t *p;
    size_t plen;
    cr_assert_eq(rn_batch_encode(&plain_spec, recs, n, &p, &plen), 0);
    cr_assert_eq(memcmp(b, p, 8), 0, "base offset");
    cr_assert_eq(memcmp(b + 12, p + 12, 5), 0, "leader epoch, magic");
    cr_assert_eq(b[21], p[21]);
    cr_assert_eq(b[22] & ~7, p[22] & ~7);
    cr_assert_eq(memcmp(b + 23, p + 23, RN_BATCH_HEADER_SIZE - 23), 0, "header after attributes");
    size_t dn;
    uint8_t *d = client_decompress(sp->codec, b + RN_BATCH_HEADER_SIZE,
                                   len - RN_BATCH_HEADER_SIZE, &dn, blocks);
    cr_assert_eq(dn, plen - RN_BATCH_HEADER_SIZE);
    cr_assert(memcmp(d, p + RN_BATCH_HEADER_SIZE, dn) == 0, "decompressed records");
    free(d);
    free(p);
}

static void encode_50(int codec) {
    static recset s;
    make_recset(&s, false);
    rn_batch_spec sp = spec_for(codec);
    uint8_t *b;
    size_t len;
    cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), 0, "%s", codec_names[codec]);
    int32_t lod = (int32_t)(s.recs[NRECS - 1].offset - 100);
    cr_assert_gt(lod, NRECS - 1, "the offsets have gaps");
    check_batch(b, len, &sp, codec, s.recs, NRECS, lod, s.min_ts, s.max_ts, 1 << 20);
    size_t size;
    /* rn_batch_validate is the produce-side check: a client's batch has no gaps. */
    cr_assert_eq(rn_batch_validate(b, len, &size), RN_KAFKA_CORRUPT_MESSAGE);
    if (codec != RN_CODEC_NONE) {
        int blocks;
        check_against_plain(b, len, &sp, s.recs, NRECS, &blocks);
    }
    free(b);

    /* The same records at contiguous offsets pass the full produce validation. */
    make_recset(&s, true);
    cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), 0);
    cr_assert_eq(rn_batch_validate(b, len, &size), 0, "%s", codec_names[codec]);
    cr_assert_eq(size, len);
    check_batch(b, len, &sp, codec, s.recs, NRECS, NRECS - 1, s.min_ts, s.max_ts, 1 << 20);
    free(b);
}

Test(encode, none) { encode_50(RN_CODEC_NONE); }
Test(encode, gzip) { encode_50(RN_CODEC_GZIP); }
Test(encode, snappy) { encode_50(RN_CODEC_SNAPPY); }
Test(encode, lz4) { encode_50(RN_CODEC_LZ4); }
Test(encode, zstd) { encode_50(RN_CODEC_ZSTD); }

Test(encode, attributes_and_log_append_time) {
    static recset s;
    make_recset(&s, true);
    for (int codec = 0; codec <= RN_CODEC_ZSTD; codec++) {
        rn_batch_spec sp = spec_for(codec);
        sp.log_append_time = true;
        sp.log_append_time_ms = 1800000000123;
        sp.transactional = true;
        sp.producer_id = -1;
        sp.producer_epoch = -1;
        sp.base_sequence = -1;
        sp.partition_leader_epoch = -1;
        uint8_t *b;
        size_t len, size;
        cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), 0);
        check_batch(b, len, &sp, codec, s.recs, NRECS, NRECS - 1, s.min_ts, sp.log_append_time_ms,
                    1 << 20);
        cr_assert_eq(rn_batch_validate(b, len, &size), 0);
        free(b);
    }
    /* A control batch keeps its bit. */
    rn_batch_spec sp = spec_for(RN_CODEC_NONE);
    sp.control = true;
    uint8_t *b;
    size_t len;
    cr_assert_eq(rn_batch_encode(&sp, s.recs, 1, &b, &len), 0);
    cr_assert_eq(b[22] & RN_BATCH_CONTROL, RN_BATCH_CONTROL);
    free(b);
}

Test(encode, same_bytes_as_rn_batch_build) {
    uint8_t built[1024];
    size_t n = build3(built, sizeof built);
    rn_batch_records *it;
    rn_record rs[3];
    cr_assert_eq(rn_batch_records_open(built, n, 1 << 20, &it), 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(rn_batch_records_next(it, &rs[i]), 1);
    /* build3's first record has the smallest timestamp, so both pick the same base. */
    rn_batch_spec sp = {.base_offset = 0, .last_offset_delta = -1, .producer_id = -1,
                        .producer_epoch = -1, .base_sequence = -1, .partition_leader_epoch = -1};
    uint8_t *b;
    size_t len;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), 0);
    cr_assert_eq(len, n);
    cr_assert(memcmp(b, built, n) == 0);
    free(b);
    rn_batch_records_close(it);
}

Test(encode, last_offset_delta_override) {
    static recset s;
    make_recset(&s, true); /* offsets 100..149 */
    for (int codec = 0; codec <= RN_CODEC_ZSTD; codec++) {
        rn_batch_spec sp = spec_for(codec);
        sp.last_offset_delta = 80; /* the batch covers 100..180 */
        uint8_t *b;
        size_t len;
        cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), 0);
        check_batch(b, len, &sp, codec, s.recs, NRECS, 80, s.min_ts, s.max_ts, 1 << 20);
        rn_batch_header h;
        rn_batch_header_parse(b, len, &h);
        cr_assert_eq(h.base_offset + h.last_offset_delta + 1, 181, "next offset");
        free(b);
        /* Exactly the last record's delta is the same as -1. */
        sp.last_offset_delta = NRECS - 1;
        cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), 0);
        size_t size;
        cr_assert_eq(rn_batch_validate(b, len, &size), 0);
        free(b);
        /* Below the last record's delta is refused. */
        sp.last_offset_delta = NRECS - 2;
        b = NULL;
        cr_assert_eq(rn_batch_encode(&sp, s.recs, NRECS, &b, &len), RN_KAFKA_INVALID_RECORD);
        cr_assert_null(b);
    }
}

Test(encode, empty_batch) {
    for (int codec = 0; codec <= RN_CODEC_ZSTD; codec++) {
        rn_batch_spec sp = spec_for(codec);
        sp.base_offset = 500;
        sp.last_offset_delta = 4; /* covers 500..504 */
        uint8_t *b;
        size_t len, size;
        cr_assert_eq(rn_batch_encode(&sp, NULL, 0, &b, &len), 0);
        cr_assert_eq(len, RN_BATCH_HEADER_SIZE, "no records bytes");
        /* As Kafka's writeEmptyHeader: codec NONE, no base timestamp. */
        check_batch(b, len, &sp, RN_CODEC_NONE, NULL, 0, 4, -1, -1, 1 << 20);
        cr_assert_eq(rn_batch_validate(b, len, &size), 0);
        cr_assert_eq(size, len);
        free(b);
        sp.log_append_time = true;
        sp.log_append_time_ms = 77;
        cr_assert_eq(rn_batch_encode(&sp, NULL, 0, &b, &len), 0);
        check_batch(b, len, &sp, RN_CODEC_NONE, NULL, 0, 4, -1, 77, 1 << 20);
        free(b);
        /* An empty batch needs an explicit last_offset_delta. */
        sp.last_offset_delta = -1;
        cr_assert_eq(rn_batch_encode(&sp, NULL, 0, &b, &len), RN_KAFKA_INVALID_RECORD);
        sp.last_offset_delta = 0; /* covers one offset */
        cr_assert_eq(rn_batch_encode(&sp, NULL, 0, &b, &len), 0);
        cr_assert_eq(rn_batch_validate(b, len, &size), 0);
        free(b);
    }
}

/* 1 MiB of values in 16 records of 64 KiB: text with some repetition and some noise, so
 * that every codec both compresses and spans many blocks. */
static void encode_large(int codec) {
    enum { N = 16, VLEN = 64 * 1024 };
    uint8_t *vals = malloc((size_t)N * VLEN);
    cr_assert(vals);
    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)N * VLEN; i++) {
        x = x * 1103515245u + 12345u;
        vals[i] = (i / 64) % 3 == 0 ? (uint8_t)(x >> 24) : (uint8_t)('a' + (i % 26));
    }
    rn_record rs[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        snprintf(keys[i], sizeof keys[i], "big-%d", i);
        rs[i].key = (const uint8_t *)keys[i];
        rs[i].key_len = (int32_t)strlen(keys[i]);
        rs[i].value = vals + (size_t)i * VLEN;
        rs[i].value_len = VLEN;
        rs[i].offset = 1000000 + 2 * i;
        rs[i].timestamp = 5000 - i;
    }
    rn_batch_spec sp = spec_for(codec);
    sp.base_offset = 1000000;
    uint8_t *b;
    size_t len;
    cr_assert_eq(rn_batch_encode(&sp, rs, N, &b, &len), 0);
    check_batch(b, len, &sp, codec, rs, N, 2 * (N - 1), 5000 - (N - 1), 5000, 4 << 20);
    if (codec != RN_CODEC_NONE) {
        cr_assert_lt(len, (size_t)N * VLEN, "%s compresses", codec_names[codec]);
        int blocks;
        check_against_plain(b, len, &sp, rs, N, &blocks);
        if (codec == RN_CODEC_SNAPPY) cr_assert_geq(blocks, 32, "32 KiB xerial blocks");
        if (codec == RN_CODEC_LZ4) cr_assert_geq(blocks, 16, "64 KiB lz4 blocks");
        /* The iterator's cap still applies. */
        rn_batch_records *it;
        cr_assert_eq(rn_batch_records_open(b, len, 1 << 20, &it), RN_KAFKA_CORRUPT_MESSAGE);
    } else {
        cr_assert_gt(len, (size_t)N * VLEN);
    }
    free(b);
    free(vals);
}

Test(encode, large_none) { encode_large(RN_CODEC_NONE); }
Test(encode, large_gzip) { encode_large(RN_CODEC_GZIP); }
Test(encode, large_snappy) { encode_large(RN_CODEC_SNAPPY); }
Test(encode, large_lz4) { encode_large(RN_CODEC_LZ4); }
Test(encode, large_zstd) { encode_large(RN_CODEC_ZSTD); }

Test(encode, bad_input_rejected) {
    static recset s;
    make_recset(&s, false);
    rn_batch_spec sp = spec_for(RN_CODEC_LZ4);
    uint8_t *b = NULL;
    size_t len;
    rn_record rs[3] = {s.recs[0], s.recs[1], s.recs[2]};

    rs[1].offset = rs[0].offset - 1; /* decreasing */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[1].offset = rs[0].offset; /* repeated */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[1] = s.recs[1];
    rs[2].offset = rs[0].offset + 1; /* decreasing later */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[2] = s.recs[2];
    sp.base_offset = rs[0].offset + 1; /* below the base offset */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    sp.base_offset = rs[2].offset - (int64_t)INT32_MAX - 1; /* a delta past int32 */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    sp.base_offset = -1;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    sp = spec_for(RN_CODEC_LZ4);
    sp.last_offset_delta = -2;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    sp = spec_for(RN_CODEC_LZ4);
    cr_assert_eq(rn_batch_encode(&sp, rs, -1, &b, &len), RN_KAFKA_INVALID_RECORD);

    rs[0].key = NULL; /* a length with no bytes */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0] = s.recs[0];
    rs[0].value_len = -2;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0] = s.recs[0];
    cr_assert_eq(rs[0].header_count, 3);
    rs[0].header_count = 2; /* headers that do not match their count */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0].header_count = 4;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0].header_count = 3;
    rs[0].headers_len--; /* truncated */
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0] = s.recs[0];
    rs[0].timestamp = INT64_MIN; /* a timestamp delta past int64 */
    rs[1].timestamp = INT64_MAX;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_INVALID_RECORD);
    rs[0] = s.recs[0];
    rs[1] = s.recs[1];
    sp.codec = 5;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE);
    cr_assert_null(b, "nothing handed out on error");
    sp.codec = RN_CODEC_LZ4;
    cr_assert_eq(rn_batch_encode(&sp, rs, 3, &b, &len), 0, "and the good input encodes");
    free(b);
}

Test(encode, compressors_alone) {
    /* Empty input and tiny input round-trip through every compressor, with headroom. */
    static const uint8_t txt[] = "hello hello hello hello";
    for (int codec = 0; codec <= RN_CODEC_ZSTD; codec++) {
        for (size_t n = 0; n <= sizeof txt; n += sizeof txt) {
            uint8_t *out;
            size_t olen;
            cr_assert_eq(rn_compress(codec, n ? txt : NULL, n, 0, 5, &out, &olen), 0);
            if (codec == RN_CODEC_NONE) {
                cr_assert_eq(olen, n);
                if (n) cr_assert(memcmp(out + 5, txt, n) == 0);
            } else {
                size_t dn;
                int blocks;
                uint8_t *d = client_decompress(codec, out + 5, olen, &dn, &blocks);
                cr_assert_eq(dn, n, "%s of %zu bytes", codec_names[codec], n);
                if (n) cr_assert(memcmp(d, txt, n) == 0);
                free(d);
            }
            free(out);
        }
    }
    uint8_t *out;
    size_t olen;
    cr_assert_eq(rn_compress(7, txt, 3, 0, 0, &out, &olen), RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE);
    /* Levels: gzip 9, lz4 9 (HC), zstd 19. */
    for (int codec = 1; codec <= RN_CODEC_ZSTD; codec++) {
        cr_assert_eq(rn_compress(codec, txt, sizeof txt, codec == 4 ? 19 : 9, 0, &out, &olen), 0);
        size_t dn;
        int blocks;
        uint8_t *d = client_decompress(codec, out, olen, &dn, &blocks);
        cr_assert(dn == sizeof txt && memcmp(d, txt, dn) == 0);
        free(d);
        free(out);
    }
}
