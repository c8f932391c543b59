/* engine/topic_config.c: the table of topic configs. A row's default is the broker's
 * setting where Kafka takes one from the broker (retention, max message size, timestamp
 * type), a constant otherwise. */
#include "topic_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { TC_LONG, TC_INT, TC_STRING, TC_LIST } tc_type;

typedef struct {
    const char *name;
    tc_type type;
    int64_t min, max;
    const char *const *choices; /* NULL-terminated, or NULL */
    const char *fixed_default;  /* NULL: from the broker, see broker_default() */
    const char *doc;
} tc_row;

static const char *const cleanup_choices[] = {"delete", NULL};
static const char *const timestamp_choices[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const compression_choices[] = {"producer", "uncompressed", "gzip", "snappy",
                                                  "lz4", "zstd", NULL};

static const tc_row rows[] = {
    {"cleanup.policy", TC_LIST, 0, 0, cleanup_choices, "delete",
     "delete: old batches go by retention ('compact' is not supported yet)"},
    {"compression.type", TC_STRING, 0, 0, compression_choices, "producer",
     "batches are stored as the producer compressed them; only 'producer' changes nothing"},
    {"max.message.bytes", TC_INT, 0, INT32_MAX, NULL, NULL,
     "the largest record batch the topic accepts"},
    {"message.timestamp.type", TC_STRING, 0, 0, timestamp_choices, NULL,
     "CreateTime keeps producer timestamps; LogAppendTime stamps batches on append"},
    {"min.insync.replicas", TC_INT, 1, INT32_MAX, NULL, "1",
     "replicas that must have a write for acks=all (a single broker has one)"},
    {"retention.bytes", TC_LONG, -1, INT64_MAX, NULL, NULL,
     "per partition: oldest batches are removed past this size; -1 unlimited"},
    {"retention.ms", TC_LONG, -1, INT64_MAX, NULL, NULL,
     "batches older than this are removed; -1 forever"},
    {"segment.bytes", TC_INT, 14, INT32_MAX, NULL, "1073741824",
     "accepted for compatibility; runnel has no segments, so it has no effect"},
    {"segment.ms", TC_LONG, 1, INT64_MAX, NULL, "604800000",
     "accepted for compatibility; runnel has no segments, so it has no effect"},
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

static const tc_row *find_row(const char *name) {
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].name, name) == 0) return &rows[i];
    return NULL;
}

static void broker_default(const tc_row *r, const rn_engine_options *d, char *buf, size_t len) {
    if (r->fixed_default) {
        snprintf(buf, len, "%s", r->fixed_default);
    } else if (!strcmp(r->name, "retention.ms")) {
        snprintf(buf, len, "%lld", (long long)d->default_retention_ms);
    } else if (!strcmp(r->name, "retention.bytes")) {
        snprintf(buf, len, "%lld", (long long)d->default_retention_bytes);
    } else if (!strcmp(r->name, "max.message.bytes")) {
        snprintf(buf, len, "%d", d->default_max_message_bytes);
    } else if (!strcmp(r->name, "message.timestamp.type")) {
        snprintf(buf, len, "%s", d->default_log_append_time ? "LogAppendTime" : "CreateTime");
    } else {
        buf[0] = 0;
    }
}

static int parse_int64(const char *s, int64_t *v) {
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *v = x;
    return 0;
}

rn_err rn_topic_config_check(const char *name, const char *value, char *errmsg, size_t errlen) {
    const tc_row *r = find_row(name);
    if (!r) {
        if (errmsg) snprintf(errmsg, errlen, "unknown topic config '%s'", name);
        return RN_KAFKA_INVALID_CONFIG;
    }
    if (!value) return RN_KAFKA_NONE; /* deleting a value is always fine */
    if (r->type == TC_LONG || r->type == TC_INT) {
        int64_t v;
        if (parse_int64(value, &v) || v < r->min || v > r->max) {
            if (errmsg)
                snprintf(errmsg, errlen, "%s: '%s' is not a whole number from %lld to %lld", name,
                         value, (long long)r->min, (long long)r->max);
            return RN_KAFKA_INVALID_CONFIG;
        }
    }
    if (r->choices) {
        bool ok = false;
        for (int i = 0; r->choices[i] && !ok; i++) ok = strcmp(value, r->choices[i]) == 0;
        if (!ok) {
            if (errmsg) {
                if (!strcmp(name, "cleanup.policy") && strstr(value, "compact"))
                    snprintf(errmsg, errlen, "cleanup.policy=%s: log compaction is not "
                                             "supported yet", value);
                else if (!strcmp(name, "compression.type"))
                    snprintf(errmsg, errlen, "compression.type=%s: runnel stores batches as the "
                                             "producer sent them; use 'producer'", value);
                else
                    snprintf(errmsg, errlen, "%s: '%s' is not one of the allowed values", name,
                             value);
            }
            return RN_KAFKA_INVALID_CONFIG;
        }
        if (!strcmp(name, "compression.type") && strcmp(value, "producer") != 0) {
            if (errmsg)
                snprintf(errmsg, errlen, "compression.type=%s: runnel stores batches as the "
                                         "producer sent them; use 'producer'", value);
            return RN_KAFKA_INVALID_CONFIG;
        }
    }
    return RN_KAFKA_NONE;
}

