/* net/http_topics.c: topics for the console:
 *   GET  /v1/topics          {"topics": [summary...]}
 *   GET  /v1/topics/<name>   summary + "partitions": [{"partition", "leader", "leader_epoch",
 *                            "log_start_offset", "high_watermark", "log_end_offset",
 *                            "size_bytes", "records"}], "configs": [{"name", "value",
 *                            "default", "source", "read_only", "sensitive", "hook", "doc"}]
 *   GET  /v1/topics/<name>/records   the message browser (http_records.c)
 *   POST /v1/topics          an action: create; form name=, partitions= (default
 *                            num.partitions), config.<key>=<value>...; 201 and the topic
 * A summary is {"name", "topic_id" (base64url, as Kafka prints ids), "partition_count",
 * "view_of", "hooks": {"partitioner", "produce_filter", "view_filter"} (script names or
 * null), "records" (stored: high watermark - log start, summed), "records_in" (log end
 * offsets summed), "log_size_bytes"}. A view shows its source's partitions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "http_console.h"
#include "topic_config.h"

static void json_or_null(struct evbuffer *b, const char *s) {
    if (s)
        rn_http_json_string(b, s);
    else
        RN_HTTP_LIT(b, "null");
}

/* The summary's fields (no braces); with partitions, the detail's partition list too. */
static void topic_json(struct evbuffer *b, rn_engine *e, const rn_topic_meta *t, bool partitions) {
    rn_topic_hooks h;
    bool hooked = rn_engine_topic_hooks(e, t->name, &h) == 0;
    RN_HTTP_LIT(b, "\"name\": ");
    rn_http_json_string(b, t->name);
    RN_HTTP_LIT(b, ", \"topic_id\": ");
    rn_http_json_base64(b, t->topic_id, sizeof t->topic_id, true);
    evbuffer_add_printf(b, ", \"partition_count\": %d, \"view_of\": ", t->partition_count);
    json_or_null(b, hooked ? h.view_of : NULL);
    RN_HTTP_LIT(b, ", \"hooks\": {\"partitioner\": ");
    json_or_null(b, hooked ? h.partitioner_script : NULL);
    RN_HTTP_LIT(b, ", \"produce_filter\": ");
    json_or_null(b, hooked ? h.produce_filter_script : NULL);
    RN_HTTP_LIT(b, ", \"view_filter\": ");
    json_or_null(b, hooked ? h.view_filter_script : NULL);
    RN_HTTP_LIT(b, "}");
    if (hooked) rn_topic_hooks_free(&h);

    int64_t records = 0, records_in = 0, size = 0;
    struct evbuffer *parts = partitions ? evbuffer_new() : NULL;
    for (int32_t i = 0; i < t->partition_count; i++) {
        rn_err err;
        rn_partition *p = rn_engine_partition(e, t->name, i, &err);
        rn_partition_offsets off;
        if (!p || rn_partition_offsets_get(p, &off) != 0) continue;
        records += off.high_watermark - off.log_start_offset;
        records_in += off.log_end_offset;
        size += off.size_bytes;
        if (parts)
            evbuffer_add_printf(parts,
                                "%s{\"partition\": %d, \"leader\": %d, \"leader_epoch\": %d, "
                                "\"log_start_offset\": %lld, \"high_watermark\": %lld, "
                                "\"log_end_offset\": %lld, \"size_bytes\": %lld, \"records\": %lld}",
                                evbuffer_get_length(parts) ? ", " : "", i, rn_engine_node_id(e),
                                off.leader_epoch, (long long)off.log_start_offset,
                                (long long)off.high_watermark, (long long)off.log_end_offset,
                                (long long)off.size_bytes,
                                (long long)(off.high_watermark - off.log_start_offset));
    }
    evbuffer_add_printf(b, ", \"records\": %lld, \"records_in\": %lld, \"log_size_bytes\": %lld",
                        (long long)records, (long long)records_in, (long long)size);
    if (parts) {
        RN_HTTP_LIT(b, ", \"partitions\": [");
        evbuffer_add_buffer(b, parts);
        RN_HTTP_LIT(b, "]");
        evbuffer_free(parts);
    }
}

static const char *source_name(int8_t s) {
    return s == RN_CONFIG_SOURCE_DYNAMIC_TOPIC   ? "topic"
           : s == RN_CONFIG_SOURCE_STATIC_BROKER ? "broker"
                                                 : "default";
}

static void configs_json(struct evbuffer *b, rn_engine *e, const char *topic) {
    rn_config_entry *c;
    int n;
    RN_HTTP_LIT(b, ", \"configs\": [");
    if (rn_engine_describe_topic_configs(e, topic, &c, &n) == 0) {
        for (int i = 0; i < n; i++) {
            /* Hooks: the configs that name a Lua script, and view.of, which makes a view. */
            bool hook = rn_topic_config_script_fn(c[i].name) || strcmp(c[i].name, "view.of") == 0;
            if (i) RN_HTTP_LIT(b, ", ");
            RN_HTTP_LIT(b, "{\"name\": ");
            rn_http_json_string(b, c[i].name);
            RN_HTTP_LIT(b, ", \"value\": ");
            json_or_null(b, c[i].sensitive ? NULL : c[i].value);
            evbuffer_add_printf(b,
                                ", \"default\": %s, \"source\": \"%s\", \"read_only\": %s, "
                                "\"sensitive\": %s, \"hook\": %s, \"doc\": ",
                                c[i].is_default ? "true" : "false", source_name(c[i].source),
                                c[i].read_only ? "true" : "false", c[i].sensitive ? "true" : "false",
                                hook ? "true" : "false");
            json_or_null(b, c[i].doc);
            RN_HTTP_LIT(b, "}");
        }
        rn_config_entries_free(c, n);
    }
    RN_HTTP_LIT(b, "]");
}

