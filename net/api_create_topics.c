/* net/api_create_topics.c: CreateTopics (key 19), v0-4. -1 (the broker default) is
 * accepted for partitions and replication factor at every version, because kafkajs sends
 * it below v4.
 *
 * A single broker: replication factor 1, assignments may name only this node; the engine
 * creates the topics. In a cluster, on the controller: each topic is checked here (the
 * engine's own checks with validate_only, then the image: existence, placement) and the
 * valid ones go as CREATE_TOPIC records in one entry; the answer waits for its commit. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    int32_t index;
    int32_t nbrokers;
    int32_t *brokers;
} create_assignment;

typedef struct {
    char *name;
    int32_t partitions;
    int16_t replication;
    int32_t nassign;
    create_assignment *assign;
    int32_t nconfigs;
    rn_config_kv *configs;
    rn_err err;
    char message[256];
    bool proposed;
} create_topic;

typedef struct {
    int32_t ntopics;
    create_topic *topics;
    int32_t timeout_ms;
    bool validate_only;
} create_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    create_state *st = ctx;
    int16_t v = req->api_version;
    rn_writer *w = &req->resp;
    if (v >= 2) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->ntopics);
    for (int32_t t = 0; t < st->ntopics; t++) {
        create_topic *ct = &st->topics[t];
        rn_controller_item_refused(res, ct->proposed, &ct->err, ct->message, sizeof ct->message);
        rn_write_string(w, ct->name);
        rn_write_i16(w, rn_api_wire(req, ct->err));
        if (v >= 1) rn_write_string(w, rn_api_error_message(ct->err, ct->message));
    }
}

/* The checks every topic passes in both modes: authorization, one mention, and either
 * assignments or counts. */
static rn_err check_request(rn_request *req, create_state *st, int32_t t, bool cluster_create) {
    create_topic *ct = &st->topics[t];
    if (!cluster_create && !rn_authz(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_TOPIC, ct->name))
        return RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
    for (int32_t u = 0; u < st->ntopics; u++)
        if (u != t && strcmp(st->topics[u].name, ct->name) == 0) {
            snprintf(ct->message, sizeof ct->message, "topic '%s' appears more than once",
                     ct->name);
            return RN_KAFKA_INVALID_REQUEST;
        }
    if (ct->nassign > 0 && (ct->partitions != -1 || ct->replication != -1)) {
        snprintf(ct->message, sizeof ct->message,
                 "give either assignments or partitions and replication factor");
        return RN_KAFKA_INVALID_REQUEST;
    }
    return RN_KAFKA_NONE;
}

static rn_err create_single(rn_request *req, create_state *st, int32_t t) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    create_topic *ct = &st->topics[t];
    for (int32_t a = 0; a < ct->nassign; a++) {
        rn_err err = rn_controller_single_broker_replicas(req, ct->assign[a].brokers,
                                                          ct->assign[a].nbrokers, ct->message,
                                                          sizeof ct->message);
        if (err) return err;
    }
    if (ct->nassign == 0 && ct->replication != 1 && ct->replication != -1) {
        snprintf(ct->message, sizeof ct->message,
                 "replication factor %d is larger than the 1 broker available", ct->replication);
        return RN_KAFKA_INVALID_REPLICATION_FACTOR;
    }
    int32_t partitions = ct->nassign > 0 ? ct->nassign : ct->partitions;
    return rn_engine_create_topic(o->engine, ct->name, partitions, ct->configs, ct->nconfigs,
                                  st->validate_only, ct->message, sizeof ct->message);
}

/* The placement of a topic, checked against the image, into rec (arena memory). Read lock
 * held. */
