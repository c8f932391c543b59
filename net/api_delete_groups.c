/* net/api_delete_groups.c: DeleteGroups (key 42), v0-1: an Empty group and its committed
 * offsets go; a group with members answers NON_EMPTY_GROUP. */
#include "api_group.h"
#include "authz.h"

enum rn_api_result rn_api_delete_groups(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 2);
    char **ids = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *ids) : NULL;
    if (n > 0 && !ids) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (!(ids[i] = rn_api_read_name(req, r))) goto err_parse;
    RN_R_TAGS(r);
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n > 0 ? n : 0);
    for (int32_t i = 0; i < n; i++) {
        rn_write_string(w, ids[i]);
        /* Kafka: DeleteGroups needs DELETE on each group */
        rn_err err = !rn_authz(req, RN_ACL_OP_DELETE, RN_ACL_RESOURCE_GROUP, ids[i])
                         ? RN_KAFKA_GROUP_AUTHORIZATION_FAILED
                         : rn_api_group_elsewhere(req, ids[i]);
        if (!err) err = rn_coordinator_delete_group(rn_api_coordinator(req), ids[i]);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_tags(w);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
