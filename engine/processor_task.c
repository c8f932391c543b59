/* engine/processor_task.c: one task of a processor: a step reads its input partitions
 * from their positions, calls the program for each record and each due timer, and
 * commits the emitted records, the state, the timers, the dead letters, the positions
 * and the stream time in one atomic write (rn_log_append_atomic). A failed call is
 * rolled back alone and its record dead-lettered; a failed commit discards the step. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "murmur2.h"
#include "processor_internal.h"
#include "rnlog.h"

#define STEP_READ_BYTES (1u << 20)
#define STEP_EMITS_MAX 50000 /* a step stops reading once it emitted this many records */
#define TIMERS_PER_TURN 10000 /* timers fired after one record (a script that keeps
                               * rescheduling one in the past cannot hold the step) */
#define KEY_MAX (1 + 2 + RN_PROCESSOR_NAME_MAX + 4 + 1 + 8 + RN_PROCESSOR_STATE_KEY_MAX)

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t flip(int64_t v) { return (uint64_t)v ^ (1ull << 63); }

size_t rn_proc_name_key(uint8_t *out, uint8_t type, const char *name) {
    size_t n = strlen(name);
    out[0] = type;
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)n;
    memcpy(out + 3, name, n);
    return 3 + n;
}

size_t rn_proc_position_key(uint8_t *out, const char *name, int32_t task, const char *topic) {
    size_t kl = rn_proc_name_key(out, 'P', name), tl = strlen(topic);
    rn_key_put32(out + kl, (uint32_t)task);
    memcpy(out + kl + 4, topic, tl);
    return kl + 4 + tl;
}

size_t rn_proc_key(uint8_t *out, uint8_t type, const rn_proc_task *t, const void *rest,
                   size_t rl) {
    out[0] = type;
    memcpy(out + 1, t->pfx, t->pfxl);
    if (rl) memcpy(out + 1 + t->pfxl, rest, rl);
    return 1 + t->pfxl + rl;
}

/* ---- what programs call ---------------------------------------------------------- */

const char *rn_proc_name(const rn_proc_task *t) { return t->proc->def.name; }
int32_t rn_proc_task_index(const rn_proc_task *t) { return t->index; }
int64_t rn_proc_stream_time(const rn_proc_task *t) { return t->step_stream_time; }

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Get a key through the overlay: 1 (*val malloc'd), 0 absent, -1 storage error. */
static int get_key(rn_proc_task *t, const uint8_t *key, size_t kl, uint8_t **val, size_t *vl) {
    const uint8_t *ov;
    size_t ol;
    switch (rn_overlay_get(&t->ov, key, kl, &ov, &ol)) {
    case OV_PUT:
        *val = malloc(ol ? ol : 1);
        if (!*val) return -1;
        memcpy(*val, ov, ol);
        *vl = ol;
        return 1;
    case OV_DEL:
        return 0;
    default:
        break;
    }
    char *v = NULL;
    if (rn_store_get(t->proc->ps->store, RN_CF_PROCESSORS, key, kl, &v, vl) != RN_KAFKA_NONE)
        return -1;
    *val = (uint8_t *)v;
    return v != NULL;
}

int rn_proc_state_get(rn_proc_task *t, const uint8_t *key, size_t kl, uint8_t **val,
                      size_t *vl, char *err, size_t errlen) {
    if (kl > RN_PROCESSOR_STATE_KEY_MAX) {
        *val = NULL;
        return 0; /* no key that long can have been put */
    }
    uint8_t k[KEY_MAX];
    int rc = get_key(t, k, rn_proc_key(k, 'S', t, key, kl), val, vl);
    if (rc < 0) fail(err, errlen, "state store read failed");
    return rc;
}

int rn_proc_state_put(rn_proc_task *t, const uint8_t *key, size_t kl, const uint8_t *val,
                      size_t vl, char *err, size_t errlen) {
    if (kl > RN_PROCESSOR_STATE_KEY_MAX)
        return fail(err, errlen, "state key of %zu bytes: at most %d", kl, RN_PROCESSOR_STATE_KEY_MAX);
    uint8_t k[KEY_MAX];
    if (rn_overlay_set(&t->ov, k, rn_proc_key(k, 'S', t, key, kl), val ? val : (const uint8_t *)"",
                       val ? vl : 0) != 0)
        return fail(err, errlen, "out of memory");
    return 0;
}

int rn_proc_state_delete(rn_proc_task *t, const uint8_t *key, size_t kl, char *err,
                         size_t errlen) {
    if (kl > RN_PROCESSOR_STATE_KEY_MAX) return 0;
    uint8_t k[KEY_MAX];
    if (rn_overlay_set(&t->ov, k, rn_proc_key(k, 'S', t, key, kl), NULL, 0) != 0)
        return fail(err, errlen, "out of memory");
    return 0;
}

typedef struct {
    size_t skip; /* the key bytes before the user's key */
    int (*fn)(void *, const uint8_t *, size_t, const uint8_t *, size_t);
    void *ctx;
} scan_strip;

static int strip_prefix(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    scan_strip *s = ctx;
    return s->fn(s->ctx, k + s->skip, kl - s->skip, v, vl);
}

int rn_proc_state_scan(rn_proc_task *t, const uint8_t *prefix, size_t pl, int64_t limit,
                       int (*fn)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
                                 size_t vl),
                       void *ctx, char *err, size_t errlen) {
    if (pl > RN_PROCESSOR_SCAN_PREFIX_MAX)
        return fail(err, errlen, "scan prefix of %zu bytes: at most %d", pl,
                    RN_PROCESSOR_SCAN_PREFIX_MAX);
    uint8_t lo[KEY_MAX], hi[KEY_MAX];
    size_t ll = rn_proc_key(lo, 'S', t, prefix, pl);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    scan_strip s = {1 + t->pfxl, fn, ctx};
    if (rn_overlay_scan(&t->ov, t->proc->ps->store, lo, ll, hi, hl, limit, strip_prefix, &s) != 0)
        return fail(err, errlen, "state store scan failed");
    return 0;
}

