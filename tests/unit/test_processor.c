/* tests/unit/test_processor.c: the stream processor runtime (engine/processor.h) driven by a
 * fake program written in C, on a real engine in a temporary directory. Two ways in:
 * most semantics are checked by stepping a task of a stopped processor on the test's own
 * thread (rn_proc_task_step, processor_internal.h), so every step is deterministic; the
 * lifecycle (threads, restart, reset, delete, status) goes through the public admin
 * functions with the processor's own thread, waited for with deadlines.
 *
 * The fake program's process() and timer() call whatever the test put in on_record and
 * on_timer; what they observe is written to a log (note) and compared as a string, so no
 * assertion runs on a processor thread (callbacks of stepped tasks run on the test's). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "engine_fixture.h"
#include "murmur2.h"
#include "processor_internal.h"

TestSuite(overlay, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(processor, .init = setup, .fini = teardown, .timeout = 60);

#define WAIT_MS 20000 /* a deadline for the processor thread, generous for ASan */

/* ---- what the fake program observed ----------------------------------------------- */

static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;
static char notes_buf[1 << 16];
static atomic_int calls;        /* process() calls */
static atomic_int timer_calls;  /* timer() calls */

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    pthread_mutex_lock(&notes_lock);
    size_t n = strlen(notes_buf);
    if (n && n + 1 < sizeof notes_buf) notes_buf[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(notes_buf + n, sizeof notes_buf - n, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&notes_lock);
}

/* The log so far (the caller frees), and forget it. */
static char *notes_take(void) {
    pthread_mutex_lock(&notes_lock);
    char *s = strdup(notes_buf);
    notes_buf[0] = 0;
    pthread_mutex_unlock(&notes_lock);
    cr_assert(s);
    return s;
}

#define cr_assert_notes(want)                                                                \
    do {                                                                                     \
        char *got_ = notes_take();                                                           \
        cr_assert_str_eq(got_, want);                                                        \
        free(got_);                                                                          \
    } while (0)

/* Bytes as text: printable as they are, others as \xHH. */
static const char *shown(char *out, size_t cap, const uint8_t *b, size_t n) {
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i++)
        o += (size_t)(b[i] >= 0x21 && b[i] < 0x7f && b[i] != '\\'
                          ? snprintf(out + o, cap - o, "%c", b[i])
                          : snprintf(out + o, cap - o, "\\x%02x", b[i]));
    return out;
}

/* ---- the fake program ------------------------------------------------------------- */

typedef int (*record_fn)(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen);
typedef int (*timer_fn)(rn_proc_task *t, const rn_proc_timer *tm, char *err, size_t errlen);
static record_fn on_record; /* NULL: do nothing */
static timer_fn on_timer;

typedef struct {
    rn_proc_task *t;
} fake_inst;

static void *fake_open(void *ctx, const rn_processor_def *def, rn_proc_task *t, char *err,
                       size_t errlen) {
    if (strcmp(def->script, "failopen.lua") == 0) {
        snprintf(err, errlen, "failopen.lua:1: cannot open");
        return NULL;
    }
    fake_inst *in = calloc(1, sizeof *in);
    in->t = t;
    return in;
}

static int fake_process(void *inst, const rn_proc_record *rec, char *err, size_t errlen) {
    fake_inst *in = inst;
    atomic_fetch_add(&calls, 1);
    return on_record ? on_record(in->t, rec, err, errlen) : 0;
}

static int fake_timer(void *inst, const rn_proc_timer *tm, char *err, size_t errlen) {
    fake_inst *in = inst;
    atomic_fetch_add(&timer_calls, 1);
    return on_timer ? on_timer(in->t, tm, err, errlen) : 0;
}

static void fake_close(void *inst) { free(inst); }

static int fake_check(void *ctx, const char *script, char *err, size_t errlen) {
    if (strcmp(script, "missing.lua") == 0)
        return snprintf(err, errlen, "cannot read missing.lua: No such file or directory"), -1;
    if (strcmp(script, "noprocess.lua") == 0)
        return snprintf(err, errlen, "noprocess.lua defines no process()"), -1;
    return 0;
}

/* A topic's Lua partitioner: the last partition, or an error for "bad.lua". */
static int fake_partition(void *ctx, const char *script, const rn_proc_record *rec,
                          int32_t count, const char *const *names, const char *const *values,
                          int nconfigs, int32_t *index, char *err, size_t errlen) {
    if (strcmp(script, "bad.lua") == 0)
        return snprintf(err, errlen, "bad.lua:3: no partition for you"), -1;
    note("partitioner(%s,%.*s,%d)", script, rec->key_len, (const char *)rec->key, count);
    *index = count - 1;
    return 0;
}

static const rn_proc_program fake_program = {
    .open = fake_open, .process = fake_process, .timer = fake_timer, .close = fake_close,
    .check = fake_check, .partition = fake_partition, .ctx = NULL};

/* Hook configs (partitioner.script) need a checker; the fake accepts every script. */
static int accept_script(void *ctx, const char *script, const char *fn, char *err,
                         size_t errlen) {
    return 0;
}

/* ---- the engine and the runtime --------------------------------------------------- */

static rn_engine *eng;
static rn_processors *procs;

static void open_runtime_with(int32_t step_records, bool flush_sync) {
    rn_engine_options o = fixture_opts(1 << 20);
    o.flush_sync = flush_sync;
    o.script_check = accept_script;
    eng = open_with(&o);
    rn_processors_options po = {.max_records_per_step = step_records};
    char err[512] = "";
    cr_assert_eq(rn_processors_open(eng, &fake_program, &po, &procs, err, sizeof err), 0, "%s",
                 err);
}

static void open_runtime(void) { open_runtime_with(2000, false); }

static void close_runtime(void) {
    rn_processors_close(procs);
    rn_engine_close(eng);
    procs = NULL;
    eng = NULL;
}

static void topic(const char *name, int32_t partitions) {
    char msg[256] = "";
    cr_assert_eq(rn_engine_create_topic(eng, name, partitions, NULL, 0, false, msg, sizeof msg),
                 0, "%s: %s", name, msg);
}

static bool topic_exists(const char *name) {
    rn_topic_hooks h;
    if (rn_engine_topic_hooks(eng, name, &h) != RN_KAFKA_NONE) return false;
    rn_topic_hooks_free(&h);
    return true;
}

/* One record (key / value NULL: null) with an optional header, in its own batch. */
static int64_t produce_h(const char *topic_name, int32_t part, const char *key,
                         const char *value, int64_t ts, const char *hname, const char *hvalue) {
    uint8_t hdr[256], buf[4096];
    rn_record r = {.timestamp = ts, .key = (const uint8_t *)key,
                   .key_len = key ? (int32_t)strlen(key) : -1, .value = (const uint8_t *)value,
                   .value_len = value ? (int32_t)strlen(value) : -1};
    if (hname) {
        r.headers = hdr;
        r.headers_len = rn_record_header_put(hdr, (const uint8_t *)hname, (int32_t)strlen(hname),
                                             (const uint8_t *)hvalue, (int32_t)strlen(hvalue));
        r.header_count = 1;
    }
    size_t len = rn_batch_build(buf, sizeof buf, 0, &r, 1, -1, -1, -1);
    cr_assert_gt(len, 0);
    rn_append_result res;
    cr_assert_eq(rn_partition_append(partition(eng, topic_name, part), buf, len, &res), 0);
    return res.base_offset;
}

static int64_t produce(const char *topic_name, int32_t part, const char *key, const char *value,
                       int64_t ts) {
    return produce_h(topic_name, part, key, value, ts, NULL, NULL);
}

/* A definition from comma-separated lists ("" for none); options as "k=v,k=v". Free it
 * with rn_processor_def_free. */
static char **split(const char *list, int *n) {
    char **v = calloc(32, sizeof *v);
    *n = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s && *n < 32; s = strtok_r(NULL, ",", &save))
        v[(*n)++] = strdup(s);
    free(copy);
    return v;
}

static rn_processor_def def_of(const char *name, const char *script, const char *inputs,
                               const char *outputs, bool stopped) {
    rn_processor_def d = {.name = name ? strdup(name) : NULL,
                          .script = script ? strdup(script) : NULL, .stopped = stopped};
    d.inputs = split(inputs, &d.ninputs);
    d.outputs = split(outputs, &d.noutputs);
    d.option_names = split("", &d.noptions);
    d.option_values = split("", &d.noptions);
    return d;
}

static void create(const char *name, const char *inputs, const char *outputs, bool stopped) {
    rn_processor_def d = def_of(name, "fake.lua", inputs, outputs, stopped);
    char err[512] = "";
    rn_err e = rn_processors_create(procs, &d, false, err, sizeof err);
    rn_processor_def_free(&d);
    cr_assert_eq(e, 0, "create %s: %s (%s)", name, err, rn_err_name(e));
}

static rn_processor *find_proc(const char *name) {
    for (rn_processor *p = procs->list; p; p = p->next)
        if (strcmp(p->def.name, name) == 0) return p;
    cr_assert_fail("no processor %s", name);
    return NULL;
}

/* A task of a stopped processor, stepped by the test itself. */
static rn_proc_task *task_of(const char *name, int32_t index) {
    rn_processor *p = find_proc(name);
    cr_assert_not(p->thread_running, "only a stopped processor's tasks are stepped by hand");
    char err[512] = "";
    rn_proc_task *t = rn_proc_task_new(p, index, err, sizeof err);
    cr_assert(t, "%s", err);
    return t;
}

/* ---- reading what was committed --------------------------------------------------- */

typedef struct {
    char kv[2048];      /* "key=value key=value ..." (~ for null) */
    char headers[2048]; /* of the last record: "name=value;..." */
    int64_t ts[64];
    int n;
} outs;

