/* net/http.c: the broker's HTTP endpoint (libevent's evhttp on http.listener, served on
 * the main thread's loop): /health and /ready for probes, /metrics in Prometheus text
 * format, and a JSON admin path for what Kafka's protocol has no API for (/v1/plugins,
 * POST /v1/plugins/reload, /v1/processors in http_processors.c). Everything it shows is
 * read on demand from the server's counters, the engine, the plugin host and the
 * processors; it keeps no state of its own. */
#include "http.h"

#include "cluster.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "http_console.h"
#include "http_internal.h"
#include "group.h"
#include "rnlog.h"

struct rn_http {
    struct evhttp *http;
    rn_http_options opts;
    int port;
    int64_t started_ms; /* CLOCK_MONOTONIC: the console's uptime */
};

void rn_http_reply(struct evhttp_request *r, int code, const char *type, struct evbuffer *body) {
    evhttp_add_header(evhttp_request_get_output_headers(r), "Content-Type", type);
    evhttp_send_reply(r, code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Error", body);
}

void rn_http_text(struct evhttp_request *r, int code, const char *msg) {
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_printf(b, "%s\n", msg);
    rn_http_reply(r, code, "text/plain; charset=utf-8", b);
    evbuffer_free(b);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void label(struct evbuffer *b, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"') evbuffer_add_printf(b, "\\%c", *s);
        else if (*s == '\n') evbuffer_add(b, "\\n", 2);
        else evbuffer_add(b, s, 1);
    }
}

void rn_http_json_string(struct evbuffer *b, const char *s) {
    evbuffer_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') evbuffer_add_printf(b, "\\%c", ch);
        else if (ch < 0x20) evbuffer_add_printf(b, "\\u%04x", ch);
        else evbuffer_add(b, s, 1);
    }
    evbuffer_add(b, "\"", 1);
}

static void help(struct evbuffer *b, const char *name, const char *type, const char *doc) {
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, doc, name, type);
}

static void metrics_requests(struct evbuffer *b, rn_metrics *m) {
    help(b, "runnel_requests_total", "counter", "Kafka requests answered, by API.");
    for (int k = 0; k < RN_METRICS_API_MAX; k++) {
        const rn_api *api = rn_api_find((int16_t)k);
        if (api)
            evbuffer_add_printf(b, "runnel_requests_total{api=\"%s\"} %llu\n", api->name,
                                (unsigned long long)atomic_load(&m->api[k].requests));
    }
    help(b, "runnel_response_errors_total", "counter",
         "Kafka error codes carried by responses, by API (error=\"-1\" is UNKNOWN_SERVER_ERROR).");
    for (int k = 0; k < RN_METRICS_API_MAX; k++) {
        const rn_api *api = rn_api_find((int16_t)k);
        if (!api) continue;
        for (int c = 0; c < RN_METRICS_ERROR_MAX; c++) {
            uint64_t n = atomic_load(&m->api[k].errors[c]);
            if (n)
                evbuffer_add_printf(b, "runnel_response_errors_total{api=\"%s\",error=\"%d\"} %llu\n",
                                    api->name, c == 0 ? -1 : c, (unsigned long long)n);
        }
    }
    help(b, "runnel_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer, by API.");
    for (int k = 0; k < RN_METRICS_API_MAX; k++) {
        const rn_api *api = rn_api_find((int16_t)k);
        if (!api) continue;
        uint64_t cum = 0;
        for (int i = 0; i < RN_METRICS_BUCKETS; i++) {
            cum += atomic_load(&m->api[k].bucket[i]);
            if (i == RN_METRICS_BUCKETS - 1)
                evbuffer_add_printf(b, "runnel_request_duration_seconds_bucket{api=\"%s\",le=\"+Inf\"} %llu\n",
                                    api->name, (unsigned long long)cum);
            else
                evbuffer_add_printf(b, "runnel_request_duration_seconds_bucket{api=\"%s\",le=\"%g\"} %llu\n",
                                    api->name, (double)rn_metrics_bucket_us[i] / 1e6,
                                    (unsigned long long)cum);
        }
        evbuffer_add_printf(b, "runnel_request_duration_seconds_sum{api=\"%s\"} %.6f\n", api->name,
                            (double)atomic_load(&m->api[k].sum_us) / 1e6);
        evbuffer_add_printf(b, "runnel_request_duration_seconds_count{api=\"%s\"} %llu\n", api->name,
                            (unsigned long long)cum);
    }
    const struct {
        const char *name, *doc;
        _Atomic uint64_t *v;
    } counters[] = {
        {"runnel_bytes_in_total", "Bytes of Kafka requests received.", &m->bytes_in},
        {"runnel_bytes_out_total", "Bytes of Kafka responses sent.", &m->bytes_out},
        {"runnel_connections_opened_total", "Client connections accepted.", &m->connections_opened},
        {"runnel_connections_closed_total", "Client connections closed.", &m->connections_closed},
        {"runnel_malformed_requests_total", "Requests that did not parse (connection closed).",
         &m->malformed_requests},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        help(b, counters[i].name, "counter", counters[i].doc);
        evbuffer_add_printf(b, "%s %llu\n", counters[i].name,
                            (unsigned long long)atomic_load(counters[i].v));
    }
}

