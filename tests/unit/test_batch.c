/* tests/unit/test_batch.c: RecordBatch v2 parse, validation, rewrites, iteration with
 * each compression codec. */
#include <criterion/criterion.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "batch.h"
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
