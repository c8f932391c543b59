/* net/api_heartbeat.c: Heartbeat (key 12), v0-3: keeps a member's session alive and tells
 * it when to rejoin (REBALANCE_IN_PROGRESS). */
#include "api_group.h"
#include "authz.h"

enum rn_api_result rn_api_heartbeat(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t generation_id;
    char *instance_id = NULL;
    char *group_id = rn_api_read_name(req, r);
    RN_R_I32(r, &generation_id);
    char *member_id = rn_api_read_name(req, r);
    if (req->api_version >= 3 && rn_api_read_opt_name(req, r, &instance_id) != 0) goto err_parse;
    RN_R_TAGS(r);
    if (!group_id || !member_id) goto err_parse;
    /* Kafka: Heartbeat needs READ on the group */
    rn_err err = !rn_authz(req, RN_ACL_OP_READ, RN_ACL_RESOURCE_GROUP, group_id)
                     ? RN_KAFKA_GROUP_AUTHORIZATION_FAILED
                 : rn_api_group_elsewhere(req, group_id)
                     ? rn_api_group_elsewhere(req, group_id)
                     : rn_coordinator_heartbeat(rn_api_coordinator(req), group_id, member_id,
                                                instance_id, generation_id);
    rn_writer *w = &req->resp;
    if (req->api_version >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
