/* net/codec.h: the one codec for Kafka's wire primitives: fixed-width ints, varints,
 * strings, bytes, arrays, UUIDs, and the classic vs compact (flexible) forms.
 *
 * Reading never passes `end`: every read is bounds-checked, and the first failure
 * sticks (later reads fail too) and records the source line that failed, so a handler
 * reads a whole request with the RN_R_* macros and checks once at its err_parse: label.
 * Decoded strings and bytes point into the frame; nothing here copies or allocates
 * except the writer's own growing buffer. */
#ifndef RN_CODEC_H
#define RN_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string or bytes field pointing into the frame. len -1 is null. Not NUL-terminated. */
typedef struct {
    const uint8_t *ptr;
    int32_t len;
} rn_bytes;

typedef struct {
    const uint8_t *start, *p, *end;
    bool flexible;       /* compact strings/arrays and tagged fields */
    bool failed;
    const char *fail_file; /* __FILE__ and __LINE__ of the macro that failed first */
    int fail_line;
    const char *fail_what;
} rn_reader;

void rn_reader_init(rn_reader *r, const uint8_t *buf, size_t len, bool flexible);
static inline size_t rn_reader_remaining(const rn_reader *r) { return (size_t)(r->end - r->p); }
static inline size_t rn_reader_offset(const rn_reader *r) { return (size_t)(r->p - r->start); }

/* Each returns 0 on success, -1 on underflow or a malformed value (and marks r failed). */
int rn_read_i8(rn_reader *r, int8_t *v);
int rn_read_i16(rn_reader *r, int16_t *v);
int rn_read_i32(rn_reader *r, int32_t *v);
int rn_read_i64(rn_reader *r, int64_t *v);
int rn_read_bool(rn_reader *r, bool *v);
int rn_read_uuid(rn_reader *r, uint8_t out[16]);
int rn_read_uvarint(rn_reader *r, uint32_t *v);  /* unsigned LEB128, at most 5 bytes */
int rn_read_varint(rn_reader *r, int32_t *v);    /* zigzag */
int rn_read_varlong(rn_reader *r, int64_t *v);   /* zigzag, at most 10 bytes */
/* String: classic int16 length or compact uvarint length+1 (per r->flexible); null
 * (-1 / 0) gives len -1. */
int rn_read_string(rn_reader *r, rn_bytes *s);
/* Bytes: classic int32 length or compact uvarint length+1. */
int rn_read_bytes(rn_reader *r, rn_bytes *b);
/* Array count: classic int32 or compact uvarint-1; -1 is null. The count is checked
 * against the bytes left (each element takes at least min_elem_size bytes) so a caller
 * may allocate count elements safely. */
int rn_read_array_len(rn_reader *r, int32_t *n, size_t min_elem_size);
/* Skip a tagged-field section (flexible only; no-op otherwise). */
int rn_read_tags(rn_reader *r);
/* Take n raw bytes. */
int rn_read_raw(rn_reader *r, size_t n, const uint8_t **ptr);

/* Record the failing line once; used by the macros. Always returns -1. */
int rn_reader_fail(rn_reader *r, const char *file, int line, const char *what);

/* Read-or-jump macros: on failure record the line and `goto err_parse`. */
#define RN_R(r, fn, dst)                                                                  \
    do {                                                                                  \
        if (fn((r), (dst)) != 0) { rn_reader_fail((r), __FILE__, __LINE__, #dst); goto err_parse; } \
    } while (0)
#define RN_R_I8(r, d) RN_R(r, rn_read_i8, d)
#define RN_R_I16(r, d) RN_R(r, rn_read_i16, d)
#define RN_R_I32(r, d) RN_R(r, rn_read_i32, d)
#define RN_R_I64(r, d) RN_R(r, rn_read_i64, d)
#define RN_R_BOOL(r, d) RN_R(r, rn_read_bool, d)
#define RN_R_STR(r, d) RN_R(r, rn_read_string, d)
#define RN_R_BYTES(r, d) RN_R(r, rn_read_bytes, d)
#define RN_R_UUID(r, d) RN_R(r, rn_read_uuid, d)
#define RN_R_ARRAY(r, d, min)                                                             \
    do {                                                                                  \
        if (rn_read_array_len((r), (d), (min)) != 0) {                                    \
            rn_reader_fail((r), __FILE__, __LINE__, #d);                                            \
            goto err_parse;                                                               \
        }                                                                                 \
    } while (0)
#define RN_R_TAGS(r)                                                                      \
    do {                                                                                  \
        if (rn_read_tags(r) != 0) { rn_reader_fail((r), __FILE__, __LINE__, "tags"); goto err_parse; } \
    } while (0)

/* A growing output buffer. Allocation failure sticks in `failed`; the owner checks once
 * at the end. buf is owned by the writer until rn_writer_steal. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    bool flexible;
    bool failed;
} rn_writer;

void rn_writer_init(rn_writer *w, size_t initial_cap, bool flexible);
void rn_writer_free(rn_writer *w);
/* Hand the buffer to the caller (who frees it with free()); the writer is empty after. */
uint8_t *rn_writer_steal(rn_writer *w, size_t *len);
/* Make room for n more bytes; returns a pointer to them (or NULL when failed). */
uint8_t *rn_writer_reserve(rn_writer *w, size_t n);

void rn_write_i8(rn_writer *w, int8_t v);
void rn_write_i16(rn_writer *w, int16_t v);
void rn_write_i32(rn_writer *w, int32_t v);
void rn_write_i64(rn_writer *w, int64_t v);
void rn_write_bool(rn_writer *w, bool v);
void rn_write_uuid(rn_writer *w, const uint8_t v[16]);
void rn_write_uvarint(rn_writer *w, uint32_t v);
void rn_write_varint(rn_writer *w, int32_t v);
void rn_write_varlong(rn_writer *w, int64_t v);
void rn_write_raw(rn_writer *w, const void *p, size_t n);
/* Strings: classic or compact per w->flexible. s == NULL writes null. */
void rn_write_string(rn_writer *w, const char *s);
void rn_write_string_n(rn_writer *w, const char *s, int32_t len); /* len -1: null */
void rn_write_bytes(rn_writer *w, const void *p, int32_t len);     /* len -1: null */
/* Array count, classic int32 or compact uvarint+1; n -1 is null. */
void rn_write_array_len(rn_writer *w, int32_t n);
/* An empty tagged-field section (flexible only). */
void rn_write_tags(rn_writer *w);

/* Reserve an int32 to fill later (classic arrays and sizes); returns its position. */
size_t rn_write_i32_placeholder(rn_writer *w);
void rn_write_i32_at(rn_writer *w, size_t pos, int32_t v);

/* Big-endian helpers for raw buffers. */
static inline uint16_t rn_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rn_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rn_be64(const uint8_t *p) {
    return ((uint64_t)rn_be32(p) << 32) | rn_be32(p + 4);
}
static inline void rn_put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

#endif
