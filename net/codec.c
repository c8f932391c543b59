/* net/codec.c: Kafka wire primitives. Invariant: a reader never reads past `end`, and
 * once failed it stays failed; a writer's buffer always holds exactly `len` valid bytes. */
#include "codec.h"

#include <stdlib.h>
#include <string.h>

void rn_reader_init(rn_reader *r, const uint8_t *buf, size_t len, bool flexible) {
    r->start = r->p = buf;
    r->end = buf + len;
    r->flexible = flexible;
    r->failed = false;
    r->fail_file = NULL;
    r->fail_line = 0;
    r->fail_what = NULL;
}

int rn_reader_fail(rn_reader *r, const char *file, int line, const char *what) {
    if (!r->fail_line) {
        r->fail_file = file;
        r->fail_line = line;
        r->fail_what = what;
    }
    r->failed = true;
    return -1;
}

static inline int need(rn_reader *r, size_t n) {
    if (r->failed || (size_t)(r->end - r->p) < n) {
        r->failed = true;
        return -1;
    }
    return 0;
}

int rn_read_i8(rn_reader *r, int8_t *v) {
    if (need(r, 1)) return -1;
    *v = (int8_t)*r->p++;
    return 0;
}

int rn_read_i16(rn_reader *r, int16_t *v) {
    if (need(r, 2)) return -1;
    *v = (int16_t)rn_be16(r->p);
    r->p += 2;
    return 0;
}

int rn_read_i32(rn_reader *r, int32_t *v) {
    if (need(r, 4)) return -1;
    *v = (int32_t)rn_be32(r->p);
    r->p += 4;
    return 0;
}

int rn_read_i64(rn_reader *r, int64_t *v) {
    if (need(r, 8)) return -1;
    *v = (int64_t)rn_be64(r->p);
    r->p += 8;
    return 0;
}

int rn_read_bool(rn_reader *r, bool *v) {
    int8_t b;
    if (rn_read_i8(r, &b)) return -1;
    *v = b != 0;
    return 0;
}

int rn_read_uuid(rn_reader *r, uint8_t out[16]) {
    if (need(r, 16)) return -1;
    memcpy(out, r->p, 16);
    r->p += 16;
    return 0;
}

static int read_uvarint64(rn_reader *r, uint64_t *v, int max_bytes) {
    uint64_t x = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (need(r, 1)) return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    r->failed = true; /* too long */
    return -1;
}

