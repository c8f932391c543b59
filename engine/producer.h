/* engine/producer.h: idempotent-producer state of one partition: for each producer id,
 * its epoch and its last five batches (Kafka keeps five: a producer has at most five
 * requests in flight, so a retry is always one of them). */
#ifndef RN_PRODUCER_H
#define RN_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RN_PRODUCER_BATCHES 5
#define RN_PRODUCER_STATE_MAX (2 + 1 + RN_PRODUCER_BATCHES * 24)

typedef struct {
    int32_t first_seq, last_seq;
    int64_t base_offset, last_offset;
} rn_producer_batch;

typedef struct {
    int64_t producer_id;
    int16_t epoch;
    int n;                                          /* batches held, oldest first */
    rn_producer_batch batches[RN_PRODUCER_BATCHES];
} rn_producer_state;

typedef struct {
    rn_producer_state *v; /* sorted by producer_id */
    int n, cap;
} rn_producer_table;

/* NULL when the producer has never written to this partition. */
rn_producer_state *rn_producer_find(rn_producer_table *t, int64_t producer_id);
/* Find or add (epoch -1, no batches); NULL when out of memory. May move other states. */
rn_producer_state *rn_producer_upsert(rn_producer_table *t, int64_t producer_id);
void rn_producer_table_free(rn_producer_table *t);
/* Forget a producer (nothing if absent). May move other states. */
void rn_producer_remove(rn_producer_table *t, int64_t producer_id);
/* Drop the batches of st that end at or after offset (a truncated log). Returns true
 * when any was dropped. */
bool rn_producer_truncate(rn_producer_state *st, int64_t offset);

/* The last sequence of a batch of count records starting at first (sequences wrap from
 * INT32_MAX to 0). */
int32_t rn_producer_last_seq(int32_t first, int32_t count);

#define RN_PRODUCER_DUPLICATE 1
/* Check a batch against a producer's state (st NULL: unknown producer). Returns 0 to
 * accept, RN_PRODUCER_DUPLICATE with *dup pointing at the original batch, or
 * RN_KAFKA_INVALID_PRODUCER_EPOCH / RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER. */
int rn_producer_check(const rn_producer_state *st, int16_t epoch, int32_t first_seq,
                      int32_t last_seq, const rn_producer_batch **dup);
/* Record an accepted batch (a new epoch forgets the old batches). */
void rn_producer_record(rn_producer_state *st, int16_t epoch, const rn_producer_batch *b);

/* Stored form: epoch BE16, n u8, n x (first BE32, last BE32, base BE64, last BE64). */
size_t rn_producer_encode(const rn_producer_state *st, uint8_t *buf);
int rn_producer_decode(rn_producer_state *st, const uint8_t *buf, size_t len);

#endif
