/* tests/unit/test_producer.c: the idempotence rules of engine/producer.c, alone. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "producer.h"

static rn_producer_batch pb(int32_t first, int32_t last, int64_t base) {
    rn_producer_batch b = {first, last, base, base + (last - first)};
    return b;
}

Test(producer, sequences_wrap) {
    cr_assert_eq(rn_producer_last_seq(0, 5), 4);
    cr_assert_eq(rn_producer_last_seq(INT32_MAX, 1), INT32_MAX);
    cr_assert_eq(rn_producer_last_seq(INT32_MAX, 2), 0);
    cr_assert_eq(rn_producer_last_seq(INT32_MAX - 1, 4), 1);
}

Test(producer, check_rules) {
    const rn_producer_batch *dup = NULL;
    cr_assert_eq(rn_producer_check(NULL, 0, 0, 4, &dup), 0, "a new producer starts at 0");
    cr_assert_eq(rn_producer_check(NULL, 0, 3, 4, &dup), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    rn_producer_state st = {.producer_id = 1, .epoch = -1};
    rn_producer_batch b = pb(0, 4, 100);
    rn_producer_record(&st, 2, &b);
    cr_assert_eq(rn_producer_check(&st, 1, 5, 5, &dup), RN_KAFKA_INVALID_PRODUCER_EPOCH);
    cr_assert_eq(rn_producer_check(&st, 3, 5, 5, &dup), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(rn_producer_check(&st, 3, 0, 0, &dup), 0, "a new epoch restarts at 0");
    cr_assert_eq(rn_producer_check(&st, 2, 5, 9, &dup), 0);
    cr_assert_eq(rn_producer_check(&st, 2, 6, 9, &dup), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    cr_assert_eq(rn_producer_check(&st, 2, 0, 4, &dup), RN_PRODUCER_DUPLICATE);
    cr_assert_eq(dup->base_offset, 100);
    cr_assert_eq(rn_producer_check(&st, 2, 0, 3, &dup), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER,
                 "a retry must match a batch exactly");
}

Test(producer, keeps_the_last_five_and_wraps) {
    rn_producer_state st = {.producer_id = 1, .epoch = -1};
    for (int i = 0; i < 7; i++) {
        rn_producer_batch b = pb(i * 10, i * 10 + 9, i * 10);
        rn_producer_record(&st, 0, &b);
    }
    cr_assert_eq(st.n, RN_PRODUCER_BATCHES);
    const rn_producer_batch *dup = NULL;
    cr_assert_eq(rn_producer_check(&st, 0, 10, 19, &dup), RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER,
                 "older than the last five");
    cr_assert_eq(rn_producer_check(&st, 0, 20, 29, &dup), RN_PRODUCER_DUPLICATE);
    rn_producer_state w = {.producer_id = 2, .epoch = -1};
    rn_producer_batch top = pb(INT32_MAX - 1, INT32_MAX, 0);
    rn_producer_record(&w, 0, &top);
    cr_assert_eq(rn_producer_check(&w, 0, 0, 3, &dup), 0, "after INT32_MAX comes 0");
    rn_producer_record(&w, 1, &top);
    cr_assert_eq(w.n, 1, "a new epoch forgets the old batches");
}

Test(producer, encode_decode_and_table) {
    rn_producer_state st = {.producer_id = 9, .epoch = -1}, back;
    for (int i = 0; i < 3; i++) {
        rn_producer_batch b = pb(i * 2, i * 2 + 1, 1000 + i);
        rn_producer_record(&st, 7, &b);
    }
    uint8_t buf[RN_PRODUCER_STATE_MAX];
    size_t n = rn_producer_encode(&st, buf);
    cr_assert_eq(rn_producer_decode(&back, buf, n), 0);
    cr_assert(back.epoch == 7 && back.n == 3);
    cr_assert_eq(back.batches[2].base_offset, 1002);
    cr_assert_eq(rn_producer_decode(&back, buf, n - 1), -1);
    rn_producer_table t = {0};
    for (int64_t id = 50; id > 0; id -= 7) cr_assert(rn_producer_upsert(&t, id));
    cr_assert_eq(rn_producer_upsert(&t, 8)->epoch, -1);
    cr_assert_eq(t.n, 8);
    for (int i = 1; i < t.n; i++) cr_assert_lt(t.v[i - 1].producer_id, t.v[i].producer_id);
    cr_assert(rn_producer_find(&t, 43));
    cr_assert_null(rn_producer_find(&t, 44));
    rn_producer_table_free(&t);
}