static rn_err place(rn_request *req, rn_cluster *c, const rn_metadata *md, create_topic *ct,
                    int32_t npart, rn_md_record *rec) {
    if (rn_md_topic_get(md, ct->name)) {
        snprintf(ct->message, sizeof ct->message, "topic '%s' already exists", ct->name);
        return RN_KAFKA_TOPIC_ALREADY_EXISTS;
    }
    const int32_t **assignments = rn_arena_calloc(&req->arena, (size_t)npart, sizeof *assignments);
    int *nreplicas = rn_arena_calloc(&req->arena, (size_t)npart, sizeof *nreplicas);
    if (!assignments || !nreplicas) return RN_ERR_NOMEM;
    if (ct->nassign > 0) {
        for (int32_t a = 0; a < ct->nassign; a++) {
            create_assignment *as = &ct->assign[a];
            if (as->index < 0 || as->index >= npart || assignments[as->index]) {
                snprintf(ct->message, sizeof ct->message,
                         "assignments must name each partition from 0 to %d once", npart - 1);
                return RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
            }
            rn_err err = rn_controller_check_replicas(md, as->brokers, as->nbrokers, ct->message,
                                                      sizeof ct->message);
            if (err) return err;
            assignments[as->index] = as->brokers;
            nreplicas[as->index] = as->nbrokers;
        }
    } else {
        int rf = ct->replication == -1 ? rn_cluster_default_replication_factor(c) : ct->replication;
        if (rf < 1 || rf > RN_CONTROLLER_MAX_REPLICAS) {
            snprintf(ct->message, sizeof ct->message,
                     "replication factor must be from 1 to %d, not %d", RN_CONTROLLER_MAX_REPLICAS,
                     rf);
            return RN_KAFKA_INVALID_REPLICATION_FACTOR;
        }
        int32_t *out = rn_arena_calloc(&req->arena, (size_t)npart * (size_t)rf, sizeof *out);
        if (!out) return RN_ERR_NOMEM;
        rn_err err = rn_md_assign_replicas(md, 0, npart, rf, out);
        if (err) {
            snprintf(ct->message, sizeof ct->message,
                     "replication factor %d is larger than the unfenced brokers available", rf);
            return err;
        }
        for (int32_t i = 0; i < npart; i++) {
            assignments[i] = out + (size_t)i * (size_t)rf;
            nreplicas[i] = rf;
        }
    }
    /* only the configs given a value are explicit (a null value is the default) */
    const char **names = rn_arena_calloc(&req->arena, (size_t)ct->nconfigs + 1, sizeof *names);
    const char **values = rn_arena_calloc(&req->arena, (size_t)ct->nconfigs + 1, sizeof *values);
    if (!names || !values) return RN_ERR_NOMEM;
    *rec = (rn_md_record){.type = RN_MD_CREATE_TOPIC, .topic = ct->name, .npart = npart,
                          .assignments = assignments, .nreplicas = nreplicas,
                          .config_names = names, .config_values = values};
    for (int32_t i = 0; i < ct->nconfigs; i++)
        if (ct->configs[i].value) {
            names[rec->nconfigs] = ct->configs[i].name;
            values[rec->nconfigs++] = ct->configs[i].value;
        }
    rn_controller_topic_id(rec->topic_id);
    return RN_KAFKA_NONE;
}

/* The engine's checks of name, partition count and configs (validate_only); whether the
 * topic exists is the image's to say, not the local engine's. */
static rn_err check_topic(const rn_server_options *o, create_topic *ct, int32_t npart) {
    rn_err err = rn_engine_create_topic(o->engine, ct->name, npart, ct->configs, ct->nconfigs, true,
                                        ct->message, sizeof ct->message);
    if (err == RN_KAFKA_TOPIC_ALREADY_EXISTS) {
        ct->message[0] = '\0';
        err = RN_KAFKA_NONE;
    }
    return err;
}

static enum rn_api_result create_in_cluster(rn_request *req, create_state *st,
                                            const bool *allowed, rn_md_record *records) {
    const rn_server_options *o = rn_conn_opts(req->conn);
    rn_cluster *c = o->cluster;
    bool elsewhere = !rn_cluster_is_controller(c);
    int n = 0;
    rn_metadata *md = rn_cluster_metadata(c);
    for (int32_t t = 0; t < st->ntopics; t++) {
        create_topic *ct = &st->topics[t];
        if (!allowed[t]) continue;
        if (elsewhere) {
            ct->err = RN_KAFKA_NOT_CONTROLLER;
            rn_cluster_not_controller_message(c, ct->message, sizeof ct->message);
            continue;
        }
        int32_t npart = ct->nassign > 0 ? ct->nassign
                        : ct->partitions == -1 ? rn_controller_default_partitions(req)
                                               : ct->partitions;
        if ((ct->err = check_topic(o, ct, npart))) continue;
        rn_md_read_lock(md);
        ct->err = place(req, c, md, ct, npart, &records[n]);
        rn_md_read_unlock(md);
        if (ct->err || st->validate_only) continue;
        ct->proposed = true;
        n++;
    }
    return rn_controller_propose(req, records, n, rn_controller_timeout(st->timeout_ms),
                                 write_response, st);
}

