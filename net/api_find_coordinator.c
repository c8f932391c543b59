/* net/api_find_coordinator.c: FindCoordinator (key 10), v0-2. A single broker coordinates
 * every group (and would every transaction): the answer is this broker as the client's
 * listener advertises it. In a cluster a group's coordinator is the leader of its
 * __consumer_offsets partition (COORDINATOR_NOT_AVAILABLE while it has none), and no
 * broker coordinates transactions yet. */
#include <string.h>

#include "api_group.h"
#include "authz.h"
#include "cluster.h"
#include "conn.h"

enum rn_api_result rn_api_find_coordinator(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    int8_t key_type = 0;
    char *key = rn_api_read_name(req, r);
    if (!key) goto err_parse;
    if (v >= 1) RN_R_I8(r, &key_type);
    RN_R_TAGS(r);
    const rn_server_options *o = rn_conn_opts(req->conn);
    const rn_endpoint *adv = &o->advertised[req->conn->listener];
    rn_err err = RN_KAFKA_NONE;
    const char *msg = NULL;
    if (key_type != 0 && key_type != 1) {
        err = RN_KAFKA_INVALID_REQUEST;
        msg = "key_type must be 0 (group) or 1 (transaction)";
    } else if (key_type == 0 && !key[0]) {
        err = RN_KAFKA_INVALID_REQUEST;
        msg = "the group id is empty";
    } else if (key_type == 0 && !rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_GROUP, key)) {
        /* Kafka: FindCoordinator for a group needs DESCRIBE on the group */
        err = RN_KAFKA_GROUP_AUTHORIZATION_FAILED;
    } else if (key_type == 1 &&
               !rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_TRANSACTIONAL_ID, key)) {
        /* ... and for a transaction DESCRIBE on the transactional id */
        err = RN_KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    }
    int32_t node = o->node_id;
    char host[256];
    int port = adv->port;
    memcpy(host, adv->host, sizeof host);
    if (!err && o->cluster && key_type == 1) {
        err = RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    } else if (!err && o->cluster) {
        err = rn_cluster_coordinator_of(o->cluster, key, &node, host, &port);
        /* The offsets topic not created yet, or its partition offline: clients retry. */
        if (err == RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION || err == RN_KAFKA_LEADER_NOT_AVAILABLE ||
            (err == RN_KAFKA_NONE && node < 0))
            err = RN_KAFKA_COORDINATOR_NOT_AVAILABLE;
    }
    rn_writer *w = &req->resp;
    if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    if (v >= 1) rn_write_string(w, msg);
    rn_write_i32(w, err ? -1 : node);
    rn_write_string(w, err ? "" : host);
    rn_write_i32(w, err ? -1 : port);
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