/* Timer keys: 'T' + pfx + kind + at + name -> flag + payload; 'N' + pfx + kind + name -> at. */
static size_t timer_key(uint8_t *out, const rn_proc_task *t, int kind, int64_t at,
                        const char *name, size_t nl) {
    uint8_t rest[1 + 8 + RN_PROCESSOR_STATE_KEY_MAX];
    rest[0] = (uint8_t)kind;
    rn_key_put64(rest + 1, flip(at));
    memcpy(rest + 9, name, nl);
    return rn_proc_key(out, 'T', t, rest, 9 + nl);
}

static size_t timer_name_key(uint8_t *out, const rn_proc_task *t, int kind, const char *name,
                             size_t nl) {
    uint8_t rest[1 + RN_PROCESSOR_STATE_KEY_MAX];
    rest[0] = (uint8_t)kind;
    memcpy(rest + 1, name, nl);
    return rn_proc_key(out, 'N', t, rest, 1 + nl);
}

/* Remove (kind, name)'s timer if there is one. 0, or -1 (storage / memory). */
static int timer_remove(rn_proc_task *t, int kind, const char *name, size_t nl) {
    uint8_t nk[KEY_MAX], tk[KEY_MAX], *v;
    size_t nkl = timer_name_key(nk, t, kind, name, nl), vl;
    int rc = get_key(t, nk, nkl, &v, &vl);
    if (rc <= 0) return rc;
    int64_t at = vl == 8 ? (int64_t)flip((int64_t)rn_key_get64(v)) : 0;
    free(v);
    if (rn_overlay_set(&t->ov, nk, nkl, NULL, 0) != 0 ||
        rn_overlay_set(&t->ov, tk, timer_key(tk, t, kind, at, name, nl), NULL, 0) != 0)
        return -1;
    return 0;
}

int rn_proc_schedule(rn_proc_task *t, int kind, const char *name, size_t name_len, int64_t at,
                     const uint8_t *payload, size_t payload_len, char *err, size_t errlen) {
    if (kind != RN_TIMER_EVENT && kind != RN_TIMER_WALL)
        return fail(err, errlen, "timer kind must be \"event\" or \"wall\"");
    if (name_len > RN_PROCESSOR_STATE_KEY_MAX)
        return fail(err, errlen, "timer name of %zu bytes: at most %d", name_len,
                    RN_PROCESSOR_STATE_KEY_MAX);
    if (timer_remove(t, kind, name, name_len) != 0)
        return fail(err, errlen, "state store read failed");
    uint8_t nk[KEY_MAX], tk[KEY_MAX], atv[8];
    rn_key_put64(atv, flip(at));
    uint8_t *val = malloc(payload_len + 1);
    if (!val) return fail(err, errlen, "out of memory");
    val[0] = payload != NULL;
    if (payload_len) memcpy(val + 1, payload, payload_len);
    int rc = rn_overlay_set(&t->ov, tk, timer_key(tk, t, kind, at, name, name_len), val,
                            payload_len + 1);
    free(val);
    if (rc != 0 ||
        rn_overlay_set(&t->ov, nk, timer_name_key(nk, t, kind, name, name_len), atv, 8) != 0)
        return fail(err, errlen, "out of memory");
    int64_t *due = kind == RN_TIMER_EVENT ? &t->next_event_due : &t->next_wall_due;
    if (at < *due) *due = at;
    return 0;
}

int rn_proc_cancel(rn_proc_task *t, int kind, const char *name, size_t name_len, char *err,
                   size_t errlen) {
    if (name_len > RN_PROCESSOR_STATE_KEY_MAX) return 0;
    if (timer_remove(t, kind, name, name_len) != 0)
        return fail(err, errlen, "state store read failed");
    return 0;
}

/* ---- emitting ---------------------------------------------------------------------- */

static void output_forget(proc_output *o) {
    free(o->partitioner);
    for (int i = 0; i < o->nconfigs; i++) {
        free(o->names[i]);
        free(o->values[i]);
    }
    free(o->names);
    free(o->values);
    free(o->parts);
    o->partitioner = NULL;
    o->names = o->values = NULL;
    o->nconfigs = 0;
    o->parts = NULL;
    o->resolved = o->failed = false;
}

