/* net/http_processors.c: the admin path of stream processors (the CLI's `runnel
 * processor` uses it):
 *   GET    /v1/processors                  every processor's status
 *   POST   /v1/processors                  create: name, script, inputs, outputs (comma
 *                                          lists or repeated), option.<key>=<value>,
 *                                          stopped=true, replace=true (form or query)
 *   GET    /v1/processors/<name>           one status
 *   POST   /v1/processors/<name>/start|stop
 *   POST   /v1/processors/<name>/reset     offset=earliest|latest|<n>, input=, partition=,
 *                                          keep_state=true
 *   DELETE /v1/processors/<name>  (or POST .../delete)
 * Replies are JSON; errors are {"error": sentence, "code": Kafka error name} with 400
 * (bad input), 404 (no such processor), 409 (exists) or 500. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>
#include <event2/keyvalq_struct.h>

#include "http_internal.h"
#include "rnlog.h"

static void error_reply(struct evhttp_request *r, rn_err e, const char *msg) {
    int code = e == RN_KAFKA_RESOURCE_NOT_FOUND    ? 404
               : e == RN_KAFKA_DUPLICATE_RESOURCE  ? 409
               : e == RN_KAFKA_INVALID_CONFIG || e == RN_KAFKA_INVALID_REQUEST ||
                       e == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION
                   ? 400
                   : 500;
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add(b, "{\"error\": ", 10);
    rn_http_json_string(b, msg && msg[0] ? msg : rn_err_name(e));
    evbuffer_add(b, ", \"code\": ", 10);
    rn_http_json_string(b, rn_err_name(e));
    evbuffer_add(b, "}\n", 2);
    rn_http_reply(r, code, "application/json", b);
    evbuffer_free(b);
}

static void strv_json(struct evbuffer *b, char *const *v, int n) {
    evbuffer_add(b, "[", 1);
    for (int i = 0; i < n; i++) {
        if (i) evbuffer_add(b, ", ", 2);
        rn_http_json_string(b, v[i]);
    }
    evbuffer_add(b, "]", 1);
}

static void status_json(struct evbuffer *b, const rn_processor_status *s) {
    const rn_processor_def *d = &s->def;
    evbuffer_add(b, "{\"name\": ", 9);
    rn_http_json_string(b, d->name);
    evbuffer_add(b, ", \"script\": ", 12);
    rn_http_json_string(b, d->script);
    evbuffer_add_printf(b, ", \"status\": \"%s\", \"inputs\": ", s->status);
    strv_json(b, d->inputs, d->ninputs);
    evbuffer_add(b, ", \"outputs\": ", 13);
    strv_json(b, d->outputs, d->noutputs);
    evbuffer_add(b, ", \"options\": {", 14);
    for (int i = 0; i < d->noptions; i++) {
        if (i) evbuffer_add(b, ", ", 2);
        rn_http_json_string(b, d->option_names[i]);
        evbuffer_add(b, ": ", 2);
        rn_http_json_string(b, d->option_values[i]);
    }
    evbuffer_add_printf(b,
                        "}, \"tasks\": %d, \"lag\": %lld, \"records_in\": %llu, "
                        "\"records_out\": %llu, \"dead_letters\": %llu, \"timers_fired\": %llu, "
                        "\"steps\": %llu, \"stream_time\": %lld, \"last_error\": ",
                        s->ntasks, (long long)s->lag, (unsigned long long)s->records_in,
                        (unsigned long long)s->records_out, (unsigned long long)s->dead_letters,
                        (unsigned long long)s->timers_fired, (unsigned long long)s->steps,
                        (long long)s->stream_time_min);
    if (s->last_error)
        rn_http_json_string(b, s->last_error);
    else
        evbuffer_add(b, "null", 4);
    evbuffer_add(b, ", \"positions\": [", 16);
    for (int i = 0; i < s->npositions; i++) {
        const rn_proc_position *p = &s->positions[i];
        if (i) evbuffer_add(b, ", ", 2);
        evbuffer_add(b, "{\"topic\": ", 10);
        rn_http_json_string(b, p->topic);
        evbuffer_add_printf(b, ", \"partition\": %d, \"position\": %lld, \"high_watermark\": %lld, "
                               "\"lag\": %lld}",
                            p->partition, (long long)p->position, (long long)p->high_watermark,
                            (long long)(p->high_watermark > p->position ? p->high_watermark - p->position : 0));
    }
    evbuffer_add(b, "]}", 2);
}

static void status_reply(struct evhttp_request *r, rn_processors *ps, const char *name) {
    rn_processor_status *s;
    int n;
    rn_err e = rn_processors_status(ps, name, &s, &n);
    if (e) {
        char msg[300];
        snprintf(msg, sizeof msg, "no processor %s", name ? name : "");
        error_reply(r, e, e == RN_KAFKA_RESOURCE_NOT_FOUND ? msg : NULL);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b) {
        if (!name) evbuffer_add(b, "{\"processors\": [", 16);
        for (int i = 0; i < n; i++) {
            if (i) evbuffer_add(b, ",\n", 2);
            status_json(b, &s[i]);
        }
        evbuffer_add(b, name ? "\n" : "]}\n", name ? 1 : 3);
        rn_http_reply(r, 200, "application/json", b);
        evbuffer_free(b);
    }
    rn_processor_status_free(s, n);
}

/* Append the comma-separated items of every `key` in q to *v. */
static int form_list(struct evkeyvalq *q, const char *key, char ***v, int *n) {
    for (struct evkeyval *kv = q->tqh_first; kv; kv = kv->next.tqe_next) {
        if (strcmp(kv->key, key) != 0) continue;
        char *copy = strdup(kv->value);
        if (!copy) return -1;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ') t++;
            char *e = t + strlen(t);
            while (e > t && e[-1] == ' ') *--e = 0;
            if (!*t) continue;
            char **nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
            if (!nv) {
                free(copy);
                return -1;
            }
            *v = nv;
            if (!(nv[*n] = strdup(t))) {
                free(copy);
                return -1;
            }
            (*n)++;
        }
        free(copy);
    }
    return 0;
}