static void metrics_partitions(struct evbuffer *b, rn_engine *e) {
    rn_topic_meta *topics;
    int n;
    if (rn_engine_topics(e, NULL, 0, &topics, &n) != 0) return;
    static const char *const names[] = {"runnel_partition_log_start_offset",
                                        "runnel_partition_high_watermark",
                                        "runnel_partition_log_end_offset",
                                        "runnel_partition_size_bytes"};
    static const char *const docs[] = {"First offset still stored.",
                                       "Offset up to which records are durable and served.",
                                       "Offset the next record will get.",
                                       "Bytes of record batches stored."};
    for (int f = 0; f < 4; f++) {
        help(b, names[f], "gauge", docs[f]);
        for (int t = 0; t < n; t++) {
            rn_topic_hooks hooks;
            bool view = rn_engine_topic_hooks(e, topics[t].name, &hooks) == 0 && hooks.view_of;
            rn_topic_hooks_free(&hooks);
            if (view) continue; /* a view's partitions are its source's */
            for (int32_t i = 0; i < topics[t].partition_count; i++) {
                rn_err err;
                rn_partition *p = rn_engine_partition(e, topics[t].name, i, &err);
                rn_partition_offsets off;
                if (!p || rn_partition_offsets_get(p, &off) != 0) continue;
                int64_t v = f == 0 ? off.log_start_offset : f == 1 ? off.high_watermark
                          : f == 2 ? off.log_end_offset : off.size_bytes;
                evbuffer_add_printf(b, "%s{topic=\"%s\",partition=\"%d\"} %lld\n", names[f],
                                    topics[t].name, i, (long long)v);
            }
        }
    }
    rn_topic_meta_free(topics, n);
}

static void metrics_groups(struct evbuffer *b, rn_engine *e) {
    rn_coordinator *c = rn_engine_coordinator(e);
    rn_group_listing *groups;
    int n;
    if (rn_coordinator_list(c, &groups, &n) != 0) return;
    help(b, "runnel_group_members", "gauge", "Members of a consumer group.");
    for (int g = 0; g < n; g++) {
        rn_group_description d;
        if (rn_coordinator_describe(c, groups[g].group_id, &d) != 0) continue;
        evbuffer_add(b, "runnel_group_members{group=\"", 28);
        label(b, groups[g].group_id);
        evbuffer_add_printf(b, "\",state=\"%s\"} %d\n", d.state, d.nmembers);
        rn_group_description_clear(&d);
    }
    help(b, "runnel_group_lag", "gauge",
         "High watermark minus the group's committed offset, per partition it committed.");
    for (int g = 0; g < n; g++) {
        rn_committed_offset *offs;
        int no;
        if (rn_coordinator_committed_all(c, groups[g].group_id, &offs, &no) != 0) continue;
        for (int i = 0; i < no; i++) {
            rn_err err;
            rn_partition *p = rn_engine_partition(e, offs[i].topic, offs[i].partition, &err);
            rn_partition_offsets off;
            if (!p || rn_partition_offsets_get(p, &off) != 0 || offs[i].offset < 0) continue;
            int64_t lag = off.high_watermark - offs[i].offset;
            evbuffer_add(b, "runnel_group_lag{group=\"", 24);
            label(b, groups[g].group_id);
            evbuffer_add_printf(b, "\",topic=\"%s\",partition=\"%d\"} %lld\n", offs[i].topic,
                                offs[i].partition, (long long)(lag > 0 ? lag : 0));
        }
        rn_committed_offsets_free(offs, no);
    }
    rn_group_listings_free(groups, n);
}

static void metrics_security(struct evbuffer *b) {
    help(b, "runnel_authorization_denials_total", "counter",
         "Requests (or resources in them) the ACL authorizer refused.");
    evbuffer_add_printf(b, "runnel_authorization_denials_total %llu\n",
                        (unsigned long long)rn_authz_denials());
}