/* The output's partition count, partitioner and configs, read once per step. */
static int output_resolve(rn_processor *p, proc_output *o, char *err, size_t errlen) {
    if (o->resolved) return o->failed ? fail(err, errlen, "output topic '%s' does not exist", o->name) : 0;
    output_forget(o);
    o->resolved = true;
    rn_topic_hooks h;
    if (rn_engine_topic_hooks(p->ps->engine, o->name, &h) != RN_KAFKA_NONE || h.view_of ||
        h.partition_count < 1) {
        bool view = h.view_of != NULL;
        if (h.partition_count >= 0) rn_topic_hooks_free(&h);
        o->failed = true;
        return fail(err, errlen, view ? "output topic '%s' is a view" : "output topic '%s' does not exist",
                    o->name);
    }
    o->count = h.partition_count;
    o->max_message_bytes = h.max_message_bytes;
    o->partitioner = h.partitioner_script ? strdup(h.partitioner_script) : NULL;
    o->parts = calloc((size_t)o->count, sizeof *o->parts);
    o->names = calloc((size_t)(h.nconfigs ? h.nconfigs : 1), sizeof *o->names);
    o->values = calloc((size_t)(h.nconfigs ? h.nconfigs : 1), sizeof *o->values);
    bool oom = !o->parts || !o->names || !o->values ||
               (h.partitioner_script && !o->partitioner);
    for (int i = 0; !oom && i < h.nconfigs; i++) {
        o->names[i] = strdup(h.names[i]);
        o->values[i] = strdup(h.values[i]);
        o->nconfigs = i + 1;
        oom = !o->names[i] || !o->values[i];
    }
    rn_topic_hooks_free(&h);
    if (oom) {
        output_forget(o);
        return fail(err, errlen, "out of memory");
    }
    return 0;
}

static int emit_to(rn_proc_task *t, proc_output *o, const uint8_t *key, int32_t key_len,
                   const uint8_t *value, int32_t value_len, const uint8_t *headers,
                   size_t headers_len, int32_t header_count, int32_t partition, char *err,
                   size_t errlen) {
    rn_processor *p = t->proc;
    if (output_resolve(p, o, err, errlen) != 0) return -1;
    size_t kl = key && key_len > 0 ? (size_t)key_len : 0, vl = value && value_len > 0 ? (size_t)value_len : 0;
    size_t size = kl + vl + headers_len + 32;
    if (size + RN_BATCH_HEADER_SIZE + 64 > (size_t)o->max_message_bytes)
        return fail(err, errlen, "a record of %zu bytes is larger than %s's max.message.bytes (%d)",
                    size, o->name, o->max_message_bytes);
    if (partition >= 0) {
        if (partition >= o->count)
            return fail(err, errlen, "partition %d of '%s', which has %d", partition, o->name,
                        o->count);
    } else if (o->partitioner) {
        rn_proc_record r = {.topic = o->name, .partition = -1, .offset = -1,
                            .timestamp = t->emit_ts, .key = key, .key_len = key ? key_len : -1,
                            .value = value, .value_len = value ? value_len : -1,
                            .headers = headers, .headers_len = headers_len,
                            .header_count = header_count};
        if (p->ps->prog.partition(p->ps->prog.ctx, o->partitioner, &r, o->count,
                                  (const char *const *)o->names, (const char *const *)o->values,
                                  o->nconfigs, &partition, err, errlen) != 0)
            return -1;
    } else if (key) {
        partition = rn_murmur2_partition(key, kl, o->count);
    } else {
        partition = t->index % o->count;
    }
    if (!o->parts[partition]) {
        rn_err e;
        o->parts[partition] = rn_engine_partition(p->ps->engine, o->name, partition, &e);
        if (!o->parts[partition]) return fail(err, errlen, "output topic '%s' is gone", o->name);
    }
    if (t->nemits == t->emitcap) {
        int cap = t->emitcap ? t->emitcap * 2 : 256;
        proc_emit *ne = realloc(t->emits, (size_t)cap * sizeof *ne);
        if (!ne) return fail(err, errlen, "out of memory");
        t->emits = ne;
        t->emitcap = cap;
    }
    uint8_t *mem = malloc(kl + vl + headers_len + 1);
    if (!mem) return fail(err, errlen, "out of memory");
    if (kl) memcpy(mem, key, kl);
    if (vl) memcpy(mem + kl, value, vl);
    if (headers_len) memcpy(mem + kl + vl, headers, headers_len);
    t->emits[t->nemits++] = (proc_emit){
        .p = o->parts[partition], .partition = partition, .timestamp = t->emit_ts, .mem = mem,
        .key_len = key ? key_len : -1, .value_len = value ? value_len : -1, .key_off = 0,
        .value_off = kl, .headers_off = kl + vl, .headers_len = headers_len,
        .header_count = header_count, .size = size};
    return 0;
}

int rn_proc_emit(rn_proc_task *t, const char *topic, const uint8_t *key, int32_t key_len,
                 const uint8_t *value, int32_t value_len, const uint8_t *headers,
                 size_t headers_len, int32_t header_count, int32_t partition, char *err,
                 size_t errlen) {
    rn_processor *p = t->proc;
    for (int i = 0; i < p->def.noutputs; i++)
        if (strcmp(p->def.outputs[i], topic) == 0)
            return emit_to(t, &p->outs[i], key, key_len, value, value_len, headers, headers_len,
                           header_count, partition, err, errlen);
    return fail(err, errlen, "'%s' is not an output of processor %s", topic, p->def.name);
}

static void emits_truncate(rn_proc_task *t, int n) {
    for (int i = n; i < t->nemits; i++) free(t->emits[i].mem);
    t->nemits = n;
}