const char *rn_topic_configs_get(const rn_topic_configs *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) return c->values[i];
    return NULL;
}

void rn_topic_config_resolve(const rn_topic_configs *c, const rn_engine_options *d,
                             rn_topic_settings *out) {
    int64_t v;
    const char *s;
    out->retention_ms = d->default_retention_ms;
    out->retention_bytes = d->default_retention_bytes;
    out->max_message_bytes = d->default_max_message_bytes;
    out->log_append_time = d->default_log_append_time;
    if ((s = rn_topic_configs_get(c, "retention.ms")) && !parse_int64(s, &v)) out->retention_ms = v;
    if ((s = rn_topic_configs_get(c, "retention.bytes")) && !parse_int64(s, &v))
        out->retention_bytes = v;
    if ((s = rn_topic_configs_get(c, "max.message.bytes")) && !parse_int64(s, &v))
        out->max_message_bytes = (int32_t)v;
    if ((s = rn_topic_configs_get(c, "message.timestamp.type")))
        out->log_append_time = strcmp(s, "LogAppendTime") == 0;
}

rn_err rn_topic_config_describe(const rn_topic_configs *c, const rn_engine_options *d,
                                rn_config_entry **out, int *count) {
    rn_config_entry *e = calloc(NROWS, sizeof *e);
    if (!e) return RN_ERR_NOMEM;
    for (int i = 0; i < NROWS; i++) {
        const char *v = rn_topic_configs_get(c, rows[i].name);
        char def[64];
        if (!v) broker_default(&rows[i], d, def, sizeof def);
        e[i].name = strdup(rows[i].name);
        e[i].value = strdup(v ? v : def);
        e[i].is_default = v == NULL;
        e[i].source = v ? RN_CONFIG_SOURCE_DYNAMIC_TOPIC
                        : rows[i].fixed_default ? RN_CONFIG_SOURCE_DEFAULT
                                                : RN_CONFIG_SOURCE_STATIC_BROKER;
        e[i].type = rows[i].type == TC_LONG ? 5 : rows[i].type == TC_INT ? 3
                    : rows[i].type == TC_LIST ? 7 : 2;
        e[i].doc = rows[i].doc;
        if (!e[i].name || !e[i].value) {
            rn_config_entries_free(e, NROWS);
            return RN_ERR_NOMEM;
        }
    }
    *out = e;
    *count = NROWS;
    return RN_KAFKA_NONE;
}

void rn_config_entries_free(rn_config_entry *entries, int count) {
    if (!entries) return;
    for (int i = 0; i < count; i++) {
        free(entries[i].name);
        free(entries[i].value);
    }
    free(entries);
}

int rn_topic_configs_set(rn_topic_configs *c, const char *name, const char *value) {
    for (int i = 0; i < c->n; i++) {
        if (strcmp(c->names[i], name) != 0) continue;
        if (!value) {
            free(c->names[i]);
            free(c->values[i]);
            c->names[i] = c->names[c->n - 1];
            c->values[i] = c->values[c->n - 1];
            c->n--;
            return 0;
        }
        char *v = strdup(value);
        if (!v) return -1;
        free(c->values[i]);
        c->values[i] = v;
        return 0;
    }
    if (!value) return 0;
    char **names = realloc(c->names, (size_t)(c->n + 1) * sizeof *names);
    if (!names) return -1;
    c->names = names;
    char **values = realloc(c->values, (size_t)(c->n + 1) * sizeof *values);
    if (!values) return -1;
    c->values = values;
    c->names[c->n] = strdup(name);
    c->values[c->n] = strdup(value);
    if (!c->names[c->n] || !c->values[c->n]) {
        free(c->names[c->n]);
        free(c->values[c->n]);
        return -1;
    }
    c->n++;
    return 0;
}

int rn_topic_configs_copy(rn_topic_configs *dst, const rn_topic_configs *src) {
    memset(dst, 0, sizeof *dst);
    for (int i = 0; i < src->n; i++)
        if (rn_topic_configs_set(dst, src->names[i], src->values[i])) {
            rn_topic_configs_free(dst);
            return -1;
        }
    return 0;
}

void rn_topic_configs_free(rn_topic_configs *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->names[i]);
        free(c->values[i]);
    }
    free(c->names);
    free(c->values);
    memset(c, 0, sizeof *c);
}
