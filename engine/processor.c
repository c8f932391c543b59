/* engine/processor.c: the processors: their definitions (stored, so they survive
 * restarts), one thread each that runs its tasks in turn and sleeps until an input
 * grows or a wall timer is due, and the admin operations (create, delete, start, stop,
 * reset, status).
 *
 * Definition record ('D' + name): version 1, stopped, then strings as BE32 length +
 * bytes: name, script, BE16 count + inputs, BE16 count + outputs, BE16 count + option
 * name/value pairs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "processor_internal.h"
#include "rnlog.h"

#define IDLE_WAKE_MS 1000    /* look for new partitions and recreated inputs this often */
#define FAIL_BACKOFF_MS 1000 /* after a failed step */
#define DEF_VERSION 1

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- definitions ------------------------------------------------------------------ */

static void strv_free(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void rn_processor_def_free(rn_processor_def *d) {
    free(d->name);
    free(d->script);
    strv_free(d->inputs, d->ninputs);
    strv_free(d->outputs, d->noutputs);
    strv_free(d->option_names, d->noptions);
    strv_free(d->option_values, d->noptions);
    memset(d, 0, sizeof *d);
}

static char **strv_copy(char *const *v, int n) {
    char **c = calloc((size_t)(n ? n : 1), sizeof *c);
    if (!c) return NULL;
    for (int i = 0; i < n; i++)
        if (!(c[i] = strdup(v[i]))) {
            strv_free(c, i);
            return NULL;
        }
    return c;
}

static int def_copy(rn_processor_def *d, const rn_processor_def *s) {
    memset(d, 0, sizeof *d);
    d->name = strdup(s->name);
    d->script = strdup(s->script);
    d->inputs = strv_copy(s->inputs, s->ninputs);
    d->ninputs = s->ninputs;
    d->outputs = strv_copy(s->outputs, s->noutputs);
    d->noutputs = s->noutputs;
    d->option_names = strv_copy(s->option_names, s->noptions);
    d->option_values = strv_copy(s->option_values, s->noptions);
    d->noptions = s->noptions;
    d->stopped = s->stopped;
    if (!d->name || !d->script || !d->inputs || !d->outputs || !d->option_names ||
        !d->option_values) {
        rn_processor_def_free(d);
        return -1;
    }
    return 0;
}

typedef struct {
    uint8_t *b;
    size_t len, cap;
    bool oom;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = (w->len + n) * 2 + 64;
        uint8_t *nb = realloc(w->b, cap);
        if (!nb) {
            w->oom = true;
            return;
        }
        w->b = nb;
        w->cap = cap;
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

static void put_str(wbuf *w, const char *s) {
    uint8_t l[4];
    rn_key_put32(l, (uint32_t)strlen(s));
    put(w, l, 4);
    put(w, s, strlen(s));
}

static void put_strv(wbuf *w, char *const *v, int n) {
    uint8_t l[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    put(w, l, 2);
    for (int i = 0; i < n; i++) put_str(w, v[i]);
}

static int def_encode(const rn_processor_def *d, wbuf *w) {
    uint8_t head[2] = {DEF_VERSION, d->stopped};
    put(w, head, 2);
    put_str(w, d->name);
    put_str(w, d->script);
    put_strv(w, d->inputs, d->ninputs);
    put_strv(w, d->outputs, d->noutputs);
    put_strv(w, d->option_names, d->noptions);
    for (int i = 0; i < d->noptions; i++) put_str(w, d->option_values[i]);
    return w->oom ? -1 : 0;
}

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rbuf;

static char *get_str(rbuf *r) {
    if (r->bad || r->end - r->p < 4) {
        r->bad = true;
        return NULL;
    }
    uint32_t n = rn_key_get32(r->p);
    r->p += 4;
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    return s;
}

static char **get_strv(rbuf *r, int *n) {
    if (r->bad || r->end - r->p < 2) {
        r->bad = true;
        return NULL;
    }
    *n = (r->p[0] << 8) | r->p[1];
    r->p += 2;
    char **v = calloc((size_t)(*n ? *n : 1), sizeof *v);
    if (!v) {
        r->bad = true;
        return NULL;
    }
    for (int i = 0; i < *n; i++) v[i] = get_str(r);
    return v;
}

static int def_decode(const uint8_t *b, size_t len, rn_processor_def *d) {
    memset(d, 0, sizeof *d);
    if (len < 2 || b[0] != DEF_VERSION) return -1;
    rbuf r = {b + 2, b + len, false};
    d->stopped = b[1] != 0;
    d->name = get_str(&r);
    d->script = get_str(&r);
    d->inputs = get_strv(&r, &d->ninputs);
    d->outputs = get_strv(&r, &d->noutputs);
    d->option_names = get_strv(&r, &d->noptions);
    d->option_values = calloc((size_t)(d->noptions ? d->noptions : 1), sizeof *d->option_values);
    if (!d->option_values) r.bad = true;
    for (int i = 0; !r.bad && i < d->noptions; i++) d->option_values[i] = get_str(&r);
    if (r.bad) {
        rn_processor_def_free(d);
        return -1;
    }
    return 0;
}

static rn_err def_store(rn_processors *ps, const rn_processor_def *d) {
    wbuf w = {0};
    if (def_encode(d, &w) != 0) {
        free(w.b);
        return RN_ERR_NOMEM;
    }
    uint8_t k[1 + RN_PROCESSOR_NAME_MAX];
    size_t nl = strlen(d->name);
    k[0] = 'D';
    memcpy(k + 1, d->name, nl);
    rn_store_batch *b = rn_store_batch_new();
    if (!b) {
        free(w.b);
        return RN_ERR_NOMEM;
    }
    rn_store_batch_put(b, ps->store, RN_CF_PROCESSORS, k, 1 + nl, w.b, w.len);
    rn_err err = rn_store_write(ps->store, b, true);
    rn_store_batch_free(b);
    free(w.b);
    return err;
}

/* ---- status and errors ------------------------------------------------------------ */

void rn_processor_set_error(rn_processor *p, bool failing, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->status_lock);
    bool repeated = strcmp(p->last_error, msg) == 0 && p->failing;
    snprintf(p->last_error, sizeof p->last_error, "%s", msg);
    if (failing) p->failing = true;
    pthread_mutex_unlock(&p->status_lock);
    if (!repeated) rn_log_error("processor %s: %s", p->def.name, msg);
}

/* ---- the thread ------------------------------------------------------------------- */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The partition count the tasks follow: the largest among the inputs. */
static int32_t input_partitions(rn_processor *p) {
    int32_t n = 0;
    for (int i = 0; i < p->def.ninputs; i++) {
        rn_topic_meta *m;
        int c;
        const char *name = p->def.inputs[i];
        if (rn_engine_topics(p->ps->engine, &name, 1, &m, &c) != RN_KAFKA_NONE) continue;
        if (c == 1 && m[0].partition_count > n) n = m[0].partition_count;
        rn_topic_meta_free(m, c);
    }
    return n;
}

/* Tasks for every input partition (new partitions get tasks as they appear). */
static void tasks_refresh(rn_processor *p) {
    int32_t want = input_partitions(p);
    if (want > p->ntasks) {
        rn_proc_task **nt = realloc(p->tasks, (size_t)want * sizeof *nt);
        if (!nt) return;
        p->tasks = nt;
        for (int32_t i = p->ntasks; i < want; i++) p->tasks[i] = NULL;
        p->ntasks = want;
    }
    for (int i = 0; i < p->ntasks; i++) {
        if (p->tasks[i]) {
            rn_proc_task_resolve(p->tasks[i]);
            continue;
        }
        char err[1024];
        p->tasks[i] = rn_proc_task_new(p, i, err, sizeof err);
        if (!p->tasks[i]) rn_processor_set_error(p, true, "task %d cannot start: %s", i, err);
    }
}

static void *processor_thread(void *arg) {
    rn_processor *p = arg;
    rn_log_info("processor %s: started (%s)", p->def.name, p->def.script);
    int64_t last_refresh = 0;
    while (!atomic_load(&p->stop)) {
        int64_t now = wall_ms();
        if (now - last_refresh >= IDLE_WAKE_MS) {
            tasks_refresh(p);
            last_refresh = now;
        }
        bool did = false, failed = false;
        int64_t next_wall = INT64_MAX;
        for (int i = 0; i < p->ntasks && !atomic_load(&p->stop); i++) {
            rn_proc_task *t = p->tasks[i];
            if (!t) continue;
            int n = rn_proc_task_step(t, p->ps->opts.max_records_per_step);
            if (n > 0) did = true;
            if (n < 0) failed = true;
            int64_t due = rn_proc_task_wall_due(t);
            if (due < next_wall) next_wall = due;
        }
        if (did && !failed) continue;
        int64_t wait = failed ? FAIL_BACKOFF_MS : IDLE_WAKE_MS;
        now = wall_ms();
        if (!failed && next_wall != INT64_MAX) /* a failing task keeps its back-off */
            wait = next_wall <= now ? 0 : next_wall - now < wait ? next_wall - now : wait;
        if (wait <= 0) continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait / 1000;
        until.tv_nsec += (wait % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&p->wake_lock);
        while (!p->wake && !atomic_load(&p->stop))
            if (pthread_cond_timedwait(&p->wake_cond, &p->wake_lock, &until) != 0) break;
        p->wake = false;
        pthread_mutex_unlock(&p->wake_lock);
    }
    for (int i = 0; i < p->ntasks; i++) rn_proc_task_free(p->tasks[i]);
    free(p->tasks);
    p->tasks = NULL;
    p->ntasks = 0;
    rn_log_info("processor %s: stopped", p->def.name);
    return NULL;
}

static rn_err processor_start(rn_processor *p) {
    if (p->thread_running) return RN_KAFKA_NONE;
    atomic_store(&p->stop, false);
    pthread_mutex_lock(&p->status_lock);
    p->failing = false;
    p->last_error[0] = 0;
    pthread_mutex_unlock(&p->status_lock);
    if (pthread_create(&p->thread, NULL, processor_thread, p) != 0) return RN_ERR_INTERNAL;
    p->thread_running = true;
    return RN_KAFKA_NONE;
}

static void processor_stop(rn_processor *p) {
    if (!p->thread_running) return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->wake_lock);
    pthread_cond_signal(&p->wake_cond);
    pthread_mutex_unlock(&p->wake_lock);
    pthread_join(p->thread, NULL);
    p->thread_running = false;
}

static void outputs_free(rn_processor *p) {
    for (int i = 0; i < p->nouts; i++) {
        proc_output *o = &p->outs[i];
        free(o->partitioner);
        strv_free(o->names, o->nconfigs);
        strv_free(o->values, o->nconfigs);
        free(o->parts);
    }
    free(p->outs);
    p->outs = NULL;
    p->nouts = 0;
}

static void processor_free(rn_processor *p) {
    if (!p) return;
    processor_stop(p);
    outputs_free(p);
    rn_processor_def_free(&p->def);
    free(p->dlq);
    pthread_mutex_destroy(&p->wake_lock);
    pthread_cond_destroy(&p->wake_cond);
    pthread_mutex_destroy(&p->status_lock);
    free(p);
}

static rn_processor *processor_new(rn_processors *ps, const rn_processor_def *def) {
    rn_processor *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ps = ps;
    pthread_mutex_init(&p->wake_lock, NULL);
    pthread_cond_init(&p->wake_cond, NULL);
    pthread_mutex_init(&p->status_lock, NULL);
    if (def_copy(&p->def, def) != 0) {
        processor_free(p);
        return NULL;
    }
    size_t dl = strlen(def->name) + 5;
    p->dlq = malloc(dl);
    p->outs = calloc((size_t)def->noutputs + 1, sizeof *p->outs);
    if (!p->dlq || !p->outs) {
        processor_free(p);
        return NULL;
    }
    snprintf(p->dlq, dl, "%s.dlq", def->name);
    p->nouts = def->noutputs + 1;
    for (int i = 0; i < def->noutputs; i++) p->outs[i].name = p->def.outputs[i];
    p->outs[def->noutputs].name = p->dlq;
    return p;
}

static rn_processor *find(rn_processors *ps, const char *name) {
    for (rn_processor *p = ps->list; p; p = p->next)
        if (strcmp(p->def.name, name) == 0) return p;
    return NULL;
}

/* ---- open and close --------------------------------------------------------------- */

rn_err rn_processors_open(rn_engine *e, const rn_proc_program *prog,
                          const rn_processors_options *opts, rn_processors **out, char *err,
                          size_t errlen) {
    rn_processors *ps = calloc(1, sizeof *ps);
    if (!ps) return fail(err, errlen, "out of memory"), RN_ERR_NOMEM;
    ps->engine = e;
    ps->store = rn_engine_store(e);
    ps->flush_sync = rn_engine_flush_sync(e);
    ps->prog = *prog;
    ps->opts = *opts;
    if (ps->opts.max_records_per_step < 1) ps->opts.max_records_per_step = 2000;
    pthread_mutex_init(&ps->lock, NULL);
    if (ps->opts.unavailable) {
        *out = ps;
        return RN_KAFKA_NONE;
    }
    uint8_t lo = 'D', hi = 'D' + 1;
    rn_store_iter *it = rn_store_iter_new(ps->store, RN_CF_PROCESSORS, &lo, 1, &hi, 1);
    if (!it) {
        rn_processors_close(ps);
        return fail(err, errlen, "out of memory"), RN_ERR_NOMEM;
    }
    int loaded = 0;
    for (rn_store_iter_seek(it, &lo, 1); rn_store_iter_valid(it); rn_store_iter_next(it)) {
        size_t vl;
        const uint8_t *v = rn_store_iter_value(it, &vl);
        rn_processor_def d;
        if (def_decode(v, vl, &d) != 0) {
            rn_log_error("processors: a stored definition does not decode; skipped");
            continue;
        }
        rn_processor *p = processor_new(ps, &d);
        rn_processor_def_free(&d);
        if (!p) continue;
        p->next = ps->list;
        ps->list = p;
        loaded++;
        if (!p->def.stopped) processor_start(p);
    }
    rn_err st = rn_store_iter_status(it);
    rn_store_iter_free(it);
    if (st) {
        rn_processors_close(ps);
        return fail(err, errlen, "reading the processor definitions failed"), st;
    }
    if (loaded) rn_log_info("processors: %d loaded", loaded);
    *out = ps;
    return RN_KAFKA_NONE;
}

void rn_processors_close(rn_processors *ps) {
    if (!ps) return;
    for (rn_processor *p = ps->list; p; p = p->next) { /* stop all first: they run in parallel */
        atomic_store(&p->stop, true);
        pthread_mutex_lock(&p->wake_lock);
        pthread_cond_signal(&p->wake_cond);
        pthread_mutex_unlock(&p->wake_lock);
    }
    while (ps->list) {
        rn_processor *p = ps->list;
        ps->list = p->next;
        processor_free(p);
    }
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}

/* ---- admin -------------------------------------------------------------------------- */

static bool name_ok(const char *n) {
    size_t l = strlen(n);
    if (l < 1 || l > RN_PROCESSOR_NAME_MAX || strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
        return false;
    return rn_topic_name_valid(n, l);
}

static bool same_strv(char *const *a, int na, char *const *b, int nb) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0) return false;
    return true;
}