static int outs_sink(void *ctx, const uint8_t *b, size_t len) {
    outs *o = ctx;
    rn_batch_records *it;
    cr_assert_eq(rn_batch_records_open(b, len, 1u << 26, &it), 0);
    rn_record r;
    char k[256], v[512];
    while (rn_batch_records_next(it, &r) == 1) {
        size_t n = strlen(o->kv);
        snprintf(o->kv + n, sizeof o->kv - n, "%s%s=%s", n ? " " : "",
                 r.key_len < 0 ? "~" : shown(k, sizeof k, r.key, (size_t)r.key_len),
                 r.value_len < 0 ? "~" : shown(v, sizeof v, r.value, (size_t)r.value_len));
        if (o->n < 64) o->ts[o->n] = r.timestamp;
        o->n++;
        o->headers[0] = 0;
        size_t pos = 0;
        const uint8_t *hn, *hv;
        int32_t hnl, hvl;
        while (rn_record_header_next(&r, &pos, &hn, &hnl, &hv, &hvl) == 1) {
            size_t m = strlen(o->headers);
            snprintf(o->headers + m, sizeof o->headers - m, "%.*s=%s;", (int)hnl, (const char *)hn,
                     hvl < 0 ? "~" : shown(v, sizeof v, hv, (size_t)hvl));
        }
    }
    rn_batch_records_close(it);
    return 0;
}

static outs read_out(const char *topic_name, int32_t part) {
    outs o = {0};
    rn_partition *p = partition(eng, topic_name, part);
    size_t bytes;
    cr_assert_eq(rn_partition_read(p, offsets(p).log_start_offset, SIZE_MAX, true, outs_sink, &o,
                                   NULL, &bytes),
                 0);
    return o;
}

#define cr_assert_out(topic_name, part, want)                                                \
    do {                                                                                     \
        outs o_ = read_out(topic_name, part);                                                \
        cr_assert_str_eq(o_.kv, want, "%s-%d", topic_name, part);                            \
    } while (0)

/* A committed state value of a task (the store, not the overlay): malloc'd or NULL. */
static char *stored_state(const char *name, int32_t task, const char *key) {
    uint8_t k[16 + RN_PROCESSOR_NAME_MAX + RN_PROCESSOR_STATE_KEY_MAX];
    size_t kl = rn_proc_name_key(k, 'S', name);
    rn_key_put32(k + kl, (uint32_t)task);
    kl += 4;
    memcpy(k + kl, key, strlen(key));
    kl += strlen(key);
    char *v = NULL;
    size_t vl = 0;
    cr_assert_eq(rn_store_get(rn_engine_store(eng), RN_CF_PROCESSORS, k, kl, &v, &vl), 0);
    if (!v) return NULL;
    char *s = malloc(vl + 1);
    memcpy(s, v, vl);
    s[vl] = 0;
    free(v);
    return s;
}

#define cr_assert_state(name, task, key, want)                                               \
    do {                                                                                     \
        char *v_ = stored_state(name, task, key);                                            \
        const char *w_ = (want);                                                             \
        if (!w_) cr_assert_null(v_, "%s/%d/%s is %s", name, task, key, v_);                  \
        else {                                                                               \
            cr_assert(v_, "%s/%d/%s is absent", name, task, key);                            \
            cr_assert_str_eq(v_, w_);                                                        \
        }                                                                                    \
        free(v_);                                                                            \
    } while (0)

/* How many keys of a type ('P', 'M', 'S', 'T', 'N') the store holds for a processor. */
static int stored_keys(uint8_t type, const char *name) {
    uint8_t lo[8 + RN_PROCESSOR_NAME_MAX], hi[8 + RN_PROCESSOR_NAME_MAX];
    size_t ll = rn_proc_name_key(lo, type, name);
    size_t hl = rn_key_prefix_end(hi, lo, ll);
    rn_store_iter *it = rn_store_iter_new(rn_engine_store(eng), RN_CF_PROCESSORS, lo, ll, hi, hl);
    int n = 0;
    for (rn_store_iter_seek(it, lo, ll); rn_store_iter_valid(it); rn_store_iter_next(it)) n++;
    rn_store_iter_free(it);
    return n;
}

/* How many processor definitions the store holds. */
static int definitions(void) {
    uint8_t lo = 'D', hi = 'E';
    rn_store_iter *it = rn_store_iter_new(rn_engine_store(eng), RN_CF_PROCESSORS, &lo, 1, &hi, 1);
    int n = 0;
    for (rn_store_iter_seek(it, &lo, 1); rn_store_iter_valid(it); rn_store_iter_next(it)) n++;
    rn_store_iter_free(it);
    return n;
}

static bool has_definition(const char *name) {
    uint8_t k[1 + RN_PROCESSOR_NAME_MAX];
    k[0] = 'D';
    memcpy(k + 1, name, strlen(name));
    char *v = NULL;
    size_t vl;
    cr_assert_eq(rn_store_get(rn_engine_store(eng), RN_CF_PROCESSORS, k, 1 + strlen(name), &v, &vl),
                 0);
    free(v);
    return v != NULL;
}

/* ---- status and waiting for the thread ------------------------------------------- */

static rn_processor_status *status_of(const char *name) {
    rn_processor_status *s;
    int n;
    cr_assert_eq(rn_processors_status(procs, name, &s, &n), 0, "status of %s", name);
    cr_assert_eq(n, 1);
    return s;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the processor has taken at least `records` records and has no lag. */
static rn_processor_status *wait_caught_up(const char *name, uint64_t records) {
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        rn_processor_status *s = status_of(name);
        if (s->lag == 0 && s->records_in >= records) return s;
        if (mono_ms() > deadline)
            cr_assert_fail("%s: not caught up in %d ms: lag %lld, records_in %llu (want %llu), "
                           "%s, last error: %s",
                           name, WAIT_MS, (long long)s->lag, (unsigned long long)s->records_in,
                           (unsigned long long)records, s->status,
                           s->last_error ? s->last_error : "none");
        rn_processor_status_free(s, 1);
        sleep_ms(5);
    }
}

static void wait_calls(int want) {
    int64_t deadline = mono_ms() + WAIT_MS;
    while (atomic_load(&calls) < want) {
        cr_assert_leq(mono_ms(), deadline, "%d process() calls in %d ms, want %d",
                      atomic_load(&calls), WAIT_MS, want);
        sleep_ms(5);
    }
}

/* ---- helpers for the fake's callbacks (they return -1 with err, as a script raises) */

static int put_s(rn_proc_task *t, const char *k, const char *v, char *err, size_t errlen) {
    return rn_proc_state_put(t, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v), err,
                             errlen);
}

static int del_s(rn_proc_task *t, const char *k, char *err, size_t errlen) {
    return rn_proc_state_delete(t, (const uint8_t *)k, strlen(k), err, errlen);
}

/* The value as a string, "-" when absent (static buffers: up to four uses per note). */
static const char *get_s(rn_proc_task *t, const char *k, size_t kl) {
    static char bufs[4][512];
    static int next;
    char *out = bufs[next++ % 4];
    uint8_t *v = NULL;
    size_t vl = 0;
    char err[256];
    int rc = rn_proc_state_get(t, (const uint8_t *)k, kl, &v, &vl, err, sizeof err);
    if (rc < 0) snprintf(out, sizeof bufs[0], "ERR(%s)", err);
    else if (rc == 0) snprintf(out, sizeof bufs[0], "-");
    else shown(out, sizeof bufs[0], v, vl);
    free(v);
    return out;
}
#define GET(t, k) get_s(t, k, strlen(k))

static int emit_s(rn_proc_task *t, const char *topic_name, const char *k, const char *v,
                  int32_t part, char *err, size_t errlen) {
    return rn_proc_emit(t, topic_name, (const uint8_t *)k, k ? (int32_t)strlen(k) : -1,
                        (const uint8_t *)v, v ? (int32_t)strlen(v) : -1, NULL, 0, 0, part, err,
                        errlen);
}

static int schedule_s(rn_proc_task *t, int kind, const char *name, int64_t at,
                      const char *payload, char *err, size_t errlen) {
    return rn_proc_schedule(t, kind, name, strlen(name), at, (const uint8_t *)payload,
                            payload ? strlen(payload) : 0, err, errlen);
}

static int cancel_s(rn_proc_task *t, int kind, const char *name, char *err, size_t errlen) {
    return rn_proc_cancel(t, kind, name, strlen(name), err, errlen);
}

typedef struct {
    char buf[2048];
    int n, stop_after;
} scan_acc;

static int scan_collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    scan_acc *a = ctx;
    char ks[256], vs[256];
    size_t n = strlen(a->buf);
    snprintf(a->buf + n, sizeof a->buf - n, "%s%s=%s", n ? "," : "", shown(ks, sizeof ks, k, kl),
             shown(vs, sizeof vs, v, vl));
    a->n++;
    return a->stop_after && a->n >= a->stop_after;
}

/* Note "label[k=v,k=v]" for a scan of prefix (pl bytes). */
static void note_scan(rn_proc_task *t, const char *label, const char *prefix, size_t pl,
                      int64_t limit, int stop_after) {
    scan_acc a = {.stop_after = stop_after};
    char err[256];
    if (rn_proc_state_scan(t, (const uint8_t *)prefix, pl, limit, scan_collect, &a, err,
                           sizeof err) != 0)
        note("%s:ERR(%s)", label, err);
    else
        note("%s[%s]", label, a.buf);
}

#define MUST(call)                                                                           \
    do {                                                                                     \
        if ((call) != 0) return -1;                                                          \
    } while (0)

/* ======================================================================================
 * The overlay itself
 * ====================================================================================== */

static int ov_get_str(const rn_overlay *o, const char *k, char *out, size_t cap) {
    const uint8_t *v;
    size_t vl;
    int st = rn_overlay_get(o, (const uint8_t *)k, strlen(k), &v, &vl);
    if (st == OV_PUT) snprintf(out, cap, "%.*s", (int)vl, (const char *)v);
    else snprintf(out, cap, "%s", st == OV_DEL ? "<del>" : "<absent>");
    return st;
}

static void ov_set(rn_overlay *o, const char *k, const char *v) {
    cr_assert_eq(rn_overlay_set(o, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                                v ? strlen(v) : 0),
                 0);
}

