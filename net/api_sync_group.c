/* net/api_sync_group.c: SyncGroup (key 14), v0-3. The leader brings every member's
 * assignment; followers park until it does (or a new rebalance answers them with
 * REBALANCE_IN_PROGRESS). */
#include "api_group.h"
#include "authz.h"

static void sync_respond(rn_group_wait *gw) {
    rn_request *req = gw->req;
    const rn_sync_result *res = &gw->waiter.sync;
    rn_writer *w = &req->resp;
    if (req->api_version >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, res->error));
    rn_write_bytes(w, res->error ? NULL : res->assignment,
                   res->error ? 0 : (int32_t)res->assignment_len);
    rn_write_tags(w);
}

enum rn_api_result rn_api_sync_group(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_sync_request sr = {0};
    char *group_id, *member_id, *instance_id = NULL;
    group_id = rn_api_read_name(req, r);
    RN_R_I32(r, &sr.generation_id);
    member_id = rn_api_read_name(req, r);
    if (v >= 3 && rn_api_read_opt_name(req, r, &instance_id) != 0) goto err_parse;
    if (!group_id || !member_id) goto err_parse;
    int32_t n;
    RN_R_ARRAY(r, &n, 6);
    rn_group_assignment *as = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *as) : NULL;
    if (n > 0 && !as) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        rn_bytes a;
        as[i].member_id = rn_api_read_name(req, r);
        RN_R_BYTES(r, &a);
        RN_R_TAGS(r);
        if (!as[i].member_id) goto err_parse;
        as[i].assignment = a.ptr;
        as[i].assignment_len = a.len > 0 ? (size_t)a.len : 0;
    }
    RN_R_TAGS(r);
    sr.group_id = group_id;
    sr.member_id = member_id;
    sr.group_instance_id = instance_id;
    sr.assignments = as;
    sr.nassignments = n > 0 ? n : 0;

    /* Kafka: SyncGroup needs READ on the group */
    bool allowed = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id);
    rn_err elsewhere = allowed ? rn_api_group_elsewhere(req, group_id) : RN_KAFKA_NONE;
    rn_group_wait *gw = allowed && !elsewhere ? rn_group_wait_new(req, sync_respond, false) : NULL;
    if (!gw) {
        rn_group_wait fake = {.req = req};
        fake.waiter.sync.error = elsewhere  ? elsewhere
                                 : allowed ? RN_ERR_NOMEM
                                           : RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
        sync_respond(&fake);
        return RN_API_DONE;
    }
    rn_coordinator_sync(rn_api_coordinator(req), &sr, &gw->waiter);
    return RN_API_DEFERRED;
err_parse:
    return rn_api_malformed(req);
}
