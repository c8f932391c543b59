/* tests/unit/test_codec.c: the Kafka wire primitives, classic and flexible. */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"

static rn_reader reader_of(rn_writer *w) {
    rn_reader r;
    rn_reader_init(&r, w->buf, w->len, w->flexible);
    return r;
}

Test(codec, fixed_ints_round_trip) {
    rn_writer w;
    rn_writer_init(&w, 0, false);
    rn_write_i8(&w, -5);
    rn_write_i16(&w, -12345);
    rn_write_i32(&w, INT32_MIN);
    rn_write_i64(&w, INT64_MAX);
    rn_write_bool(&w, true);
    cr_assert_eq(w.len, 1 + 2 + 4 + 8 + 1);
    rn_reader r = reader_of(&w);
    int8_t a; int16_t b; int32_t c; int64_t d; bool e;
    cr_assert_eq(rn_read_i8(&r, &a), 0);
    cr_assert_eq(rn_read_i16(&r, &b), 0);
    cr_assert_eq(rn_read_i32(&r, &c), 0);
    cr_assert_eq(rn_read_i64(&r, &d), 0);
    cr_assert_eq(rn_read_bool(&r, &e), 0);
    cr_assert(a == -5 && b == -12345 && c == INT32_MIN && d == INT64_MAX && e);
    cr_assert_eq(rn_reader_remaining(&r), 0);
    cr_assert_neq(rn_read_i8(&r, &a), 0, "reading past the end must fail");
    rn_writer_free(&w);
}

Test(codec, big_endian_on_the_wire) {
    rn_writer w;
    rn_writer_init(&w, 0, false);
    rn_write_i32(&w, 0x01020304);
    cr_assert(memcmp(w.buf, "\x01\x02\x03\x04", 4) == 0);
    rn_writer_free(&w);
}

Test(codec, varints_known_encodings) {
    struct { int64_t v; const char *bytes; size_t n; } cases[] = {
        {0, "\x00", 1}, {-1, "\x01", 1}, {1, "\x02", 1}, {63, "\x7e", 1}, {-64, "\x7f", 1},
        {64, "\x80\x01", 2}, {300, "\xd8\x04", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_writer w;
        rn_writer_init(&w, 0, false);
        rn_write_varlong(&w, cases[i].v);
        cr_assert_eq(w.len, cases[i].n, "varlong %lld", (long long)cases[i].v);
        cr_assert(memcmp(w.buf, cases[i].bytes, cases[i].n) == 0);
        rn_writer_free(&w);
    }
}

Test(codec, varint_extremes_round_trip) {
    int32_t v32[] = {0, -1, 1, INT32_MIN, INT32_MAX, 123456789, -987654321};
    int64_t v64[] = {0, -1, INT64_MIN, INT64_MAX, 1LL << 40, -(1LL << 50)};
    for (size_t i = 0; i < sizeof v32 / sizeof v32[0]; i++) {
        rn_writer w;
        rn_writer_init(&w, 0, false);
        rn_write_varint(&w, v32[i]);
        rn_reader r = reader_of(&w);
        int32_t got;
        cr_assert_eq(rn_read_varint(&r, &got), 0);
        cr_assert_eq(got, v32[i]);
        rn_writer_free(&w);
    }
    for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
        rn_writer w;
        rn_writer_init(&w, 0, false);
        rn_write_varlong(&w, v64[i]);
        rn_reader r = reader_of(&w);
        int64_t got;
        cr_assert_eq(rn_read_varlong(&r, &got), 0);
        cr_assert_eq(got, v64[i]);
        cr_assert_eq(rn_reader_remaining(&r), 0);
        rn_writer_free(&w);
    }
}

Test(codec, overlong_uvarint_rejected) {
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    rn_reader r;
    rn_reader_init(&r, six, sizeof six, true);
    uint32_t v;
    cr_assert_neq(rn_read_uvarint(&r, &v), 0);
    cr_assert(r.failed);
}

