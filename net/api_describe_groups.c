/* net/api_describe_groups.c: DescribeGroups (key 15), v0-4: state, protocol and members
 * (with their subscriptions and assignments once the group is Stable). An unknown group
 * is described as Dead, as Kafka does. */
#include "api_group.h"

/* Without an authorizer every group operation is allowed: READ, DELETE, DESCRIBE. */
#define GROUP_AUTHORIZED_OPERATIONS ((1 << 3) | (1 << 6) | (1 << 8))

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
        rn_err err = ids[i][0] ? rn_coordinator_describe(rn_api_coordinator(req), ids[i], &d)
                               : RN_KAFKA_INVALID_GROUP_ID;
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
        if (v >= 3) rn_write_i32(w, include_ops ? GROUP_AUTHORIZED_OPERATIONS : INT32_MIN);
        rn_write_tags(w);
        if (!err) rn_group_description_clear(&d);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
