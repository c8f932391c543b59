/* engine/topic_config.c: the one table of topic configs. Each row knows its name, type,
 * bounds or allowed values, its default (the broker's setting where Kafka takes one from
 * the broker, a constant otherwise), the field of rn_topic_settings it resolves into,
 * and its doc. Validation, resolution and DescribeConfigs all read the rows; nothing
 * else in runnel names a topic config. */
#include "topic_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    TC_LONG,   /* int64_t */
    TC_INT,    /* int32_t */
    TC_STRING, /* one of choices */
    TC_FLAG,   /* one of two choices; the second sets a bool */
    TC_LIST,   /* comma-separated, each one of choices */
    TC_TEXT,   /* any text up to 1024 bytes (script names, fields, values) */
} tc_type;

#define NO_FIELD ((size_t)-1)
#define BROKER(f) offsetof(rn_engine_options, f)
#define SETTING(f) offsetof(rn_topic_settings, f)

typedef struct {
    const char *name;
    tc_type type;
    int64_t min, max;           /* TC_LONG, TC_INT */
    const char *const *choices; /* NULL-terminated; TC_STRING, TC_FLAG, TC_LIST */
    const char *fixed_default;  /* NULL: the broker's, at broker_field */
    size_t broker_field;        /* in rn_engine_options, same C type as the row */
    size_t setting_field;       /* in rn_topic_settings, or NO_FIELD: stored only */
    const char *rejected;       /* why a value outside choices is refused, or NULL */
    const char *doc;
    const char *script_fn;      /* a Lua script that must define this function, or NULL */
    bool create_only;           /* settable when the topic is created, never altered */
} tc_row;

static const char *const cleanup_choices[] = {"delete", NULL};
static const char *const timestamp_choices[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const compression_choices[] = {"producer", NULL};

static const tc_row rows[] = {
    {"cleanup.policy", TC_LIST, 0, 0, cleanup_choices, "delete", NO_FIELD, NO_FIELD,
     "log compaction is not supported yet; 'delete' is",
     "delete: old batches go by retention.ms and retention.bytes ('compact' is not "
     "supported yet)", NULL, false},
    {"compression.type", TC_STRING, 0, 0, compression_choices, "producer", NO_FIELD, NO_FIELD,
     "runnel stores batches as the producer compressed them; only 'producer' is supported",
     "batches are stored as the producer compressed them", NULL, false},
    {"max.message.bytes", TC_INT, 0, INT32_MAX, NULL, NULL, BROKER(default_max_message_bytes),
     SETTING(max_message_bytes), NULL, "the largest record batch the topic accepts", NULL, false},
    {"message.timestamp.type", TC_FLAG, 0, 0, timestamp_choices, NULL,
     BROKER(default_log_append_time), SETTING(log_append_time), NULL,
     "CreateTime keeps producer timestamps; LogAppendTime stamps batches on append", NULL, false},
    /* Its default is the cluster's min.insync.replicas (net/cluster.h), which the engine
     * does not know: "1" is a single broker's; Produce asks rn_topic_config_min_insync_replicas. */
    {"min.insync.replicas", TC_INT, 1, INT32_MAX, NULL, "1", NO_FIELD, NO_FIELD, NULL,
     "in-sync replicas that must have a write for acks=all (-1) to succeed; a single broker "
     "has one", NULL, false},
    {"retention.bytes", TC_LONG, -1, INT64_MAX, NULL, NULL, BROKER(default_retention_bytes),
     SETTING(retention_bytes), NULL,
     "per partition: oldest batches are removed past this size; -1 unlimited", NULL, false},
    {"retention.ms", TC_LONG, -1, INT64_MAX, NULL, NULL, BROKER(default_retention_ms),
     SETTING(retention_ms), NULL, "batches older than this are removed; -1 forever", NULL, false},
    {"segment.bytes", TC_INT, 14, INT32_MAX, NULL, "1073741824", NO_FIELD, NO_FIELD, NULL,
     "accepted and stored for compatibility; runnel has no segments, so it has no effect", NULL, false},
    {"segment.ms", TC_LONG, 1, INT64_MAX, NULL, "604800000", NO_FIELD, NO_FIELD, NULL,
     "accepted and stored for compatibility; runnel has no segments, so it has no effect", NULL, false},
    /* Lua hooks (plugins/): scripts are paths relative to plugins.dir. */
    {"partitioner.script", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "a Lua script whose partition(record, count, config) places every record produced to "
     "the topic, whatever partition the client chose", "partition", false},
    {"partitioner.field", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "the JSON field partitioners/json_field.lua hashes", NULL, false},
    {"produce.filter.script", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "a Lua script whose filter(record, config) keeps, drops, rewrites or rejects every record "
     "produced to the topic", "filter", false},
    {"produce.filter.fields", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "comma-separated JSON fields for the produce filter (required or redacted fields)", NULL,
     false},
    {"view.of", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "makes the topic a read-only view of this source topic: its partitions and offsets, "
     "only the records view.filter.script keeps", NULL, true},
    {"view.filter.script", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "the Lua script whose filter(record, config) selects a view's records", "filter", false},
    {"view.filter.field", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "the JSON field filters/field_equals.lua compares", NULL, false},
    {"view.filter.value", TC_TEXT, 0, 0, NULL, "", NO_FIELD, NO_FIELD, NULL,
     "the value filters/field_equals.lua keeps", NULL, false},
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

#define ERRMSG(...)                                                                       \
    do {                                                                                  \
        if (errmsg) snprintf(errmsg, errlen, __VA_ARGS__);                                 \
    } while (0)

static const tc_row *find_row(const char *name) {
    for (int i = 0; i < NROWS; i++)
        if (strcmp(rows[i].name, name) == 0) return &rows[i];
    return NULL;
}

static int parse_int64(const char *s, int64_t *v) {
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *v = x;
    return 0;
}

static int choice_index(const tc_row *r, const char *s, size_t len) {
    for (int i = 0; r->choices[i]; i++)
        if (strlen(r->choices[i]) == len && memcmp(r->choices[i], s, len) == 0) return i;
    return -1;
}

/* The row's default as text: its constant, or the broker setting it falls back to. */
static void row_default(const tc_row *r, const rn_engine_options *d, char *buf, size_t len) {
    const char *base = (const char *)d;
    if (r->fixed_default || r->broker_field == NO_FIELD) {
        snprintf(buf, len, "%s", r->fixed_default ? r->fixed_default : "");
    } else if (r->type == TC_LONG) {
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)(base + r->broker_field));
    } else if (r->type == TC_INT) {
        snprintf(buf, len, "%d", *(const int32_t *)(base + r->broker_field));
    } else { /* TC_FLAG */
        snprintf(buf, len, "%s", r->choices[*(const bool *)(base + r->broker_field) ? 1 : 0]);
    }
}