static void metrics_processors(struct evbuffer *b, rn_processors *ps) {
    rn_processor_status *s;
    int n;
    if (!ps || rn_processors_status(ps, NULL, &s, &n) != RN_KAFKA_NONE) return;
    const struct {
        const char *name, *type, *doc;
    } rows[] = {
        {"runnel_processor_running", "gauge", "1 while the stream processor runs (0 stopped or failing)."},
        {"runnel_processor_lag", "gauge", "Records in the processor's inputs past its committed positions."},
        {"runnel_processor_records_in_total", "counter", "Input records processed (committed) since it started."},
        {"runnel_processor_records_out_total", "counter", "Records it emitted (dead letters included) since it started."},
        {"runnel_processor_dead_letters_total", "counter", "Records and timers that failed and went to <name>.dlq."},
        {"runnel_processor_timers_fired_total", "counter", "Timers fired since it started."},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        help(b, rows[r].name, rows[r].type, rows[r].doc);
        for (int i = 0; i < n; i++) {
            long long v = r == 0   ? strcmp(s[i].status, "running") == 0
                          : r == 1 ? (long long)s[i].lag
                          : r == 2 ? (long long)s[i].records_in
                          : r == 3 ? (long long)s[i].records_out
                          : r == 4 ? (long long)s[i].dead_letters
                                   : (long long)s[i].timers_fired;
            evbuffer_add_printf(b, "%s{processor=\"", rows[r].name);
            label(b, s[i].def.name);
            evbuffer_add_printf(b, "\"} %lld\n", v);
        }
    }
    rn_processor_status_free(s, n);
}