Test(overlay, reads_its_writes_rolls_back_to_the_last_release) {
    rn_overlay o;
    rn_overlay_init(&o);
    char v[64];
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_ABSENT, "empty overlay");
    ov_set(&o, "k", "1");
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_PUT);
    cr_assert_str_eq(v, "1");
    rn_overlay_release(&o); /* a call that succeeded */

    ov_set(&o, "k", "2");
    ov_set(&o, "j", "x");
    ov_set(&o, "k", NULL);
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_DEL, "a delete is remembered");
    ov_set(&o, "e", ""); /* an empty value is a value */
    cr_assert_eq(ov_get_str(&o, "e", v, sizeof v), OV_PUT);
    cr_assert_str_eq(v, "");
    char key[32];
    for (int i = 0; i < 1000; i++) { /* past the first table sizes: rehashing keeps entries */
        snprintf(key, sizeof key, "many-%d", i);
        ov_set(&o, key, key);
    }
    cr_assert_eq(ov_get_str(&o, "many-777", v, sizeof v), OV_PUT);
    cr_assert_str_eq(v, "many-777");
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_DEL);

    rn_overlay_rollback(&o); /* a call that failed: back to the release */
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_PUT);
    cr_assert_str_eq(v, "1");
    cr_assert_eq(ov_get_str(&o, "j", v, sizeof v), OV_ABSENT);
    cr_assert_eq(ov_get_str(&o, "e", v, sizeof v), OV_ABSENT);
    cr_assert_eq(ov_get_str(&o, "many-777", v, sizeof v), OV_ABSENT);
    rn_overlay_rollback(&o); /* nothing more to undo */
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_PUT);

    ov_set(&o, "k", "3");
    rn_overlay_release(&o);
    rn_overlay_rollback(&o); /* released changes stay */
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_PUT);
    cr_assert_str_eq(v, "3");

    rn_overlay_clear(&o); /* after a commit */
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_ABSENT);
    ov_set(&o, "k", "4"); /* usable after a clear */
    cr_assert_eq(ov_get_str(&o, "k", v, sizeof v), OV_PUT);
    rn_overlay_free(&o);
}

static void store_put(rn_store *s, const char *k, size_t kl, const char *v) {
    rn_store_batch *b = rn_store_batch_new();
    rn_store_batch_put(b, s, RN_CF_PROCESSORS, k, kl, v, strlen(v));
    cr_assert_eq(rn_store_write(s, b, false), 0);
    rn_store_batch_free(b);
}

static void ov_scan_str(rn_overlay *o, rn_store *s, const char *lo, size_t ll, const char *hi,
                        size_t hl, int64_t limit, int stop_after, char *out, size_t cap) {
    scan_acc a = {.stop_after = stop_after};
    cr_assert_eq(rn_overlay_scan(o, s, (const uint8_t *)lo, ll, (const uint8_t *)hi, hl, limit,
                                 scan_collect, &a),
                 0);
    snprintf(out, cap, "%s", a.buf);
}

Test(overlay, scan_merges_the_store_in_byte_order) {
    rn_engine *e = open_engine(1 << 20);
    rn_store *s = rn_engine_store(e);
    /* The store: committed keys, and some outside the scanned range. */
    store_put(s, "Xa", 2, "1");
    store_put(s, "Xc", 2, "1");
    store_put(s, "Xe", 2, "1");
    store_put(s, "Xg", 2, "1");
    store_put(s, "W", 1, "out");
    store_put(s, "Y", 1, "out");
    rn_overlay o;
    rn_overlay_init(&o);
    ov_set(&o, "Xb", "ov");
    ov_set(&o, "Xc", NULL);   /* hides a committed key */
    ov_set(&o, "Xe", "new");  /* replaces one */
    ov_set(&o, "Xz", NULL);   /* deleting an absent key shows nothing */
    ov_set(&o, "Xh", "gone");
    rn_overlay_release(&o);
    ov_set(&o, "Xg", NULL);
    ov_set(&o, "Xh", NULL);
    rn_overlay_rollback(&o); /* Xg comes back from the store, Xh from the overlay */
    ov_set(&o, "Xf", "ov");
    ov_set(&o, "Y0", "outside");

    char got[sizeof ((scan_acc *)0)->buf];
    ov_scan_str(&o, s, "X", 1, "Y", 1, 0, 0, got, sizeof got);
    cr_assert_str_eq(got, "Xa=1,Xb=ov,Xe=new,Xf=ov,Xg=1,Xh=gone");
    ov_scan_str(&o, s, "X", 1, "Y", 1, 3, 0, got, sizeof got);
    cr_assert_str_eq(got, "Xa=1,Xb=ov,Xe=new", "a limit counts what is given, not hidden keys");
    ov_scan_str(&o, s, "X", 1, "Y", 1, 0, 2, got, sizeof got);
    cr_assert_str_eq(got, "Xa=1,Xb=ov", "the callback stops the scan");
    ov_scan_str(&o, s, "Xc", 2, "Xf", 2, 0, 0, got, sizeof got);
    cr_assert_str_eq(got, "Xe=new", "bounds apply to both sides");
    ov_scan_str(&o, s, "X", 1, NULL, 0, 0, 0, got, sizeof got);
    cr_assert_str_eq(got, "Xa=1,Xb=ov,Xe=new,Xf=ov,Xg=1,Xh=gone,Y=out,Y0=outside",
                     "no upper bound: to the end");
    rn_overlay_free(&o);
    rn_engine_close(e);
}

/* ======================================================================================
 * Steps, stepped by the test
 * ====================================================================================== */

static int own_writes(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    if (r->offset == 0) {
        note("before=%s", GET(t, "k"));
        MUST(put_s(t, "k", "v1", err, errlen));
        note("put=%s", GET(t, "k"));
        MUST(del_s(t, "k", err, errlen));
        note("deleted=%s", GET(t, "k"));
        MUST(put_s(t, "k", "v2", err, errlen));
        MUST(put_s(t, "empty", "", err, errlen));
        MUST(rn_proc_state_put(t, (const uint8_t *)"nul\0key", 7, (const uint8_t *)"a\0b", 3,
                               err, errlen));
        note("again=%s empty=[%s]", GET(t, "k"), GET(t, "empty"));
        note("nul=%s", get_s(t, "nul\0key", 7));
        note("nulprefix=%s", get_s(t, "nul", 3));
        char big[RN_PROCESSOR_STATE_KEY_MAX + 1];
        memset(big, 'x', sizeof big);
        char why[256] = "";
        note("long-put=%d(%s)",
             rn_proc_state_put(t, (const uint8_t *)big, sizeof big, (const uint8_t *)"v", 1, why,
                               sizeof why),
             why);
        note("long-get=%s", get_s(t, big, sizeof big));
        note("long-delete=%d", rn_proc_state_delete(t, (const uint8_t *)big, sizeof big, why,
                                                    sizeof why));
        char pfx[RN_PROCESSOR_SCAN_PREFIX_MAX + 1];
        memset(pfx, 'p', sizeof pfx);
        note_scan(t, "long-scan", pfx, sizeof pfx, 0, 0);
    } else if (r->offset == 1) {
        note("same-step=%s", GET(t, "k")); /* still the overlay: the step has not committed */
        MUST(put_s(t, "k", "v3", err, errlen));
    } else {
        note("next-step=%s empty=[%s]", GET(t, "k"), GET(t, "empty")); /* from the store */
    }
    return 0;
}

Test(processor, a_call_reads_its_own_writes_and_the_step_commits_them) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "", true);
    for (int i = 0; i < 3; i++) produce("in", 0, NULL, "x", 10 + i);
    on_record = own_writes;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 2), 2, "a step takes at most max_records records");
    cr_assert_notes("before=- put=v1 deleted=- again=v2 empty=[] nul=a\\x00b nulprefix=- "
                    "long-put=-1(state key of 1025 bytes: at most 1024) long-get=- "
                    "long-delete=0 long-scan:ERR(scan prefix of 801 bytes: at most 800) "
                    "same-step=v2");
    cr_assert_state("p", 0, "k", "v3");
    cr_assert_state("p", 0, "empty", "");
    cr_assert_eq(rn_proc_task_step(t, 2), 1);
    cr_assert_notes("next-step=v3 empty=[]");
    cr_assert_eq(rn_proc_task_step(t, 2), 0, "nothing left to do");
    rn_proc_task_free(t);
    close_runtime();
}

static int fails_once(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    char v[16];
    snprintf(v, sizeof v, "r%lld", (long long)r->offset);
    if (r->offset == 0) {
        MUST(put_s(t, "a", "1", err, errlen));
        MUST(schedule_s(t, RN_TIMER_EVENT, "keep", 1000, "kp", err, errlen));
        return emit_s(t, "out", "k0", v, -1, err, errlen);
    }
    if (r->offset == 1) { /* everything here is undone */
        MUST(put_s(t, "a", "2", err, errlen));
        MUST(put_s(t, "b", "x", err, errlen));
        MUST(cancel_s(t, RN_TIMER_EVENT, "keep", err, errlen));
        MUST(schedule_s(t, RN_TIMER_EVENT, "now", 0, NULL, err, errlen));
        MUST(schedule_s(t, RN_TIMER_WALL, "wall", 0, NULL, err, errlen));
        MUST(emit_s(t, "out", "k1", v, -1, err, errlen));
        snprintf(err, errlen, "fake.lua:7: boom\nstack traceback:\n\t[C]: in ?");
        return -1;
    }
    note("%s: a=%s", v, GET(t, "a"));
    note("b=%s", GET(t, "b"));
    return emit_s(t, "out", "k", v, -1, err, errlen);
}

static int note_timer(rn_proc_task *t, const rn_proc_timer *tm, char *err, size_t errlen) {
    char p[64];
    char at[32] = ""; /* a wall timer's time differs from run to run */
    if (tm->kind == RN_TIMER_EVENT) snprintf(at, sizeof at, "@%lld", (long long)tm->at);
    note("%c:%.*s%s%s%s%s", tm->kind, (int)tm->name_len, tm->name, at, tm->payload ? "[" : "", tm->payload ? shown(p, sizeof p, tm->payload, tm->payload_len) : "",
         tm->payload ? "]" : "");
    return 0;
}

