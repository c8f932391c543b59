/* net/api_metadata.c: Metadata (key 3), v0-8: brokers, cluster id, and each topic's
 * partitions with this node as leader, replica and in-sync replica. v0 asks for all
 * topics with an empty list; v1+ with a null list. Requested topics that do not exist
 * are created when auto.create.topics.enable and the request allows it (always for
 * v0-3, allow_auto_topic_creation from v4). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "conn.h"
#include "rnlog.h"

static void write_topic(rn_writer *w, int16_t v, const rn_topic_meta *t, int32_t node_id) {
    rn_write_i16(w, RN_KAFKA_NONE);
    rn_write_string(w, t->name);
    if (v >= 1) rn_write_bool(w, false); /* is_internal */
    rn_write_array_len(w, t->partition_count);
    for (int32_t i = 0; i < t->partition_count; i++) {
        rn_write_i16(w, RN_KAFKA_NONE);
        rn_write_i32(w, t->partitions[i].index);
        rn_write_i32(w, node_id); /* leader_id */
        if (v >= 7) rn_write_i32(w, t->partitions[i].leader_epoch);
        rn_write_array_len(w, 1); /* replica_nodes */
        rn_write_i32(w, node_id);
        rn_write_array_len(w, 1); /* isr_nodes */
        rn_write_i32(w, node_id);
        if (v >= 5) rn_write_array_len(w, 0); /* offline_replicas */
        rn_write_tags(w);
    }
    if (v >= 8) rn_write_i32(w, INT32_MIN); /* topic_authorized_operations: not asked */
    rn_write_tags(w);
}

static void write_topic_error(rn_request *req, rn_writer *w, int16_t v, const char *name, rn_err err) {
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_string(w, name);
    if (v >= 1) rn_write_bool(w, false);
    rn_write_array_len(w, 0);
    if (v >= 8) rn_write_i32(w, INT32_MIN);
    rn_write_tags(w);
}

static int meta_name_cmp(const void *key, const void *elem) {
    return strcmp(key, ((const rn_topic_meta *)elem)->name);
}

/* t is sorted by name (rn_engine_topics): a lookup is a binary search, so a request
 * naming 100,000 topics costs n log n, not n squared. */
static bool meta_has(const rn_topic_meta *t, int n, const char *name) {
    return n > 0 && bsearch(name, t, (size_t)n, sizeof *t, meta_name_cmp) != NULL;
}

typedef struct {
    const char *name;
    int32_t index;
} name_at;