/* ---- dead letters ------------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int32_t count;
} header_buf;

static void header_add(header_buf *h, const char *name, const void *value, size_t vl) {
    size_t nl = strlen(name), need = RN_RECORD_HEADER_OVERHEAD + nl + vl;
    if (h->len + need > h->cap) {
        size_t cap = (h->len + need) * 2;
        uint8_t *nb = realloc(h->buf, cap);
        if (!nb) return;
        h->buf = nb;
        h->cap = cap;
    }
    h->len += rn_record_header_put(h->buf + h->len, (const uint8_t *)name, (int32_t)nl, value,
                                   (int32_t)vl);
    h->count++;
}

/* A failed call's record (or timer) to "<name>.dlq", with the reason in headers. */
static void dead_letter(rn_proc_task *t, const rn_proc_record *rec, const rn_proc_timer *tm,
                        const char *error) {
    rn_processor *p = t->proc;
    header_buf h = {0};
    if (rec && rec->headers_len) {
        h.buf = malloc(rec->headers_len);
        if (h.buf) {
            memcpy(h.buf, rec->headers, rec->headers_len);
            h.len = h.cap = rec->headers_len;
            h.count = rec->header_count;
        }
    }
    char num[32];
    const char *nl = strchr(error, '\n'); /* the message; then the Lua traceback, if any */
    header_add(&h, "error", error, nl ? (size_t)(nl - error) : strlen(error));
    if (nl) header_add(&h, "error.trace", nl + 1, strlen(nl + 1));
    if (rec) {
        header_add(&h, "source.topic", rec->topic, strlen(rec->topic));
        snprintf(num, sizeof num, "%d", rec->partition);
        header_add(&h, "source.partition", num, strlen(num));
        snprintf(num, sizeof num, "%lld", (long long)rec->offset);
        header_add(&h, "source.offset", num, strlen(num));
    } else {
        header_add(&h, "timer.kind", tm->kind == RN_TIMER_EVENT ? "event" : "wall", tm->kind == RN_TIMER_EVENT ? 5 : 4);
        snprintf(num, sizeof num, "%lld", (long long)tm->at);
        header_add(&h, "timer.at", num, strlen(num));
    }
    snprintf(num, sizeof num, "%d", t->index);
    header_add(&h, "task", num, strlen(num));
    char why[256];
    int rc = rec ? emit_to(t, &p->outs[p->nouts - 1], rec->key, rec->key_len, rec->value,
                           rec->value_len, h.buf, h.len, h.count, 0, why, sizeof why)
                 : emit_to(t, &p->outs[p->nouts - 1], (const uint8_t *)tm->name,
                           (int32_t)tm->name_len, tm->payload, tm->payload ? (int32_t)tm->payload_len : -1,
                           h.buf, h.len, h.count, 0, why, sizeof why);
    free(h.buf);
    if (rc != 0) {
        /* The record itself cannot go (too large...): a dead letter without it. */
        header_buf h2 = {0};
        header_add(&h2, "error", error, strlen(error));
        header_add(&h2, "dlq.error", why, strlen(why));
        rc = emit_to(t, &p->outs[p->nouts - 1], NULL, -1, NULL, -1, h2.buf, h2.len, h2.count, 0,
                     why, sizeof why);
        free(h2.buf);
        if (rc != 0) rn_log_error("processor %s: dead letter lost: %s", p->def.name, why);
    }
    pthread_mutex_lock(&p->status_lock);
    p->dead_letters++;
    snprintf(p->last_error, sizeof p->last_error, "%s", error);
    pthread_mutex_unlock(&p->status_lock);
}

/* ---- a step ------------------------------------------------------------------------ */

/* The first key of a scan, copied. */
typedef struct {
    uint8_t *k, *v;
    size_t kl, vl;
} scan_first;

static int take_first(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    scan_first *f = ctx;
    f->k = malloc(kl);
    f->v = malloc(vl ? vl : 1);
    if (!f->k || !f->v) {
        free(f->k);
        free(f->v);
        f->k = f->v = NULL;
        return 1;
    }
    memcpy(f->k, k, kl);
    if (vl) memcpy(f->v, v, vl);
    f->kl = kl;
    f->vl = vl;
    return 1;
}

/* Fire the timers of kind that are due at `now`, each call all-or-nothing. Returns how
 * many fired, -1 on a storage error. */
static int fire_timers(rn_proc_task *t, int kind, int64_t now) {
    int64_t *due = kind == RN_TIMER_EVENT ? &t->next_event_due : &t->next_wall_due;
    int fired = 0;
    uint8_t lo[KEY_MAX], hi[KEY_MAX], kb = (uint8_t)kind;
    size_t ll = rn_proc_key(lo, 'T', t, &kb, 1);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    while (*due <= now && fired < TIMERS_PER_TURN) {
        scan_first f = {0};
        if (rn_overlay_scan(&t->ov, t->proc->ps->store, lo, ll, hi, hl, 1, take_first, &f) != 0)
            return -1;
        if (!f.k || f.kl < ll + 8) {
            free(f.k);
            free(f.v);
            *due = INT64_MAX;
            break;
        }
        int64_t at = (int64_t)flip((int64_t)rn_key_get64(f.k + ll));
        if (at > now) {
            *due = at;
            free(f.k);
            free(f.v);
            break;
        }
        rn_proc_timer tm = {.name = (const char *)f.k + ll + 8, .name_len = f.kl - ll - 8,
                            .kind = kind, .at = at,
                            .payload = f.vl >= 1 && f.v[0] ? f.v + 1 : NULL,
                            .payload_len = f.vl >= 1 ? f.vl - 1 : 0};
        if (timer_remove(t, kind, tm.name, tm.name_len) != 0) {
            free(f.k);
            free(f.v);
            return -1;
        }
        rn_overlay_release(&t->ov); /* the timer is gone whatever the call does */
        int mark = t->nemits;
        t->emit_ts = kind == RN_TIMER_EVENT ? at : wall_ms();
        char err[1024];
        t->in_call = true;
        int rc = t->proc->ps->prog.timer(t->inst, &tm, err, sizeof err);
        t->in_call = false;
        if (rc != 0) {
            rn_overlay_rollback(&t->ov);
            emits_truncate(t, mark);
            dead_letter(t, NULL, &tm, err);
        }
        rn_overlay_release(&t->ov);
        free(f.k);
        free(f.v);
        fired++;
    }
    return fired;
}

