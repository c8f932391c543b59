/* net/http_groups.c: consumer groups for the console:
 *   GET  /v1/groups        {"groups": [{"group_id", "state", "protocol_type", "members",
 *                          "partitions" (with a committed offset), "lag" (their sum)}]}
 *   GET  /v1/groups/<id>   {"group_id", "state", "protocol_type", "protocol",
 *                          "generation_id", "members": [{"member_id", "group_instance_id",
 *                          "client_id", "client_host", "subscription": [topic...] | null,
 *                          "assignment": [{"topic", "partitions": [...]}] | null}],
 *                          "offsets": [{"topic", "partition", "committed_offset" | null,
 *                          "log_start_offset", "high_watermark", "lag" | null,
 *                          "member_id" (who owns it now) | null, "metadata",
 *                          "commit_timestamp"}], "lag"}
 *   POST /v1/groups/<id>/offsets   an action: reset committed offsets of an empty group;
 *                          form topic=, partition= (default every partition of it),
 *                          offset=earliest|latest|<n> or timestamp=<ms>
 * <id> is percent-decoded. "offsets" lists every partition the group committed or a
 * member owns; lag is high watermark - committed offset (null while nothing is committed).
 * Subscriptions and assignments are decoded for the "consumer" protocol only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http_console.h"
#include "rnlog.h"

/* ---- the consumer protocol's member metadata ---------------------------------------------
 *
 * Subscription:  version i16 | topics: count i32, { len i16, bytes }... | ...
 * Assignment:    version i16 | count i32, { topic: len i16, bytes |
 *                                          partitions: count i32, { i32 }... }... | ...
 * Every version starts alike and is not flexible; what follows (user data, owned
 * partitions, rack) is not read. */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} reader;

#define R_NEED(r, n)                                                                       \
    do {                                                                                   \
        if ((r)->len - (r)->pos < (size_t)(n)) goto err_parse;                             \
    } while (0)
#define R_I16(r, v)                                                                        \
    do {                                                                                   \
        R_NEED(r, 2);                                                                      \
        (v) = (int16_t)((r)->p[(r)->pos] << 8 | (r)->p[(r)->pos + 1]);                    \
        (r)->pos += 2;                                                                     \
    } while (0)
#define R_I32(r, v)                                                                        \
    do {                                                                                   \
        R_NEED(r, 4);                                                                      \
        (v) = (int32_t)((uint32_t)(r)->p[(r)->pos] << 24 | (uint32_t)(r)->p[(r)->pos + 1] << 16 | \
                        (uint32_t)(r)->p[(r)->pos + 2] << 8 | (uint32_t)(r)->p[(r)->pos + 3]); \
        (r)->pos += 4;                                                                     \
    } while (0)
/* a count of items of at least `min` bytes each that must fit in what is left */
#define R_COUNT(r, v, min)                                                                 \
    do {                                                                                   \
        R_I32(r, v);                                                                       \
        if ((v) < 0 || (size_t)(v) > ((r)->len - (r)->pos) / (min)) goto err_parse;        \
    } while (0)
#define R_STR(r, s, n)                                                                     \
    do {                                                                                   \
        int16_t l_;                                                                        \
        R_I16(r, l_);                                                                      \
        if (l_ < 0) goto err_parse;                                                        \
        R_NEED(r, l_);                                                                     \
        (s) = (const char *)(r)->p + (r)->pos;                                             \
        (n) = (size_t)l_;                                                                  \
        (r)->pos += (size_t)l_;                                                            \
    } while (0)

typedef struct {
    char *topic;
    int32_t partition;
    int member; /* index into the description's members, -1: none */
    const rn_committed_offset *committed; /* NULL: none */
} slot;

typedef struct {
    slot *v;
    int n, cap;
} slots;

static slot *slot_find(slots *s, const char *topic, size_t tl, int32_t partition) {
    for (int i = 0; i < s->n; i++)
        if (s->v[i].partition == partition && strlen(s->v[i].topic) == tl &&
            memcmp(s->v[i].topic, topic, tl) == 0)
            return &s->v[i];
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 16;
        slot *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    char *t = strndup(topic, tl);
    if (!t) return NULL;
    s->v[s->n] = (slot){t, partition, -1, NULL};
    return &s->v[s->n++];
}

