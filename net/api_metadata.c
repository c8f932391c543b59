/* net/api_metadata.c: Metadata (key 3), v0-8: brokers, cluster id, and each topic's
 * partitions with this node as leader, replica and in-sync replica. v0 asks for all
 * topics with an empty list; v1+ with a null list. Requested topics that do not exist
 * are created when auto.create.topics.enable and the request allows it (always for
 * v0-3, allow_auto_topic_creation from v4).
 *
 * In a cluster everything comes from the metadata image (engine/metadata.h) that every
 * broker shares, read under its lock: the unfenced brokers, the active controller, each
 * partition's leader, epoch, replicas, ISR and offline (fenced) replicas. An auto-created
 * topic is asked of the controller and answered LEADER_NOT_AVAILABLE until the image
 * has it (clients retry). */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "cluster.h"
#include "conn.h"
#include "rnlog.h"

#define RN_OFFSETS_TOPIC "__consumer_offsets"

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

/* Whether the principal may auto-create `name`: CREATE on the cluster (asked once, into
 * *cluster_create, -1 until then, unlogged: the topic's CREATE may still allow) or on
 * the topic. */
static bool may_create(rn_request *req, const char *name, int *cluster_create) {
    if (*cluster_create == -1)
        *cluster_create = rn_authz_quiet(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_CLUSTER, NULL);
    return *cluster_create || rn_authz(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_TOPIC, name);
}

/* ---- a cluster: the metadata image ------------------------------------------------- */

static int md_topic_cmp(const void *key, const void *elem) {
    return strcmp(key, ((const rn_md_topic *)elem)->name);
}

static int md_broker_cmp(const void *key, const void *elem) {
    int32_t id = *(const int32_t *)key, other = ((const rn_md_broker *)elem)->id;
    return (id > other) - (id < other);
}

/* Kafka's offline replicas: those on a broker that is fenced (or not registered). */
static bool replica_offline(const rn_md_broker *brokers, int nbrokers, int32_t id) {
    const rn_md_broker *b =
        nbrokers > 0 ? bsearch(&id, brokers, (size_t)nbrokers, sizeof *brokers, md_broker_cmp)
                     : NULL;
    return !b || b->fenced;
}

static void write_ids(rn_writer *w, const int32_t *ids, int n) {
    rn_write_array_len(w, n);
    for (int i = 0; i < n; i++) rn_write_i32(w, ids[i]);
}

/* A view (view.of) is read from its source's partitions, so clients must fetch them where
 * the source's leaders are: a view shows its source's partitions. */
static const rn_md_topic *md_partitions_of(rn_metadata *md, const rn_md_topic *t) {
    for (int i = 0; i < t->nconfigs; i++)
        if (strcmp(t->config_names[i], "view.of") == 0) {
            const rn_md_topic *src = rn_md_topic(md, t->config_values[i]);
            return src ? src : t;
        }
    return t;
}

static void write_md_topic(rn_request *req, int16_t v, rn_metadata *md, const rn_md_topic *t,
                           const rn_md_broker *brokers, int nbrokers) {
    rn_writer *w = &req->resp;
    const rn_md_topic *pt = md_partitions_of(md, t);
    rn_write_i16(w, RN_KAFKA_NONE);
    rn_write_string(w, t->name);
    if (v >= 1) rn_write_bool(w, strcmp(t->name, RN_OFFSETS_TOPIC) == 0); /* is_internal */
    rn_write_array_len(w, pt->npart);
    for (int32_t i = 0; i < pt->npart; i++) {
        const rn_md_partition *mp = &pt->parts[i];
        rn_err err = mp->leader == RN_MD_NO_LEADER ? RN_KAFKA_LEADER_NOT_AVAILABLE : RN_KAFKA_NONE;
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_i32(w, mp->index);
        rn_write_i32(w, mp->leader); /* leader_id */
        if (v >= 7) rn_write_i32(w, mp->leader_epoch);
        write_ids(w, mp->replicas, mp->nreplicas); /* replica_nodes */
        write_ids(w, mp->isr, mp->nisr);           /* isr_nodes */
        if (v >= 5) {                              /* offline_replicas */
            int noffline = 0;
            for (int k = 0; k < mp->nreplicas; k++)
                noffline += replica_offline(brokers, nbrokers, mp->replicas[k]);
            rn_write_array_len(w, noffline);
            for (int k = 0; k < mp->nreplicas; k++)
                if (replica_offline(brokers, nbrokers, mp->replicas[k]))
                    rn_write_i32(w, mp->replicas[k]);
        }
        rn_write_tags(w);
    }
    if (v >= 8) rn_write_i32(w, INT32_MIN); /* topic_authorized_operations: not asked */
    rn_write_tags(w);
}

/* A named topic the image does not have: its error, and whether to ask the controller to
 * create it (answered LEADER_NOT_AVAILABLE meanwhile, as Kafka). */
