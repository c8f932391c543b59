/* net/api.c: the API table. ApiVersions advertises exactly these rows; the minimum is 0
 * everywhere because librdkafka enables features by probing low versions
 * (PROTOCOL.md trap 1), even where old versions are answered with an error. */
#include "api.h"

#include "rnlog.h"

static const rn_api rn_apis[] = {
    {0, "Produce", 0, 8, 9, rn_api_produce, false},
    {1, "Fetch", 0, 11, 12, rn_api_fetch, false},
    {2, "ListOffsets", 0, 5, 6, rn_api_list_offsets, false},
    {3, "Metadata", 0, 8, 9, rn_api_metadata, false},
    {8, "OffsetCommit", 0, 7, 8, rn_api_offset_commit, false},
    {9, "OffsetFetch", 0, 5, 6, rn_api_offset_fetch, false},
    {10, "FindCoordinator", 0, 2, 3, rn_api_find_coordinator, false},
    {11, "JoinGroup", 0, 5, 6, rn_api_join_group, false},
    {12, "Heartbeat", 0, 3, 4, rn_api_heartbeat, false},
    {13, "LeaveGroup", 0, 3, 4, rn_api_leave_group, false},
    {14, "SyncGroup", 0, 3, 4, rn_api_sync_group, false},
    {15, "DescribeGroups", 0, 4, 5, rn_api_describe_groups, false},
    {16, "ListGroups", 0, 2, 3, rn_api_list_groups, false},
    {17, "SaslHandshake", 0, 1, -1, rn_api_sasl_handshake, false},
    {18, "ApiVersions", 0, 3, 3, rn_api_api_versions, false},
    {19, "CreateTopics", 0, 4, 5, rn_api_create_topics, true},
    {20, "DeleteTopics", 0, 3, 4, rn_api_delete_topics, true},
    {21, "DeleteRecords", 0, 1, 2, rn_api_delete_records, false},
    {22, "InitProducerId", 0, 1, 2, rn_api_init_producer_id, false},
    {23, "OffsetForLeaderEpoch", 0, 4, 4, rn_api_offset_for_leader_epoch, false},
    {29, "DescribeAcls", 0, 1, -1, rn_api_describe_acls, false},
    {30, "CreateAcls", 0, 1, -1, rn_api_create_acls, true},
    {31, "DeleteAcls", 0, 1, -1, rn_api_delete_acls, true},
    {32, "DescribeConfigs", 0, 2, 4, rn_api_describe_configs, false},
    {33, "AlterConfigs", 0, 1, 2, rn_api_alter_configs, true},
    {36, "SaslAuthenticate", 0, 2, 2, rn_api_sasl_authenticate, false},
    {37, "CreatePartitions", 0, 1, 2, rn_api_create_partitions, true},
    {42, "DeleteGroups", 0, 1, 2, rn_api_delete_groups, false},
    {44, "IncrementalAlterConfigs", 0, 0, 1, rn_api_incremental_alter_configs, true},
    {45, "AlterPartitionReassignments", 0, 0, 0, rn_api_alter_partition_reassignments, true},
    {46, "ListPartitionReassignments", 0, 0, 0, rn_api_list_partition_reassignments, true},
    {47, "OffsetDelete", 0, 0, -1, rn_api_offset_delete, false},
    {50, "DescribeUserScramCredentials", 0, 0, 0, rn_api_describe_user_scram_credentials, false},
    {51, "AlterUserScramCredentials", 0, 0, 0, rn_api_alter_user_scram_credentials, true},
    {56, "AlterPartition", 0, 1, 0, rn_api_alter_partition, false},
    {58, "Envelope", 0, 0, 0, rn_api_envelope, false},
    {62, "BrokerRegistration", 0, 0, 0, rn_api_broker_registration, false},
    {63, "BrokerHeartbeat", 0, 0, 0, rn_api_broker_heartbeat, false},
};

const char *rn_api_error_message(rn_err err, const char *message) {
    if (!err) return NULL;
    return message && message[0] ? message : rn_err_message(err);
}

const rn_api *rn_api_find(int16_t key) {
    for (size_t i = 0; i < sizeof rn_apis / sizeof rn_apis[0]; i++)
        if (rn_apis[i].key == key) return &rn_apis[i];
    return NULL;
}

const rn_api *rn_api_table(int *count) {
    *count = (int)(sizeof rn_apis / sizeof rn_apis[0]);
    return rn_apis;
}

int16_t rn_api_wire(rn_request *req, rn_err err) {
    int16_t code = rn_err_wire(err);
    if (code == 0) return 0;
    for (int i = 0; i < req->nerrors; i++)
        if (req->errors[i].code == code) {
            req->errors[i].count++;
            return code;
        }
    int n = (int)(sizeof req->errors / sizeof req->errors[0]);
    if (req->nerrors < n) {
        req->errors[req->nerrors].code = code;
        req->errors[req->nerrors].count = 1;
        req->nerrors++;
    }
    return code;
}

char *rn_api_read_name(rn_request *req, rn_reader *r) {
    rn_bytes name;
    if (rn_read_string(r, &name) != 0) {
        rn_reader_fail(r, __FILE__, __LINE__, "name");
        return NULL;
    }
    return rn_arena_strndup(&req->arena, name.ptr, name.len < 0 ? 0 : name.len);
}

enum rn_api_result rn_api_malformed(rn_request *req) {
    rn_log_warn("malformed %s v%d request (correlation id %d) at body offset %zu: cannot read %s "
                "(%s:%d); closing the connection",
                req->api ? req->api->name : "?", req->api_version, req->correlation_id,
                rn_reader_offset(&req->body), req->body.fail_what ? req->body.fail_what : "?",
                req->body.fail_file ? req->body.fail_file : "?", req->body.fail_line);
    return RN_API_MALFORMED;
}