/* Create a topic if it does not exist (partitions -1: num.partitions). */
static rn_err ensure_topic(rn_processors *ps, const char *name, int32_t partitions, char *err,
                           size_t errlen) {
    rn_topic_hooks h;
    if (rn_engine_topic_hooks(ps->engine, name, &h) == RN_KAFKA_NONE) {
        bool view = h.view_of != NULL;
        rn_topic_hooks_free(&h);
        if (view) return fail(err, errlen, "output '%s' is a view (views are read-only)", name), RN_KAFKA_INVALID_CONFIG;
        return RN_KAFKA_NONE;
    }
    char msg[256] = "";
    rn_err e = rn_engine_create_topic(ps->engine, name, partitions, NULL, 0, false, msg, sizeof msg);
    if (e == RN_KAFKA_TOPIC_ALREADY_EXISTS) return RN_KAFKA_NONE;
    if (e) {
        fail(err, errlen, "cannot create topic '%s': %s", name, msg[0] ? msg : rn_err_name(e));
        return e;
    }
    rn_log_info("processors: created topic %s", name);
    return RN_KAFKA_NONE;
}

static rn_err validate(rn_processors *ps, const rn_processor_def *d, char *err, size_t errlen) {
    if (!d->name || !name_ok(d->name))
        return fail(err, errlen, "processor name '%s' must be 1 to %d characters of [a-zA-Z0-9._-]",
                    d->name ? d->name : "", RN_PROCESSOR_NAME_MAX), RN_KAFKA_INVALID_REQUEST;
    if (!d->script || !d->script[0])
        return fail(err, errlen, "processor %s: no script", d->name), RN_KAFKA_INVALID_CONFIG;
    if (d->ninputs < 1)
        return fail(err, errlen, "processor %s: no input topics", d->name), RN_KAFKA_INVALID_CONFIG;
    char why[900];
    if (ps->prog.check(ps->prog.ctx, d->script, why, sizeof why) != 0)
        return fail(err, errlen, "processor %s: %s", d->name, why), RN_KAFKA_INVALID_CONFIG;
    for (int i = 0; i < d->ninputs; i++) {
        rn_topic_hooks h;
        if (rn_engine_topic_hooks(ps->engine, d->inputs[i], &h) != RN_KAFKA_NONE)
            return fail(err, errlen, "processor %s: input topic '%s' does not exist", d->name,
                        d->inputs[i]), RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
        bool view = h.view_of != NULL;
        rn_topic_hooks_free(&h);
        if (view)
            return fail(err, errlen, "processor %s: input '%s' is a view; read its source topic "
                        "and filter in the script", d->name, d->inputs[i]), RN_KAFKA_INVALID_CONFIG;
        for (int j = 0; j < i; j++)
            if (strcmp(d->inputs[i], d->inputs[j]) == 0)
                return fail(err, errlen, "processor %s: input '%s' is named twice", d->name,
                            d->inputs[i]), RN_KAFKA_INVALID_CONFIG;
    }
    for (int i = 0; i < d->noutputs; i++) {
        if (!rn_topic_name_valid(d->outputs[i], strlen(d->outputs[i])))
            return fail(err, errlen, "processor %s: output '%s' is not a valid topic name",
                        d->name, d->outputs[i]), RN_KAFKA_INVALID_CONFIG;
        rn_topic_hooks h;
        if (rn_engine_topic_hooks(ps->engine, d->outputs[i], &h) == RN_KAFKA_NONE) {
            bool view = h.view_of != NULL;
            rn_topic_hooks_free(&h);
            if (view)
                return fail(err, errlen, "processor %s: output '%s' is a view (views are read-only)",
                            d->name, d->outputs[i]), RN_KAFKA_INVALID_CONFIG;
        }
    }
    return RN_KAFKA_NONE;
}

