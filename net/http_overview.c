/* net/http_overview.c: GET /v1/overview, the console's front page in one object: who this
 * broker is, how many topics, partitions, groups and processors it has, and running
 * totals the console turns into rates by polling:
 *
 *   {"broker_id", "version", "cluster_id", "time_ms", "uptime_ms",
 *    "topics", "views", "partitions", "groups", "group_members",
 *    "processors", "processors_running",
 *    "bytes_in", "bytes_out", "requests", "connections",   <- the Kafka listeners' counters
 *    "records_in",       every offset ever assigned (the sum of log end offsets)
 *    "records_consumed", every group's committed offsets plus every processor's positions
 *                        (what consumers have read and committed; the wire counts bytes,
 *                        not records, on the way out)
 *    "records_stored", "log_size_bytes", "lua": {...} (the plugin host's counters),
 *    "brokers": [{"node_id", "host", "port"}], "actions_enabled"}
 *
 * Views are counted as topics of their own but their partitions are their source's, so
 * they add nothing to the totals. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "http_console.h"

typedef struct {
    int topics, views, partitions, groups, group_members, processors, processors_running;
    int64_t records_in, records_consumed, records_stored, log_size_bytes;
} totals;

static void count_topics(rn_engine *e, totals *t) {
    rn_topic_meta *topics;
    int n;
    if (rn_engine_topics(e, NULL, 0, &topics, &n) != 0) return;
    for (int i = 0; i < n; i++) {
        rn_topic_hooks hooks;
        bool view = rn_engine_topic_hooks(e, topics[i].name, &hooks) == 0 && hooks.view_of;
        rn_topic_hooks_free(&hooks);
        if (view) {
            t->views++;
            continue;
        }
        t->topics++;
        for (int32_t p = 0; p < topics[i].partition_count; p++) {
            rn_err err;
            rn_partition *part = rn_engine_partition(e, topics[i].name, p, &err);
            rn_partition_offsets off;
            if (!part || rn_partition_offsets_get(part, &off) != 0) continue;
            t->partitions++;
            t->records_in += off.log_end_offset;
            t->records_stored += off.high_watermark - off.log_start_offset;
            t->log_size_bytes += off.size_bytes;
        }
    }
    rn_topic_meta_free(topics, n);
}

static void count_groups(rn_engine *e, totals *t) {
    rn_coordinator *c = rn_engine_coordinator(e);
    rn_group_listing *groups;
    int n;
    if (rn_coordinator_list(c, &groups, &n) != 0) return;
    t->groups = n;
    for (int g = 0; g < n; g++) {
        rn_group_description d;
        if (rn_coordinator_describe(c, groups[g].group_id, &d) == 0) {
            t->group_members += d.nmembers;
            rn_group_description_clear(&d);
        }
        rn_committed_offset *offs;
        int no;
        if (rn_coordinator_committed_all(c, groups[g].group_id, &offs, &no) != 0) continue;
        for (int i = 0; i < no; i++)
            if (offs[i].offset > 0) t->records_consumed += offs[i].offset;
        rn_committed_offsets_free(offs, no);
    }
    rn_group_listings_free(groups, n);
}

static void count_processors(rn_processors *ps, totals *t) {
    rn_processor_status *s;
    int n;
    if (!ps || rn_processors_status(ps, NULL, &s, &n) != RN_KAFKA_NONE) return;
    t->processors = n;
    for (int i = 0; i < n; i++) {
        t->processors_running += strcmp(s[i].status, "running") == 0;
        for (int k = 0; k < s[i].npositions; k++)
            if (s[i].positions[k].position > 0) t->records_consumed += s[i].positions[k].position;
    }
    rn_processor_status_free(s, n);
}

void rn_http_overview(struct evhttp_request *r, const rn_http_options *o, int64_t started_ms) {
    totals t = {0};
    count_topics(o->engine, &t);
    count_groups(o->engine, &t);
    count_processors(o->processors, &t);
    rn_metrics *m = rn_server_metrics(o->server);
    uint64_t requests = 0;
    for (int k = 0; k < RN_METRICS_API_MAX; k++) requests += atomic_load(&m->api[k].requests);
    uint64_t opened = atomic_load(&m->connections_opened), closed = atomic_load(&m->connections_closed);
    struct evbuffer *b = evbuffer_new();
    if (!b) return;
    evbuffer_add_printf(b, "{\"broker_id\": %d, \"version\": \"%s\", \"cluster_id\": ",
                        rn_engine_node_id(o->engine), RUNNEL_VERSION);
    rn_http_json_string(b, rn_engine_cluster_id(o->engine));
    evbuffer_add_printf(
        b,
        ", \"time_ms\": %lld, \"uptime_ms\": %lld, \"topics\": %d, \"views\": %d, "
        "\"partitions\": %d, \"groups\": %d, \"group_members\": %d, \"processors\": %d, "
        "\"processors_running\": %d, \"bytes_in\": %llu, \"bytes_out\": %llu, \"requests\": %llu, "
        "\"connections\": %llu, \"records_in\": %lld, \"records_consumed\": %lld, "
        "\"records_stored\": %lld, \"log_size_bytes\": %lld",
        (long long)rn_http_now_ms(), (long long)(rn_http_monotonic_ms() - started_ms), t.topics,
        t.views, t.partitions, t.groups, t.group_members, t.processors, t.processors_running,
        (unsigned long long)atomic_load(&m->bytes_in), (unsigned long long)atomic_load(&m->bytes_out),
        (unsigned long long)requests, (unsigned long long)(opened > closed ? opened - closed : 0),
        (long long)t.records_in, (long long)t.records_consumed, (long long)t.records_stored,
        (long long)t.log_size_bytes);
    if (o->plugins) {
        rn_plugins_stats s;
        rn_plugins_get_stats(o->plugins, &s);
        evbuffer_add_printf(b,
                            ", \"lua\": {\"calls\": %llu, \"errors\": %llu, \"budget_exceeded\": %llu, "
                            "\"memory_exceeded\": %llu, \"reloads\": %llu, \"reload_failures\": %llu, "
                            "\"seconds\": %.6f}",
                            (unsigned long long)s.calls, (unsigned long long)s.errors,
                            (unsigned long long)s.budget_exceeded,
                            (unsigned long long)s.memory_exceeded, (unsigned long long)s.reloads,
                            (unsigned long long)s.reload_failures, (double)s.time_us / 1e6);
    } else {
        RN_HTTP_LIT(b, ", \"lua\": null");
    }
    /* One broker today; the list keeps room for a cluster. */
    const rn_server_options *so = rn_server_opts(o->server);
    RN_HTTP_LIT(b, ", \"brokers\": [");
    for (int i = 0; i < so->listener_count; i++) {
        evbuffer_add_printf(b, "%s{\"node_id\": %d, \"host\": ", i ? ", " : "", so->node_id);
        rn_http_json_string(b, so->advertised[i].host);
        evbuffer_add_printf(b, ", \"port\": %d}",
                            so->advertised[i].port ? so->advertised[i].port : rn_server_port(o->server, i));
    }
    evbuffer_add_printf(b, "], \"actions_enabled\": %s}\n", o->console_actions ? "true" : "false");
    rn_http_json_reply(r, 200, b);
    evbuffer_free(b);
}