typedef struct {
    rn_proc_task *t;
    proc_input *in;
    int32_t partition;
    int budget;   /* records this step may still take */
    int handled;  /* records and timers */
    int timers;   /* event timers fired */
    bool failed;
} step_read;

/* One input record: the call, all-or-nothing, then the event timers it made due. */
static int process_one(step_read *s, const rn_record *r) {
    rn_proc_task *t = s->t;
    rn_proc_record rec = {.topic = s->in->topic, .partition = s->partition, .offset = r->offset,
                          .timestamp = r->timestamp, .key = r->key_len >= 0 ? r->key : NULL,
                          .key_len = r->key_len, .value = r->value_len >= 0 ? r->value : NULL,
                          .value_len = r->value_len, .headers = r->headers,
                          .headers_len = r->headers_len, .header_count = r->header_count};
    if (r->timestamp > t->step_stream_time) t->step_stream_time = r->timestamp;
    int mark = t->nemits;
    t->emit_ts = r->timestamp;
    char err[1024];
    t->in_call = true;
    int rc = t->proc->ps->prog.process(t->inst, &rec, err, sizeof err);
    t->in_call = false;
    if (rc != 0) {
        rn_overlay_rollback(&t->ov);
        emits_truncate(t, mark);
        dead_letter(t, &rec, NULL, err);
    }
    rn_overlay_release(&t->ov);
    int fired = fire_timers(t, RN_TIMER_EVENT, t->step_stream_time);
    if (fired < 0) return -1;
    s->handled += 1 + fired;
    s->timers += fired;
    return 0;
}

static int read_sink(void *ctx, const uint8_t *batch, size_t len) {
    step_read *s = ctx;
    rn_batch_header h;
    if (rn_batch_header_parse(batch, len, &h) != RN_KAFKA_NONE) return 1;
    int64_t last = h.base_offset + h.last_offset_delta;
    if (last < s->in->step_position) return 0;
    if (h.attributes & RN_BATCH_CONTROL) { /* no transactions yet: nothing to process */
        s->in->step_position = last + 1;
        return 0;
    }
    rn_batch_records *it;
    if (rn_batch_records_open(batch, len, RN_BATCH_MAX_DECOMPRESSED, &it) != RN_KAFKA_NONE) {
        rn_processor_set_error(s->t->proc, true, "%s-%d: unreadable batch at offset %lld",
                               s->in->topic, s->partition, (long long)h.base_offset);
        s->failed = true;
        return 1;
    }
    rn_record r;
    int rc;
    bool stopped = false;
    while ((rc = rn_batch_records_next(it, &r)) == 1) {
        if (r.offset < s->in->step_position) continue;
        if (s->budget <= 0) {
            stopped = true;
            break;
        }
        if (process_one(s, &r) != 0) {
            s->failed = true;
            stopped = true;
            break;
        }
        s->in->step_position = r.offset + 1;
        s->budget--;
        if (s->t->nemits > STEP_EMITS_MAX) s->budget = 0;
    }
    rn_batch_records_close(it);
    if (rc < 0 && !stopped) {
        rn_processor_set_error(s->t->proc, true, "%s-%d: corrupt batch at offset %lld",
                               s->in->topic, s->partition, (long long)h.base_offset);
        s->failed = true;
        return 1;
    }
    if (!stopped) s->in->step_position = last + 1;
    return stopped || s->budget <= 0;
}

static void peek_drop(proc_input *in) {
    free(in->peek);
    in->peek = NULL;
    in->peek_len = 0;
}

/* Read one input from its step position into sink. -1 on a failure that ends the step. */
static int read_from(rn_proc_task *t, proc_input *in, size_t max_bytes, rn_batch_sink sink,
                     void *ctx) {
    size_t bytes;
    rn_err err = rn_partition_read(in->p, in->step_position, max_bytes, true, sink, ctx, NULL,
                                   &bytes);
    if (err == RN_KAFKA_OFFSET_OUT_OF_RANGE) {
        rn_partition_offsets now;
        if (rn_partition_offsets_get(in->p, &now) != RN_KAFKA_NONE) return -1;
        int64_t to = in->step_position < now.log_start_offset ? now.log_start_offset
                                                               : now.high_watermark;
        rn_log_warn("processor %s: %s-%d: position %lld is out of range [%lld, %lld]; "
                    "continuing at %lld",
                    t->proc->def.name, in->topic, t->index, (long long)in->step_position,
                    (long long)now.log_start_offset, (long long)now.high_watermark,
                    (long long)to);
        in->step_position = to;
        return 0;
    }
    if (err == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION) {
        rn_processor_set_error(t->proc, true, "input %s-%d is gone", in->topic, t->index);
        if (in->watching) rn_partition_unwatch(in->p, &in->watcher);
        in->watching = false;
        peek_drop(in);
        in->p = NULL; /* looked up again by the processor */
        return -1;
    }
    if (err != RN_KAFKA_NONE) {
        rn_processor_set_error(t->proc, true, "reading %s-%d failed: %s", in->topic, t->index,
                               rn_err_name(err));
        return -1;
    }
    return 0;
}