Test(processor, a_failed_call_is_undone_and_its_record_dead_lettered) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "out", true);
    produce("in", 0, "k0", "v0", 100);
    produce_h("in", 0, "k1", "v1", 200, "trace-id", "abc");
    produce("in", 0, "k2", "v2", 300);
    produce("in", 0, "k3", "v3", 1000);
    on_record = fails_once;
    on_timer = note_timer;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 1), 1);
    cr_assert_eq(rn_proc_task_step(t, 10), 4, "3 records and the 'keep' timer");
    cr_assert_notes("r2: a=1 b=- r3: a=1 b=- e:keep@1000[kp]");
    cr_assert_eq(atomic_load(&timer_calls), 1, "timers scheduled by the failed call never fire");
    cr_assert_out("out", 0, "k0=r0 k=r2 k=r3");
    cr_assert_state("p", 0, "a", "1");
    cr_assert_state("p", 0, "b", NULL);

    outs d = read_out("p.dlq", 0);
    cr_assert_str_eq(d.kv, "k1=v1", "the record itself, key and value");
    cr_assert_str_eq(d.headers,
                     "trace-id=abc;error=fake.lua:7:\\x20boom;"
                     "error.trace=stack\\x20traceback:\\x0a\\x09[C]:\\x20in\\x20?;"
                     "source.topic=in;source.partition=0;source.offset=1;task=0;");
    cr_assert_eq(d.ts[0], 200, "a dead letter keeps the record's timestamp");

    rn_processor_status *s = status_of("p");
    cr_assert_eq(s->dead_letters, 1);
    cr_assert_eq(s->records_in, 4);
    cr_assert_str_eq(s->last_error, "fake.lua:7: boom\nstack traceback:\n\t[C]: in ?");
    cr_assert_eq(s->lag, 0);
    rn_processor_status_free(s, 1);
    cr_assert_eq(stored_keys('T', "p") + stored_keys('N', "p"), 0, "no timer left");
    rn_proc_task_free(t);
    close_runtime();
}

static int timer_fails(rn_proc_task *t, const rn_proc_timer *tm, char *err, size_t errlen) {
    MUST(put_s(t, "from-timer", "x", err, errlen));
    MUST(emit_s(t, "out", "timer", "x", -1, err, errlen));
    snprintf(err, errlen, "fake.lua:9: timer boom");
    return -1;
}

static int schedules_with_payload(rn_proc_task *t, const rn_proc_record *r, char *err,
                                  size_t errlen) {
    return schedule_s(t, RN_TIMER_EVENT, "tick", 50, "pay", err, errlen);
}

Test(processor, a_failed_timer_call_is_dead_lettered_and_the_timer_is_gone) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "out", true);
    produce("in", 0, NULL, "x", 100);
    on_record = schedules_with_payload;
    on_timer = timer_fails;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 10), 2);
    cr_assert_state("p", 0, "from-timer", NULL);
    cr_assert_eq(read_out("out", 0).n, 0);
    outs d = read_out("p.dlq", 0);
    cr_assert_str_eq(d.kv, "tick=pay", "key: the timer's name, value: its payload");
    cr_assert_str_eq(d.headers, "error=fake.lua:9:\\x20timer\\x20boom;timer.kind=event;"
                                "timer.at=50;task=0;");
    cr_assert_eq(d.ts[0], 50, "an event timer's records carry its time");
    cr_assert_eq(stored_keys('T', "p") + stored_keys('N', "p"), 0);
    cr_assert_eq(rn_proc_task_step(t, 10), 0, "it does not fire again");
    rn_proc_task_free(t);
    close_runtime();
}

static int scans(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    if (r->partition == 1) { /* another task: never in task 0's scans */
        MUST(put_s(t, "a", "other-task", err, errlen));
        return put_s(t, "b", "other-task", err, errlen);
    }
    if (r->offset == 0) {
        const char *keys[] = {"a", "c", "e", "g", "b\xff", "b\xff\x01", "c\x00", "\xff",
                              "\xff\xff", "\xfe"};
        size_t lens[] = {1, 1, 1, 1, 2, 3, 2, 1, 2, 1};
        for (int i = 0; i < 10; i++)
            MUST(rn_proc_state_put(t, (const uint8_t *)keys[i], lens[i], (const uint8_t *)"1", 1,
                                   err, errlen));
        return 0;
    }
    if (r->offset == 1) {
        MUST(put_s(t, "b", "B", err, errlen));
        MUST(del_s(t, "c", err, errlen));
        MUST(put_s(t, "e", "E2", err, errlen));
        MUST(put_s(t, "f", "F", err, errlen));
        MUST(del_s(t, "g", err, errlen));
        MUST(del_s(t, "zz", err, errlen));
        MUST(rn_proc_state_delete(t, (const uint8_t *)"\xfe", 1, err, errlen));
    }
    note_scan(t, "all", "", 0, 0, 0);
    note_scan(t, "limit3", "", 0, 3, 0);
    note_scan(t, "stop2", "", 0, 0, 2);
    note_scan(t, "b\\xff", "b\xff", 2, 0, 0);
    note_scan(t, "c", "c", 1, 0, 0);
    note_scan(t, "\\xff", "\xff", 1, 0, 0);
    note_scan(t, "\\xff\\xff", "\xff\xff", 2, 0, 0);
    note_scan(t, "q", "q", 1, 0, 0);
    return 0;
}

Test(processor, scans_merge_committed_state_and_the_step_in_byte_order) {
    open_runtime();
    topic("in", 2);
    create("p", "in", "", true);
    create("p2", "in", "", true); /* "p" is a prefix of its name: its state stays apart */
    produce("in", 1, NULL, "x", 1);
    for (int i = 0; i < 3; i++) produce("in", 0, NULL, "x", 1);
    on_record = scans;
    rn_proc_task *t1 = task_of("p", 1);
    cr_assert_eq(rn_proc_task_step(t1, 10), 1);
    rn_proc_task *o = task_of("p2", 0);
    cr_assert_eq(rn_proc_task_step(o, 1), 1); /* p2 task 0 commits the same keys */
    free(notes_take());
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 1), 1);
    free(notes_take());
    const char *merged =
        "all[a=1,b=B,b\\xff=1,b\\xff\\x01=1,c\\x00=1,e=E2,f=F,\\xff=1,\\xff\\xff=1] "
        "limit3[a=1,b=B,b\\xff=1] "
        "stop2[a=1,b=B] "
        "b\\xff[b\\xff=1,b\\xff\\x01=1] "
        "c[c\\x00=1] "
        "\\xff[\\xff=1,\\xff\\xff=1] "
        "\\xff\\xff[\\xff\\xff=1] "
        "q[]";
    cr_assert_eq(rn_proc_task_step(t, 1), 1); /* the overlay over the store */
    cr_assert_notes(merged);
    cr_assert_eq(rn_proc_task_step(t, 1), 1); /* all committed: the same from the store */
    cr_assert_notes(merged);
    rn_proc_task_free(t);
    rn_proc_task_free(t1);
    rn_proc_task_free(o);
    close_runtime();
}

static int schedules_many(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    note("r%lld(st=%lld)", (long long)r->offset, (long long)rn_proc_stream_time(t));
    if (r->offset != 0) return 0;
    int64_t past = wall_now() - 10;
    MUST(schedule_s(t, RN_TIMER_EVENT, "b", 100, "pb", err, errlen));
    MUST(schedule_s(t, RN_TIMER_EVENT, "a", 100, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_EVENT, "c", 50, "", err, errlen));
    MUST(schedule_s(t, RN_TIMER_EVENT, "d", 300, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_EVENT, "n2", -1, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_EVENT, "n1", -1000, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_WALL, "w1", past, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_WALL, "w0", past, NULL, err, errlen));
    MUST(schedule_s(t, RN_TIMER_WALL, "later", past + 3600 * 1000, NULL, err, errlen));
    char why[128] = "";
    note("kind=%d(%s)", schedule_s(t, 'x', "z", 1, NULL, why, sizeof why), why);
    char big[RN_PROCESSOR_STATE_KEY_MAX + 1];
    memset(big, 't', sizeof big);
    note("long=%d(%s)",
         rn_proc_schedule(t, RN_TIMER_EVENT, big, sizeof big, 1, NULL, 0, why, sizeof why), why);
    return 0;
}

static int timer_emits(rn_proc_task *t, const rn_proc_timer *tm, char *err, size_t errlen) {
    note_timer(t, tm, err, errlen);
    if (tm->kind == RN_TIMER_EVENT && tm->at == 100 && tm->name_len == 1 && tm->name[0] == 'a') {
        note("(st=%lld)", (long long)rn_proc_stream_time(t));
        return emit_s(t, "out", "a", "fired", -1, err, errlen);
    }
    return 0;
}

Test(processor, timers_fire_in_time_then_name_order) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "out", true);
    produce("in", 0, NULL, "x", 0);
    produce("in", 0, NULL, "x", 150);
    produce("in", 0, NULL, "x", 299);
    produce("in", 0, NULL, "x", 300);
    on_record = schedules_many;
    on_timer = timer_emits;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 2), 2 + 2 + 3 + 2);
    cr_assert_notes("r0(st=0) kind=-1(timer kind must be \"event\" or \"wall\") "
                    "long=-1(timer name of 1025 bytes: at most 1024) "
                    "e:n1@-1000 e:n2@-1 "
                    "r1(st=150) e:c@50[] e:a@100 (st=150) e:b@100[pb] w:w0 w:w1");
    outs o = read_out("out", 0);
    cr_assert_str_eq(o.kv, "a=fired");
    cr_assert_eq(o.ts[0], 100, "an event timer's emits carry its time");
    cr_assert_eq(rn_proc_task_step(t, 1), 1);
    cr_assert_notes("r2(st=299)");
    cr_assert_eq(rn_proc_task_step(t, 1), 2);
    cr_assert_notes("r3(st=300) e:d@300");
    cr_assert_eq(stored_keys('T', "p"), 1, "only the wall timer an hour away is left");
    cr_assert_eq(stored_keys('N', "p"), 1);
    cr_assert_geq(rn_proc_task_wall_due(t), wall_now() + 3500 * 1000, "and it is the next due");
    rn_processor_status *s = status_of("p");
    cr_assert_eq(s->timers_fired, 8);
    rn_processor_status_free(s, 1);
    rn_proc_task_free(t);
    close_runtime();
}

static int one_of_each_timer(rn_proc_task *t, const rn_proc_record *r, char *err,
                             size_t errlen) {
    MUST(schedule_s(t, RN_TIMER_EVENT, "e", 0, NULL, err, errlen));
    return schedule_s(t, RN_TIMER_WALL, "w", 0, NULL, err, errlen);
}