const char *rn_topic_config_script_fn(const char *name) {
    const tc_row *r = find_row(name);
    return r ? r->script_fn : NULL;
}

bool rn_topic_config_create_only(const char *name) {
    const tc_row *r = find_row(name);
    return r && r->create_only;
}

rn_err rn_topic_config_check(const char *name, const char *value, char *errmsg, size_t errlen) {
    const tc_row *r = find_row(name);
    if (!r) {
        ERRMSG("unknown topic config '%s'", name);
        return RN_KAFKA_INVALID_CONFIG;
    }
    if (!value) return RN_KAFKA_NONE; /* back to the default: always fine */
    if (r->type == TC_TEXT) {
        if (strlen(value) > 1024) {
            ERRMSG("%s: the value is longer than 1024 bytes", name);
            return RN_KAFKA_INVALID_CONFIG;
        }
        return RN_KAFKA_NONE;
    }
    if (r->type == TC_LONG || r->type == TC_INT) {
        int64_t v;
        if (parse_int64(value, &v) || v < r->min || v > r->max) {
            ERRMSG("%s: '%s' is not a whole number from %lld to %lld", name, value,
                   (long long)r->min, (long long)r->max);
            return RN_KAFKA_INVALID_CONFIG;
        }
        return RN_KAFKA_NONE;
    }
    /* One choice, or for a list one or more separated by commas. */
    const char *p = value;
    do {
        const char *comma = r->type == TC_LIST ? strchr(p, ',') : NULL;
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (choice_index(r, p, n) < 0) {
            if (r->rejected)
                ERRMSG("%s=%s: %s", name, value, r->rejected);
            else
                ERRMSG("%s: '%s' is not one of the allowed values", name, value);
            return RN_KAFKA_INVALID_CONFIG;
        }
        p = comma ? comma + 1 : NULL;
    } while (p);
    return RN_KAFKA_NONE;
}

void rn_topic_config_resolve(const rn_topic_configs *c, const rn_engine_options *d,
                             rn_topic_settings *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < NROWS; i++) {
        const tc_row *r = &rows[i];
        if (r->setting_field == NO_FIELD) continue;
        char def[64];
        const char *v = rn_topic_configs_get(c, r->name);
        if (!v) {
            row_default(r, d, def, sizeof def);
            v = def;
        }
        char *field = (char *)out + r->setting_field;
        int64_t x;
        if (r->type == TC_FLAG)
            *(bool *)field = choice_index(r, v, strlen(v)) == 1;
        else if (parse_int64(v, &x) != 0)
            continue; /* checked on the way in; cannot happen */
        else if (r->type == TC_LONG)
            *(int64_t *)field = x;
        else
            *(int32_t *)field = (int32_t)x;
    }
}

