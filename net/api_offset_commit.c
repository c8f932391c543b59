/* net/api_offset_commit.c: OffsetCommit (key 8), v0-7. v0 commits without a generation
 * (a consumer that assigns its own partitions); v1+ carry the member's generation, which
 * the coordinator checks. A group-level error answers every partition with it. */
#include <string.h>

#include "api_group.h"
#include "authz.h"
#include "cluster.h"
#include "conn.h"

typedef struct {
    char *name;
    int32_t first, count; /* entries[first .. first+count) */
} commit_topic;

enum rn_api_result rn_api_offset_commit(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    int32_t generation_id = -1;
    char *member_id = "", *instance_id = NULL;
    char *group_id = rn_api_read_name(req, r);
    if (!group_id) goto err_parse;
    if (v >= 1) {
        RN_R_I32(r, &generation_id);
        if (!(member_id = rn_api_read_name(req, r))) goto err_parse;
    }
    if (v >= 7 && rn_api_read_opt_name(req, r, &instance_id) != 0) goto err_parse;
    if (v >= 2 && v <= 4) {
        int64_t retention_time_ms; /* ignored, as Kafka 2.1+ does: offsets.retention.minutes */
        RN_R_I64(r, &retention_time_ms);
    }
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 6);
    commit_topic *topics =
        ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *topics) : NULL;
    if (ntopics > 0 && !topics) goto err_parse;
    /* Entries are counted as they come; the frame bounds their number. */
    size_t cap = 16, total = 0;
    rn_offset_commit *entries = rn_arena_alloc(&req->arena, cap * sizeof *entries);
    if (!entries) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        topics[t].name = rn_api_read_name(req, r);
        if (!topics[t].name) goto err_parse;
        int32_t np;
        RN_R_ARRAY(r, &np, 14);
        topics[t].first = (int32_t)total;
        topics[t].count = np > 0 ? np : 0;
        for (int32_t i = 0; i < np; i++) {
            if (total == cap) {
                rn_offset_commit *ne = rn_arena_alloc(&req->arena, cap * 2 * sizeof *ne);
                if (!ne) goto err_parse;
                memcpy(ne, entries, cap * sizeof *ne);
                entries = ne;
                cap *= 2;
            }
            rn_offset_commit *e = &entries[total++];
            memset(e, 0, sizeof *e);
            e->topic = topics[t].name;
            e->leader_epoch = -1;
            RN_R_I32(r, &e->partition);
            RN_R_I64(r, &e->offset);
            if (v >= 6) RN_R_I32(r, &e->leader_epoch);
            if (v == 1) {
                int64_t commit_timestamp; /* the broker stamps commits itself */
                RN_R_I64(r, &commit_timestamp);
            }
            char *meta;
            if (rn_api_read_opt_name(req, r, &meta) != 0) goto err_parse;
            e->metadata = meta;
            RN_R_TAGS(r);
        }
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    /* Kafka: OffsetCommit needs READ on the group (else GROUP_AUTHORIZATION_FAILED on
     * every partition) and READ on each topic (else TOPIC_AUTHORIZATION_FAILED on its
     * partitions, which are not committed; the others are). */
    rn_err top = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id)
                     ? RN_KAFKA_NONE
                     : RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
    if (!top) top = rn_api_group_elsewhere(req, group_id);
    rn_offset_commit *allowed = entries;
    size_t nallowed = total;
    if (!top && rn_authz_enabled(req) && total > 0) {
        if (!(allowed = rn_arena_alloc(&req->arena, total * sizeof *allowed))) goto err_parse;
        nallowed = 0;
        for (int32_t t = 0; t < ntopics; t++) {
            bool ok = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, topics[t].name);
            for (int32_t i = 0; i < topics[t].count; i++) {
                rn_offset_commit *e = &entries[topics[t].first + i];
                if (ok)
                    allowed[nallowed++] = *e;
                else
                    e->error = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
    if (!top && (nallowed > 0 || total == 0))
        top = rn_coordinator_commit(rn_api_coordinator(req), group_id, generation_id, member_id,
                                    instance_id, allowed, (int)nallowed);
    for (size_t i = 0, k = 0; allowed != entries && i < total; i++)
        if (!entries[i].error) entries[i].error = allowed[k++].error;
    rn_cluster *cluster = rn_conn_opts(req->conn)->cluster;
    if (cluster && !top) rn_cluster_replicate_commits(cluster, group_id, allowed, (int)nallowed);
    rn_writer *w = &req->resp;
    if (v >= 3) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, ntopics > 0 ? ntopics : 0);
    for (int32_t t = 0; t < ntopics; t++) {
        rn_write_string(w, topics[t].name);
        rn_write_array_len(w, topics[t].count);
        for (int32_t i = 0; i < topics[t].count; i++) {
            const rn_offset_commit *e = &entries[topics[t].first + i];
            rn_write_i32(w, e->partition);
            bool topic_denied = e->error == RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            rn_write_i16(w, rn_api_wire(req, top && !topic_denied ? top : e->error));
            rn_write_tags(w);
        }
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
