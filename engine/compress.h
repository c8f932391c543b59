/* engine/compress.h: the four Kafka compression codecs, writing exactly what Kafka's
 * clients read (their decoders are in batch.c, next to the record iterator):
 *
 *  gzip    one gzip member (deflate, windowBits 15+16), as Java's GZIPOutputStream.
 *  snappy  xerial framing, as Java's SnappyOutputStream (snappy-java) writes it:
 *          the header 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, BE32 version 1, BE32 compatible
 *          version 1, then for each block of at most 32 KiB of input: BE32 compressed
 *          length + a raw snappy block.
 *  lz4     one LZ4 frame (lz4frame.h) with independent blocks of at most 64 KiB, no block
 *          or content checksum and no content size, which is what KafkaLZ4BlockOutputStream
 *          writes and what KafkaLZ4BlockInputStream (which decompresses every block alone)
 *          needs.
 *  zstd    one zstd frame (ZSTD_compress).
 *
 * Each function compresses in[0..len) into a malloc'd buffer *out that starts with
 * `headroom` bytes left for the caller (e.g. a batch header written in front of the
 * compressed records without another copy); the compressed bytes are at *out + headroom
 * and *out_len counts only them. level 0 is the codec's default (gzip 6, lz4 fast, zstd 3).
 * Returns 0, RN_ERR_NOMEM, or RN_ERR_INTERNAL when the library fails (which a valid
 * input and a large enough buffer never make it do). On error *out is untouched. */
#ifndef RN_COMPRESS_H
#define RN_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Uncompressed bytes per xerial block, as snappy-java's default block size. */
#define RN_SNAPPY_XERIAL_BLOCK (32 * 1024)

rn_err rn_compress_gzip(const uint8_t *in, size_t len, int level, size_t headroom,
                        uint8_t **out, size_t *out_len);
rn_err rn_compress_snappy(const uint8_t *in, size_t len, int level, size_t headroom,
                          uint8_t **out, size_t *out_len);
rn_err rn_compress_lz4(const uint8_t *in, size_t len, int level, size_t headroom,
                       uint8_t **out, size_t *out_len);
rn_err rn_compress_zstd(const uint8_t *in, size_t len, int level, size_t headroom,
                        uint8_t **out, size_t *out_len);

/* Dispatch on a Kafka codec id (1 gzip, 2 snappy, 3 lz4, 4 zstd). Codec 0 (none) copies
 * the bytes; any other is RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE. */
rn_err rn_compress(int codec, const uint8_t *in, size_t len, int level, size_t headroom,
                   uint8_t **out, size_t *out_len);

#endif
