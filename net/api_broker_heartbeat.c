/* net/api_broker_heartbeat.c: BrokerHeartbeat (key 63), v0, on the controller: a
 * registered broker is alive (net/cluster.h fences the silent ones). Answered at once:
 * liveness is the controller's memory, not an entry in the log. */
#include "api.h"
#include "api_controller.h"
#include "authz.h"

enum rn_api_result rn_api_broker_heartbeat(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t broker_id;
    int64_t broker_epoch, current_metadata_offset;
    bool want_fence, want_shut_down;
    RN_R_I32(r, &broker_id);
    RN_R_I64(r, &broker_epoch);
    RN_R_I64(r, &current_metadata_offset);
    RN_R_BOOL(r, &want_fence);
    RN_R_BOOL(r, &want_shut_down);
    RN_R_TAGS(r);

    rn_cluster *c = rn_controller_cluster(req);
    bool is_fenced = true;
    rn_err err;
    /* Kafka: the controller's RPCs need CLUSTER_ACTION on the cluster */
    if (!rn_authz(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER, NULL))
        err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
    else if (!c)
        err = RN_KAFKA_NOT_CONTROLLER;
    else /* a broker shutting down is fenced first (its leaderships move), then told to go */
        err = rn_cluster_broker_heartbeat(c, broker_id, broker_epoch, current_metadata_offset,
                                          want_fence || want_shut_down, &is_fenced);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_bool(w, !err); /* is_caught_up: the image is replicated, not pulled */
    rn_write_bool(w, err ? true : is_fenced);
    rn_write_bool(w, !err && want_shut_down && is_fenced); /* should_shut_down */
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