static bool form_true(struct evkeyvalq *q, const char *key) {
    const char *v = evhttp_find_header(q, key);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void create(struct evhttp_request *r, rn_processors *ps) {
    struct evkeyvalq q;
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        error_reply(r, RN_KAFKA_INVALID_REQUEST, "the form does not parse");
        return;
    }
    rn_processor_def d = {0};
    const char *name = evhttp_find_header(&q, "name"), *script = evhttp_find_header(&q, "script");
    d.name = strdup(name ? name : "");
    d.script = strdup(script ? script : "");
    bool oom = !d.name || !d.script || form_list(&q, "inputs", &d.inputs, &d.ninputs) ||
               form_list(&q, "input", &d.inputs, &d.ninputs) ||
               form_list(&q, "outputs", &d.outputs, &d.noutputs) ||
               form_list(&q, "output", &d.outputs, &d.noutputs);
    for (struct evkeyval *kv = q.tqh_first; kv && !oom; kv = kv->next.tqe_next) {
        if (strncmp(kv->key, "option.", 7) != 0 || !kv->key[7]) continue;
        char **nn = realloc(d.option_names, (size_t)(d.noptions + 1) * sizeof *nn);
        if (nn) d.option_names = nn;
        char **nv = realloc(d.option_values, (size_t)(d.noptions + 1) * sizeof *nv);
        if (nv) d.option_values = nv;
        oom = !nn || !nv;
        if (!oom) {
            nn[d.noptions] = strdup(kv->key + 7);
            nv[d.noptions] = strdup(kv->value);
            d.noptions++;
            oom = !nn[d.noptions - 1] || !nv[d.noptions - 1];
        }
    }
    d.stopped = form_true(&q, "stopped");
    bool replace = form_true(&q, "replace");
    evhttp_clear_headers(&q);
    if (oom) {
        rn_processor_def_free(&d);
        error_reply(r, RN_ERR_NOMEM, "out of memory");
        return;
    }
    char err[1024] = "";
    rn_err e = rn_processors_create(ps, &d, replace, err, sizeof err);
    if (e) {
        rn_processor_def_free(&d);
        error_reply(r, e, err);
        return;
    }
    char name_copy[RN_PROCESSOR_NAME_MAX + 1];
    snprintf(name_copy, sizeof name_copy, "%s", d.name);
    rn_processor_def_free(&d);
    status_reply(r, ps, name_copy);
}

