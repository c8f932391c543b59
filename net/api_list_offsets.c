/* net/api_list_offsets.c: ListOffsets (key 2), v0-5: the earliest offset (-2), the
 * latest (-1, the high watermark, which is also the last stable offset while runnel has
 * no transactions), or the first offset whose record timestamp is at or after a time.
 * Only the partition's leader answers (NOT_LEADER_OR_FOLLOWER, or the epoch errors for a
 * current_leader_epoch, v4+, that is not the leader's). */
#include "cluster.h"
#include "api.h"
#include "authz.h"
#include "conn.h"

#define RN_LIST_OFFSETS_LATEST (-1)
#define RN_LIST_OFFSETS_EARLIEST (-2)

typedef struct {
    int32_t index;
    int32_t current_leader_epoch;
    int64_t timestamp;
    rn_err err;
    int64_t found_offset, found_timestamp;
    int32_t leader_epoch;
} list_partition;

static void list_one(rn_engine *e, rn_cluster *cluster, const char *topic, list_partition *lp) {
    lp->found_offset = lp->found_timestamp = -1;
    lp->leader_epoch = -1;
    rn_partition *p = rn_engine_partition(e, topic, lp->index, &lp->err);
    if (!p && cluster) lp->err = rn_cluster_serve_check(cluster, NULL, topic, lp->index);
    if (!p) return;
    rn_partition_offsets off;
    if ((lp->err = rn_partition_offsets_get(p, &off))) return;
    lp->leader_epoch = off.leader_epoch;
    if ((lp->err = rn_partition_check_leader(p, lp->current_leader_epoch))) return;
    if (cluster && (lp->err = rn_cluster_serve_check(cluster, p, topic, lp->index))) return;
    if (lp->timestamp == RN_LIST_OFFSETS_LATEST)
        lp->found_offset = off.high_watermark;
    else if (lp->timestamp == RN_LIST_OFFSETS_EARLIEST)
        lp->found_offset = off.log_start_offset;
    else if (lp->timestamp < 0)
        lp->err = RN_KAFKA_INVALID_REQUEST; /* -3 (max timestamp) needs v7 */
    else
        lp->err = rn_partition_offset_for_time(p, lp->timestamp, &lp->found_offset,
                                               &lp->found_timestamp);
}

enum rn_api_result rn_api_list_offsets(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_engine *e = rn_conn_opts(req->conn)->engine;
    int32_t replica_id, ntopics;
    int8_t isolation_level = 0;
    RN_R_I32(r, &replica_id);
    if (v >= 2) RN_R_I8(r, &isolation_level);
    RN_R_ARRAY(r, &ntopics, 6);
    char **names = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *names)
                               : NULL;
    int32_t *counts = ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *counts)
                                  : NULL;
    list_partition **parts = ntopics > 0
                                 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *parts)
                                 : NULL;
    if (ntopics > 0 && (!names || !counts || !parts)) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        names[t] = rn_api_read_name(req, r);
        RN_R_ARRAY(r, &counts[t], 12);
        if (!names[t]) goto err_parse;
        if (counts[t] > 0) {
            parts[t] = rn_arena_calloc(&req->arena, (size_t)counts[t], sizeof *parts[t]);
            if (!parts[t]) goto err_parse;
        }
        for (int32_t i = 0; i < counts[t]; i++) {
            list_partition *lp = &parts[t][i];
            lp->current_leader_epoch = -1;
            RN_R_I32(r, &lp->index);
            if (v >= 4) RN_R_I32(r, &lp->current_leader_epoch);
            RN_R_I64(r, &lp->timestamp);
            if (v == 0) {
                int32_t max_num_offsets;
                RN_R_I32(r, &max_num_offsets);
            }
        }
    }

    rn_writer *w = &req->resp;
    if (v >= 2) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, ntopics);
    for (int32_t t = 0; t < ntopics; t++) {
        /* Kafka: ListOffsets needs DESCRIBE on the topic. */
        bool allowed = rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, names[t]);
        rn_write_string(w, names[t]);
        rn_write_array_len(w, counts[t]);
        for (int32_t i = 0; i < counts[t]; i++) {
            list_partition *lp = &parts[t][i];
            if (allowed) {
                list_one(e, rn_conn_opts(req->conn)->cluster, names[t], lp);
            } else {
                lp->err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
                lp->found_offset = lp->found_timestamp = -1;
                lp->leader_epoch = -1;
            }
            rn_write_i32(w, lp->index);
            rn_write_i16(w, rn_api_wire(req, lp->err));
            if (v == 0) {
                bool have = !lp->err && lp->found_offset >= 0;
                rn_write_array_len(w, have ? 1 : 0);
                if (have) rn_write_i64(w, lp->found_offset);
            } else {
                rn_write_i64(w, lp->found_timestamp);
                rn_write_i64(w, lp->found_offset);
                if (v >= 4) rn_write_i32(w, lp->leader_epoch);
            }
        }
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