static void metrics_plugins(struct evbuffer *b, rn_plugins *p) {
    if (!p) return;
    rn_plugins_stats s;
    rn_plugins_get_stats(p, &s);
    const struct {
        const char *name, *doc;
        uint64_t v;
    } rows[] = {
        {"runnel_lua_calls_total", "Lua hook calls.", s.calls},
        {"runnel_lua_errors_total", "Lua hook calls that failed (the record got an error).", s.errors},
        {"runnel_lua_budget_exceeded_total", "Lua calls stopped by the instruction budget.",
         s.budget_exceeded},
        {"runnel_lua_memory_exceeded_total", "Lua calls stopped by the memory limit.",
         s.memory_exceeded},
        {"runnel_lua_reloads_total", "Scripts reloaded with a new version.", s.reloads},
        {"runnel_lua_reload_failures_total", "Reloads refused (the old version kept running).",
         s.reload_failures},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        help(b, rows[i].name, "counter", rows[i].doc);
        evbuffer_add_printf(b, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
    }
    help(b, "runnel_lua_seconds_total", "counter", "Time spent in Lua hook calls.");
    evbuffer_add_printf(b, "runnel_lua_seconds_total %.6f\n", (double)s.time_us / 1e6);
}

static void metrics_storage(struct evbuffer *b, rn_engine *e) {
    rn_storage_stats st;
    rn_engine_storage_stats(e, &st);
    const struct {
        const char *name, *doc;
        uint64_t v;
    } rows[] = {
        {"runnel_rocksdb_memtable_bytes", "Bytes in RocksDB memtables (all column families).",
         st.memtable_bytes},
        {"runnel_rocksdb_pending_compaction_bytes", "RocksDB's estimate of bytes compaction must rewrite.",
         st.pending_compaction_bytes},
        {"runnel_rocksdb_live_sst_bytes", "Bytes of live SST files.", st.live_sst_bytes},
        {"runnel_rocksdb_blob_bytes", "Bytes of blob files (record batches).", st.blob_bytes},
        {"runnel_rocksdb_delayed_write_rate", "Bytes/s RocksDB lets writes through while slowing them (0: not slowed).",
         st.delayed_write_rate},
        {"runnel_rocksdb_write_stopped", "1 while RocksDB stops writes (a stall).", st.write_stopped},
        {"runnel_storage_free_bytes", "Free bytes on data.dir's filesystem.", st.free_bytes},
        {"runnel_storage_min_free_bytes",
         "log.dir.min.free.bytes: produce is refused while free bytes are below it.", st.min_free_bytes},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        help(b, rows[i].name, "gauge", rows[i].doc);
        evbuffer_add_printf(b, "%s %llu\n", rows[i].name, (unsigned long long)rows[i].v);
    }
}

static void on_metrics(struct evhttp_request *r, void *arg) {
    rn_http *h = arg;
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    metrics_requests(b, rn_server_metrics(h->opts.server));
    metrics_partitions(b, h->opts.engine);
    metrics_groups(b, h->opts.engine);
    metrics_plugins(b, h->opts.plugins);
    metrics_processors(b, h->opts.processors);
    metrics_security(b);
    metrics_storage(b, h->opts.engine);
    rn_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", b);
    evbuffer_free(b);
}

static void on_health(struct evhttp_request *r, void *arg) {
    (void)arg;
    rn_http_text(r, 200, "ok");
}

/* A cluster member is ready once it serves its share (cluster.h); 503 says why not. */
static void on_ready(struct evhttp_request *r, void *arg) {
    rn_http *h = arg;
    char why[160];
    if (h->opts.cluster && !rn_cluster_ready(h->opts.cluster, why, sizeof why)) {
        rn_http_text(r, 503, why);
        return;
    }
    rn_http_text(r, 200, "ready");
}

static void on_plugins(struct evhttp_request *r, void *arg) {
    rn_http *h = arg;
    if (!h->opts.plugins) {
        rn_http_text(r, 404, "no Lua plugin host");
        return;
    }
    rn_plugins_stats s;
    rn_plugins_get_stats(h->opts.plugins, &s);
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_printf(b,
                        "{\"calls\": %llu, \"errors\": %llu, \"budget_exceeded\": %llu, "
                        "\"memory_exceeded\": %llu, \"reloads\": %llu, \"reload_failures\": %llu, "
                        "\"seconds\": %.6f}\n",
                        (unsigned long long)s.calls, (unsigned long long)s.errors,
                        (unsigned long long)s.budget_exceeded, (unsigned long long)s.memory_exceeded,
                        (unsigned long long)s.reloads, (unsigned long long)s.reload_failures,
                        (double)s.time_us / 1e6);
    rn_http_reply(r, 200, "application/json", b);
    evbuffer_free(b);
}

static void on_plugins_reload(struct evhttp_request *r, void *arg) {
    rn_http *h = arg;
    if (evhttp_request_get_command(r) != EVHTTP_REQ_POST) {
        rn_http_text(r, 405, "POST to reload the Lua scripts");
        return;
    }
    if (!h->opts.plugins) {
        rn_http_text(r, 404, "no Lua plugin host");
        return;
    }
    char report[2048];
    rn_log_info("http: reloading Lua scripts");
    int failed = rn_plugins_reload(h->opts.plugins, report, sizeof report);
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_printf(b, "{\"failed\": %d, \"report\": ", failed);
    rn_http_json_string(b, report);
    evbuffer_add(b, "}\n", 2);
    rn_http_reply(r, failed ? 422 : 200, "application/json", b);
    evbuffer_free(b);
}

static void on_other(struct evhttp_request *r, void *arg) {
    rn_http *h = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(r));
    if (path && strncmp(path, "/v1/processors", 14) == 0 && (path[14] == 0 || path[14] == '/')) {
        rn_http_processors(r, h->opts.processors, path + 14);
        return;
    }
    if (path && rn_http_console_route(r, &h->opts, h->started_ms, path)) return;
    rn_http_text(r, 404, "not found: try /health, /ready, /metrics, /v1/plugins, "
                         "POST /v1/plugins/reload, /v1/processors, /v1/overview, /v1/topics, "
                         "/v1/groups, or the console at /");
}

rn_http *rn_http_start(struct event_base *base, const rn_http_options *opts, char *err,
                       size_t errlen) {
    rn_http *h = calloc(1, sizeof *h);
    if (!h || !(h->http = evhttp_new(base))) {
        free(h);
        snprintf(err, errlen, "cannot start the HTTP endpoint: out of memory");
        return NULL;
    }
    h->opts = *opts;
    h->started_ms = rn_http_monotonic_ms();
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_DELETE);
    evhttp_set_cb(h->http, "/metrics", on_metrics, h);
    evhttp_set_cb(h->http, "/health", on_health, h);
    evhttp_set_cb(h->http, "/ready", on_ready, h);
    evhttp_set_cb(h->http, "/v1/plugins", on_plugins, h);
    evhttp_set_cb(h->http, "/v1/plugins/reload", on_plugins_reload, h);
    evhttp_set_gencb(h->http, on_other, h);
    struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(h->http, opts->host, (uint16_t)opts->port);
    if (!s) {
        snprintf(err, errlen, "cannot listen for HTTP on %s:%d", opts->host, opts->port);
        evhttp_free(h->http);
        free(h);
        return NULL;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    h->port = opts->port;
    if (getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6) h->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return h;
}

int rn_http_port(const rn_http *h) { return h->port; }

void rn_http_stop(rn_http *h) {
    if (!h) return;
    evhttp_free(h->http);
    free(h);
}
