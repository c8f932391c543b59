/* net/api_leave_group.c: LeaveGroup (key 13), v0-3. v0-2 name one member; v3 a batch
 * (static members by instance id), each answered on its own. */
#include "api_group.h"
#include "authz.h"

enum rn_api_result rn_api_leave_group(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_coordinator *c = rn_api_coordinator(req);
    rn_writer *w = &req->resp;
    char *group_id = rn_api_read_name(req, r);
    if (!group_id) goto err_parse;
    if (v < 3) {
        char *member_id = rn_api_read_name(req, r);
        if (!member_id) goto err_parse;
        /* Kafka: LeaveGroup needs READ on the group */
        rn_err err = !rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id)
                         ? RN_KAFKA_GROUP_AUTHORIZATION_FAILED
                         : rn_api_group_elsewhere(req, group_id);
        if (!err) err = rn_coordinator_leave(c, group_id, member_id, NULL);
        if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
        rn_write_i16(w, rn_api_wire(req, err));
        return RN_API_DONE;
    }
    int32_t n;
    RN_R_ARRAY(r, &n, 4);
    char **ids = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n * 2, sizeof *ids) : NULL;
    if (n > 0 && !ids) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        ids[2 * i] = rn_api_read_name(req, r);
        if (!ids[2 * i] || rn_api_read_opt_name(req, r, &ids[2 * i + 1]) != 0) goto err_parse;
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_err top = group_id[0] ? RN_KAFKA_NONE : RN_KAFKA_INVALID_GROUP_ID;
    if (!top && !rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id))
        top = RN_KAFKA_GROUP_AUTHORIZATION_FAILED; /* Kafka: READ on the group */
    if (!top) top = rn_api_group_elsewhere(req, group_id);
    rn_write_i16(w, rn_api_wire(req, top));
    rn_write_array_len(w, top ? 0 : (n > 0 ? n : 0));
    for (int32_t i = 0; !top && i < n; i++) {
        rn_err err = rn_coordinator_leave(c, group_id, ids[2 * i], ids[2 * i + 1]);
        rn_write_string(w, ids[2 * i]);
        rn_write_string(w, ids[2 * i + 1]);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