static int read_input(rn_proc_task *t, proc_input *in, step_read *s) {
    s->in = in;
    if (read_from(t, in, STEP_READ_BYTES, read_sink, s) != 0) return -1;
    return s->failed ? -1 : 0;
}

static int copy_first(void *ctx, const uint8_t *batch, size_t len) {
    proc_input *in = ctx;
    rn_batch_header h;
    if (rn_batch_header_parse(batch, len, &h) != RN_KAFKA_NONE || !(in->peek = malloc(len)))
        return 1;
    memcpy(in->peek, batch, len);
    in->peek_len = len;
    in->peek_ts = (h.attributes & RN_BATCH_TIMESTAMP_LOG_APPEND) ? h.max_timestamp : h.base_timestamp;
    return 1;
}

/* The next batch of an input (none at its end). -1 on a failure that ends the step. */
static int peek_input(rn_proc_task *t, proc_input *in) {
    if (in->peek || !in->p) return 0;
    rn_partition_offsets off;
    if (rn_partition_offsets_get(in->p, &off) == RN_KAFKA_NONE &&
        in->step_position >= off.high_watermark)
        return 0;
    return read_from(t, in, 1, copy_first, in);
}

/* Several inputs: take batches in timestamp order (the input whose next batch starts
 * earliest), as Kafka Streams does, so a join sees its table as of the stream's time and
 * windows see one stream time. Returns -1 on a failure that ends the step. */
static int read_merged(rn_proc_task *t, step_read *s) {
    while (s->budget > 0) {
        proc_input *best = NULL;
        for (int i = 0; i < t->nin; i++) {
            proc_input *in = &t->in[i];
            if (peek_input(t, in) != 0) return -1;
            if (in->peek && (!best || in->peek_ts < best->peek_ts)) best = in;
        }
        if (!best) return 0;
        s->in = best;
        read_sink(s, best->peek, best->peek_len);
        peek_drop(best); /* a batch left half done is read again from step_position */
        if (s->failed) return -1;
    }
    return 0;
}

static bool input_has_records(proc_input *in) {
    if (!in->p) return false;
    rn_partition_offsets off;
    rn_err err = rn_partition_offsets_get(in->p, &off);
    if (err == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION) { /* deleted: look it up again */
        if (in->watching) rn_partition_unwatch(in->p, &in->watcher);
        in->watching = false;
        peek_drop(in);
        in->p = NULL;
        return false;
    }
    return !err && off.high_watermark > in->position;
}

/* ---- commit ------------------------------------------------------------------------ */

static int by_partition(const void *a, const void *b) {
    const proc_emit *x = *(const proc_emit *const *)a, *y = *(const proc_emit *const *)b;
    if (x->p != y->p) return (uintptr_t)x->p < (uintptr_t)y->p ? -1 : 1;
    return x < y ? -1 : x > y; /* emit order within a partition */
}

/* Encode the emits of one partition (es[0..n)) as batches under max bytes each, one buffer. */
static rn_err encode_partition(proc_emit **es, int n, int32_t max_bytes, uint8_t **out,
                               size_t *outlen) {
    rn_record *recs = malloc((size_t)n * sizeof *recs);
    if (!recs) return RN_ERR_NOMEM;
    uint8_t *buf = NULL;
    size_t len = 0;
    rn_err err = RN_KAFKA_NONE;
    for (int i = 0; i < n && !err;) {
        size_t size = RN_BATCH_HEADER_SIZE + 64;
        int j = i;
        for (; j < n && (j == i || size + es[j]->size <= (size_t)max_bytes); j++) {
            proc_emit *e = es[j];
            size += e->size;
            recs[j - i] = (rn_record){
                .offset = j - i, .timestamp = e->timestamp,
                .key = e->key_len >= 0 ? e->mem + e->key_off : NULL, .key_len = e->key_len,
                .value = e->value_len >= 0 ? e->mem + e->value_off : NULL,
                .value_len = e->value_len, .header_count = e->header_count,
                .headers = e->headers_len ? e->mem + e->headers_off : NULL,
                .headers_len = e->headers_len};
        }
        rn_batch_spec spec = {.base_offset = 0, .last_offset_delta = -1, .codec = RN_CODEC_NONE,
                              .producer_id = -1, .producer_epoch = -1, .base_sequence = -1,
                              .partition_leader_epoch = -1};
        uint8_t *b;
        size_t bl;
        err = rn_batch_encode(&spec, recs, j - i, &b, &bl);
        if (!err) {
            uint8_t *nb = realloc(buf, len + bl);
            if (!nb) {
                err = RN_ERR_NOMEM;
            } else {
                buf = nb;
                memcpy(buf + len, b, bl);
                len += bl;
            }
            free(b);
        }
        i = j;
    }
    free(recs);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *outlen = len;
    return RN_KAFKA_NONE;
}

