/* engine/batch.h: Kafka RecordBatch v2 (magic 2): header parsing, validation, the
 * broker-side rewrites (base offset, leader epoch, LogAppendTime) and record iteration.
 *
 *  0                8          12                     16     17       21           23
 *  +----------------+----------+----------------------+------+--------+------------+
 *  | baseOffset i64 | length   | partitionLeaderEpoch | magic| crc u32| attributes |
 *  |                | i32      | i32                  | i8=2 |        | i16        |
 *  +----------------+----------+----------------------+------+--------+------------+
 *  23                 27                35                43            51
 *  +------------------+-----------------+-----------------+-------------+
 *  | lastOffsetDelta  | baseTimestamp   | maxTimestamp    | producerId  |
 *  | i32              | i64             | i64             | i64         |
 *  +------------------+-----------------+-----------------+-------------+
 *  51               53              57             61
 *  +----------------+---------------+--------------+----------- ... -+
 *  | producerEpoch  | baseSequence  | recordCount  | records          |
 *  | i16            | i32           | i32          | (maybe compressed)|
 *  +----------------+---------------+--------------+----------- ... -+
 *
 * length counts the bytes after the length field (so a batch is length + 12 bytes).
 * The CRC covers attributes .. end; baseOffset, length, partitionLeaderEpoch and magic
 * are outside it, which is what lets the broker rewrite base offset and leader epoch
 * without recomputing it. All integers big-endian. Nothing here allocates except the
 * record iterator, which owns the decompressed copy of a compressed batch, and
 * rn_batch_encode, which returns a new batch (compressing with compress.h). */
#ifndef RN_BATCH_H
#define RN_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RN_BATCH_HEADER_SIZE 61
#define RN_BATCH_LOG_OVERHEAD 12 /* baseOffset + length */

/* attributes bits */
#define RN_BATCH_COMPRESSION_MASK 0x07
#define RN_BATCH_TIMESTAMP_LOG_APPEND 0x08
#define RN_BATCH_TRANSACTIONAL 0x10
#define RN_BATCH_CONTROL 0x20

enum rn_compression {
    RN_COMPRESSION_NONE = 0,
    RN_COMPRESSION_GZIP = 1,
    RN_COMPRESSION_SNAPPY = 2,
    RN_COMPRESSION_LZ4 = 3,
    RN_COMPRESSION_ZSTD = 4,
};

typedef struct {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} rn_batch_header;

/* Decode the fixed header of the batch at buf. Needs len >= 17 to read the magic and
 * RN_BATCH_HEADER_SIZE for the rest. Returns 0, RN_KAFKA_CORRUPT_MESSAGE when the bytes
 * are too short or the length field is impossible, RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT
 * when magic is not 2 (message formats v0/v1 are not supported). Checks no CRC. */
rn_err rn_batch_header_parse(const uint8_t *buf, size_t len, rn_batch_header *h);

/* Full validation of one batch that starts at buf, as a broker does on produce:
 * header parse, length within len, CRC32C, record_count >= 0 and consistent with
 * last_offset_delta (record_count == last_offset_delta + 1 for non-empty batches),
 * a known compression codec, and, for uncompressed batches, that the records parse and
 * their count matches record_count. Sets *batch_size to length + 12 on success.
 * Returns 0, RN_KAFKA_CORRUPT_MESSAGE (bad CRC, truncated, inconsistent),
 * RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT (magic != 2),
 * RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE (codec 5..7), RN_KAFKA_INVALID_RECORD (a record
 * inside an uncompressed batch does not parse). */
rn_err rn_batch_validate(const uint8_t *buf, size_t len, size_t *batch_size);

/* Split a record set (concatenated batches, e.g. a Produce partition's records field)
 * and validate each; *count gets the number of batches. Trailing bytes that do not form a
 * whole batch are CORRUPT_MESSAGE (a producer never sends a partial batch). */
rn_err rn_batch_validate_set(const uint8_t *buf, size_t len, int *count);

/* In-place rewrites; buf must hold a batch that rn_batch_header_parse accepted. */
void rn_batch_set_base_offset(uint8_t *buf, int64_t base_offset);
void rn_batch_set_leader_epoch(uint8_t *buf, int32_t leader_epoch);
/* Sets the LogAppendTime attribute bit and maxTimestamp = ts, and recomputes the CRC
 * (both are inside it). len is the batch size. */
void rn_batch_set_log_append_time(uint8_t *buf, size_t len, int64_t ts);

/* One record of a batch. key/value/headers point into the batch bytes (or into the
 * iterator's decompressed copy): valid until the iterator is closed. */
typedef struct {
    int64_t offset;    /* base_offset + offset_delta */
    int64_t timestamp; /* base_timestamp + timestamp_delta, or max_timestamp for LogAppendTime */
    const uint8_t *key;
    int32_t key_len; /* -1: null key */
    const uint8_t *value;
    int32_t value_len; /* -1: null value */
    int32_t header_count;
    const uint8_t *headers; /* the encoded headers: varint name len, name, varint value len, value, ... */
    size_t headers_len;
} rn_record;

typedef struct rn_batch_records rn_batch_records;

/* The most a broker-side reader (hooks, views, processors, the time index) decompresses
 * of one batch: a decompression bomb fails that batch, it cannot exhaust memory. */
#define RN_BATCH_MAX_DECOMPRESSED (64u << 20)