static rn_err md_missing(rn_request *req, const char *name, bool auto_create, int *cluster_create,
                         bool *create) {
    *create = false;
    if (!rn_topic_name_valid(name, strlen(name))) return RN_KAFKA_INVALID_TOPIC_EXCEPTION;
    if (!auto_create) return RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
    if (!may_create(req, name, cluster_create)) return RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
    *create = true;
    return RN_KAFKA_LEADER_NOT_AVAILABLE;
}

/* The response from the image; names/ntopics as asked (all: every topic). */
static enum rn_api_result metadata_cluster(rn_request *req, char **names, int32_t ntopics, bool all,
                                           bool auto_create) {
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    rn_writer *w = &req->resp;
    bool *dup = NULL, *create = NULL;
    if (!all && ntopics > 0) {
        dup = rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *dup);
        create = rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *create);
        if (!dup || !create || (ntopics > 1 && mark_duplicates(req, names, ntopics, dup) != 0))
            return rn_api_malformed(req);
    }
    int32_t controller_id = rn_cluster_controller_id(o->cluster);
    rn_metadata *md = rn_cluster_metadata(o->cluster);
    int cluster_create = -1;

    rn_md_read_lock(md);
    int nbrokers, nimage;
    const rn_md_broker *brokers = rn_md_brokers(md, &nbrokers);
    const rn_md_topic *image = rn_md_topics(md, &nimage);
    bool *shown = all && nimage > 0 ? rn_arena_calloc(&req->arena, (size_t)nimage, sizeof *shown)
                                    : NULL;
    if (all && nimage > 0 && !shown) {
        rn_md_read_unlock(md);
        return rn_api_malformed(req);
    }

    if (v >= 3) rn_write_i32(w, 0); /* throttle_time_ms */
    int32_t unfenced = 0;
    for (int i = 0; i < nbrokers; i++) unfenced += !brokers[i].fenced;
    rn_write_array_len(w, unfenced);
    for (int i = 0; i < nbrokers; i++) {
        if (brokers[i].fenced) continue;
        rn_write_i32(w, brokers[i].id);
        rn_write_string(w, brokers[i].host);
        rn_write_i32(w, brokers[i].port);
        if (v >= 1) rn_write_string(w, NULL); /* rack */
        rn_write_tags(w);
    }
    if (v >= 2) /* the image's id; this broker's own until the first controller set it */
        rn_write_string(w, rn_md_cluster_id(md)[0] ? rn_md_cluster_id(md)
                                                   : rn_engine_cluster_id(o->engine));
    if (v >= 1) rn_write_i32(w, controller_id);

    if (all) {
        /* Topics the principal may not describe are left out of a listing. */
        int32_t nshown = 0;
        for (int i = 0; i < nimage; i++) {
            shown[i] = rn_authz_quiet(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC,
                                      image[i].name);
            nshown += shown[i];
        }
        rn_write_array_len(w, nshown);
        for (int i = 0; i < nimage; i++)
            if (shown[i]) write_md_topic(req, v, md, &image[i], brokers, nbrokers);
    } else {
        int32_t nanswers = 0;
        for (int32_t i = 0; i < ntopics; i++) nanswers += !dup[i];
        rn_write_array_len(w, nanswers);
        for (int32_t i = 0; i < ntopics; i++) {
            if (dup[i]) continue;
            /* Kafka: each named topic needs DESCRIBE, whether or not it exists. */
            if (!rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, names[i])) {
                write_topic_error(req, w, v, names[i], RN_KAFKA_TOPIC_AUTHORIZATION_FAILED);
                continue;
            }
            const rn_md_topic *t = nimage > 0 ? bsearch(names[i], image, (size_t)nimage,
                                                        sizeof *image, md_topic_cmp)
                                              : NULL;
            if (t)
                write_md_topic(req, v, md, t, brokers, nbrokers);
            else
                write_topic_error(req, w, v, names[i],
                                  md_missing(req, names[i], auto_create, &cluster_create,
                                             &create[i]));
        }
    }
    if (v >= 8) rn_write_i32(w, INT32_MIN); /* cluster_authorized_operations */
    rn_write_tags(w);
    rn_md_read_unlock(md);

    /* Outside the image's lock: the controller may be this broker. */
    for (int32_t i = 0; create && i < ntopics; i++)
        if (create[i]) {
            rn_log_info("auto-creating topic '%s' through the controller", names[i]);
            rn_cluster_auto_create(o->cluster, names[i], -1);
        }
    return RN_API_DONE;
}

/* ---- the handler ------------------------------------------------------------------- */

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
    if (o->cluster)
        return metadata_cluster(req, names, ntopics, all,
                                o->auto_create_topics && allow_auto_create);
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
            if (!may_create(req, names[i], &cluster_create)) {
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
