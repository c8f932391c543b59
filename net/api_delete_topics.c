/* net/api_delete_topics.c: DeleteTopics (key 20), v0-3. */
#include "api.h"
#include "authz.h"
#include "conn.h"

enum rn_api_result rn_api_delete_topics(rn_request *req) {
    rn_reader *r = &req->body;
    int16_t v = req->api_version;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t n, timeout_ms;
    RN_R_ARRAY(r, &n, 2);
    char **names = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *names) : NULL;
    if (n > 0 && !names) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        names[i] = rn_api_read_name(req, r);
        if (!names[i]) goto err_parse;
    }
    RN_R_I32(r, &timeout_ms);

    rn_writer *w = &req->resp;
    if (v >= 1) rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n);
    for (int32_t i = 0; i < n; i++) {
        /* Kafka: DeleteTopics needs DELETE on each topic */
        rn_err err = !rn_authz(req, RN_ACL_OP_DELETE, RN_ACL_RESOURCE_TOPIC, names[i])
                         ? RN_KAFKA_TOPIC_AUTHORIZATION_FAILED
                     : o->delete_topic_enable ? rn_engine_delete_topic(o->engine, names[i])
                                              : RN_KAFKA_TOPIC_DELETION_DISABLED;
        rn_write_string(w, names[i]);
        rn_write_i16(w, rn_api_wire(req, err));
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
