/* engine/producer.c: idempotence checks, as Kafka's ProducerStateManager does them. */
#include "producer.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"

static int find_index(const rn_producer_table *t, int64_t id, bool *found) {
    int lo = 0, hi = t->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (t->v[mid].producer_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < t->n && t->v[lo].producer_id == id;
    return lo;
}

rn_producer_state *rn_producer_find(rn_producer_table *t, int64_t producer_id) {
    bool found;
    int i = find_index(t, producer_id, &found);
    return found ? &t->v[i] : NULL;
}

rn_producer_state *rn_producer_upsert(rn_producer_table *t, int64_t producer_id) {
    bool found;
    int i = find_index(t, producer_id, &found);
    if (found) return &t->v[i];
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        rn_producer_state *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        t->v = v;
        t->cap = cap;
    }
    memmove(&t->v[i + 1], &t->v[i], (size_t)(t->n - i) * sizeof *t->v);
    t->n++;
    memset(&t->v[i], 0, sizeof t->v[i]);
    t->v[i].producer_id = producer_id;
    t->v[i].epoch = -1;
    return &t->v[i];
}

void rn_producer_table_free(rn_producer_table *t) {
    free(t->v);
    memset(t, 0, sizeof *t);
}

void rn_producer_remove(rn_producer_table *t, int64_t producer_id) {
    bool found;
    int i = find_index(t, producer_id, &found);
    if (!found) return;
    memmove(&t->v[i], &t->v[i + 1], (size_t)(t->n - i - 1) * sizeof *t->v);
    t->n--;
}

bool rn_producer_truncate(rn_producer_state *st, int64_t offset) {
    int kept = st->n;
    while (kept > 0 && st->batches[kept - 1].last_offset >= offset) kept--;
    bool dropped = kept != st->n;
    st->n = kept;
    return dropped;
}

int32_t rn_producer_last_seq(int32_t first, int32_t count) {
    int64_t last = (int64_t)first + count - 1;
    return (int32_t)(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

static int32_t next_seq(int32_t seq) { return seq == INT32_MAX ? 0 : seq + 1; }

int rn_producer_check(const rn_producer_state *st, int16_t epoch, int32_t first_seq,
                      int32_t last_seq, const rn_producer_batch **dup) {
    if (!st || st->epoch < 0) return first_seq == 0 ? 0 : RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER;
    if (epoch < st->epoch) return RN_KAFKA_INVALID_PRODUCER_EPOCH;
    if (epoch > st->epoch) return first_seq == 0 ? 0 : RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER;
    for (int i = 0; i < st->n; i++)
        if (st->batches[i].first_seq == first_seq && st->batches[i].last_seq == last_seq) {
            *dup = &st->batches[i];
            return RN_PRODUCER_DUPLICATE;
        }
    if (st->n == 0) return 0;
    if (first_seq != next_seq(st->batches[st->n - 1].last_seq))
        return RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return 0;
}

void rn_producer_record(rn_producer_state *st, int16_t epoch, const rn_producer_batch *b) {
    if (epoch != st->epoch) {
        st->epoch = epoch;
        st->n = 0;
    }
    if (st->n == RN_PRODUCER_BATCHES) {
        memmove(&st->batches[0], &st->batches[1], (RN_PRODUCER_BATCHES - 1) * sizeof *b);
        st->n--;
    }
    st->batches[st->n++] = *b;
}

size_t rn_producer_encode(const rn_producer_state *st, uint8_t *buf) {
    uint8_t *p = buf;
    *p++ = (uint8_t)((uint16_t)st->epoch >> 8);
    *p++ = (uint8_t)st->epoch;
    *p++ = (uint8_t)st->n;
    for (int i = 0; i < st->n; i++) {
        rn_key_put32(p, (uint32_t)st->batches[i].first_seq);
        rn_key_put32(p + 4, (uint32_t)st->batches[i].last_seq);
        rn_key_put64(p + 8, (uint64_t)st->batches[i].base_offset);
        rn_key_put64(p + 16, (uint64_t)st->batches[i].last_offset);
        p += 24;
    }
    return (size_t)(p - buf);
}

int rn_producer_decode(rn_producer_state *st, const uint8_t *buf, size_t len) {
    if (len < 3) return -1;
    st->epoch = (int16_t)((buf[0] << 8) | buf[1]);
    st->n = buf[2];
    if (st->n > RN_PRODUCER_BATCHES || len != 3 + (size_t)st->n * 24) return -1;
    const uint8_t *p = buf + 3;
    for (int i = 0; i < st->n; i++, p += 24) {
        st->batches[i].first_seq = (int32_t)rn_key_get32(p);
        st->batches[i].last_seq = (int32_t)rn_key_get32(p + 4);
        st->batches[i].base_offset = (int64_t)rn_key_get64(p + 8);
        st->batches[i].last_offset = (int64_t)rn_key_get64(p + 16);
    }
    return 0;
}