rn_err rn_topic_config_describe(const rn_topic_configs *c, const rn_engine_options *d,
                                rn_config_entry **out, int *count) {
    static const int8_t wire_type[] = {[TC_LONG] = 5, [TC_INT] = 3, [TC_STRING] = 2,
                                       [TC_FLAG] = 2, [TC_LIST] = 7, [TC_TEXT] = 2};
    rn_config_entry *e = calloc(NROWS, sizeof *e);
    if (!e) return RN_ERR_NOMEM;
    for (int i = 0; i < NROWS; i++) {
        const tc_row *r = &rows[i];
        const char *v = rn_topic_configs_get(c, r->name);
        char def[64];
        if (!v) row_default(r, d, def, sizeof def);
        e[i].name = strdup(r->name);
        e[i].value = strdup(v ? v : def);
        e[i].is_default = v == NULL;
        e[i].source = v                  ? RN_CONFIG_SOURCE_DYNAMIC_TOPIC
                      : r->fixed_default ? RN_CONFIG_SOURCE_DEFAULT
                                         : RN_CONFIG_SOURCE_STATIC_BROKER;
        e[i].type = wire_type[r->type];
        e[i].doc = r->doc;
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

/* ---- a topic's explicit configs ------------------------------------------------------ */

int32_t rn_topic_config_min_insync_replicas(const rn_config_entry *entries, int count) {
    for (int i = 0; i < count; i++) {
        int64_t v;
        if (!entries[i].is_default && strcmp(entries[i].name, "min.insync.replicas") == 0 &&
            parse_int64(entries[i].value, &v) == 0 && v >= 1 && v <= INT32_MAX)
            return (int32_t)v;
    }
    return 0;
}

const char *rn_topic_configs_get(const rn_topic_configs *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->names[i], name) == 0) return c->values[i];
    return NULL;
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

/* ---- altering ------------------------------------------------------------------------ */

/* current with item added (append) or every copy of it removed; malloc'd, "" for none. */
static char *list_edit(const char *current, const char *item, bool append) {
    size_t cap = (current ? strlen(current) : 0) + strlen(item) + 2, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    bool present = false;
    for (const char *p = current; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        bool same = len == strlen(item) && memcmp(p, item, len) == 0;
        present |= same;
        if (len && (append || !same)) {
            if (n) out[n++] = ',';
            memcpy(out + n, p, len);
            n += len;
        }
        p = comma ? comma + 1 : NULL;
    }
    if (append && !present && *item) {
        if (n) out[n++] = ',';
        memcpy(out + n, item, strlen(item));
        n += strlen(item);
    }
    out[n] = 0;
    return out;
}

rn_err rn_topic_configs_apply(rn_topic_configs *c, const rn_config_alter *ops, int nops,
                              bool incremental, char *errmsg, size_t errlen) {
    for (int i = 0; i < nops; i++) {
        const rn_config_alter *op = &ops[i];
        const tc_row *r = find_row(op->name);
        const char *value = op->value;
        char *edited = NULL;
        if (!r) {
            ERRMSG("unknown topic config '%s'", op->name);
            return RN_KAFKA_INVALID_CONFIG;
        }
        if (!incremental || op->op == RN_CONFIG_SET) {
            if (!value && !incremental) continue; /* AlterConfigs: null leaves it unset */
        } else if (op->op == RN_CONFIG_DELETE) {
            value = NULL;
        } else if (op->op == RN_CONFIG_APPEND || op->op == RN_CONFIG_SUBTRACT) {
            if (r->type != TC_LIST) {
                ERRMSG("%s is not a list config: APPEND and SUBTRACT apply to lists", op->name);
                return RN_KAFKA_INVALID_CONFIG;
            }
            edited = list_edit(rn_topic_configs_get(c, op->name), value ? value : "",
                               op->op == RN_CONFIG_APPEND);
            if (!edited) return RN_ERR_NOMEM;
            value = *edited ? edited : NULL; /* an emptied list goes back to the default */
        } else {
            ERRMSG("unknown config operation %d on %s", op->op, op->name);
            return RN_KAFKA_INVALID_REQUEST;
        }
        rn_err err = rn_topic_config_check(op->name, value, errmsg, errlen);
        if (!err && rn_topic_configs_set(c, op->name, value)) err = RN_ERR_NOMEM;
        free(edited);
        if (err) return err;
    }
    return RN_KAFKA_NONE;
}