Test(processor, status_counts_event_and_wall_timers_fired) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "", true);
    produce("in", 0, NULL, "x", 10);
    on_record = one_of_each_timer;
    on_timer = note_timer;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 10), 3);
    cr_assert_notes("e:e@0 w:w");
    rn_processor_status *s = status_of("p");
    cr_assert_eq(s->timers_fired, 2, "an event and a wall timer fired; status says %llu",
                 (unsigned long long)s->timers_fired);
    rn_processor_status_free(s, 1);
    rn_proc_task_free(t);
    close_runtime();
}

static int moves_and_cancels(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    note("r%lld", (long long)r->offset);
    switch (r->offset) {
    case 0:
        MUST(schedule_s(t, RN_TIMER_EVENT, "x", 100, "1", err, errlen));
        MUST(schedule_s(t, RN_TIMER_EVENT, "y", 100, NULL, err, errlen));
        MUST(schedule_s(t, RN_TIMER_EVENT, "z", 100, NULL, err, errlen));
        MUST(schedule_s(t, RN_TIMER_WALL, "x", 100, NULL, err, errlen)); /* another kind */
        return cancel_s(t, RN_TIMER_WALL, "x", err, errlen);
    case 1: /* a later step: the timers are in the store */
        MUST(schedule_s(t, RN_TIMER_EVENT, "x", 300, "2", err, errlen));
        MUST(cancel_s(t, RN_TIMER_EVENT, "y", err, errlen));
        MUST(cancel_s(t, RN_TIMER_EVENT, "never-scheduled", err, errlen));
        MUST(schedule_s(t, RN_TIMER_EVENT, "q", 50, NULL, err, errlen)); /* moved in the call */
        return schedule_s(t, RN_TIMER_EVENT, "q", 400, NULL, err, errlen);
    default:
        return 0;
    }
}

Test(processor, scheduling_again_moves_a_timer_and_cancel_removes_it) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "", true);
    int64_t ts[] = {0, 10, 200, 300, 400};
    for (int i = 0; i < 5; i++) produce("in", 0, NULL, "x", ts[i]);
    on_record = moves_and_cancels;
    on_timer = note_timer;
    rn_proc_task *t = task_of("p", 0);
    for (int i = 0; i < 5; i++) rn_proc_task_step(t, 1);
    cr_assert_notes("r0 r1 r2 e:z@100 r3 e:x@300[2] r4 e:q@400");
    cr_assert_eq(stored_keys('T', "p") + stored_keys('N', "p"), 0, "fired and cancelled: gone");
    rn_proc_task_free(t);
    close_runtime();
}

static int event_timer_at_2000(rn_proc_task *t, const rn_proc_record *r, char *err,
                               size_t errlen) {
    note("r%lld(st=%lld)", (long long)r->offset, (long long)rn_proc_stream_time(t));
    if (r->offset == 0) return schedule_s(t, RN_TIMER_EVENT, "e", 2000, NULL, err, errlen);
    return 0;
}

static int timer_notes_stream_time(rn_proc_task *t, const rn_proc_timer *tm, char *err,
                                   size_t errlen) {
    note("%.*s@%lld(st=%lld)", (int)tm->name_len, tm->name, (long long)tm->at,
         (long long)rn_proc_stream_time(t));
    return 0;
}

Test(processor, event_timers_fire_only_when_stream_time_passes) {
    open_runtime();
    topic("in", 1);
    create("p", "in", "", true);
    append(partition(eng, "in", 0), "a", 1, 1000);
    produce("in", 0, NULL, "x", 1999);
    produce("in", 0, NULL, "x", 500); /* late: stream time does not go back */
    on_record = event_timer_at_2000;
    on_timer = timer_notes_stream_time;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 10), 3);
    cr_assert_eq(rn_proc_task_step(t, 10), 0, "no records: the wall clock moves no event timer");
    cr_assert_notes("r0(st=1000) r1(st=1999) r2(st=1999)");
    produce("in", 0, NULL, "x", 2000);
    cr_assert_eq(rn_proc_task_step(t, 10), 2);
    cr_assert_notes("r3(st=2000) e@2000(st=2000)");
    rn_proc_task_free(t);
    close_runtime();
}

/* Emits to "out" and "side", writes state and a timer; the record at offset 2 deletes
 * "out" after emitting to it (once), so the step's commit fails. */
static atomic_bool deleted_once;

static int deletes_the_output(rn_proc_task *t, const rn_proc_record *r, char *err,
                              size_t errlen) {
    char v[16];
    snprintf(v, sizeof v, "r%lld", (long long)r->offset);
    note("%s", v);
    MUST(put_s(t, v, "seen", err, errlen));
    MUST(emit_s(t, "side", "s", v, -1, err, errlen));
    if (r->offset == 0) return 0;
    MUST(emit_s(t, "out", "o", v, -1, err, errlen));
    if (r->offset == 1) MUST(schedule_s(t, RN_TIMER_EVENT, "t", 0, NULL, err, errlen));
    if (r->offset == 2 && !atomic_exchange(&deleted_once, true))
        cr_assert_eq(rn_engine_delete_topic(eng, "out"), 0);
    return 0;
}

Test(processor, a_step_whose_commit_fails_leaves_nothing) {
    open_runtime();
    topic("in", 1);
    topic("out", 1);
    topic("side", 1);
    create("p", "in", "out,side", true);
    for (int i = 0; i < 3; i++) produce("in", 0, NULL, "x", 10 + i);
    on_record = deletes_the_output;
    on_timer = note_timer;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 1), 1);
    cr_assert_eq(rn_proc_task_step(t, 10), -1, "the commit fails: the output is gone");
    cr_assert_notes("r0 r1 e:t@0 r2");
    cr_assert_out("side", 0, "s=r0");
    collect c = read_all(partition(eng, "side", 0), 0);
    cr_assert_eq(c.batches, 1, "the first step's batch alone");
    free(c.copy);
    cr_assert_eq(read_out("p.dlq", 0).n, 0);
    cr_assert_state("p", 0, "r0", "seen");
    cr_assert_state("p", 0, "r1", NULL);
    cr_assert_state("p", 0, "r2", NULL);
    cr_assert_eq(stored_keys('T', "p"), 0, "the step's timer is not stored");
    rn_processor_status *s = status_of("p");
    cr_assert_eq(s->records_in, 1);
    cr_assert_eq(s->steps, 1);
    cr_assert_eq(s->npositions, 1);
    cr_assert_eq(s->positions[0].position, 1, "the stored position did not move");
    cr_assert_eq(s->lag, 2);
    cr_assert(s->last_error && strstr(s->last_error, "task 0: committing a step of"),
              "last error: %s", s->last_error);
    rn_processor_status_free(s, 1);

    topic("out", 1); /* back: the step runs again from the stored position */
    cr_assert_eq(rn_proc_task_step(t, 10), 3);
    cr_assert_notes("r1 e:t@0 r2");
    cr_assert_out("side", 0, "s=r0 s=r1 s=r2");
    cr_assert_out("out", 0, "o=r1 o=r2");
    cr_assert_state("p", 0, "r2", "seen");
    s = status_of("p");
    cr_assert_eq(s->records_in, 3);
    cr_assert_eq(s->lag, 0);
    rn_processor_status_free(s, 1);
    rn_proc_task_free(t);
    close_runtime();
}

/* A timer stored by an earlier step fires in a step whose commit fails: the store still
 * holds it, so the step that runs again must fire it again. */
static int deletes_output_at_1(rn_proc_task *t, const rn_proc_record *r, char *err,
                               size_t errlen) {
    note("r%lld", (long long)r->offset);
    if (r->offset == 0) {
        MUST(schedule_s(t, RN_TIMER_EVENT, "ev", 100, NULL, err, errlen));
        return schedule_s(t, RN_TIMER_WALL, "wall", wall_now() + 300, NULL, err, errlen);
    }
    MUST(emit_s(t, "out", "o", "x", -1, err, errlen));
    if (!atomic_exchange(&deleted_once, true)) cr_assert_eq(rn_engine_delete_topic(eng, "out"), 0);
    return 0;
}

Test(processor, timers_fired_in_a_discarded_step_fire_again) {
    open_runtime();
    topic("in", 1);
    topic("out", 1);
    create("p", "in", "out", true);
    produce("in", 0, NULL, "x", 0);
    produce("in", 0, NULL, "x", 100);
    on_record = deletes_output_at_1;
    on_timer = note_timer;
    rn_proc_task *t = task_of("p", 0);
    cr_assert_eq(rn_proc_task_step(t, 1), 1);
    sleep_ms(400); /* the wall timer is due */
    cr_assert_eq(rn_proc_task_step(t, 10), -1);
    cr_assert_eq(stored_keys('T', "p"), 2, "the discarded step removed no timer");
    topic("out", 1);
    int handled = rn_proc_task_step(t, 10);
    char *got = notes_take();
    cr_assert_str_eq(got, "r0 r1 e:ev@100 w:wall r1 e:ev@100 w:wall",
                     "both timers fire again in the step that commits (it handled %d)", handled);
    free(got);
    cr_assert_eq(stored_keys('T', "p"), 0, "both fired in the committed step");
    rn_proc_task_free(t);
    close_runtime();
}

static int emits_everywhere(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    char why[256];
    note("rec(%s,%d,%lld,key=%s,value=%s,h=%d)", r->topic, r->partition, (long long)r->offset,
         r->key ? "set" : "null", r->value ? "set" : "null", r->header_count);
    MUST(emit_s(t, "wide", "k", "keyed", -1, err, errlen));
    MUST(emit_s(t, "wide", NULL, "nullkey", -1, err, errlen));
    MUST(emit_s(t, "wide", "k", "explicit", 3, err, errlen));
    MUST(emit_s(t, "hooked", "h", "by-partitioner", -1, err, errlen));
    MUST(rn_proc_emit(t, "wide", (const uint8_t *)"hk", 2, NULL, -1, r->headers, r->headers_len,
                      r->header_count, 0, err, errlen));
    int rc = emit_s(t, "wide", "k", "v", 4, why, sizeof why);
    note("out-of-range=%d(%s)", rc, why);
    rc = emit_s(t, "nope", "k", "v", -1, why, sizeof why);
    note("unknown=%d(%s)", rc, why);
    size_t big = 2u << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'v', big);
    huge[big] = 0;
    rc = emit_s(t, "wide", "k", huge, -1, why, sizeof why);
    free(huge);
    note("too-large=%d(%s)", rc, strstr(why, "larger than wide's max.message.bytes") ? "ok" : why);
    rc = emit_s(t, "badhook", "k", "v", -1, why, sizeof why);
    note("partitioner-error=%d(%s)", rc, why);
    return 0;
}

