/* net/api_init_producer_id.c: InitProducerId (key 22), v0-1: a fresh producer id for an
 * idempotent producer. Transactional ids need the transaction coordinator, which does
 * not exist yet: those get a clear error rather than a producer that half works. */
#include "api.h"
#include "authz.h"
#include "conn.h"
#include "rnlog.h"

enum rn_api_result rn_api_init_producer_id(rn_request *req) {
    rn_reader *r = &req->body;
    rn_bytes transactional_id;
    int32_t transaction_timeout_ms;
    RN_R_STR(r, &transactional_id);
    RN_R_I32(r, &transaction_timeout_ms);
    RN_R_TAGS(r);

    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    rn_err err;
    if (transactional_id.len >= 0) {
        rn_log_warn("InitProducerId with transactional.id '%.*s': transactions are not "
                    "supported yet",
                    transactional_id.len, (const char *)transactional_id.ptr);
        err = RN_KAFKA_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (!rn_authz_quiet(req, RN_ACL_OP_IDEMPOTENT_WRITE, RN_ACL_RESOURCE_CLUSTER, NULL) &&
               !rn_authz_any(req, RN_ACL_OP_WRITE, RN_ACL_RESOURCE_TOPIC)) {
        /* Kafka 3.x: an idempotent producer needs IDEMPOTENT_WRITE on the cluster, or WRITE
         * on some topic (KIP-679) */
        err = RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
    } else {
        err = rn_engine_init_producer_id(rn_conn_opts(req->conn)->engine, &producer_id,
                                         &producer_epoch);
    }
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_i64(w, producer_id);
    rn_write_i16(w, producer_epoch);
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
