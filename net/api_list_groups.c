/* net/api_list_groups.c: ListGroups (key 16), v0-2: every group this broker coordinates
 * that the principal may see. */
#include "api_group.h"
#include "authz.h"

enum rn_api_result rn_api_list_groups(rn_request *req) {
    RN_R_TAGS(&req->body);
    rn_group_listing *l = NULL;
    int n = 0;
    rn_err err = rn_coordinator_list(rn_api_coordinator(req), &l, &n);
    rn_writer *w = &req->resp;
    if (req->api_version >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    /* Kafka: DESCRIBE on the cluster lists every group; without it, the groups the
     * principal may DESCRIBE (no error either way). */
    bool everything = err || rn_authz_quiet(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_CLUSTER, NULL);
    bool *shown = n > 0 && !everything ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *shown) : NULL;
    int32_t nshown = everything ? n : 0;
    for (int i = 0; shown && i < n; i++) {
        shown[i] = rn_authz_quiet(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_GROUP, l[i].group_id);
        nshown += shown[i];
    }
    rn_write_array_len(w, err ? 0 : nshown);
    for (int i = 0; !err && i < n; i++) {
        if (!everything && (!shown || !shown[i])) continue;
        rn_write_string(w, l[i].group_id);
        rn_write_string(w, l[i].protocol_type);
        rn_write_tags(w);
    }
    rn_write_tags(w);
    if (!err) rn_group_listings_free(l, n);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