Test(processor, emits_are_placed_by_partition_partitioner_key_or_task) {
    open_runtime();
    topic("in", 2);
    topic("wide", 4);
    rn_config_kv hook[] = {{"partitioner.script", "part.lua"}};
    char msg[256] = "";
    cr_assert_eq(rn_engine_create_topic(eng, "hooked", 3, hook, 1, false, msg, sizeof msg), 0,
                 "%s", msg);
    rn_config_kv bad[] = {{"partitioner.script", "bad.lua"}};
    cr_assert_eq(rn_engine_create_topic(eng, "badhook", 2, bad, 1, false, msg, sizeof msg), 0,
                 "%s", msg);
    create("p", "in", "wide,hooked,badhook", true);
    produce_h("in", 1, NULL, NULL, 77, "h", "v");
    on_record = emits_everywhere;
    rn_proc_task *t = task_of("p", 1);
    cr_assert_eq(rn_proc_task_step(t, 10), 1);
    cr_assert_notes("rec(in,1,0,key=null,value=null,h=1) partitioner(part.lua,h,3) "
                    "out-of-range=-1(partition 4 of 'wide', which has 4) "
                    "unknown=-1('nope' is not an output of processor p) too-large=-1(ok) "
                    "partitioner-error=-1(bad.lua:3: no partition for you)");
    int32_t kp = rn_murmur2_partition((const uint8_t *)"k", 1, 4);
    char want[128];
    for (int i = 0; i < 4; i++) { /* in emit order within a partition */
        want[0] = 0;
        if (i == kp) strcat(want, "k=keyed ");
        if (i == 1) strcat(want, "~=nullkey "); /* null key: task 1 % 4 */
        if (i == 3) strcat(want, "k=explicit ");
        if (i == 0) strcat(want, "hk=~ ");
        if (want[0]) want[strlen(want) - 1] = 0;
        outs o = read_out("wide", i);
        cr_assert_str_eq(o.kv, want, "wide-%d", i);
        for (int j = 0; j < o.n; j++) cr_assert_eq(o.ts[j], 77, "emits carry the record's time");
        if (i == 0) cr_assert_str_eq(o.headers, "h=v;", "headers as given");
    }
    cr_assert_out("hooked", 2, "h=by-partitioner");
    rn_processor_status *s = status_of("p");
    cr_assert_eq(s->records_out, 5);
    rn_processor_status_free(s, 1);
    rn_proc_task_free(t);
    close_runtime();
}

/* ======================================================================================
 * The runtime with its threads
 * ====================================================================================== */

/* Counts records per task in state, emits each to "out", notes the stream time seen. */
static atomic_llong min_stream_time_seen = INT64_MAX;

static int counts(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    int64_t st = rn_proc_stream_time(t);
    if (st < atomic_load(&min_stream_time_seen)) atomic_store(&min_stream_time_seen, st);
    uint8_t *v = NULL;
    size_t vl = 0;
    if (rn_proc_state_get(t, (const uint8_t *)"count", 5, &v, &vl, err, errlen) < 0) return -1;
    char n[32] = "0";
    if (v) snprintf(n, sizeof n, "%.*s", (int)vl, (const char *)v);
    snprintf(n, sizeof n, "%d", atoi(n) + 1);
    free(v);
    MUST(put_s(t, "count", n, err, errlen));
    return rn_proc_emit(t, "out", r->key, r->key ? r->key_len : -1, r->value,
                        r->value ? r->value_len : -1, NULL, 0, 0, -1, err, errlen);
}

Test(processor, positions_state_and_stream_time_survive_a_restart) {
    open_runtime_with(3, true); /* small steps, log.flush.sync */
    topic("in", 2);
    on_record = counts;
    create("p", "in", "out", false);
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        produce("in", 0, k, "a", 1000 + i);
        produce("in", 1, k, "b", 2000 + i);
    }
    rn_processor_status_free(wait_caught_up("p", 20), 1);
    cr_assert_eq(atomic_load(&calls), 20);
    close_runtime();

    open_runtime_with(3, true);
    rn_processor_status *s = status_of("p");
    cr_assert_str_eq(s->status, "running", "loaded and started");
    cr_assert_eq(s->lag, 0);
    cr_assert_eq(s->stream_time_min, 1009);
    rn_processor_status_free(s, 1);
    atomic_store(&min_stream_time_seen, INT64_MAX);
    for (int i = 0; i < 5; i++) {
        produce("in", 0, "late", "a", 5); /* older than stream time */
        produce("in", 1, "late", "b", 5);
    }
    s = wait_caught_up("p", 10);
    cr_assert_eq(s->records_in, 10, "only the new records: nothing was processed again");
    cr_assert_eq(s->stream_time_min, 1009, "stream time never goes back");
    rn_processor_status_free(s, 1);
    cr_assert_eq(atomic_load(&calls), 30);
    cr_assert_eq(atomic_load(&min_stream_time_seen), 1009, "resumed from the stored stream time");
    cr_assert_state("p", 0, "count", "15");
    cr_assert_state("p", 1, "count", "15");
    rn_topic_meta *m;
    int c;
    const char *name = "out";
    cr_assert_eq(rn_engine_topics(eng, &name, 1, &m, &c), 0);
    int total = 0;
    for (int i = 0; i < m[0].partition_count; i++) total += read_out("out", i).n;
    rn_topic_meta_free(m, c);
    cr_assert_eq(total, 30, "every record out exactly once");
    close_runtime();
}

/* counts, and an event timer far away (something for reset and delete to clear). */
static int counts_and_waits(rn_proc_task *t, const rn_proc_record *r, char *err,
                            size_t errlen) {
    MUST(counts(t, r, err, errlen));
    return schedule_s(t, RN_TIMER_EVENT, "far", INT64_MAX / 2, NULL, err, errlen);
}

static void reset_ok(const char *name, const char *input, int32_t part, int64_t offset,
                     bool keep_state) {
    char err[256] = "";
    cr_assert_eq(rn_processors_reset(procs, name, input, part, offset, keep_state, err,
                                     sizeof err),
                 0, "%s", err);
}

static void start_ok(const char *name) {
    char err[256] = "";
    cr_assert_eq(rn_processors_start(procs, name, err, sizeof err), 0, "%s", err);
}

static void stop_ok(const char *name) {
    char err[256] = "";
    cr_assert_eq(rn_processors_stop(procs, name, err, sizeof err), 0, "%s", err);
}

static int64_t position_of(const char *name) {
    rn_processor_status *s = status_of(name);
    cr_assert_eq(s->npositions, 1);
    int64_t pos = s->positions[0].position;
    rn_processor_status_free(s, 1);
    return pos;
}

Test(processor, reset_moves_positions_and_clears_state_unless_kept) {
    open_runtime();
    topic("in", 1);
    on_record = counts_and_waits;
    create("p", "in", "out", false);
    for (int i = 0; i < 6; i++) produce("in", 0, NULL, "x", 100 + i);
    rn_processor_status_free(wait_caught_up("p", 6), 1);
    cr_assert_state("p", 0, "count", "6");

    char err[256] = "";
    cr_assert_eq(rn_processors_reset(procs, "p", NULL, -1, RN_PROCESSOR_RESET_EARLIEST, true, err,
                                     sizeof err),
                 RN_KAFKA_INVALID_REQUEST);
    cr_assert_str_eq(err, "processor p is running: stop it first");
    stop_ok("p");
    rn_processor_status *s = status_of("p");
    cr_assert_str_eq(s->status, "stopped");
    cr_assert(s->def.stopped, "the desired state is kept");
    rn_processor_status_free(s, 1);
    cr_assert_eq(rn_processors_reset(procs, "p", "nope", -1, 0, true, err, sizeof err),
                 RN_KAFKA_INVALID_REQUEST);
    cr_assert_str_eq(err, "'nope' is not an input of processor p");
    cr_assert_eq(rn_processors_reset(procs, "p", NULL, 1, 0, true, err, sizeof err),
                 RN_KAFKA_INVALID_REQUEST);
    cr_assert_str_eq(err, "in has 1 partitions");
    cr_assert_eq(rn_processors_reset(procs, "zz", NULL, -1, 0, true, err, sizeof err),
                 RN_KAFKA_RESOURCE_NOT_FOUND);
    cr_assert_str_eq(err, "no processor zz");
    cr_assert_eq(position_of("p"), 6, "refused resets change nothing");

    /* earliest, state kept: everything again on top of the state */
    reset_ok("p", NULL, -1, RN_PROCESSOR_RESET_EARLIEST, true);
    s = status_of("p");
    cr_assert_eq(s->positions[0].position, 0);
    cr_assert_eq(s->lag, 6);
    cr_assert_eq(s->stream_time_min, 105, "stream time kept with the state");
    rn_processor_status_free(s, 1);
    cr_assert_eq(stored_keys('T', "p"), 1);
    start_ok("p");
    wait_calls(12);
    rn_processor_status_free(wait_caught_up("p", 0), 1);
    cr_assert_state("p", 0, "count", "12");

    /* an offset, state cleared: state, timers and stream time go */
    stop_ok("p");
    reset_ok("p", "in", 0, 3, false);
    cr_assert_eq(position_of("p"), 3);
    cr_assert_state("p", 0, "count", NULL);
    cr_assert_eq(stored_keys('T', "p") + stored_keys('N', "p") + stored_keys('M', "p"), 0);
    atomic_store(&min_stream_time_seen, INT64_MAX);
    start_ok("p");
    wait_calls(15);
    rn_processor_status_free(wait_caught_up("p", 0), 1);
    cr_assert_state("p", 0, "count", "3");
    cr_assert_eq(atomic_load(&min_stream_time_seen), 103, "stream time started again");

    /* latest: nothing again, only what comes next */
    stop_ok("p");
    reset_ok("p", NULL, -1, RN_PROCESSOR_RESET_LATEST, true);
    start_ok("p");
    produce("in", 0, NULL, "x", 200);
    produce("in", 0, NULL, "x", 201);
    wait_calls(17);
    rn_processor_status_free(wait_caught_up("p", 0), 1);
    cr_assert_eq(atomic_load(&calls), 17);
    cr_assert_state("p", 0, "count", "5");

    /* offsets outside the log are clamped into it */
    stop_ok("p");
    reset_ok("p", NULL, -1, 1000, true);
    cr_assert_eq(position_of("p"), 8);
    reset_ok("p", NULL, -1, -7, true);
    cr_assert_eq(position_of("p"), 0);
    close_runtime();
}