static rn_err step_commit(rn_proc_task *t) {
    rn_processor *p = t->proc;
    rn_store *store = p->ps->store;
    rn_store_batch *wb = rn_store_batch_new();
    proc_emit **order = malloc((size_t)(t->nemits ? t->nemits : 1) * sizeof *order);
    rn_log_append_part *parts = calloc((size_t)(t->nemits ? t->nemits : 1), sizeof *parts);
    if (!wb || !order || !parts) {
        rn_store_batch_free(wb);
        free(order);
        free(parts);
        return RN_ERR_NOMEM;
    }
    rn_overlay_write(&t->ov, store, wb);
    uint8_t k[KEY_MAX], v[RN_PROC_POSITION_LEN];
    for (int i = 0; i < t->nin; i++) {
        proc_input *in = &t->in[i];
        if (!in->p || in->step_position == in->position) continue;
        rn_proc_position_put(v, in->step_position, in->topic_id);
        rn_store_batch_put(wb, store, RN_CF_PROCESSORS, k,
                           rn_proc_key(k, 'P', t, in->topic, strlen(in->topic)), v, sizeof v);
    }
    rn_key_put64(v, (uint64_t)t->step_stream_time);
    rn_store_batch_put(wb, store, RN_CF_PROCESSORS, k, rn_proc_key(k, 'M', t, NULL, 0), v, 8);

    for (int i = 0; i < t->nemits; i++) order[i] = &t->emits[i];
    qsort(order, (size_t)t->nemits, sizeof *order, by_partition);
    int nparts = 0;
    rn_err err = RN_KAFKA_NONE;
    for (int i = 0; i < t->nemits && !err;) {
        int j = i;
        while (j < t->nemits && order[j]->p == order[i]->p) j++;
        int32_t max = order[i]->p->settings.max_message_bytes;
        parts[nparts].p = order[i]->p;
        err = encode_partition(order + i, j - i, max, &parts[nparts].records, &parts[nparts].len);
        if (!err) nparts++;
        i = j;
    }
    if (!err) err = rn_log_append_atomic(store, parts, nparts, wb, p->ps->flush_sync);
    for (int i = 0; i < nparts; i++) free(parts[i].records);
    free(parts);
    free(order);
    rn_store_batch_free(wb);
    return err;
}

static void step_discard(rn_proc_task *t) {
    for (int i = 0; i < t->nin; i++) peek_drop(&t->in[i]); /* they were at step positions */
    rn_overlay_clear(&t->ov);
    emits_truncate(t, 0);
    for (int i = 0; i < t->nin; i++) t->in[i].step_position = t->in[i].position;
    t->step_stream_time = t->stream_time;
    /* Timers that fired in the discarded step are still stored: look at the store again
     * (a later due time here would skip them). */
    t->next_event_due = t->next_wall_due = INT64_MIN;
}

int64_t rn_proc_task_wall_due(const rn_proc_task *t) { return t->next_wall_due; }

int rn_proc_task_step(rn_proc_task *t, int max_records) {
    rn_processor *p = t->proc;
    int64_t now = wall_ms();
    bool work = t->next_wall_due <= now;
    for (int i = 0; i < t->nin && !work; i++) work = input_has_records(&t->in[i]);
    if (!work) return 0;
    for (int i = 0; i < p->nouts; i++) p->outs[i].resolved = false; /* read once per step */

    step_read s = {.t = t, .partition = t->index, .budget = max_records};
    int rc = 0;
    if (t->nin == 1 && t->in[0].p)
        rc = read_input(t, &t->in[0], &s);
    else if (t->nin > 1)
        rc = read_merged(t, &s);
    int fired = rc == 0 ? fire_timers(t, RN_TIMER_WALL, now) : 0;
    if (rc != 0 || fired < 0) {
        if (fired < 0) rn_processor_set_error(p, true, "task %d: state store read failed", t->index);
        step_discard(t);
        return -1;
    }
    s.handled += fired;
    bool moved = t->step_stream_time != t->stream_time;
    for (int i = 0; i < t->nin; i++) moved |= t->in[i].step_position != t->in[i].position;
    if (!s.handled && !moved && !t->ov.n) {
        step_discard(t);
        return 0;
    }
    int nemits = t->nemits;
    rn_err err = step_commit(t);
    if (err) {
        rn_processor_set_error(p, true, "task %d: committing a step of %d records failed: %s",
                               t->index, s.handled, rn_err_name(err));
        step_discard(t);
        return -1;
    }
    /* Committed: the step's view becomes the task's. */
    int64_t in_records = 0;
    for (int i = 0; i < t->nin; i++) {
        in_records += t->in[i].step_position - t->in[i].position;
        t->in[i].position = t->in[i].step_position;
    }
    t->stream_time = t->step_stream_time;
    rn_overlay_clear(&t->ov);
    emits_truncate(t, 0);
    pthread_mutex_lock(&p->status_lock);
    p->records_in += (uint64_t)in_records;
    p->records_out += (uint64_t)nemits;
    p->timers_fired += (uint64_t)(fired + s.timers);
    p->steps++;
    p->failing = false;
    pthread_mutex_unlock(&p->status_lock);
    return s.handled ? s.handled : 1;
}

/* ---- a task's life ----------------------------------------------------------------- */