int rn_read_uvarint(rn_reader *r, uint32_t *v) {
    uint64_t x;
    if (read_uvarint64(r, &x, 5) || x > UINT32_MAX) {
        r->failed = true;
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

int rn_read_varint(rn_reader *r, int32_t *v) {
    uint32_t u;
    if (rn_read_uvarint(r, &u)) return -1;
    *v = (int32_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

int rn_read_varlong(rn_reader *r, int64_t *v) {
    uint64_t u;
    if (read_uvarint64(r, &u, 10)) return -1;
    *v = (int64_t)((u >> 1) ^ (~(u & 1) + 1));
    return 0;
}

static int read_sized(rn_reader *r, int64_t len, rn_bytes *out) {
    if (len < 0) {
        out->ptr = NULL;
        out->len = -1;
        return 0;
    }
    if (len > INT32_MAX || need(r, (size_t)len)) {
        r->failed = true;
        return -1;
    }
    out->ptr = r->p;
    out->len = (int32_t)len;
    r->p += len;
    return 0;
}

int rn_read_string(rn_reader *r, rn_bytes *s) {
    if (r->flexible) {
        uint32_t n;
        if (rn_read_uvarint(r, &n)) return -1;
        return read_sized(r, (int64_t)n - 1, s);
    }
    int16_t n;
    if (rn_read_i16(r, &n)) return -1;
    if (n < -1) return r->failed = true, -1;
    return read_sized(r, n, s);
}

int rn_read_bytes(rn_reader *r, rn_bytes *b) {
    if (r->flexible) {
        uint32_t n;
        if (rn_read_uvarint(r, &n)) return -1;
        return read_sized(r, (int64_t)n - 1, b);
    }
    int32_t n;
    if (rn_read_i32(r, &n)) return -1;
    if (n < -1) return r->failed = true, -1;
    return read_sized(r, n, b);
}

int rn_read_array_len(rn_reader *r, int32_t *n, size_t min_elem_size) {
    int64_t count;
    if (r->flexible) {
        uint32_t u;
        if (rn_read_uvarint(r, &u)) return -1;
        count = (int64_t)u - 1;
    } else {
        int32_t c;
        if (rn_read_i32(r, &c)) return -1;
        count = c;
    }
    if (count < -1) return r->failed = true, -1;
    if (min_elem_size == 0) min_elem_size = 1;
    if (count > 0 && (uint64_t)count > rn_reader_remaining(r) / min_elem_size)
        return r->failed = true, -1;
    *n = (int32_t)count;
    return 0;
}

int rn_read_tags(rn_reader *r) {
    if (!r->flexible) return 0;
    uint32_t count;
    if (rn_read_uvarint(r, &count)) return -1;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tag, size;
        if (rn_read_uvarint(r, &tag) || rn_read_uvarint(r, &size) || need(r, size)) return -1;
        r->p += size;
    }
    return 0;
}

int rn_read_raw(rn_reader *r, size_t n, const uint8_t **ptr) {
    if (need(r, n)) return -1;
    *ptr = r->p;
    r->p += n;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------ */

void rn_writer_init(rn_writer *w, size_t initial_cap, bool flexible) {
    w->buf = NULL;
    w->len = w->cap = 0;
    w->flexible = flexible;
    w->failed = false;
    if (initial_cap) rn_writer_reserve(w, initial_cap);
}

void rn_writer_free(rn_writer *w) {
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

uint8_t *rn_writer_steal(rn_writer *w, size_t *len) {
    uint8_t *b = w->buf;
    *len = w->len;
    w->buf = NULL;
    w->len = w->cap = 0;
    return b;
}

uint8_t *rn_writer_reserve(rn_writer *w, size_t n) {
    if (w->failed) return NULL;
    if (w->cap - w->len < n) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->failed = true;
            return NULL;
        }
        w->buf = nb;
        w->cap = cap;
    }
    return w->buf + w->len;
}

void rn_write_raw(rn_writer *w, const void *p, size_t n) {
    uint8_t *d = rn_writer_reserve(w, n);
    if (!d) return;
    if (n) memcpy(d, p, n);
    w->len += n;
}

void rn_write_i8(rn_writer *w, int8_t v) { rn_write_raw(w, &v, 1); }

void rn_write_i16(rn_writer *w, int16_t v) {
    uint8_t b[2] = {(uint8_t)((uint16_t)v >> 8), (uint8_t)v};
    rn_write_raw(w, b, 2);
}

void rn_write_i32(rn_writer *w, int32_t v) {
    uint8_t b[4];
    rn_put_be32(b, (uint32_t)v);
    rn_write_raw(w, b, 4);
}

void rn_write_i64(rn_writer *w, int64_t v) {
    uint8_t b[8];
    rn_put_be32(b, (uint32_t)((uint64_t)v >> 32));
    rn_put_be32(b + 4, (uint32_t)v);
    rn_write_raw(w, b, 8);
}

void rn_write_bool(rn_writer *w, bool v) { rn_write_i8(w, v ? 1 : 0); }

void rn_write_uuid(rn_writer *w, const uint8_t v[16]) { rn_write_raw(w, v, 16); }

static void write_uvarint64(rn_writer *w, uint64_t v) {
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    rn_write_raw(w, b, n);
}

void rn_write_uvarint(rn_writer *w, uint32_t v) { write_uvarint64(w, v); }

void rn_write_varint(rn_writer *w, int32_t v) {
    write_uvarint64(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void rn_write_varlong(rn_writer *w, int64_t v) {
    write_uvarint64(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void rn_write_string_n(rn_writer *w, const char *s, int32_t len) {
    if (!s) len = -1;
    if (w->flexible)
        rn_write_uvarint(w, (uint32_t)(len + 1));
    else
        rn_write_i16(w, (int16_t)len);
    if (len > 0) rn_write_raw(w, s, (size_t)len);
}

void rn_write_string(rn_writer *w, const char *s) {
    rn_write_string_n(w, s, s ? (int32_t)strlen(s) : -1);
}

void rn_write_bytes(rn_writer *w, const void *p, int32_t len) {
    if (!p && len > 0) len = -1;
    if (w->flexible)
        rn_write_uvarint(w, (uint32_t)(len + 1));
    else
        rn_write_i32(w, len);
    if (len > 0) rn_write_raw(w, p, (size_t)len);
}

void rn_write_array_len(rn_writer *w, int32_t n) {
    if (w->flexible)
        rn_write_uvarint(w, (uint32_t)(n + 1));
    else
        rn_write_i32(w, n);
}

void rn_write_tags(rn_writer *w) {
    if (w->flexible) rn_write_uvarint(w, 0);
}

size_t rn_write_i32_placeholder(rn_writer *w) {
    size_t pos = w->len;
    rn_write_i32(w, 0);
    return pos;
}

void rn_write_i32_at(rn_writer *w, size_t pos, int32_t v) {
    if (w->failed || pos + 4 > w->len) return;
    rn_put_be32(w->buf + pos, (uint32_t)v);
}