rn_err rn_processors_create(rn_processors *ps, const rn_processor_def *def, bool replace,
                            char *err, size_t errlen) {
    if (ps->opts.unavailable) return fail(err, errlen, "%s", ps->opts.unavailable), RN_KAFKA_INVALID_REQUEST;
    rn_err e = validate(ps, def, err, errlen);
    if (e) return e;
    pthread_mutex_lock(&ps->lock);
    rn_processor *old = find(ps, def->name);
    if (old && !replace) {
        pthread_mutex_unlock(&ps->lock);
        fail(err, errlen, "processor %s already exists", def->name);
        return RN_KAFKA_DUPLICATE_RESOURCE;
    }
    for (int i = 0; i < def->noutputs && !e; i++) e = ensure_topic(ps, def->outputs[i], -1, err, errlen);
    char dlq[RN_PROCESSOR_NAME_MAX + 8];
    snprintf(dlq, sizeof dlq, "%s.dlq", def->name);
    if (!e) e = ensure_topic(ps, dlq, 1, err, errlen);
    if (!e && (e = def_store(ps, def))) fail(err, errlen, "storing the definition failed");
    rn_processor *p = NULL;
    if (!e && !(p = processor_new(ps, def))) {
        e = RN_ERR_NOMEM;
        fail(err, errlen, "out of memory");
    }
    if (e) {
        pthread_mutex_unlock(&ps->lock);
        return e;
    }
    if (old) {
        if (!same_strv(old->def.inputs, old->def.ninputs, def->inputs, def->ninputs))
            rn_log_warn("processor %s: inputs changed; positions of inputs it had are kept",
                        def->name);
        for (rn_processor **pp = &ps->list; *pp; pp = &(*pp)->next)
            if (*pp == old) {
                *pp = old->next;
                break;
            }
        processor_free(old);
    }
    p->next = ps->list;
    ps->list = p;
    if (!def->stopped) e = processor_start(p);
    pthread_mutex_unlock(&ps->lock);
    rn_log_info("processors: %s %s (%s, %d inputs, %d outputs)%s", old ? "redefined" : "created",
                def->name, def->script, def->ninputs, def->noutputs,
                def->stopped ? ", stopped" : "");
    return e;
}