/* Open an iterator over the records of one batch (validated or not: every read is
 * bounds-checked), decompressing gzip, snappy (raw and xerial framing), lz4 (frame
 * format) or zstd into an owned buffer when the batch is compressed. The batch bytes
 * must outlive the iterator. Decompressed size is capped at max_decompressed bytes
 * (RN_KAFKA_CORRUPT_MESSAGE beyond). Returns 0 and *out, or an error. */
rn_err rn_batch_records_open(const uint8_t *buf, size_t len, size_t max_decompressed,
                             rn_batch_records **out);
/* Next record: returns 1 and fills *rec, 0 at the end, RN_KAFKA_CORRUPT_MESSAGE on bad
 * bytes (and stays failed). */
int rn_batch_records_next(rn_batch_records *it, rn_record *rec);
void rn_batch_records_close(rn_batch_records *it);

/* Iterate the headers of a record: returns 1 and the name/value (value_len -1 = null),
 * 0 at the end, negative on corruption. *pos starts at 0. */
int rn_record_header_next(const rn_record *rec, size_t *pos, const uint8_t **name,
                          int32_t *name_len, const uint8_t **value, int32_t *value_len);

/* Encode one record header the way batches carry it (varint name length, name, varint
 * value length or -1 for a NULL value, value) at p, which has room for
 * RN_RECORD_HEADER_OVERHEAD + name_len + value_len bytes. Returns the bytes written. */
#define RN_RECORD_HEADER_OVERHEAD 10
size_t rn_record_header_put(uint8_t *p, const uint8_t *name, int32_t name_len,
                            const uint8_t *value, int32_t value_len);

/* Build an uncompressed batch (for tests, the fuzzers and later the processors): writes
 * into buf (cap bytes) and returns the size, or 0 if it does not fit. Records get
 * offset deltas 0..n-1 and timestamp deltas from their timestamps. producer_id -1 for
 * non-idempotent. */
size_t rn_batch_build(uint8_t *buf, size_t cap, int64_t base_offset, const rn_record *recs,
                      int n, int64_t producer_id, int16_t producer_epoch,
                      int32_t base_sequence);

/* ---- encoding (the broker rebuilding batches, e.g. after Lua hooks) ----------------- */

/* The same ids as enum rn_compression (the attributes' low 3 bits). */
enum rn_codec {
    RN_CODEC_NONE = 0,
    RN_CODEC_GZIP = 1,
    RN_CODEC_SNAPPY = 2,
    RN_CODEC_LZ4 = 3,
    RN_CODEC_ZSTD = 4,
};

typedef struct {
    int64_t base_offset;            /* >= 0 */
    int32_t last_offset_delta;      /* -1: the last record's delta; larger values make a batch that
                                       covers offsets past its last record (as compaction leaves
                                       them: a consumer skips to base_offset + last_offset_delta + 1) */
    int codec;                      /* enum rn_codec */
    bool log_append_time;           /* attributes bit 3; then max_timestamp is log_append_time */
    int64_t log_append_time_ms;
    int64_t producer_id;            /* -1: none */
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t partition_leader_epoch;
    bool transactional;             /* attributes bit 4 */
    bool control;                   /* attributes bit 5 */
    int compression_level;          /* 0: the codec's default (see compress.h) */
} rn_batch_spec;

/* Encode records into one batch: each record's offset delta is rec->offset - base_offset
 * (offsets strictly increasing, >= base_offset, deltas within int32), timestamps as deltas
 * from the base timestamp, which is the smallest record timestamp (max timestamp = the
 * largest, or log_append_time_ms with log_append_time), headers copied from rec->headers /
 * header_count as encoded (varint name len, name, varint value len or -1, value; they must
 * parse to exactly header_count headers), key/value with length -1 as null (a length >= 0
 * with a NULL pointer is allowed only for length 0). The records part is compressed with
 * spec->codec (formats in compress.h); the CRC32C is computed. Records' attributes are 0.
 *
 * Zero records is allowed: an empty batch that only advances offsets (record count 0,
 * last_offset_delta must then be >= 0). Like Kafka's DefaultRecordBatch.writeEmptyHeader
 * it has no records bytes at all, codec bits NONE whatever spec->codec says, base timestamp
 * -1 and max timestamp -1 (or log_append_time_ms).
 *
 * Note: a batch whose offsets have gaps (or whose last_offset_delta is past the last
 * record) has record_count != last_offset_delta + 1, which rn_batch_validate refuses as a
 * client's produce must be refused; consumers read such batches (as compacted ones).
 *
 * *out is malloc'd (caller frees), *len its size. Returns 0, RN_ERR_NOMEM,
 * RN_KAFKA_INVALID_RECORD for bad input (n < 0, decreasing offsets, an offset below
 * base_offset, last_offset_delta below the last record's, bad lengths or headers, a
 * timestamp delta that overflows), RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE (codec not 0..4),
 * RN_KAFKA_MESSAGE_TOO_LARGE (a record or the batch past int32), RN_ERR_INTERNAL (a
 * compression library failed). On error *out is untouched. */
rn_err rn_batch_encode(const rn_batch_spec *spec, const rn_record *recs, int n, uint8_t **out,
                       size_t *len);

/* The codec of a batch (attributes & 7); batch must hold at least RN_BATCH_HEADER_SIZE bytes
 * (23 suffice). */
int rn_batch_codec(const uint8_t *batch);

#endif