static void slots_free(slots *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i].topic);
    free(s->v);
}

static int slot_cmp(const void *a, const void *b) {
    const slot *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The subscription's topics as a JSON array (null when it does not parse). */
static void subscription_json(struct evbuffer *out, const uint8_t *p, size_t len) {
    reader rd = {p, len, 0}, *r = &rd;
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    int16_t version;
    int32_t n;
    R_I16(r, version);
    (void)version;
    R_COUNT(r, n, 2);
    RN_HTTP_LIT(b, "[");
    for (int32_t i = 0; i < n; i++) {
        const char *t;
        size_t tl;
        R_STR(r, t, tl);
        if (i) RN_HTTP_LIT(b, ", ");
        rn_http_json_text(b, (const uint8_t *)t, rn_http_utf8_valid((const uint8_t *)t, tl) ? tl : 0);
    }
    RN_HTTP_LIT(b, "]");
    evbuffer_add_buffer(out, b);
    evbuffer_free(b);
    return;
err_parse:
    RN_HTTP_LIT(out, "null");
    evbuffer_free(b);
}

/* The assignment as JSON (null when it does not parse); each partition goes into s as
 * owned by member. */
static void assignment_json(struct evbuffer *out, const uint8_t *p, size_t len, slots *s, int member) {
    reader rd = {p, len, 0}, *r = &rd;
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    int16_t version;
    int32_t nt;
    R_I16(r, version);
    (void)version;
    R_COUNT(r, nt, 6);
    RN_HTTP_LIT(b, "[");
    for (int32_t i = 0; i < nt; i++) {
        const char *t;
        size_t tl;
        int32_t np;
        R_STR(r, t, tl);
        R_COUNT(r, np, 4);
        if (!rn_topic_name_valid(t, tl)) goto err_parse;
        if (i) RN_HTTP_LIT(b, ", ");
        RN_HTTP_LIT(b, "{\"topic\": ");
        rn_http_json_text(b, (const uint8_t *)t, tl);
        RN_HTTP_LIT(b, ", \"partitions\": [");
        for (int32_t k = 0; k < np; k++) {
            int32_t part;
            R_I32(r, part);
            evbuffer_add_printf(b, "%s%d", k ? ", " : "", part);
            slot *sl = slot_find(s, t, tl, part);
            if (sl) sl->member = member;
        }
        RN_HTTP_LIT(b, "]}");
    }
    RN_HTTP_LIT(b, "]");
    evbuffer_add_buffer(out, b);
    evbuffer_free(b);
    return;
err_parse:
    RN_HTTP_LIT(out, "null");
    evbuffer_free(b);
}

static void str_or_null(struct evbuffer *b, const char *s) {
    if (s)
        rn_http_json_string(b, s);
    else
        RN_HTTP_LIT(b, "null");
}

/* Lag of one committed offset: -1 when none is committed or the partition is gone. */
static int64_t lag_of(rn_engine *e, const char *topic, int32_t partition, int64_t committed,
                      rn_partition_offsets *off) {
    rn_err err;
    rn_partition *p = rn_engine_partition(e, topic, partition, &err);
    if (!p || rn_partition_offsets_get(p, off) != 0) {
        off->log_start_offset = off->high_watermark = -1;
        return -1;
    }
    if (committed < 0) return -1;
    return off->high_watermark > committed ? off->high_watermark - committed : 0;
}

static bool group_exists(rn_coordinator *c, const char *id) {
    rn_group_listing *l;
    int n;
    bool found = false;
    if (rn_coordinator_list(c, &l, &n) != 0) return false;
    for (int i = 0; i < n && !found; i++) found = strcmp(l[i].group_id, id) == 0;
    rn_group_listings_free(l, n);
    return found;
}

static void list(struct evhttp_request *r, rn_engine *e) {
    rn_coordinator *c = rn_engine_coordinator(e);
    rn_group_listing *l;
    int n;
    if (rn_coordinator_list(c, &l, &n) != 0) {
        rn_http_json_error(r, 500, "cannot list groups");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rn_group_listings_free(l, n);
        return;
    }
    RN_HTTP_LIT(b, "{\"groups\": [");
    for (int g = 0; g < n; g++) {
        rn_group_description d;
        int members = 0;
        const char *state = l[g].state; /* states are static strings */
        if (rn_coordinator_describe(c, l[g].group_id, &d) == 0) {
            members = d.nmembers;
            state = d.state;
            rn_group_description_clear(&d);
        }
        int64_t lag = 0;
        int parts = 0;
        rn_committed_offset *offs;
        int no;
        if (rn_coordinator_committed_all(c, l[g].group_id, &offs, &no) == 0) {
            for (int i = 0; i < no; i++) {
                rn_partition_offsets off;
                int64_t v = lag_of(e, offs[i].topic, offs[i].partition, offs[i].offset, &off);
                if (offs[i].offset >= 0) parts++;
                if (v > 0) lag += v;
            }
            rn_committed_offsets_free(offs, no);
        }
        if (g) RN_HTTP_LIT(b, ",\n");
        RN_HTTP_LIT(b, "{\"group_id\": ");
        rn_http_json_string(b, l[g].group_id);
        evbuffer_add_printf(b, ", \"state\": \"%s\", \"protocol_type\": ", state);
        rn_http_json_string(b, l[g].protocol_type ? l[g].protocol_type : "");
        evbuffer_add_printf(b, ", \"members\": %d, \"partitions\": %d, \"lag\": %lld}", members, parts,
                            (long long)lag);
    }
    RN_HTTP_LIT(b, "]}\n");
    rn_http_json_reply(r, 200, b);
    evbuffer_free(b);
    rn_group_listings_free(l, n);
}

static void detail(struct evhttp_request *r, rn_engine *e, const char *id) {
    rn_coordinator *c = rn_engine_coordinator(e);
    if (!group_exists(c, id)) {
        rn_http_json_error(r, 404, "no group named '%.300s'", id);
        return;
    }
    rn_group_description d;
    if (rn_coordinator_describe(c, id, &d) != 0) {
        rn_http_json_error(r, 500, "cannot describe group '%.300s'", id);
        return;
    }
    rn_committed_offset *offs = NULL;
    int no = 0;
    if (rn_coordinator_committed_all(c, id, &offs, &no) != 0) no = 0;
    slots s = {0};
    struct evbuffer *b = evbuffer_new();
    if (!b) goto out;
    for (int i = 0; i < no; i++) {
        slot *sl = slot_find(&s, offs[i].topic, strlen(offs[i].topic), offs[i].partition);
        if (sl) sl->committed = &offs[i];
    }
    bool consumer = strcmp(d.protocol_type, "consumer") == 0;
    RN_HTTP_LIT(b, "{\"group_id\": ");
    rn_http_json_string(b, id);
    evbuffer_add_printf(b, ", \"state\": \"%s\", \"protocol_type\": ", d.state);
    rn_http_json_string(b, d.protocol_type);
    RN_HTTP_LIT(b, ", \"protocol\": ");
    rn_http_json_string(b, d.protocol_name);
    evbuffer_add_printf(b, ", \"generation_id\": %d, \"members\": [", d.generation_id);
    for (int m = 0; m < d.nmembers; m++) {
        const rn_member_description *md = &d.members[m];
        if (m) RN_HTTP_LIT(b, ",\n");
        RN_HTTP_LIT(b, "{\"member_id\": ");
        rn_http_json_string(b, md->member_id);
        RN_HTTP_LIT(b, ", \"group_instance_id\": ");
        str_or_null(b, md->group_instance_id);
        RN_HTTP_LIT(b, ", \"client_id\": ");
        str_or_null(b, md->client_id);
        RN_HTTP_LIT(b, ", \"client_host\": ");
        str_or_null(b, md->client_host);
        RN_HTTP_LIT(b, ", \"subscription\": ");
        if (consumer && md->metadata_len)
            subscription_json(b, md->metadata, md->metadata_len);
        else
            RN_HTTP_LIT(b, "null");
        RN_HTTP_LIT(b, ", \"assignment\": ");
        if (consumer && md->assignment_len)
            assignment_json(b, md->assignment, md->assignment_len, &s, m);
        else
            RN_HTTP_LIT(b, "null");
        RN_HTTP_LIT(b, "}");
    }
    RN_HTTP_LIT(b, "], \"offsets\": [");
    qsort(s.v, (size_t)s.n, sizeof *s.v, slot_cmp);
    int64_t total = 0;
    for (int i = 0; i < s.n; i++) {
        const slot *sl = &s.v[i];
        const rn_committed_offset *co = sl->committed;
        int64_t committed = co ? co->offset : -1;
        rn_partition_offsets off;
        int64_t lag = lag_of(e, sl->topic, sl->partition, committed, &off);
        if (lag > 0) total += lag;
        if (i) RN_HTTP_LIT(b, ",\n");
        RN_HTTP_LIT(b, "{\"topic\": ");
        rn_http_json_string(b, sl->topic);
        evbuffer_add_printf(b, ", \"partition\": %d, \"committed_offset\": ", sl->partition);
        if (committed >= 0) evbuffer_add_printf(b, "%lld", (long long)committed);
        else RN_HTTP_LIT(b, "null");
        evbuffer_add_printf(b, ", \"log_start_offset\": %lld, \"high_watermark\": %lld, \"lag\": ",
                            (long long)off.log_start_offset, (long long)off.high_watermark);
        if (lag >= 0) evbuffer_add_printf(b, "%lld", (long long)lag);
        else RN_HTTP_LIT(b, "null");
        RN_HTTP_LIT(b, ", \"member_id\": ");
        str_or_null(b, sl->member >= 0 ? d.members[sl->member].member_id : NULL);
        RN_HTTP_LIT(b, ", \"metadata\": ");
        str_or_null(b, co ? co->metadata : NULL);
        evbuffer_add_printf(b, ", \"commit_timestamp\": %lld}",
                            (long long)(co ? co->commit_timestamp : -1));
    }
    evbuffer_add_printf(b, "], \"lag\": %lld}\n", (long long)total);
    rn_http_json_reply(r, 200, b);
out:
    if (b) evbuffer_free(b);
    slots_free(&s);
    rn_committed_offsets_free(offs, no);
    rn_group_description_clear(&d);
}

/* Where a reset puts one partition: clamped into the log. */
static int64_t reset_target(rn_partition *p, const char *to, int64_t n, int64_t ts) {
    rn_partition_offsets off;
    if (rn_partition_offsets_get(p, &off) != 0) return -1;
    int64_t v = off.high_watermark;
    if (ts >= 0) {
        int64_t found, found_ts;
        if (rn_partition_offset_for_time(p, ts, &found, &found_ts) == 0 && found >= 0) v = found;
    } else if (strcmp(to, "earliest") == 0) {
        v = off.log_start_offset;
    } else if (strcmp(to, "latest") != 0) {
        v = n;
    }
    return v < off.log_start_offset ? off.log_start_offset : v > off.high_watermark ? off.high_watermark : v;
}

static void reset(struct evhttp_request *r, const rn_http_options *o, const char *id) {
    if (!rn_http_console_action(r, o)) return;
    struct evkeyvalq q;
    char err[512] = "";
    int code = 0;
    rn_offset_commit *entries = NULL;
    int n = 0;
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "the form does not parse");
        return;
    }
    const char *topic = evhttp_find_header(&q, "topic"), *to = evhttp_find_header(&q, "offset");
    int64_t partition = -1, number = -1, ts = -1;
    int has_ts = rn_http_param_int(&q, "timestamp", 0, INT64_MAX, &ts, err, sizeof err);
    if (has_ts < 0 || rn_http_param_int(&q, "partition", 0, INT32_MAX, &partition, err, sizeof err) < 0) {
        code = 400;
    } else if (!topic || !topic[0]) {
        code = 400;
        snprintf(err, sizeof err, "name the topic whose offsets to reset: topic=<name>");
    } else if ((to != NULL) == (has_ts == 1)) {
        code = 400;
        snprintf(err, sizeof err, "give offset=earliest|latest|<n> or timestamp=<ms>");
    } else if (to && strcmp(to, "earliest") != 0 && strcmp(to, "latest") != 0 &&
               rn_http_param_int(&q, "offset", 0, INT64_MAX, &number, err, sizeof err) < 0) {
        code = 400;
        snprintf(err, sizeof err, "offset must be earliest, latest or an offset >= 0, not '%.64s'", to);
    }
    rn_topic_meta *t = NULL;
    int nt = 0;
    if (!code) {
        const char *names[1] = {topic};
        if (rn_engine_topics(o->engine, names, 1, &t, &nt) != 0 || nt == 0) {
            code = 404;
            snprintf(err, sizeof err, "no topic named '%.300s'", topic);
        } else if (partition >= t[0].partition_count) {
            code = 404;
            snprintf(err, sizeof err, "topic '%.300s' has no partition %lld", topic, (long long)partition);
        }
    }
    rn_coordinator *c = rn_engine_coordinator(o->engine);
    rn_group_description d;
    if (!code && rn_coordinator_describe(c, id, &d) == 0) {
        if (d.nmembers > 0) {
            code = 409;
            snprintf(err, sizeof err,
                     "group '%.300s' has %d active member(s): stop its consumers before resetting "
                     "its offsets", id, d.nmembers);
        }
        rn_group_description_clear(&d);
    }
    if (!code && !(entries = calloc((size_t)t[0].partition_count, sizeof *entries))) {
        code = 500;
        snprintf(err, sizeof err, "out of memory");
    }
    for (int32_t i = 0; !code && i < t[0].partition_count; i++) {
        if (partition >= 0 && i != partition) continue;
        rn_err e;
        rn_partition *p = rn_engine_partition(o->engine, topic, i, &e);
        int64_t v = p ? reset_target(p, to ? to : "", number, has_ts == 1 ? ts : -1) : -1;
        if (v < 0) continue;
        entries[n++] = (rn_offset_commit){.topic = topic, .partition = i, .offset = v, .leader_epoch = -1};
    }
    if (!code) {
        rn_err e = rn_coordinator_commit(c, id, -1, "", NULL, entries, n);
        for (int i = 0; !e && i < n; i++) e = entries[i].error;
        if (e) {
            code = e == RN_KAFKA_INVALID_GROUP_ID ? 400 : e == RN_KAFKA_KAFKA_STORAGE_ERROR ? 500 : 409;
            snprintf(err, sizeof err, "the group refused the new offsets: %s", rn_err_name(e));
        } else {
            rn_log_info("http: offsets of group %s on %s reset (%d partition(s))", id, topic, n);
        }
    }
    if (code)
        rn_http_json_error(r, code, "%s", err);
    else
        detail(r, o->engine, id);
    free(entries);
    if (t) rn_topic_meta_free(t, nt);
    evhttp_clear_headers(&q);
}

void rn_http_groups(struct evhttp_request *r, const rn_http_options *o, const char *rest) {
    char *seg[2];
    int n = rn_http_segments(rest, seg, 2);
    if (n < 0) {
        rn_http_json_error(r, 404, "no such path: /v1/groups[/<id>[/offsets]]");
        return;
    }
    if (n == 0) {
        if (rn_http_console_readonly(r)) list(r, o->engine);
    } else if (n == 1) {
        if (rn_http_console_readonly(r)) detail(r, o->engine, seg[0]);
    } else if (strcmp(seg[1], "offsets") == 0) {
        if (evhttp_request_get_command(r) == EVHTTP_REQ_POST)
            reset(r, o, seg[0]);
        else
            rn_http_json_error(r, 405, "POST to reset the group's offsets");
    } else {
        rn_http_json_error(r, 404, "no such path: /v1/groups/<id>[/offsets]");
    }
    rn_http_segments_free(seg, n);
}