bool rn_proc_topic_id(rn_engine *e, const char *topic, uint8_t id[16]) {
    rn_topic_meta *m;
    int c;
    if (rn_engine_topics(e, &topic, 1, &m, &c) != RN_KAFKA_NONE) return false;
    bool found = c == 1;
    if (found) memcpy(id, m[0].topic_id, 16);
    rn_topic_meta_free(m, c);
    return found;
}

void rn_proc_position_put(uint8_t v[RN_PROC_POSITION_LEN], int64_t offset, const uint8_t id[16]) {
    rn_key_put64(v, (uint64_t)offset);
    memcpy(v + 8, id, 16);
}

int64_t rn_proc_position_get(const uint8_t *v, size_t vl, const uint8_t id[16]) {
    if (!v || vl != RN_PROC_POSITION_LEN || memcmp(v + 8, id, 16) != 0) return -1;
    return (int64_t)rn_key_get64(v);
}

static void wake_processor(rn_watcher *w) {
    rn_processor *p = w->ctx;
    pthread_mutex_lock(&p->wake_lock);
    p->wake = true;
    pthread_cond_signal(&p->wake_cond);
    pthread_mutex_unlock(&p->wake_lock);
}

/* Resolve inputs that had no partition (yet) and load their committed positions. */
int rn_proc_task_resolve(rn_proc_task *t) {
    rn_processor *p = t->proc;
    for (int i = 0; i < t->nin; i++) {
        proc_input *in = &t->in[i];
        if (in->p) continue;
        rn_err e;
        uint8_t id[16];
        rn_partition *part = rn_engine_partition(p->ps->engine, in->topic, t->index, &e);
        if (!part || !rn_proc_topic_id(p->ps->engine, in->topic, id)) continue;
        uint8_t k[KEY_MAX];
        char *v = NULL;
        size_t vl = 0;
        if (rn_store_get(p->ps->store, RN_CF_PROCESSORS, k,
                         rn_proc_key(k, 'P', t, in->topic, strlen(in->topic)), &v,
                         &vl) != RN_KAFKA_NONE)
            return -1;
        rn_partition_offsets off;
        if (rn_partition_offsets_get(part, &off) != RN_KAFKA_NONE) {
            free(v);
            continue;
        }
        int64_t stored = rn_proc_position_get((uint8_t *)v, vl, id);
        if (v && stored < 0)
            rn_log_warn("processor %s: input %s-%d is not the topic its position was for (it "
                        "was deleted and created again): reading it from its start",
                        p->def.name, in->topic, t->index);
        in->position = stored >= 0 ? stored : off.log_start_offset;
        in->step_position = in->position;
        memcpy(in->topic_id, id, 16);
        free(v);
        in->p = part;
        in->watcher = (rn_watcher){.notify = wake_processor, .ctx = p};
        rn_partition_watch(part, &in->watcher);
        in->watching = true;
    }
    return 0;
}

rn_proc_task *rn_proc_task_new(rn_processor *p, int32_t index, char *err, size_t errlen) {
    rn_proc_task *t = calloc(1, sizeof *t);
    if (!t) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    t->proc = p;
    t->index = index;
    size_t nl = strlen(p->def.name);
    t->pfx[0] = (uint8_t)(nl >> 8);
    t->pfx[1] = (uint8_t)nl;
    memcpy(t->pfx + 2, p->def.name, nl);
    rn_key_put32(t->pfx + 2 + nl, (uint32_t)index);
    t->pfxl = 2 + nl + 4;
    rn_overlay_init(&t->ov);
    t->next_event_due = t->next_wall_due = INT64_MIN; /* look at the stored timers first */
    t->in = calloc((size_t)p->def.ninputs, sizeof *t->in);
    if (!t->in) {
        free(t);
        fail(err, errlen, "out of memory");
        return NULL;
    }
    t->nin = p->def.ninputs;
    for (int i = 0; i < t->nin; i++)
        if (!(t->in[i].topic = strdup(p->def.inputs[i]))) {
            rn_proc_task_free(t);
            fail(err, errlen, "out of memory");
            return NULL;
        }
    uint8_t k[KEY_MAX];
    char *v = NULL;
    size_t vl = 0;
    if (rn_store_get(p->ps->store, RN_CF_PROCESSORS, k, rn_proc_key(k, 'M', t, NULL, 0), &v,
                     &vl) != RN_KAFKA_NONE ||
        rn_proc_task_resolve(t) != 0) {
        free(v);
        rn_proc_task_free(t);
        fail(err, errlen, "reading the processor's positions failed");
        return NULL;
    }
    t->stream_time = t->step_stream_time = v && vl == 8 ? (int64_t)rn_key_get64((uint8_t *)v) : -1;
    free(v);
    t->inst = p->ps->prog.open(p->ps->prog.ctx, &p->def, t, err, errlen);
    if (!t->inst) {
        rn_proc_task_free(t);
        return NULL;
    }
    return t;
}

void rn_proc_task_free(rn_proc_task *t) {
    if (!t) return;
    for (int i = 0; i < t->nin; i++) {
        if (t->in[i].watching) rn_partition_unwatch(t->in[i].p, &t->in[i].watcher);
        free(t->in[i].topic);
        free(t->in[i].peek);
    }
    free(t->in);
    if (t->inst) t->proc->ps->prog.close(t->inst);
    rn_overlay_free(&t->ov);
    emits_truncate(t, 0);
    free(t->emits);
    free(t);
}