Test(codec, strings_classic_and_compact) {
    for (int flexible = 0; flexible < 2; flexible++) {
        rn_writer w;
        rn_writer_init(&w, 0, flexible);
        rn_write_string(&w, "orders");
        rn_write_string(&w, NULL);
        rn_write_string(&w, "");
        rn_write_bytes(&w, "\x00\x01", 2);
        rn_write_bytes(&w, NULL, -1);
        rn_reader r = reader_of(&w);
        rn_bytes s;
        cr_assert_eq(rn_read_string(&r, &s), 0);
        cr_assert(s.len == 6 && memcmp(s.ptr, "orders", 6) == 0);
        cr_assert_eq(rn_read_string(&r, &s), 0);
        cr_assert_eq(s.len, -1);
        cr_assert_eq(rn_read_string(&r, &s), 0);
        cr_assert_eq(s.len, 0);
        cr_assert_eq(rn_read_bytes(&r, &s), 0);
        cr_assert(s.len == 2 && s.ptr[1] == 1);
        cr_assert_eq(rn_read_bytes(&r, &s), 0);
        cr_assert_eq(s.len, -1);
        cr_assert_eq(rn_reader_remaining(&r), 0);
        if (flexible) cr_assert_eq(w.buf[0], 7, "compact length is n+1");
        rn_writer_free(&w);
    }
}

Test(codec, string_longer_than_frame_fails) {
    const uint8_t b[] = {0x00, 0x10, 'a', 'b'};
    rn_reader r;
    rn_reader_init(&r, b, sizeof b, false);
    rn_bytes s;
    cr_assert_neq(rn_read_string(&r, &s), 0);
}

Test(codec, array_count_checked_against_remaining) {
    uint8_t b[8] = {0x00, 0x00, 0x01, 0x00}; /* 256 elements, 4 bytes left */
    rn_reader r;
    rn_reader_init(&r, b, sizeof b, false);
    int32_t n;
    cr_assert_neq(rn_read_array_len(&r, &n, 4), 0);
    const uint8_t ok[] = {0x00, 0x00, 0x00, 0x01, 0, 0, 0, 9};
    rn_reader_init(&r, ok, sizeof ok, false);
    cr_assert_eq(rn_read_array_len(&r, &n, 4), 0);
    cr_assert_eq(n, 1);
    const uint8_t null_arr[] = {0xff, 0xff, 0xff, 0xff};
    rn_reader_init(&r, null_arr, sizeof null_arr, false);
    cr_assert_eq(rn_read_array_len(&r, &n, 4), 0);
    cr_assert_eq(n, -1);
}

static int read_two_ints(rn_reader *r, int32_t *a, int32_t *b) {
    RN_R_I32(r, a);
    RN_R_I32(r, b);
    return 0;
err_parse:
    return -1;
}

Test(codec, failure_is_sticky_and_names_the_line) {
    const uint8_t b[] = {0, 0, 0, 1, 0, 0};
    rn_reader r;
    rn_reader_init(&r, b, sizeof b, false);
    int32_t x, y;
    cr_assert_eq(read_two_ints(&r, &x, &y), -1);
    cr_assert_eq(x, 1);
    cr_assert(r.failed && r.fail_line > 0 && strstr(r.fail_file, "test_codec.c"));
    cr_assert_str_eq(r.fail_what, "b");
    int8_t z;
    cr_assert_neq(rn_read_i8(&r, &z), 0, "a failed reader stays failed");
}

Test(codec, tagged_fields_skipped) {
    /* 2 tags: (tag 0, 3 bytes), (tag 5, 1 byte), then an int8 */
    const uint8_t b[] = {2, 0, 3, 'a', 'b', 'c', 5, 1, 'z', 42};
    rn_reader r;
    rn_reader_init(&r, b, sizeof b, true);
    cr_assert_eq(rn_read_tags(&r), 0);
    int8_t v;
    cr_assert_eq(rn_read_i8(&r, &v), 0);
    cr_assert_eq(v, 42);
    const uint8_t bad[] = {1, 0, 9, 'a'};
    rn_reader_init(&r, bad, sizeof bad, true);
    cr_assert_neq(rn_read_tags(&r), 0);
}

Test(codec, placeholder_patch) {
    rn_writer w;
    rn_writer_init(&w, 0, false);
    rn_write_i16(&w, 7);
    size_t pos = rn_write_i32_placeholder(&w);
    rn_write_raw(&w, "abc", 3);
    rn_write_i32_at(&w, pos, 3);
    cr_assert(memcmp(w.buf, "\x00\x07\x00\x00\x00\x03" "abc", 9) == 0);
    size_t len;
    uint8_t *buf = rn_writer_steal(&w, &len);
    cr_assert_eq(len, 9);
    cr_assert_eq(w.len, 0);
    free(buf);
}
