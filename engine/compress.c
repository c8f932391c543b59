/* engine/compress.c: gzip, snappy (xerial framing), lz4 (frame) and zstd compression for
 * record batches. Every output buffer is sized from the codec's bound before compressing,
 * so a compressor never runs out of room; the buffer is shrunk to fit afterwards. */
#include "compress.h"

#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* malloc headroom + bound bytes, or NULL (also when the sum overflows). */
static uint8_t *alloc_out(size_t headroom, size_t bound) {
    if (bound > SIZE_MAX - headroom) return NULL;
    return malloc(headroom + bound ? headroom + bound : 1);
}

/* Hand the buffer over, shrunk to what was written. */
static void finish(uint8_t *buf, size_t headroom, size_t n, uint8_t **out, size_t *out_len) {
    uint8_t *shrunk = realloc(buf, headroom + n ? headroom + n : 1);
    *out = shrunk ? shrunk : buf;
    *out_len = n;
}

rn_err rn_compress_gzip(const uint8_t *in, size_t len, int level, size_t headroom,
                        uint8_t **out, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (level <= 0 || level > 9) level = Z_DEFAULT_COMPRESSION;
    int rc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16 /* gzip wrapper */, 8,
                          Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) return rc == Z_MEM_ERROR ? RN_ERR_NOMEM : RN_ERR_INTERNAL;
    /* deflateBound knows the gzip wrapper once the stream is set up. */
    size_t bound = (size_t)deflateBound(&zs, (uLong)len);
    uint8_t *buf = alloc_out(headroom, bound);
    if (!buf) {
        deflateEnd(&zs);
        return RN_ERR_NOMEM;
    }
    /* avail_in/avail_out are 32-bit: feed and drain in slices. */
    size_t in_pos = 0, out_pos = 0;
    do {
        size_t in_left = len - in_pos, out_left = bound - out_pos;
        zs.next_in = in ? (Bytef *)(uintptr_t)(in + in_pos) : NULL;
        zs.avail_in = (uInt)(in_left > UINT_MAX ? UINT_MAX : in_left);
        zs.next_out = buf + headroom + out_pos;
        zs.avail_out = (uInt)(out_left > UINT_MAX ? UINT_MAX : out_left);
        uInt had_in = zs.avail_in, had_out = zs.avail_out;
        rc = deflate(&zs, in_left > UINT_MAX ? Z_NO_FLUSH : Z_FINISH);
        in_pos += had_in - zs.avail_in;
        out_pos += had_out - zs.avail_out;
        if (rc == Z_STREAM_ERROR || (rc == Z_BUF_ERROR && out_pos == bound)) {
            deflateEnd(&zs);
            free(buf);
            return RN_ERR_INTERNAL;
        }
    } while (rc != Z_STREAM_END);
    deflateEnd(&zs);
    finish(buf, headroom, out_pos, out, out_len);
    return 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

rn_err rn_compress_snappy(const uint8_t *in, size_t len, int level, size_t headroom,
                          uint8_t **out, size_t *out_len) {
    static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                       0,    0,   0,   1,   0,   0,   0,   1};
    (void)level; /* snappy has none */
    size_t blocks = len / RN_SNAPPY_XERIAL_BLOCK + (len % RN_SNAPPY_XERIAL_BLOCK != 0);
    size_t per_block = 4 + snappy_max_compressed_length(RN_SNAPPY_XERIAL_BLOCK);
    if (blocks > (SIZE_MAX - sizeof header) / per_block) return RN_ERR_NOMEM;
    size_t bound = sizeof header + blocks * per_block;
    uint8_t *buf = alloc_out(headroom, bound);
    if (!buf) return RN_ERR_NOMEM;
    uint8_t *o = buf + headroom;
    memcpy(o, header, sizeof header);
    size_t pos = sizeof header;
    for (size_t in_pos = 0; in_pos < len; in_pos += RN_SNAPPY_XERIAL_BLOCK) {
        size_t n = len - in_pos < RN_SNAPPY_XERIAL_BLOCK ? len - in_pos : RN_SNAPPY_XERIAL_BLOCK;
        size_t clen = bound - pos - 4;
        if (snappy_compress((const char *)in + in_pos, n, (char *)o + pos + 4, &clen) !=
            SNAPPY_OK) {
            free(buf);
            return RN_ERR_INTERNAL;
        }
        put_be32(o + pos, (uint32_t)clen);
        pos += 4 + clen;
    }
    finish(buf, headroom, pos, out, out_len);
    return 0;
}

rn_err rn_compress_lz4(const uint8_t *in, size_t len, int level, size_t headroom,
                       uint8_t **out, size_t *out_len) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.compressionLevel = level > 0 ? level : 0;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    uint8_t *buf = alloc_out(headroom, bound);
    if (!buf) return RN_ERR_NOMEM;
    size_t n = LZ4F_compressFrame(buf + headroom, bound, in, len, &prefs);
    if (LZ4F_isError(n)) {
        free(buf);
        return RN_ERR_INTERNAL;
    }
    finish(buf, headroom, n, out, out_len);
    return 0;
}

rn_err rn_compress_zstd(const uint8_t *in, size_t len, int level, size_t headroom,
                        uint8_t **out, size_t *out_len) {
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound)) return RN_ERR_NOMEM; /* input too large */
    uint8_t *buf = alloc_out(headroom, bound);
    if (!buf) return RN_ERR_NOMEM;
    size_t n = ZSTD_compress(buf + headroom, bound, in, len, level ? level : ZSTD_CLEVEL_DEFAULT);
    if (ZSTD_isError(n)) {
        free(buf);
        return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? RN_ERR_NOMEM
                                                                    : RN_ERR_INTERNAL;
    }
    finish(buf, headroom, n, out, out_len);
    return 0;
}

rn_err rn_compress(int codec, const uint8_t *in, size_t len, int level, size_t headroom,
                   uint8_t **out, size_t *out_len) {
    switch (codec) {
    case 0: {
        uint8_t *buf = alloc_out(headroom, len);
        if (!buf) return RN_ERR_NOMEM;
        if (len) memcpy(buf + headroom, in, len);
        *out = buf;
        *out_len = len;
        return 0;
    }
    case 1: return rn_compress_gzip(in, len, level, headroom, out, out_len);
    case 2: return rn_compress_snappy(in, len, level, headroom, out, out_len);
    case 3: return rn_compress_lz4(in, len, level, headroom, out, out_len);
    case 4: return rn_compress_zstd(in, len, level, headroom, out, out_len);
    default: return RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE;
    }
}