Test(processor, delete_removes_everything_and_a_new_one_starts_fresh) {
    open_runtime();
    topic("in", 1);
    on_record = counts_and_waits;
    create("p", "in", "out", false);
    create("p2", "in", "out", false); /* "p" is a prefix of its name */
    produce("in", 0, NULL, "x", 100);
    produce("in", 0, NULL, "x", 9000);
    rn_processor_status_free(wait_caught_up("p", 2), 1);
    rn_processor_status_free(wait_caught_up("p2", 2), 1);
    const char *types = "PMSTN";
    for (const char *ty = types; *ty; ty++) {
        cr_assert_eq(stored_keys((uint8_t)*ty, "p"), 1, "%c", *ty);
        cr_assert_eq(stored_keys((uint8_t)*ty, "p2"), 1, "%c", *ty);
    }
    cr_assert(has_definition("p"));

    char err[256] = "";
    cr_assert_eq(rn_processors_delete(procs, "p", err, sizeof err), 0, "%s", err);
    cr_assert_eq(rn_processors_delete(procs, "p", err, sizeof err), RN_KAFKA_RESOURCE_NOT_FOUND);
    cr_assert_str_eq(err, "no processor p");
    rn_processor_status *s;
    int n;
    cr_assert_eq(rn_processors_status(procs, "p", &s, &n), RN_KAFKA_RESOURCE_NOT_FOUND);
    for (const char *ty = types; *ty; ty++) {
        cr_assert_eq(stored_keys((uint8_t)*ty, "p"), 0, "%c of p is gone", *ty);
        cr_assert_eq(stored_keys((uint8_t)*ty, "p2"), 1, "%c of p2 stays", *ty);
    }
    cr_assert_not(has_definition("p"));
    cr_assert(has_definition("p2"));
    cr_assert(topic_exists("out") && topic_exists("p.dlq"), "its topics stay");

    close_runtime(); /* not loaded again */
    open_runtime();
    cr_assert_eq(rn_processors_status(procs, NULL, &s, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(s[0].def.name, "p2");
    rn_processor_status_free(s, n);

    int before = atomic_load(&calls);
    atomic_store(&min_stream_time_seen, INT64_MAX);
    create("p", "in", "out", false);
    rn_processor_status_free(wait_caught_up("p", 2), 1);
    cr_assert_eq(atomic_load(&calls), before + 2, "from the start of the input again");
    cr_assert_state("p", 0, "count", "2");
    cr_assert_eq(atomic_load(&min_stream_time_seen), 100, "with a new stream time");
    close_runtime();
}

static int notes_inputs(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    note("%s/%d/%lld@%d%s", r->topic, r->partition, (long long)r->offset, rn_proc_task_index(t),
         r->partition == rn_proc_task_index(t) ? "" : "!");
    return 0;
}

/* The notes of one task ("...@task"), in order. */
static char *of_task(const char *all, int task) {
    char *copy = strdup(all), *save = NULL, *out = calloc(1, strlen(all) + 1);
    char suffix[16];
    snprintf(suffix, sizeof suffix, "@%d", task);
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        size_t n = strlen(w), sl = strlen(suffix);
        if (n < sl || strcmp(w + n - sl, suffix) != 0) continue;
        if (out[0]) strcat(out, " ");
        strcat(out, w);
    }
    free(copy);
    return out;
}

Test(processor, a_task_reads_its_partition_of_every_input_in_timestamp_order) {
    open_runtime_with(2, false); /* steps of 2 records: the merge goes on across steps */
    topic("left", 2);
    topic("right", 1);
    int64_t lts[] = {10, 30, 50}, rts[] = {20, 40, 60, 70};
    for (int i = 0; i < 3; i++) produce("left", 0, NULL, "x", lts[i]);
    for (int i = 0; i < 2; i++) produce("left", 1, NULL, "x", 5 + i);
    for (int i = 0; i < 4; i++) produce("right", 0, NULL, "x", rts[i]);
    on_record = notes_inputs;
    create("j", "left,right", "", false);
    rn_processor_status *s = wait_caught_up("j", 9);
    char *all = notes_take(), *t0 = of_task(all, 0), *t1 = of_task(all, 1);
    cr_assert_str_eq(t0, "left/0/0@0 right/0/0@0 left/0/1@0 right/0/1@0 left/0/2@0 "
                         "right/0/2@0 right/0/3@0", "the earliest batch first: %s", all);
    cr_assert_str_eq(t1, "left/1/0@1 left/1/1@1", "task 1 has no partition of right");
    cr_assert_not(strchr(all, '!'), "a task reads its own partition index only: %s", all);
    free(all);
    free(t0);
    free(t1);
    cr_assert_eq(s->ntasks, 2);
    cr_assert_eq(s->npositions, 3);
    const char *topics[] = {"left", "left", "right"};
    int64_t want[] = {3, 2, 4};
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(s->positions[i].topic, topics[i]);
        cr_assert_eq(s->positions[i].position, want[i], "%d", i);
        cr_assert_eq(s->positions[i].high_watermark, want[i]);
    }
    rn_processor_status_free(s, 1);

    /* A record written later to one input but earlier in time goes first. */
    produce("right", 0, NULL, "x", 90);
    produce("left", 0, NULL, "x", 80);
    rn_processor_status_free(wait_caught_up("j", 11), 1);
    cr_assert_notes("left/0/3@0 right/0/4@0");
    close_runtime();
}

static int status_program(rn_proc_task *t, const rn_proc_record *r, char *err, size_t errlen) {
    MUST(emit_s(t, "out", NULL, "rec", -1, err, errlen));
    if (r->offset == 2) return snprintf(err, errlen, "fake.lua:1: bad record"), -1;
    return schedule_s(t, RN_TIMER_EVENT, "t", r->timestamp, NULL, err, errlen);
}

static int timer_emits_once(rn_proc_task *t, const rn_proc_timer *tm, char *err,
                            size_t errlen) {
    return emit_s(t, "out", NULL, "timer", -1, err, errlen);
}

