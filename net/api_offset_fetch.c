/* net/api_offset_fetch.c: OffsetFetch (key 9), v0-5: a group's committed offsets, for
 * the partitions asked or (v2+, topics null) all of them; -1 where nothing is committed.
 * With ListOffsets this is how admin tools compute consumer lag. */
#include <string.h>

#include "api_group.h"
#include "authz.h"

static void write_partition(rn_request *req, rn_writer *w, int16_t v, int32_t partition, int64_t offset,
                            int32_t leader_epoch, const char *metadata, rn_err err) {
    rn_write_i32(w, partition);
    rn_write_i64(w, offset);
    if (v >= 5) rn_write_i32(w, leader_epoch);
    /* metadata is nullable in the schema, but clients expect "" for none */
    rn_write_string(w, metadata ? metadata : "");
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_tags(w);
}

enum rn_api_result rn_api_offset_fetch(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_coordinator *c = rn_api_coordinator(req);
    rn_writer *w = &req->resp;
    char *group_id = rn_api_read_name(req, r);
    if (!group_id) goto err_parse;
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 6); /* -1 (null): every committed offset */
    if (v >= 3) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_err top = group_id[0] ? RN_KAFKA_NONE : RN_KAFKA_INVALID_GROUP_ID;
    /* Kafka: OffsetFetch needs DESCRIBE on the group, and DESCRIBE on each topic: named
     * topics answer TOPIC_AUTHORIZATION_FAILED, an all-offsets fetch leaves them out. */
    if (!top && !rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_GROUP, group_id))
        top = RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
    if (!top) top = rn_api_group_elsewhere(req, group_id);

    if (ntopics < 0) {
        RN_R_TAGS(r);
        rn_committed_offset *all = NULL;
        int n = 0;
        if (!top) top = rn_coordinator_committed_all(c, group_id, &all, &n);
        if (top) n = 0;
        /* Sorted by topic: one entry per run of the same topic. */
        bool *shown = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *shown) : NULL;
        if (n > 0 && !shown) {
            rn_committed_offsets_free(all, n);
            goto err_parse;
        }
        int ntop = 0;
        for (int i = 0; i < n; i++) {
            bool first = i == 0 || strcmp(all[i].topic, all[i - 1].topic) != 0;
            shown[i] = first ? rn_authz_quiet(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC,
                                              all[i].topic)
                             : shown[i - 1];
            if (first && shown[i]) ntop++;
        }
        rn_write_array_len(w, ntop);
        for (int i = 0; i < n;) {
            int j = i;
            while (j < n && strcmp(all[j].topic, all[i].topic) == 0) j++;
            if (!shown[i]) {
                i = j;
                continue;
            }
            rn_write_string(w, all[i].topic);
            rn_write_array_len(w, j - i);
            for (int k = i; k < j; k++)
                write_partition(req, w, v, all[k].partition, all[k].offset, all[k].leader_epoch,
                                all[k].metadata, RN_KAFKA_NONE);
            rn_write_tags(w);
            i = j;
        }
        rn_committed_offsets_free(all, n);
    } else {
        /* Answer as we read: every partition asked gets its offset or -1. */
        rn_write_array_len(w, ntopics);
        for (int32_t t = 0; t < ntopics; t++) {
            char *topic = rn_api_read_name(req, r);
            if (!topic) goto err_parse;
            int32_t np;
            RN_R_ARRAY(r, &np, 4);
            rn_write_string(w, topic);
            rn_write_array_len(w, np > 0 ? np : 0);
            bool topic_ok = top || rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TOPIC, topic);
            for (int32_t i = 0; i < np; i++) {
                int32_t partition;
                RN_R_I32(r, &partition);
                rn_committed_offset o = {.offset = -1, .leader_epoch = -1};
                rn_err err = top ? top : topic_ok ? RN_KAFKA_NONE : RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
                if (!err) err = rn_coordinator_committed(c, group_id, topic, partition, &o);
                /* v0-1 have no group-level error: it goes on every partition */
                write_partition(req, w, v, partition, err ? -1 : o.offset, err ? -1 : o.leader_epoch,
                                err ? NULL : o.metadata, v < 2 || err != top ? err : RN_KAFKA_NONE);
                rn_committed_offset_clear(&o);
            }
            RN_R_TAGS(r);
            rn_write_tags(w);
        }
        RN_R_TAGS(r);
    }
    if (v >= 2) rn_write_i16(w, rn_api_wire(req, top));
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
