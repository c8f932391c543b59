/* net/api_join_group.c: JoinGroup (key 11), v0-5. The request parks until the
 * coordinator completes the join phase (all members rejoined, the rebalance timeout, or
 * the initial delay of a new group); the leader's answer lists every member's
 * subscription so it can compute the assignment. */
#include "api_group.h"
#include "authz.h"

static void join_respond(rn_group_wait *gw) {
    rn_request *req = gw->req;
    int16_t v = req->api_version;
    const rn_join_result *res = &gw->waiter.join;
    rn_writer *w = &req->resp;
    if (v >= 2) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, res->error));
    rn_write_i32(w, res->error ? -1 : res->generation_id);
    /* protocol_name is not nullable before v7 */
    rn_write_string(w, res->protocol_name ? res->protocol_name : "");
    rn_write_string(w, res->leader ? res->leader : "");
    rn_write_string(w, res->member_id ? res->member_id : "");
    rn_write_array_len(w, res->nmembers);
    for (int i = 0; i < res->nmembers; i++) {
        const rn_join_member *m = &res->members[i];
        rn_write_string(w, m->member_id);
        if (v >= 5) rn_write_string(w, m->group_instance_id);
        rn_write_bytes(w, m->metadata, (int32_t)m->metadata_len);
        rn_write_tags(w);
    }
    rn_write_tags(w);
}

enum rn_api_result rn_api_join_group(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    rn_join_request jr = {0};
    char *group_id, *member_id, *protocol_type, *instance_id = NULL;
    jr.rebalance_timeout_ms = -1;
    group_id = rn_api_read_name(req, r);
    RN_R_I32(r, &jr.session_timeout_ms);
    if (v >= 1) RN_R_I32(r, &jr.rebalance_timeout_ms);
    member_id = rn_api_read_name(req, r);
    if (v >= 5 && rn_api_read_opt_name(req, r, &instance_id) != 0) goto err_parse;
    protocol_type = rn_api_read_name(req, r);
    if (!group_id || !member_id || !protocol_type) goto err_parse;
    int32_t n;
    RN_R_ARRAY(r, &n, 4);
    rn_group_protocol *protocols =
        n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *protocols) : NULL;
    if (n > 0 && !protocols) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        rn_bytes meta;
        protocols[i].name = rn_api_read_name(req, r);
        RN_R_BYTES(r, &meta);
        RN_R_TAGS(r);
        if (!protocols[i].name) goto err_parse;
        protocols[i].metadata = meta.ptr;
        protocols[i].metadata_len = meta.len > 0 ? (size_t)meta.len : 0;
    }
    RN_R_TAGS(r);

    jr.group_id = group_id;
    jr.member_id = member_id;
    jr.group_instance_id = instance_id;
    jr.protocol_type = protocol_type;
    jr.client_id = rn_arena_strndup(&req->arena, req->client_id.ptr,
                                    req->client_id.len > 0 ? req->client_id.len : 0);
    jr.client_host = rn_api_client_host(req);
    jr.protocols = protocols;
    jr.nprotocols = n > 0 ? n : 0;
    jr.require_known_member_id = v >= 4;

    /* Kafka: JoinGroup needs READ on the group */
    bool allowed = rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id);
    rn_err elsewhere = allowed ? rn_api_group_elsewhere(req, group_id) : RN_KAFKA_NONE;
    rn_group_wait *gw = allowed && !elsewhere ? rn_group_wait_new(req, join_respond, true) : NULL;
    if (!gw) {
        rn_group_wait fake = {.req = req};
        fake.waiter.join.error = elsewhere  ? elsewhere
                                 : allowed ? RN_ERR_NOMEM
                                           : RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
        join_respond(&fake);
        return RN_API_DONE;
    }
    rn_coordinator_join(rn_api_coordinator(req), &jr, &gw->waiter);
    return RN_API_DEFERRED;
err_parse:
    return rn_api_malformed(req);
}
