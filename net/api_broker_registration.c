/* net/api_broker_registration.c: BrokerRegistration (key 62), v0, on the controller: a
 * broker announces its Kafka endpoint and its Raft address (the listener named
 * "CONTROLLER") and gets a broker epoch once REGISTER_BROKER is committed. Features and
 * rack are read and ignored (one version of everything; no rack-aware placement). */
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"

#define RAFT_LISTENER "CONTROLLER"

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    (void)ctx;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, res->err));
    rn_write_i64(w, res->err ? -1 : res->broker_epoch);
    rn_write_tags(w);
}

enum rn_api_result rn_api_broker_registration(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t broker_id, nlisteners, nfeatures;
    rn_bytes cluster_id, rack;
    uint8_t incarnation_id[16];
    const char *host = NULL, *raft_host = "";
    int port = 0, raft_port = 0;
    RN_R_I32(r, &broker_id);
    RN_R_STR(r, &cluster_id);
    RN_R_UUID(r, incarnation_id);
    RN_R_ARRAY(r, &nlisteners, 6);
    for (int32_t i = 0; i < nlisteners; i++) {
        rn_bytes name;
        int16_t security_protocol;
        int16_t lport;
        RN_R_STR(r, &name);
        char *lhost = rn_api_read_name(req, r);
        if (!lhost) goto err_parse;
        RN_R_I16(r, &lport); /* uint16 on the wire */
        RN_R_I16(r, &security_protocol);
        RN_R_TAGS(r);
        bool raft = name.len == (int32_t)strlen(RAFT_LISTENER) &&
                    memcmp(name.ptr, RAFT_LISTENER, (size_t)name.len) == 0;
        if (raft) {
            raft_host = lhost;
            raft_port = (uint16_t)lport;
        } else if (!host) {
            host = lhost;
            port = (uint16_t)lport;
        }
    }
    RN_R_ARRAY(r, &nfeatures, 6);
    for (int32_t i = 0; i < nfeatures; i++) {
        rn_bytes name;
        int16_t min_version, max_version;
        RN_R_STR(r, &name);
        RN_R_I16(r, &min_version);
        RN_R_I16(r, &max_version);
        RN_R_TAGS(r);
    }
    RN_R_STR(r, &rack);
    RN_R_TAGS(r);

    /* Kafka: the controller's RPCs need CLUSTER_ACTION on the cluster */
    rn_err err = RN_KAFKA_NONE;
    if (!rn_authz(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER, NULL))
        err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
    else if (!rn_controller_cluster(req) || rn_controller_elsewhere(req))
        err = RN_KAFKA_NOT_CONTROLLER;
    else if (!host || !host[0] || port == 0)
        err = RN_KAFKA_INVALID_REQUEST; /* no Kafka endpoint to tell clients about */
    if (err) {
        rn_controller_result res = {.err = err, .broker_epoch = -1};
        write_response(req, NULL, &res);
        return RN_API_DONE;
    }
    return rn_controller_register_broker(req, broker_id, host, port, raft_host, raft_port,
                                         write_response, NULL);
err_parse:
    return rn_api_malformed(req);
}
