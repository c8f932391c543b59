/* net/api_list_groups.c: ListGroups (key 16), v0-2: every group this broker coordinates. */
#include "api_group.h"

enum rn_api_result rn_api_list_groups(rn_request *req) {
    RN_R_TAGS(&req->body);
    rn_group_listing *l = NULL;
    int n = 0;
    rn_err err = rn_coordinator_list(rn_api_coordinator(req), &l, &n);
    rn_writer *w = &req->resp;
    if (req->api_version >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_array_len(w, err ? 0 : n);
    for (int i = 0; !err && i < n; i++) {
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