Test(processor, status_reports_counters_positions_and_lag) {
    open_runtime_with(1, false); /* processors.step.records = 1: a step per record */
    topic("in", 1);
    create("b-proc", "in", "out", true);
    create("a-proc", "in", "out", true);
    for (int i = 0; i < 5; i++) produce("in", 0, NULL, "x", 10 + i);
    rn_processor_status *s = status_of("b-proc");
    cr_assert_str_eq(s->status, "stopped");
    cr_assert_eq(s->lag, 5);
    cr_assert_eq(s->ntasks, 1);
    cr_assert_eq(s->npositions, 1);
    cr_assert_eq(s->positions[0].position, 0);
    cr_assert_eq(s->positions[0].high_watermark, 5);
    cr_assert_eq(s->records_in + s->records_out + s->steps, 0);
    cr_assert_eq(s->stream_time_min, -1);
    cr_assert_null(s->last_error);
    cr_assert_str_eq(s->def.script, "fake.lua");
    rn_processor_status_free(s, 1);
    int n;
    cr_assert_eq(rn_processors_status(procs, NULL, &s, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(s[0].def.name, "a-proc", "sorted by name");
    cr_assert_str_eq(s[1].def.name, "b-proc");
    rn_processor_status_free(s, n);
    cr_assert_eq(rn_processors_status(procs, "nope", &s, &n), RN_KAFKA_RESOURCE_NOT_FOUND);

    on_record = status_program;
    on_timer = timer_emits_once;
    start_ok("b-proc");
    s = wait_caught_up("b-proc", 5);
    cr_assert_str_eq(s->status, "running");
    cr_assert_eq(s->records_in, 5);
    cr_assert_eq(s->dead_letters, 1);
    cr_assert_eq(s->timers_fired, 4, "the failed record's timer never existed");
    cr_assert_eq(s->steps, 5, "one step per record");
    cr_assert_geq(s->records_out, 8, "4 records and 4 timers emitted");
    cr_assert_eq(s->stream_time_min, 14);
    cr_assert_eq(s->positions[0].position, 5);
    cr_assert_str_eq(s->last_error, "fake.lua:1: bad record");
    rn_processor_status_free(s, 1);
    cr_assert_eq(read_out("out", 0).n, 8);
    cr_assert_eq(read_out("b-proc.dlq", 0).n, 1);
    s = status_of("a-proc");
    cr_assert_eq(s->lag, 5, "each processor has its own positions");
    rn_processor_status_free(s, 1);
    close_runtime();
}

static const char *long_name(char c, int n) {
    static char buf[RN_PROCESSOR_NAME_MAX + 2];
    memset(buf, c, (size_t)n);
    buf[n] = 0;
    return buf;
}

Test(processor, bad_definitions_are_refused_with_a_reason) {
    open_runtime();
    topic("in", 1);
    rn_config_kv view[] = {{"view.of", "in"}};
    char msg[256] = "";
    cr_assert_eq(rn_engine_create_topic(eng, "view", -1, view, 1, false, msg, sizeof msg), 0, "%s",
                 msg);
    char name201[256];
    snprintf(name201, sizeof name201, "%s", long_name('n', RN_PROCESSOR_NAME_MAX + 1));
    struct {
        const char *name, *script, *inputs, *outputs;
        rn_err code;
        const char *msg;
    } cases[] = {
        {"", "fake.lua", "in", "", RN_KAFKA_INVALID_REQUEST,
         "processor name '' must be 1 to 200 characters of [a-zA-Z0-9._-]"},
        {NULL, "fake.lua", "in", "", RN_KAFKA_INVALID_REQUEST,
         "processor name '' must be 1 to 200 characters of [a-zA-Z0-9._-]"},
        {"bad/name", "fake.lua", "in", "", RN_KAFKA_INVALID_REQUEST,
         "processor name 'bad/name' must be 1 to 200 characters of [a-zA-Z0-9._-]"},
        {"..", "fake.lua", "in", "", RN_KAFKA_INVALID_REQUEST,
         "processor name '..' must be 1 to 200 characters of [a-zA-Z0-9._-]"},
        {name201, "fake.lua", "in", "", RN_KAFKA_INVALID_REQUEST, NULL},
        {"p", "", "in", "", RN_KAFKA_INVALID_CONFIG, "processor p: no script"},
        {"p", NULL, "in", "", RN_KAFKA_INVALID_CONFIG, "processor p: no script"},
        {"p", "fake.lua", "", "", RN_KAFKA_INVALID_CONFIG, "processor p: no input topics"},
        {"p", "missing.lua", "in", "", RN_KAFKA_INVALID_CONFIG,
         "processor p: cannot read missing.lua: No such file or directory"},
        {"p", "noprocess.lua", "in", "", RN_KAFKA_INVALID_CONFIG,
         "processor p: noprocess.lua defines no process()"},
        {"p", "fake.lua", "in,nope", "", RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
         "processor p: input topic 'nope' does not exist"},
        {"p", "fake.lua", "view", "", RN_KAFKA_INVALID_CONFIG,
         "processor p: input 'view' is a view; read its source topic and filter in the script"},
        {"p", "fake.lua", "in,in", "", RN_KAFKA_INVALID_CONFIG,
         "processor p: input 'in' is named twice"},
        {"p", "fake.lua", "in", "ok-out,bad name", RN_KAFKA_INVALID_CONFIG,
         "processor p: output 'bad name' is not a valid topic name"},
        {"p", "fake.lua", "in", "ok-out,view", RN_KAFKA_INVALID_CONFIG,
         "processor p: output 'view' is a view (views are read-only)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rn_processor_def d = def_of(cases[i].name, cases[i].script, cases[i].inputs,
                                    cases[i].outputs, false);
        char err[512] = "";
        rn_err e = rn_processors_create(procs, &d, false, err, sizeof err);
        rn_processor_def_free(&d);
        cr_assert_eq(e, cases[i].code, "case %zu: %s (%s)", i, rn_err_name(e), err);
        if (cases[i].msg) cr_assert_str_eq(err, cases[i].msg, "case %zu", i);
        else cr_assert(strstr(err, "must be 1 to 200 characters"), "case %zu: %s", i, err);
    }
    rn_processor_status *s;
    int n;
    cr_assert_eq(rn_processors_status(procs, NULL, &s, &n), 0);
    cr_assert_eq(n, 0, "nothing refused was kept");
    rn_processor_status_free(s, n);
    cr_assert_eq(definitions(), 0);
    cr_assert_not(topic_exists("ok-out") || topic_exists("p.dlq"), "nor any topic made");

    /* The longest name works (its ".dlq" is a valid topic name); a name is taken once. */
    char name200[256];
    snprintf(name200, sizeof name200, "%s", long_name('n', RN_PROCESSOR_NAME_MAX));
    create(name200, "in", "new-out", true);
    cr_assert(topic_exists("new-out"), "missing outputs are created");
    char dlq[300];
    snprintf(dlq, sizeof dlq, "%s.dlq", name200);
    cr_assert(topic_exists(dlq));
    rn_processor_def d = def_of(name200, "fake.lua", "in", "", true);
    char err[512] = "";
    cr_assert_eq(rn_processors_create(procs, &d, false, err, sizeof err),
                 RN_KAFKA_DUPLICATE_RESOURCE);
    rn_processor_def_free(&d);
    char want[512];
    snprintf(want, sizeof want, "processor %s already exists", name200);
    cr_assert_str_eq(err, want);
    cr_assert_eq(rn_processors_start(procs, "nope", err, sizeof err), RN_KAFKA_RESOURCE_NOT_FOUND);
    cr_assert_str_eq(err, "no processor nope");
    close_runtime();
}

static rn_processor_status *wait_status(const char *name, const char *status) {
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        rn_processor_status *s = status_of(name);
        if (strcmp(s->status, status) == 0) return s;
        cr_assert_leq(mono_ms(), deadline, "%s is %s, not %s, after %d ms", name, s->status,
                      status, WAIT_MS);
        rn_processor_status_free(s, 1);
        sleep_ms(5);
    }
}

Test(processor, a_task_that_cannot_open_makes_the_processor_failing) {
    open_runtime();
    topic("in", 1);
    produce("in", 0, NULL, "x", 1);
    rn_processor_def d = def_of("p", "failopen.lua", "in", "", false);
    char err[512] = "";
    cr_assert_eq(rn_processors_create(procs, &d, false, err, sizeof err), 0, "%s", err);
    rn_processor_def_free(&d);
    rn_processor_status *s = wait_status("p", "failing");
    cr_assert_str_eq(s->last_error, "task 0 cannot start: failopen.lua:1: cannot open");
    cr_assert_eq(s->lag, 1);
    rn_processor_status_free(s, 1);
    close_runtime();
}

/* Counts in state, then emits (an emit that fails is noted, not raised); the first
 * time it sees offset 1 it deletes "out", so the step's commit fails. */
static int counts_then_deletes(rn_proc_task *t, const rn_proc_record *r, char *err,
                               size_t errlen) {
    uint8_t *v = NULL;
    size_t vl = 0;
    if (rn_proc_state_get(t, (const uint8_t *)"count", 5, &v, &vl, err, errlen) < 0) return -1;
    char n[32] = "0";
    if (v) snprintf(n, sizeof n, "%.*s", (int)vl, (const char *)v);
    free(v);
    snprintf(n, sizeof n, "%d", atoi(n) + 1);
    MUST(put_s(t, "count", n, err, errlen));
    char why[256];
    if (emit_s(t, "out", NULL, n, -1, why, sizeof why) != 0) note("%s", why);
    if (r->offset == 1 && !atomic_exchange(&deleted_once, true))
        rn_engine_delete_topic(eng, "out");
    return 0;
}

Test(processor, a_running_processor_discards_a_step_whose_commit_fails) {
    open_runtime();
    topic("in", 1);
    topic("out", 1);
    for (int i = 0; i < 4; i++) produce("in", 0, NULL, "x", i);
    on_record = counts_then_deletes;
    create("p", "in", "out", false);
    rn_processor_status *s = wait_caught_up("p", 4);
    cr_assert_eq(atomic_load(&calls), 8, "4 calls in the discarded step, 4 again");
    cr_assert_eq(s->records_in, 4);
    cr_assert_eq(s->steps, 1);
    cr_assert_str_eq(s->status, "running", "the next step succeeded");
    cr_assert(s->last_error && strstr(s->last_error, "task 0: committing a step of 4 records "
                                                     "failed"),
              "last error: %s", s->last_error);
    rn_processor_status_free(s, 1);
    cr_assert_state("p", 0, "count", "4"); /* none of the discarded step's state */
    char *got = notes_take();
    cr_assert_str_eq(got, "output topic 'out' does not exist output topic 'out' does not exist "
                          "output topic 'out' does not exist output topic 'out' does not exist");
    free(got);
    cr_assert_not(topic_exists("out"));
    cr_assert_eq(read_out("p.dlq", 0).n, 0);
    close_runtime();
}

Test(processor, redefining_with_the_same_inputs_keeps_positions_and_state) {
    open_runtime();
    topic("in", 1);
    on_record = counts;
    create("p", "in", "out", false);
    for (int i = 0; i < 3; i++) produce("in", 0, NULL, "x", i);
    rn_processor_status_free(wait_caught_up("p", 3), 1);
    rn_processor_def d = def_of("p", "fake.lua", "in", "out", false);
    free(d.option_names[0]);
    d.option_names[0] = strdup("window");
    d.option_values[0] = strdup("60s");
    d.noptions = 1;
    char err[512] = "";
    cr_assert_eq(rn_processors_create(procs, &d, true, err, sizeof err), 0, "%s", err);
    rn_processor_def_free(&d);
    produce("in", 0, NULL, "x", 3);
    produce("in", 0, NULL, "x", 4);
    rn_processor_status *s = wait_caught_up("p", 2);
    cr_assert_eq(s->def.noptions, 1);
    cr_assert_str_eq(s->def.option_values[0], "60s");
    rn_processor_status_free(s, 1);
    cr_assert_eq(atomic_load(&calls), 5, "nothing processed twice");
    cr_assert_state("p", 0, "count", "5");
    close_runtime();
}

static int by_string(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(processor, an_input_deleted_and_recreated_is_read_from_its_start) {
    open_runtime();
    topic("in", 1);
    topic("other", 1);
    on_record = notes_inputs;
    create("p", "in", "", false);
    create("q", "in,other", "", false);
    for (int i = 0; i < 5; i++) produce("in", 0, NULL, "x", i);
    rn_processor_status_free(wait_caught_up("p", 5), 1);
    rn_processor_status_free(wait_caught_up("q", 5), 1);
    free(notes_take());
    cr_assert_eq(rn_engine_delete_topic(eng, "in"), 0);
    topic("in", 1);
    for (int i = 0; i < 3; i++) produce("in", 0, NULL, "y", 10 + i);
    produce("other", 0, NULL, "z", 100);
    wait_calls(10 + 3 + 3 + 1);
    char *all = notes_take(), *t0 = of_task(all, 0);
    /* p and q run on their own threads, and q may read "other" before it sees the new
     * "in" (inputs are looked up again once a second): compare what was read, sorted. */
    char *words[16];
    int nw = 0;
    for (char *save = NULL, *w = strtok_r(t0, " ", &save); w && nw < 16; w = strtok_r(NULL, " ", &save))
        words[nw++] = w;
    qsort(words, (size_t)nw, sizeof *words, by_string);
    char sorted[256] = "";
    for (int i = 0; i < nw; i++) {
        if (i) strcat(sorted, " ");
        strcat(sorted, words[i]);
    }
    cr_assert_str_eq(sorted, "in/0/0@0 in/0/0@0 in/0/1@0 in/0/1@0 in/0/2@0 in/0/2@0 other/0/0@0",
                     "each processor reads the new topic from its start: %s", all);
    free(all);
    free(t0);
    cr_assert_eq(position_of("p"), 3);
    close_runtime();
}