enum rn_api_result rn_api_create_topics(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    create_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!st) goto err_parse;
    RN_R_ARRAY(r, &st->ntopics, 12);
    if (st->ntopics > 0 &&
        !(st->topics = rn_arena_calloc(&req->arena, (size_t)st->ntopics, sizeof *st->topics)))
        goto err_parse;
    /* The topics are read first and created after, so a malformed request creates none. */
    for (int32_t t = 0; t < st->ntopics; t++) {
        create_topic *ct = &st->topics[t];
        if (!(ct->name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_I32(r, &ct->partitions);
        RN_R_I16(r, &ct->replication);
        RN_R_ARRAY(r, &ct->nassign, 8);
        if (ct->nassign > 0 &&
            !(ct->assign = rn_arena_calloc(&req->arena, (size_t)ct->nassign, sizeof *ct->assign)))
            goto err_parse;
        if (ct->nassign < 0) ct->nassign = 0;
        for (int32_t a = 0; a < ct->nassign; a++) {
            create_assignment *as = &ct->assign[a];
            RN_R_I32(r, &as->index);
            RN_R_ARRAY(r, &as->nbrokers, 4);
            if (as->nbrokers < 0) as->nbrokers = 0;
            if (!(as->brokers = rn_arena_calloc(&req->arena, (size_t)as->nbrokers + 1,
                                                sizeof(int32_t))))
                goto err_parse;
            for (int32_t b = 0; b < as->nbrokers; b++) RN_R_I32(r, &as->brokers[b]);
        }
        RN_R_ARRAY(r, &ct->nconfigs, 4);
        if (ct->nconfigs > 0 &&
            !(ct->configs = rn_arena_calloc(&req->arena, (size_t)ct->nconfigs, sizeof *ct->configs)))
            goto err_parse;
        if (ct->nconfigs < 0) ct->nconfigs = 0;
        for (int32_t c = 0; c < ct->nconfigs; c++) {
            rn_bytes cn, cv;
            RN_R_STR(r, &cn);
            RN_R_STR(r, &cv);
            ct->configs[c].name = rn_arena_strndup(&req->arena, cn.ptr, cn.len < 0 ? 0 : cn.len);
            ct->configs[c].value = rn_arena_strndup(&req->arena, cv.ptr, cv.len);
            if (!ct->configs[c].name) goto err_parse;
        }
    }
    RN_R_I32(r, &st->timeout_ms);
    if (v >= 1) RN_R_BOOL(r, &st->validate_only);

    /* Kafka: CreateTopics needs CREATE on the cluster, or else on each topic. */
    bool cluster_create = st->ntopics > 0 &&
                          rn_authz_quiet(req, RN_ACL_OP_CREATE, RN_ACL_RESOURCE_CLUSTER, NULL);
    size_t nt = st->ntopics > 0 ? (size_t)st->ntopics : 1;
    bool *allowed = rn_arena_calloc(&req->arena, nt, sizeof *allowed);
    rn_md_record *records = rn_arena_calloc(&req->arena, nt, sizeof *records);
    if (!allowed || !records) goto err_parse;
    for (int32_t t = 0; t < st->ntopics; t++) {
        st->topics[t].err = check_request(req, st, t, cluster_create);
        allowed[t] = !st->topics[t].err;
    }
    if (o->cluster) return create_in_cluster(req, st, allowed, records);
    for (int32_t t = 0; t < st->ntopics; t++)
        if (allowed[t]) st->topics[t].err = create_single(req, st, t);
    rn_controller_result done = {0};
    write_response(req, st, &done);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