static void list(struct evhttp_request *r, rn_engine *e) {
    rn_topic_meta *t;
    int n;
    if (rn_engine_topics(e, NULL, 0, &t, &n) != 0) {
        rn_http_json_error(r, 500, "cannot list topics");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b) {
        RN_HTTP_LIT(b, "{\"topics\": [");
        for (int i = 0; i < n; i++) {
            if (i) RN_HTTP_LIT(b, ",\n");
            RN_HTTP_LIT(b, "{");
            topic_json(b, e, &t[i], false);
            RN_HTTP_LIT(b, "}");
        }
        RN_HTTP_LIT(b, "]}\n");
        rn_http_json_reply(r, 200, b);
        evbuffer_free(b);
    }
    rn_topic_meta_free(t, n);
}

static void detail(struct evhttp_request *r, rn_engine *e, const char *name, int code) {
    rn_topic_meta *t;
    int n;
    const char *names[1] = {name};
    if (rn_engine_topics(e, names, 1, &t, &n) != 0) {
        rn_http_json_error(r, 500, "cannot read topic %.300s", name);
        return;
    }
    if (n == 0) {
        rn_topic_meta_free(t, n);
        rn_http_json_error(r, 404, "no topic named '%.300s'", name);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b) {
        RN_HTTP_LIT(b, "{");
        topic_json(b, e, &t[0], true);
        configs_json(b, e, name);
        RN_HTTP_LIT(b, "}\n");
        rn_http_json_reply(r, code, b);
        evbuffer_free(b);
    }
    rn_topic_meta_free(t, n);
}

static void create(struct evhttp_request *r, const rn_http_options *o) {
    if (!rn_http_console_action(r, o)) return;
    struct evkeyvalq q;
    char err[1024] = "";
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "the form does not parse");
        return;
    }
    const char *name = evhttp_find_header(&q, "name");
    int64_t partitions = -1;
    int nconfigs = 0;
    for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
        nconfigs += strncmp(kv->key, "config.", 7) == 0;
    rn_config_kv *configs = calloc((size_t)nconfigs + 1, sizeof *configs);
    int code = 0;
    if (!name || !name[0]) {
        code = 400;
        snprintf(err, sizeof err, "name the topic: name=<topic>");
    } else if (rn_http_param_int(&q, "partitions", 1, 100000, &partitions, err, sizeof err) < 0) {
        code = 400;
    } else if (!configs) {
        code = 500;
        snprintf(err, sizeof err, "out of memory");
    }
    if (!code) {
        int i = 0;
        for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
            if (strncmp(kv->key, "config.", 7) == 0)
                configs[i++] = (rn_config_kv){kv->key + 7, kv->value};
        rn_err e = rn_engine_create_topic(o->engine, name, (int32_t)partitions, configs, nconfigs,
                                          false, err, sizeof err);
        if (e == RN_KAFKA_TOPIC_ALREADY_EXISTS) code = 409;
        else if (e == RN_KAFKA_INVALID_TOPIC_EXCEPTION || e == RN_KAFKA_INVALID_PARTITIONS ||
                 e == RN_KAFKA_INVALID_CONFIG)
            code = 400;
        else if (e) code = 500;
        if (e && !err[0]) snprintf(err, sizeof err, "%s", rn_err_name(e));
    }
    if (code)
        rn_http_json_error(r, code, "%s", err);
    else
        detail(r, o->engine, name, 201);
    free(configs);
    evhttp_clear_headers(&q);
}

void rn_http_topics(struct evhttp_request *r, const rn_http_options *o, const char *rest) {
    char *seg[3];
    int n = rn_http_segments(rest, seg, 3);
    if (n < 0) {
        rn_http_json_error(r, 404, "no such path: /v1/topics[/<name>[/records]]");
        return;
    }
    if (n == 0) {
        if (evhttp_request_get_command(r) == EVHTTP_REQ_POST)
            create(r, o);
        else if (rn_http_console_readonly(r))
            list(r, o->engine);
    } else if (!rn_topic_name_valid(seg[0], strlen(seg[0]))) {
        rn_http_json_error(r, 404, "no topic named '%.300s' (not a valid topic name)", seg[0]);
    } else if (n == 1) {
        if (rn_http_console_readonly(r)) detail(r, o->engine, seg[0], 200);
    } else if (n == 2 && strcmp(seg[1], "records") == 0) {
        if (rn_http_console_readonly(r)) rn_http_records(r, o, seg[0]);
    } else {
        rn_http_json_error(r, 404, "no such path: /v1/topics/<name>[/records]");
    }
    rn_http_segments_free(seg, n);
}