static int name_at_cmp(const void *a, const void *b) {
    const name_at *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* dup[i]: names[i] was already asked for at a lower index. 0, or -1 out of memory. */
static int mark_duplicates(rn_request *req, char **names, int32_t n, bool *dup) {
    name_at *v = rn_arena_calloc(&req->arena, (size_t)n, sizeof *v);
    if (!v) return -1;
    for (int32_t i = 0; i < n; i++) v[i] = (name_at){names[i], i};
    qsort(v, (size_t)n, sizeof *v, name_at_cmp);
    for (int32_t i = 1; i < n; i++)
        if (strcmp(v[i].name, v[i - 1].name) == 0) dup[v[i].index] = true;
    return 0;
}

enum rn_api_result rn_api_metadata(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 2);
    char **names = NULL;
    if (ntopics > 0) {
        names = rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *names);
        if (!names) goto err_parse;
    }
    for (int32_t i = 0; i < ntopics; i++) {
        names[i] = rn_api_read_name(req, r);
        if (!names[i]) goto err_parse;
        RN_R_TAGS(r);
    }
    bool allow_auto_create = true;
    if (v >= 4) RN_R_BOOL(r, &allow_auto_create);
    if (v >= 8) {
        bool cluster_ops, topic_ops;
        RN_R_BOOL(r, &cluster_ops);
        RN_R_BOOL(r, &topic_ops);
    }
    RN_R_TAGS(r);

    bool all = (v == 0 && ntopics == 0) || ntopics < 0;
    rn_topic_meta *topics = NULL;
    int count = 0;
    rn_err err = rn_engine_topics(o->engine, all ? NULL : (const char *const *)names,
                                  all ? 0 : ntopics, &topics, &count);
    if (err) count = 0;

    /* Kafka: each named topic needs DESCRIBE (else TOPIC_AUTHORIZATION_FAILED, whether or
     * not it exists); auto-creating one needs CREATE on the cluster or on the topic. */
    bool *denied = NULL, *no_create = NULL;
    if (!all && ntopics > 0) {
        denied = rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *denied);
        no_create = rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *no_create);
        if (!denied || !no_create) {
            rn_topic_meta_free(topics, count);
            goto err_parse;
        }
        for (int32_t i = 0; i < ntopics; i++)
            denied[i] = !rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, names[i]);
    }

    /* Auto-create what was asked for and is missing, then look again. */
    bool created = false;
    if (!all && !err && o->auto_create_topics && allow_auto_create) {
        int cluster_create = -1; /* asked once, when needed */
        for (int32_t i = 0; i < ntopics; i++) {
            if (denied[i] || meta_has(topics, count, names[i]) ||
                !rn_topic_name_valid(names[i], strlen(names[i])))
                continue;
            if (cluster_create == -1) /* not logged: the topic's CREATE may still allow */
                cluster_create = rn_authz_quiet(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_CLUSTER, NULL);
            if (!cluster_create &&
                !rn_authz(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_TOPIC, names[i])) {
                no_create[i] = true;
                continue;
            }
            rn_err cerr = rn_engine_create_topic(o->engine, names[i], -1, NULL, 0, false, NULL, 0);
            if (cerr == RN_KAFKA_NONE) {
                rn_log_info("auto-created topic '%s'", names[i]);
                created = true;
            }
        }
        if (created) {
            rn_topic_meta_free(topics, count);
            topics = NULL;
            count = 0;
            err = rn_engine_topics(o->engine, (const char *const *)names, ntopics, &topics, &count);
            if (err) count = 0;
        }
    }

    rn_writer *w = &req->resp;
    if (v >= 3) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, 1);       /* brokers: this one */
    const rn_endpoint *adv = &o->advertised[req->conn->listener];
    rn_write_i32(w, o->node_id);
    rn_write_string(w, adv->host);
    rn_write_i32(w, adv->port);
    if (v >= 1) rn_write_string(w, NULL); /* rack */
    rn_write_tags(w);
    if (v >= 2) rn_write_string(w, rn_engine_cluster_id(o->engine));
    if (v >= 1) rn_write_i32(w, o->node_id); /* controller_id */

    /* Topics that exist, then one error entry per distinct requested name that does not. */
    bool *answered = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *answered)
                                 : NULL;
    if (ntopics > 0 && !answered) {
        rn_topic_meta_free(topics, count);
        goto err_parse;
    }
    int32_t nmissing = 0;
    if (!all && ntopics > 1 && mark_duplicates(req, names, ntopics, answered) != 0) {
        rn_topic_meta_free(topics, count);
        goto err_parse;
    }
    for (int32_t i = 0; !all && i < ntopics; i++) {
        answered[i] = answered[i] || (!denied[i] && meta_has(topics, count, names[i]));
        if (!answered[i]) nmissing++;
    }
    /* Topics the principal may not describe are left out (named ones were answered with
     * TOPIC_AUTHORIZATION_FAILED below; an all-topics listing just omits them). */
    bool *shown = count > 0 ? rn_arena_calloc(&req->arena, (size_t)count, sizeof *shown) : NULL;
    if (count > 0 && !shown) {
        rn_topic_meta_free(topics, count);
        goto err_parse;
    }
    int32_t nshown = 0;
    for (int i = 0; i < count; i++) {
        shown[i] = rn_authz_quiet(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, topics[i].name);
        nshown += shown[i];
    }
    rn_write_array_len(w, nshown + nmissing);
    for (int i = 0; i < count; i++)
        if (shown[i]) write_topic(w, v, &topics[i], o->node_id);
    for (int32_t i = 0; !all && i < ntopics; i++) {
        if (answered[i]) continue;
        rn_err terr = err ? err
                      : denied[i] || no_create[i] ? RN_KAFKA_TOPIC_AUTHORIZATION_FAILED
                      : !rn_topic_name_valid(names[i], strlen(names[i]))
                          ? RN_KAFKA_INVALID_TOPIC_EXCEPTION
                          : RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
        write_topic_error(req, w, v, names[i], terr);
    }
    if (v >= 8) rn_write_i32(w, INT32_MIN); /* cluster_authorized_operations */
    rn_write_tags(w);
    rn_topic_meta_free(topics, count);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