static void reset(struct evhttp_request *r, rn_processors *ps, const char *name) {
    struct evkeyvalq q;
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        error_reply(r, RN_KAFKA_INVALID_REQUEST, "the form does not parse");
        return;
    }
    const char *off = evhttp_find_header(&q, "offset"), *input = evhttp_find_header(&q, "input"),
               *part = evhttp_find_header(&q, "partition");
    int64_t offset = RN_PROCESSOR_RESET_EARLIEST;
    int32_t partition = -1;
    char err[512] = "";
    rn_err e = RN_KAFKA_NONE;
    if (off && strcmp(off, "earliest") == 0) {
        offset = RN_PROCESSOR_RESET_EARLIEST;
    } else if (off && strcmp(off, "latest") == 0) {
        offset = RN_PROCESSOR_RESET_LATEST;
    } else if (off) {
        char *end;
        errno = 0;
        long long v = strtoll(off, &end, 10);
        if (errno || end == off || *end || v < 0) {
            snprintf(err, sizeof err, "offset must be earliest, latest or an offset >= 0, not '%s'", off);
            e = RN_KAFKA_INVALID_REQUEST;
        }
        offset = v;
    }
    if (!e && part) {
        char *end;
        long v = strtol(part, &end, 10);
        if (end == part || *end || v < 0 || v > INT32_MAX) {
            snprintf(err, sizeof err, "partition must be a number >= 0, not '%s'", part);
            e = RN_KAFKA_INVALID_REQUEST;
        }
        partition = (int32_t)v;
    }
    if (!e)
        e = rn_processors_reset(ps, name, input && input[0] ? input : NULL, partition, offset,
                                form_true(&q, "keep_state"), err, sizeof err);
    evhttp_clear_headers(&q);
    if (e) {
        error_reply(r, e, err);
        return;
    }
    status_reply(r, ps, name);
}

void rn_http_processors(struct evhttp_request *r, rn_processors *ps, const char *rest) {
    if (!ps) {
        rn_http_text(r, 404, "no stream processors here");
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
    if (!rest[0] || strcmp(rest, "/") == 0) {
        if (cmd == EVHTTP_REQ_POST)
            create(r, ps);
        else if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
            status_reply(r, ps, NULL);
        else
            rn_http_text(r, 405, "GET lists processors, POST creates one");
        return;
    }
    /* /<name>[/<action>] */
    char name[RN_PROCESSOR_NAME_MAX + 1];
    const char *n = rest + 1, *slash = strchr(n, '/');
    size_t nl = slash ? (size_t)(slash - n) : strlen(n);
    if (nl == 0 || nl > RN_PROCESSOR_NAME_MAX) {
        error_reply(r, RN_KAFKA_RESOURCE_NOT_FOUND, "no such processor");
        return;
    }
    memcpy(name, n, nl);
    name[nl] = 0;
    const char *action = slash ? slash + 1 : "";
    char err[512] = "";
    rn_err e;
    if (!action[0] && (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)) {
        status_reply(r, ps, name);
        return;
    }
    if ((!action[0] && cmd == EVHTTP_REQ_DELETE) ||
        (strcmp(action, "delete") == 0 && cmd == EVHTTP_REQ_POST)) {
        e = rn_processors_delete(ps, name, err, sizeof err);
        if (e) {
            error_reply(r, e, err);
        } else {
            struct evbuffer *b = evbuffer_new();
            if (!b) return;
            evbuffer_add(b, "{\"deleted\": ", 12);
            rn_http_json_string(b, name);
            evbuffer_add(b, "}\n", 2);
            rn_http_reply(r, 200, "application/json", b);
            evbuffer_free(b);
        }
        return;
    }
    if (cmd != EVHTTP_REQ_POST) {
        rn_http_text(r, 405, "POST to start, stop, reset or delete a processor");
        return;
    }
    if (strcmp(action, "start") == 0 || strcmp(action, "stop") == 0) {
        e = action[2] == 'a' ? rn_processors_start(ps, name, err, sizeof err)
                             : rn_processors_stop(ps, name, err, sizeof err);
        if (e)
            error_reply(r, e, err);
        else
            status_reply(r, ps, name);
        return;
    }
    if (strcmp(action, "reset") == 0) {
        reset(r, ps, name);
        return;
    }
    rn_http_text(r, 404, "unknown action: start, stop, reset or delete");
}
