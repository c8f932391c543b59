/* net/api_describe_groups.c: DescribeGroups (key 15), v0-4: state, protocol and members
 * (with their subscriptions and assignments once the group is Stable). An unknown group
 * is described as Dead, as Kafka does. */
#include "api_group.h"
#include "authz.h"

/* authorized_operations: the bits of READ, DELETE and DESCRIBE (a group's operations)
 * this principal may do on the group. */
static int32_t group_authorized_operations(rn_request *req, const char *group_id) {
    static const int ops[] = {RN_ACL_OP_READ, RN_ACL_OP_DELETE, RN_ACL_OP_DESCRIBE};
    int32_t bits = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (rn_authz_quiet(req, ops[i], RN_ACL_RESOURCE_GROUP, group_id)) bits |= 1 << ops[i];
    return bits;
}

enum rn_api_result rn_api_describe_groups(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    int32_t n;
    bool include_ops = false;
    RN_R_ARRAY(r, &n, 2);
    char **ids = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *ids) : NULL;
    if (n > 0 && !ids) goto err_parse;
    for (int32_t i = 0; i < n; i++)
        if (!(ids[i] = rn_api_read_name(req, r))) goto err_parse;
    if (v >= 3) RN_R_BOOL(r, &include_ops);
    RN_R_TAGS(r);

    rn_writer *w = &req->resp;
    if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n > 0 ? n : 0);
    for (int32_t i = 0; i < n; i++) {
        rn_group_description d;
        rn_err err = !ids[i][0] ? RN_KAFKA_INVALID_GROUP_ID
                     /* Kafka: DescribeGroups needs DESCRIBE on each group */
                     : !rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_GROUP, ids[i])
                         ? RN_KAFKA_GROUP_AUTHORIZATION_FAILED
                     : rn_api_group_elsewhere(req, ids[i]) ? rn_api_group_elsewhere(req, ids[i])
                         : rn_coordinator_describe(rn_api_coordinator(req), ids[i], &d);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, ids[i]);
        rn_write_string(w, err ? "" : d.state);
        rn_write_string(w, err ? "" : d.protocol_type);
        rn_write_string(w, err ? "" : d.protocol_name);
        rn_write_array_len(w, err ? 0 : d.nmembers);
        for (int k = 0; !err && k < d.nmembers; k++) {
            const rn_member_description *m = &d.members[k];
            rn_write_string(w, m->member_id);
            if (v >= 4) rn_write_string(w, m->group_instance_id);
            rn_write_string(w, m->client_id);
            rn_write_string(w, m->client_host);
            rn_write_bytes(w, m->metadata, (int32_t)m->metadata_len);
            rn_write_bytes(w, m->assignment, (int32_t)m->assignment_len);
            rn_write_tags(w);
        }
        if (v >= 3)
            rn_write_i32(w, include_ops && !err ? group_authorized_operations(req, ids[i]) : INT32_MIN);
        rn_write_tags(w);
        if (!err) rn_group_description_clear(&d);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
