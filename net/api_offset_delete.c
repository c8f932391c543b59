/* net/api_offset_delete.c: OffsetDelete (key 47), v0: forget committed offsets of some
 * partitions, unless the group's members still consume the topic. */
#include <string.h>

#include "api_group.h"
#include "authz.h"

typedef struct {
    char *name;
    int32_t first, count;
} delete_topic;

enum rn_api_result rn_api_offset_delete(rn_request *req) {
    rn_reader *r = &req->body;
    char *group_id = rn_api_read_name(req, r);
    if (!group_id) goto err_parse;
    int32_t ntopics;
    RN_R_ARRAY(r, &ntopics, 6);
    delete_topic *topics =
        ntopics > 0 ? rn_arena_calloc(&req->arena, (size_t)ntopics, sizeof *topics) : NULL;
    if (ntopics > 0 && !topics) goto err_parse;
    size_t cap = 16, total = 0;
    rn_offset_delete *entries = rn_arena_alloc(&req->arena, cap * sizeof *entries);
    if (!entries) goto err_parse;
    for (int32_t t = 0; t < ntopics; t++) {
        if (!(topics[t].name = rn_api_read_name(req, r))) goto err_parse;
        int32_t np;
        RN_R_ARRAY(r, &np, 4);
        topics[t].first = (int32_t)total;
        topics[t].count = np > 0 ? np : 0;
        for (int32_t i = 0; i < np; i++) {
            if (total == cap) {
                rn_offset_delete *ne = rn_arena_alloc(&req->arena, cap * 2 * sizeof *ne);
                if (!ne) goto err_parse;
                memcpy(ne, entries, cap * sizeof *ne);
                entries = ne;
                cap *= 2;
            }
            rn_offset_delete *e = &entries[total++];
            e->topic = topics[t].name;
            e->error = RN_KAFKA_NONE;
            RN_R_I32(r, &e->partition);
        }
    }
    /* Kafka: OffsetDelete needs DELETE on the group (else GROUP_AUTHORIZATION_FAILED) and
     * READ on each topic (else TOPIC_AUTHORIZATION_FAILED on its partitions, kept). */
    rn_err top = rn_authz(req, RN_ACL_OP_DELETE, RN_ACL_RESOURCE_GROUP, group_id)
                     ? RN_KAFKA_NONE
                     : RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
    if (!top) top = rn_api_group_elsewhere(req, group_id);
    rn_offset_delete *allowed = entries;
    size_t nallowed = total;
    if (!top && rn_authz_enabled(req) && total > 0) {
        if (!(allowed = rn_arena_alloc(&req->arena, total * sizeof *allowed))) goto err_parse;
        nallowed = 0;
        for (int32_t t = 0; t < ntopics; t++) {
            bool ok = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_TOPIC, topics[t].name);
            for (int32_t i = 0; i < topics[t].count; i++) {
                rn_offset_delete *e = &entries[topics[t].first + i];
                if (ok)
                    allowed[nallowed++] = *e;
                else
                    e->error = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
    if (!top && (nallowed > 0 || total == 0))
        top = rn_coordinator_delete_offsets(rn_api_coordinator(req), group_id, allowed,
                                            (int)nallowed);
    for (size_t i = 0, k = 0; allowed != entries && i < total; i++)
        if (!entries[i].error) entries[i].error = allowed[k++].error;
    rn_writer *w = &req->resp;
    rn_write_i16(w, rn_api_wire(req, top));
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, top ? 0 : (ntopics > 0 ? ntopics : 0));
    for (int32_t t = 0; !top && t < ntopics; t++) {
        rn_write_string(w, topics[t].name);
        rn_write_array_len(w, topics[t].count);
        for (int32_t i = 0; i < topics[t].count; i++) {
            rn_write_i32(w, entries[topics[t].first + i].partition);
            rn_write_i16(w, rn_api_wire(req, entries[topics[t].first + i].error));
        }
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
