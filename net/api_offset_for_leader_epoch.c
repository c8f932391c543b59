/* net/api_offset_for_leader_epoch.c: OffsetForLeaderEpoch (key 23), v0-4: for each
 * partition, the largest leader epoch at or below the one asked for and the offset where
 * it ended (the next epoch's start, or the log end for the latest), from the leader's
 * epoch cache. A follower truncates to it after a leader change (KIP-101); a consumer
 * checks its position after one (KIP-320). Only the leader answers; the others say
 * NOT_LEADER_OR_FOLLOWER, or FENCED/UNKNOWN_LEADER_EPOCH for a current_leader_epoch
 * (v2+) that is not the leader's. */
#include "cluster.h"
#include "api.h"
#include "authz.h"
#include "conn.h"

typedef struct {
    int32_t partition;
    int32_t current_leader_epoch;
    int32_t leader_epoch;
} epoch_partition;

typedef struct {
    char *topic;
    int32_t npartitions;
    epoch_partition *partitions;
} epoch_topic;

/* The answer for one partition: its error, and the epoch with its end offset. */
static rn_err epoch_end(rn_engine *e, rn_cluster *cluster, const char *topic, const epoch_partition *ep,
                        int32_t *end_epoch, int64_t *end_offset) {
    *end_epoch = -1;
    *end_offset = -1;
    rn_err err;
    rn_partition *p = rn_engine_partition(e, topic, ep->partition, &err);
    if (!p) return cluster ? rn_cluster_serve_check(cluster, NULL, topic, ep->partition) : err;
    if ((err = rn_partition_check_leader(p, ep->current_leader_epoch))) return err;
    if (cluster && (err = rn_cluster_serve_check(cluster, p, topic, ep->partition))) return err;
    rn_partition_epoch_end_offset(p, ep->leader_epoch, end_epoch, end_offset);
    if (cluster || *end_epoch >= 0 || ep->leader_epoch < 0) return RN_KAFKA_NONE;
    /* A partition that never had a replication role (a single broker) keeps no epoch
     * cache: its whole log is at its one leader epoch. UNDEFINED would make a consumer
     * validating its position (KIP-320) reset it. */
    rn_partition_replication rep;
    rn_partition_offsets off;
    rn_partition_replication_get(p, &rep);
    if (rep.role != RN_ROLE_NONE || rn_partition_offsets_get(p, &off) != RN_KAFKA_NONE)
        return RN_KAFKA_NONE;
    bool older = ep->leader_epoch < off.leader_epoch; /* nothing of it kept (Kafka's rule) */
    *end_epoch = older ? ep->leader_epoch : off.leader_epoch;
    *end_offset = older ? off.log_start_offset : off.log_end_offset;
    return RN_KAFKA_NONE;
}

enum rn_api_result rn_api_offset_for_leader_epoch(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_engine *e = rn_conn_opts(req->conn)->engine;
    rn_cluster *cluster = rn_conn_opts(req->conn)->cluster;
    int32_t replica_id = -2, ntopics;
    if (v >= 3) RN_R_I32(r, &replica_id); /* informational: the answer is the same */
    RN_R_ARRAY(r, &ntopics, 2);
    epoch_topic *topics = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics,
                                                        sizeof *topics)
                                      : NULL;
    if (ntopics > 0 && !topics) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        epoch_topic *et = &topics[t];
        et->topic = rn_api_read_name(req, r);
        if (!et->topic) goto err_parse;
        RN_R_ARRAY(r, &et->npartitions, 8);
        if (et->npartitions > 0) {
            et->partitions = rn_arena_calloc(&req->arena, (size_t)et->npartitions,
                                             sizeof *et->partitions);
            if (!et->partitions) goto err_parse;
        }
        for (int32_t i = 0; i < et->npartitions; i++) {
            epoch_partition *ep = &et->partitions[i];
            ep->current_leader_epoch = -1;
            RN_R_I32(r, &ep->partition);
            if (v >= 2) RN_R_I32(r, &ep->current_leader_epoch);
            RN_R_I32(r, &ep->leader_epoch);
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* Kafka: CLUSTER_ACTION on the cluster (a follower) allows every topic; otherwise each
     * topic needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED per partition). */
    bool cluster_action = rn_authz_quiet(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER,
                                         NULL);
    rn_writer *w = &req->resp;
    if (v >= 2) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, ntopics);
    for (int32_t t = 0; t < ntopics; t++) {
        const epoch_topic *et = &topics[t];
        bool allowed = cluster_action ||
                       rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, et->topic);
        rn_write_string(w, et->topic);
        rn_write_array_len(w, et->npartitions);
        for (int32_t i = 0; i < et->npartitions; i++) {
            const epoch_partition *ep = &et->partitions[i];
            int32_t end_epoch = -1;
            int64_t end_offset = -1;
            rn_err err = allowed ? epoch_end(e, cluster, et->topic, ep, &end_epoch, &end_offset)
                                 : RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            rn_write_i16(w, rn_api_wire(req, err));
            rn_write_i32(w, ep->partition);
            if (v >= 1) rn_write_i32(w, end_epoch);
            rn_write_i64(w, end_offset);
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
