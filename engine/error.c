/* engine/error.c: the table of error codes: name, retriable flag and text, in one place. */
#include "error.h"

#include <stddef.h>

typedef struct {
    rn_err code;
    const char *name;
    bool retriable;
    const char *message;
} rn_err_row;

static const rn_err_row rn_err_table[] = {
    {RN_ERR_NOMEM, "RN_ERR_NOMEM", true, "Out of memory."},
    {RN_ERR_IO, "RN_ERR_IO", true, "Local I/O error."},
    {RN_ERR_PARSE, "RN_ERR_PARSE", false, "Malformed input."},
    {RN_ERR_INTERNAL, "RN_ERR_INTERNAL", false, "Internal error."},
    {-1, "UNKNOWN_SERVER_ERROR", false, "The server experienced an unexpected error when processing the request."},
    {RN_KAFKA_NONE, "NONE", false, "Success."},
    {RN_KAFKA_OFFSET_OUT_OF_RANGE, "OFFSET_OUT_OF_RANGE", false, "The requested offset is not within the range of offsets maintained by the server."},
    {RN_KAFKA_CORRUPT_MESSAGE, "CORRUPT_MESSAGE", true, "This message has failed its CRC checksum, exceeds the valid size, has a null key for a compacted topic, or is otherwise corrupt."},
    {RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION, "UNKNOWN_TOPIC_OR_PARTITION", true, "This server does not host this topic-partition."},
    {RN_KAFKA_INVALID_FETCH_SIZE, "INVALID_FETCH_SIZE", false, "The requested fetch size is invalid."},
    {RN_KAFKA_LEADER_NOT_AVAILABLE, "LEADER_NOT_AVAILABLE", true, "There is no leader for this topic-partition as we are in the middle of a leadership election."},
    {RN_KAFKA_NOT_LEADER_OR_FOLLOWER, "NOT_LEADER_OR_FOLLOWER", true, "For requests intended only for the leader, this error indicates that the broker is not the current leader."},
    {RN_KAFKA_REQUEST_TIMED_OUT, "REQUEST_TIMED_OUT", true, "The request timed out."},
    {RN_KAFKA_BROKER_NOT_AVAILABLE, "BROKER_NOT_AVAILABLE", false, "The broker is not available."},
    {RN_KAFKA_REPLICA_NOT_AVAILABLE, "REPLICA_NOT_AVAILABLE", true, "The replica is not available for the requested topic-partition."},
    {RN_KAFKA_MESSAGE_TOO_LARGE, "MESSAGE_TOO_LARGE", false, "The request included a message larger than the max message size the server will accept."},
    {RN_KAFKA_OFFSET_METADATA_TOO_LARGE, "OFFSET_METADATA_TOO_LARGE", false, "The metadata field of the offset request was too large."},
    {RN_KAFKA_NETWORK_EXCEPTION, "NETWORK_EXCEPTION", true, "The server disconnected before a response was received."},
    {RN_KAFKA_COORDINATOR_LOAD_IN_PROGRESS, "COORDINATOR_LOAD_IN_PROGRESS", true, "The coordinator is loading and hence can't process requests."},
    {RN_KAFKA_COORDINATOR_NOT_AVAILABLE, "COORDINATOR_NOT_AVAILABLE", true, "The coordinator is not available."},
    {RN_KAFKA_NOT_COORDINATOR, "NOT_COORDINATOR", true, "This is not the correct coordinator."},
    {RN_KAFKA_INVALID_TOPIC_EXCEPTION, "INVALID_TOPIC_EXCEPTION", false, "The request attempted to perform an operation on an invalid topic."},
    {RN_KAFKA_RECORD_LIST_TOO_LARGE, "RECORD_LIST_TOO_LARGE", false, "The request included message batch larger than the configured segment size on the server."},
    {RN_KAFKA_NOT_ENOUGH_REPLICAS, "NOT_ENOUGH_REPLICAS", true, "Messages are rejected since there are fewer in-sync replicas than required."},
    {RN_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true, "Messages are written to the log, but to fewer in-sync replicas than required."},
    {RN_KAFKA_INVALID_REQUIRED_ACKS, "INVALID_REQUIRED_ACKS", false, "Produce request specified an invalid value for required acks."},
    {RN_KAFKA_ILLEGAL_GENERATION, "ILLEGAL_GENERATION", false, "Specified group generation id is not valid."},
    {RN_KAFKA_INCONSISTENT_GROUP_PROTOCOL, "INCONSISTENT_GROUP_PROTOCOL", false, "The group member's supported protocols are incompatible with those of existing members or first group member tried to join with empty protocol type or empty protocol list."},
    {RN_KAFKA_INVALID_GROUP_ID, "INVALID_GROUP_ID", false, "The configured groupId is invalid."},
    {RN_KAFKA_UNKNOWN_MEMBER_ID, "UNKNOWN_MEMBER_ID", false, "The coordinator is not aware of this member."},
    {RN_KAFKA_INVALID_SESSION_TIMEOUT, "INVALID_SESSION_TIMEOUT", false, "The session timeout is not within the range allowed by the broker."},
    {RN_KAFKA_REBALANCE_IN_PROGRESS, "REBALANCE_IN_PROGRESS", false, "The group is rebalancing, so a rejoin is needed."},
    {RN_KAFKA_INVALID_COMMIT_OFFSET_SIZE, "INVALID_COMMIT_OFFSET_SIZE", false, "The committing offset data size is not valid."},
    {RN_KAFKA_TOPIC_AUTHORIZATION_FAILED, "TOPIC_AUTHORIZATION_FAILED", false, "Topic authorization failed."},
    {RN_KAFKA_GROUP_AUTHORIZATION_FAILED, "GROUP_AUTHORIZATION_FAILED", false, "Group authorization failed."},
    {RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED, "CLUSTER_AUTHORIZATION_FAILED", false, "Cluster authorization failed."},
    {RN_KAFKA_INVALID_TIMESTAMP, "INVALID_TIMESTAMP", false, "The timestamp of the message is out of acceptable range."},
    {RN_KAFKA_UNSUPPORTED_SASL_MECHANISM, "UNSUPPORTED_SASL_MECHANISM", false, "The broker does not support the requested SASL mechanism."},
    {RN_KAFKA_ILLEGAL_SASL_STATE, "ILLEGAL_SASL_STATE", false, "Request is not valid given the current SASL state."},
    {RN_KAFKA_UNSUPPORTED_VERSION, "UNSUPPORTED_VERSION", false, "The version of API is not supported."},
    {RN_KAFKA_TOPIC_ALREADY_EXISTS, "TOPIC_ALREADY_EXISTS", false, "Topic with this name already exists."},
    {RN_KAFKA_INVALID_PARTITIONS, "INVALID_PARTITIONS", false, "Number of partitions is below 1."},
    {RN_KAFKA_INVALID_REPLICATION_FACTOR, "INVALID_REPLICATION_FACTOR", false, "Replication factor is below 1 or larger than the number of available brokers."},
    {RN_KAFKA_INVALID_REPLICA_ASSIGNMENT, "INVALID_REPLICA_ASSIGNMENT", false, "Replica assignment is invalid."},
    {RN_KAFKA_INVALID_CONFIG, "INVALID_CONFIG", false, "Configuration is invalid."},
    {RN_KAFKA_NOT_CONTROLLER, "NOT_CONTROLLER", true, "This is not the correct controller for this cluster."},
    {RN_KAFKA_INVALID_REQUEST, "INVALID_REQUEST", false, "This most likely occurs because of a request being malformed by the client library or the message was sent to an incompatible broker."},
    {RN_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false, "The message format version on the broker does not support the request."},
    {RN_KAFKA_POLICY_VIOLATION, "POLICY_VIOLATION", false, "Request parameters do not satisfy the configured policy."},
    {RN_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, "OUT_OF_ORDER_SEQUENCE_NUMBER", false, "The broker received an out of order sequence number."},
    {RN_KAFKA_DUPLICATE_SEQUENCE_NUMBER, "DUPLICATE_SEQUENCE_NUMBER", false, "The broker received a duplicate sequence number."},
    {RN_KAFKA_INVALID_PRODUCER_EPOCH, "INVALID_PRODUCER_EPOCH", false, "Producer attempted to produce with an old epoch."},
    {RN_KAFKA_INVALID_TXN_STATE, "INVALID_TXN_STATE", false, "The producer attempted a transactional operation in an invalid state."},
    {RN_KAFKA_INVALID_PRODUCER_ID_MAPPING, "INVALID_PRODUCER_ID_MAPPING", false, "The producer attempted to use a producer id which is not currently assigned to its transactional id."},
    {RN_KAFKA_INVALID_TRANSACTION_TIMEOUT, "INVALID_TRANSACTION_TIMEOUT", false, "The transaction timeout is larger than the maximum value allowed by the broker."},
    {RN_KAFKA_CONCURRENT_TRANSACTIONS, "CONCURRENT_TRANSACTIONS", true, "The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing."},
    {RN_KAFKA_TRANSACTION_COORDINATOR_FENCED, "TRANSACTION_COORDINATOR_FENCED", false, "Indicates that the transaction coordinator sending a WriteTxnMarker is no longer the current coordinator."},
    {RN_KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false, "Transactional Id authorization failed."},
    {RN_KAFKA_SECURITY_DISABLED, "SECURITY_DISABLED", false, "Security features are disabled."},
    {RN_KAFKA_OPERATION_NOT_ATTEMPTED, "OPERATION_NOT_ATTEMPTED", false, "The broker did not attempt to execute this operation."},
    {RN_KAFKA_KAFKA_STORAGE_ERROR, "KAFKA_STORAGE_ERROR", true, "Disk error when trying to access log file on the disk."},
    {RN_KAFKA_LOG_DIR_NOT_FOUND, "LOG_DIR_NOT_FOUND", false, "The user-specified log directory is not found in the broker config."},
    {RN_KAFKA_SASL_AUTHENTICATION_FAILED, "SASL_AUTHENTICATION_FAILED", false, "SASL Authentication failed."},
    {RN_KAFKA_UNKNOWN_PRODUCER_ID, "UNKNOWN_PRODUCER_ID", false, "This exception is raised by the broker if it could not locate the producer metadata associated with the producerId in question."},
    {RN_KAFKA_REASSIGNMENT_IN_PROGRESS, "REASSIGNMENT_IN_PROGRESS", false, "A partition reassignment is in progress."},
    {RN_KAFKA_NON_EMPTY_GROUP, "NON_EMPTY_GROUP", false, "The group is not empty."},
    {RN_KAFKA_GROUP_ID_NOT_FOUND, "GROUP_ID_NOT_FOUND", false, "The group id does not exist."},
    {RN_KAFKA_FETCH_SESSION_ID_NOT_FOUND, "FETCH_SESSION_ID_NOT_FOUND", true, "The fetch session ID was not found."},
    {RN_KAFKA_INVALID_FETCH_SESSION_EPOCH, "INVALID_FETCH_SESSION_EPOCH", true, "The fetch session epoch is invalid."},
    {RN_KAFKA_LISTENER_NOT_FOUND, "LISTENER_NOT_FOUND", true, "There is no listener on the leader broker that matches the listener on which metadata request was processed."},
    {RN_KAFKA_TOPIC_DELETION_DISABLED, "TOPIC_DELETION_DISABLED", false, "Topic deletion is disabled."},
    {RN_KAFKA_FENCED_LEADER_EPOCH, "FENCED_LEADER_EPOCH", true, "The leader epoch in the request is older than the epoch on the broker."},
    {RN_KAFKA_UNKNOWN_LEADER_EPOCH, "UNKNOWN_LEADER_EPOCH", true, "The leader epoch in the request is newer than the epoch on the broker."},
    {RN_KAFKA_UNSUPPORTED_COMPRESSION_TYPE, "UNSUPPORTED_COMPRESSION_TYPE", false, "The requesting client does not support the compression type of given partition."},
    {RN_KAFKA_STALE_BROKER_EPOCH, "STALE_BROKER_EPOCH", false, "Broker epoch has changed."},
    {RN_KAFKA_OFFSET_NOT_AVAILABLE, "OFFSET_NOT_AVAILABLE", true, "The leader high watermark has not caught up from a recent leader election so the offsets cannot be guaranteed to be monotonically increasing."},
    {RN_KAFKA_MEMBER_ID_REQUIRED, "MEMBER_ID_REQUIRED", false, "The group member needs to have a valid member id before actually entering a consumer group."},
    {RN_KAFKA_PREFERRED_LEADER_NOT_AVAILABLE, "PREFERRED_LEADER_NOT_AVAILABLE", true, "The preferred leader was not available."},
    {RN_KAFKA_GROUP_MAX_SIZE_REACHED, "GROUP_MAX_SIZE_REACHED", false, "The consumer group has reached its max size."},
    {RN_KAFKA_FENCED_INSTANCE_ID, "FENCED_INSTANCE_ID", false, "The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id."},
    {RN_KAFKA_NO_REASSIGNMENT_IN_PROGRESS, "NO_REASSIGNMENT_IN_PROGRESS", false, "No partition reassignment is in progress."},
    {RN_KAFKA_GROUP_SUBSCRIBED_TO_TOPIC, "GROUP_SUBSCRIBED_TO_TOPIC", false, "The consumer group is actively subscribed to the topic."},
    {RN_KAFKA_INVALID_RECORD, "INVALID_RECORD", false, "This record has failed the validation on broker and hence will be rejected."},
    {RN_KAFKA_UNSTABLE_OFFSET_COMMIT, "UNSTABLE_OFFSET_COMMIT", true, "There are unstable offsets that need to be cleared."},
    {RN_KAFKA_THROTTLING_QUOTA_EXCEEDED, "THROTTLING_QUOTA_EXCEEDED", true, "The throttling quota has been exceeded."},
    {RN_KAFKA_PRODUCER_FENCED, "PRODUCER_FENCED", false, "There is a newer producer with the same transactionalId which fences the current one."},
    {RN_KAFKA_RESOURCE_NOT_FOUND, "RESOURCE_NOT_FOUND", false, "A request illegally referred to a resource that does not exist."},
    {RN_KAFKA_DUPLICATE_RESOURCE, "DUPLICATE_RESOURCE", false, "A request illegally referred to the same resource twice."},
    {RN_KAFKA_INVALID_UPDATE_VERSION, "INVALID_UPDATE_VERSION", false, "The given update version was invalid."},
    {RN_KAFKA_UNKNOWN_TOPIC_ID, "UNKNOWN_TOPIC_ID", true, "This server does not host this topic ID."},
    {RN_KAFKA_INELIGIBLE_REPLICA, "INELIGIBLE_REPLICA", false, "The new ISR contains at least one ineligible replica."},
};

static const rn_err_row *rn_err_find(rn_err err) {
    for (size_t i = 0; i < sizeof rn_err_table / sizeof rn_err_table[0]; i++)
        if (rn_err_table[i].code == err) return &rn_err_table[i];
    return NULL;
}

const char *rn_err_name(rn_err err) {
    const rn_err_row *r = rn_err_find(err);
    return r ? r->name : "UNKNOWN";
}

const char *rn_err_message(rn_err err) {
    const rn_err_row *r = rn_err_find(err);
    return r ? r->message : "Unknown error.";
}

bool rn_err_retriable(rn_err err) {
    const rn_err_row *r = rn_err_find(err);
    return r && r->retriable;
}

int16_t rn_err_wire(rn_err err) {
    if (err >= 0 && err <= INT16_MAX) return (int16_t)err;
    return -1;
}