/* Remove keys of the given types for the processor (task -1: every task). */
static void clear_keys(rn_processors *ps, rn_store_batch *b, const char *name, const char *types,
                       int32_t task) {
    for (const char *ty = types; *ty; ty++) {
        uint8_t lo[8 + RN_PROCESSOR_NAME_MAX], hi[8 + RN_PROCESSOR_NAME_MAX];
        size_t ll = rn_proc_name_key(lo, (uint8_t)*ty, name);
        if (task >= 0) {
            rn_key_put32(lo + ll, (uint32_t)task);
            ll += 4;
        }
        size_t hl = rn_key_prefix_end(hi, lo, ll);
        rn_store_batch_delete_range(b, ps->store, RN_CF_PROCESSORS, lo, ll, hi, hl);
    }
}

rn_err rn_processors_delete(rn_processors *ps, const char *name, char *err, size_t errlen) {
    pthread_mutex_lock(&ps->lock);
    rn_processor *p = find(ps, name);
    if (!p) {
        pthread_mutex_unlock(&ps->lock);
        fail(err, errlen, "no processor %s", name);
        return RN_KAFKA_RESOURCE_NOT_FOUND;
    }
    processor_stop(p);
    rn_store_batch *b = rn_store_batch_new();
    rn_err e = RN_ERR_NOMEM;
    if (b) {
        uint8_t k[1 + RN_PROCESSOR_NAME_MAX];
        size_t nl = strlen(name);
        k[0] = 'D';
        memcpy(k + 1, name, nl);
        rn_store_batch_delete(b, ps->store, RN_CF_PROCESSORS, k, 1 + nl);
        clear_keys(ps, b, name, "PMSTN", -1);
        e = rn_store_write(ps->store, b, true);
        rn_store_batch_free(b);
    }
    if (e) {
        pthread_mutex_unlock(&ps->lock);
        fail(err, errlen, "removing processor %s failed", name);
        return e;
    }
    for (rn_processor **pp = &ps->list; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    processor_free(p);
    pthread_mutex_unlock(&ps->lock);
    rn_log_info("processors: deleted %s", name);
    return RN_KAFKA_NONE;
}

static rn_err set_running(rn_processors *ps, const char *name, bool run, char *err,
                          size_t errlen) {
    pthread_mutex_lock(&ps->lock);
    rn_processor *p = find(ps, name);
    if (!p) {
        pthread_mutex_unlock(&ps->lock);
        fail(err, errlen, "no processor %s", name);
        return RN_KAFKA_RESOURCE_NOT_FOUND;
    }
    p->def.stopped = !run;
    rn_err e = def_store(ps, &p->def);
    if (!e) {
        if (run)
            e = processor_start(p);
        else
            processor_stop(p);
    }
    pthread_mutex_unlock(&ps->lock);
    if (e) fail(err, errlen, "%s processor %s failed", run ? "starting" : "stopping", name);
    return e;
}

rn_err rn_processors_start(rn_processors *ps, const char *name, char *err, size_t errlen) {
    return set_running(ps, name, true, err, errlen);
}

rn_err rn_processors_stop(rn_processors *ps, const char *name, char *err, size_t errlen) {
    return set_running(ps, name, false, err, errlen);
}

rn_err rn_processors_reset(rn_processors *ps, const char *name, const char *input,
                           int32_t partition, int64_t offset, bool keep_state, char *err,
                           size_t errlen) {
    pthread_mutex_lock(&ps->lock);
    rn_processor *p = find(ps, name);
    rn_err e = RN_KAFKA_NONE;
    if (!p) {
        fail(err, errlen, "no processor %s", name);
        e = RN_KAFKA_RESOURCE_NOT_FOUND;
    } else if (p->thread_running) {
        fail(err, errlen, "processor %s is running: stop it first", name);
        e = RN_KAFKA_INVALID_REQUEST;
    } else if (input) {
        bool known = false;
        for (int i = 0; i < p->def.ninputs; i++) known |= strcmp(p->def.inputs[i], input) == 0;
        if (!known) {
            fail(err, errlen, "'%s' is not an input of processor %s", input, name);
            e = RN_KAFKA_INVALID_REQUEST;
        }
    }
    rn_store_batch *b = e ? NULL : rn_store_batch_new();
    if (!e && !b) e = RN_ERR_NOMEM;
    int moved = 0;
    for (int i = 0; !e && i < p->def.ninputs; i++) {
        if (input && strcmp(input, p->def.inputs[i]) != 0) continue;
        rn_topic_meta *m;
        int c;
        const char *tn = p->def.inputs[i];
        if (rn_engine_topics(ps->engine, &tn, 1, &m, &c) != RN_KAFKA_NONE || c != 1) continue;
        int32_t count = m[0].partition_count;
        uint8_t id[16];
        memcpy(id, m[0].topic_id, 16);
        rn_topic_meta_free(m, c);
        if (partition >= count) {
            fail(err, errlen, "%s has %d partitions", tn, count);
            e = RN_KAFKA_INVALID_REQUEST;
            break;
        }
        for (int32_t k = 0; k < count; k++) {
            if (partition >= 0 && k != partition) continue;
            rn_err pe;
            rn_partition *part = rn_engine_partition(ps->engine, tn, k, &pe);
            rn_partition_offsets off;
            if (!part || rn_partition_offsets_get(part, &off) != RN_KAFKA_NONE) continue;
            int64_t to = offset == RN_PROCESSOR_RESET_EARLIEST ? off.log_start_offset
                         : offset == RN_PROCESSOR_RESET_LATEST ? off.high_watermark
                                                                : offset;
            if (to < off.log_start_offset) to = off.log_start_offset;
            if (to > off.high_watermark) to = off.high_watermark;
            uint8_t key[16 + RN_PROCESSOR_NAME_MAX + 256], v[RN_PROC_POSITION_LEN];
            size_t kl = rn_proc_position_key(key, name, k, tn);
            rn_proc_position_put(v, to, id);
            rn_store_batch_put(b, ps->store, RN_CF_PROCESSORS, key, kl, v, sizeof v);
            moved++;
        }
    }
    if (!e && !keep_state) clear_keys(ps, b, name, "MSTN", partition);
    if (!e) e = rn_store_write(ps->store, b, true);
    rn_store_batch_free(b);
    pthread_mutex_unlock(&ps->lock);
    if (!e)
        rn_log_info("processors: %s reset (%d positions%s)", name, moved,
                    keep_state ? "" : ", state cleared");
    return e;
}

/* ---- status ------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
    return strcmp(((const rn_processor_status *)a)->def.name,
                  ((const rn_processor_status *)b)->def.name);
}

static int64_t stored_i64(rn_processors *ps, const uint8_t *k, size_t kl, int64_t dflt) {
    char *v = NULL;
    size_t vl = 0;
    if (rn_store_get(ps->store, RN_CF_PROCESSORS, k, kl, &v, &vl) != RN_KAFKA_NONE || !v ||
        vl != 8) {
        free(v);
        return dflt;
    }
    int64_t r = (int64_t)rn_key_get64((uint8_t *)v);
    free(v);
    return r;
}

/* Committed positions come from the store: they are what a restart would resume from. */
static void fill_status(rn_processors *ps, rn_processor *p, rn_processor_status *s) {
    def_copy(&s->def, &p->def);
    pthread_mutex_lock(&p->status_lock);
    s->status = !p->thread_running ? "stopped" : p->failing ? "failing" : "running";
    s->last_error = p->last_error[0] ? strdup(p->last_error) : NULL;
    s->records_in = p->records_in;
    s->records_out = p->records_out;
    s->dead_letters = p->dead_letters;
    s->timers_fired = p->timers_fired;
    s->steps = p->steps;
    pthread_mutex_unlock(&p->status_lock);
    s->stream_time_min = -1;
    for (int i = 0; i < p->def.ninputs; i++) {
        rn_topic_meta *m;
        int c;
        const char *tn = p->def.inputs[i];
        if (rn_engine_topics(ps->engine, &tn, 1, &m, &c) != RN_KAFKA_NONE || c != 1) continue;
        int32_t count = m[0].partition_count;
        uint8_t id[16];
        memcpy(id, m[0].topic_id, 16);
        rn_topic_meta_free(m, c);
        if (count > s->ntasks) s->ntasks = count;
        rn_proc_position *np = realloc(s->positions, (size_t)(s->npositions + count) * sizeof *np);
        if (!np) break;
        s->positions = np;
        for (int32_t k = 0; k < count; k++) {
            rn_err pe;
            rn_partition *part = rn_engine_partition(ps->engine, tn, k, &pe);
            rn_partition_offsets off = {.high_watermark = -1, .log_start_offset = 0};
            if (part) rn_partition_offsets_get(part, &off);
            uint8_t key[16 + RN_PROCESSOR_NAME_MAX + 256];
            size_t kl = rn_proc_position_key(key, p->def.name, k, tn);
            rn_proc_position *pos = &s->positions[s->npositions++];
            pos->topic = strdup(tn);
            pos->partition = k;
            char *v = NULL;
            size_t vl = 0;
            int64_t stored = rn_store_get(ps->store, RN_CF_PROCESSORS, key, kl, &v, &vl) == RN_KAFKA_NONE
                                 ? rn_proc_position_get((uint8_t *)v, vl, id)
                                 : -1;
            free(v);
            pos->position = stored >= 0 ? stored : off.log_start_offset;
            pos->high_watermark = part ? off.high_watermark : -1;
            if (pos->high_watermark > pos->position) s->lag += pos->high_watermark - pos->position;
        }
    }
    for (int k = 0; k < s->ntasks; k++) {
        uint8_t key[8 + RN_PROCESSOR_NAME_MAX];
        size_t kl = rn_proc_name_key(key, 'M', p->def.name);
        rn_key_put32(key + kl, (uint32_t)k);
        int64_t st = stored_i64(ps, key, kl + 4, -1);
        if (st >= 0 && (s->stream_time_min < 0 || st < s->stream_time_min)) s->stream_time_min = st;
    }
}

rn_err rn_processors_status(rn_processors *ps, const char *name, rn_processor_status **out,
                            int *n) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&ps->lock);
    int count = 0;
    for (rn_processor *p = ps->list; p; p = p->next)
        if (!name || strcmp(name, p->def.name) == 0) count++;
    if (name && !count) {
        pthread_mutex_unlock(&ps->lock);
        return RN_KAFKA_RESOURCE_NOT_FOUND;
    }
    rn_processor_status *s = calloc((size_t)(count ? count : 1), sizeof *s);
    if (!s) {
        pthread_mutex_unlock(&ps->lock);
        return RN_ERR_NOMEM;
    }
    int i = 0;
    for (rn_processor *p = ps->list; p; p = p->next)
        if (!name || strcmp(name, p->def.name) == 0) fill_status(ps, p, &s[i++]);
    pthread_mutex_unlock(&ps->lock);
    qsort(s, (size_t)count, sizeof *s, by_name);
    *out = s;
    *n = count;
    return RN_KAFKA_NONE;
}

void rn_processor_status_free(rn_processor_status *s, int n) {
    for (int i = 0; s && i < n; i++) {
        rn_processor_def_free(&s[i].def);
        free(s[i].last_error);
        for (int j = 0; j < s[i].npositions; j++) free(s[i].positions[j].topic);
        free(s[i].positions);
    }
    free(s);
}
