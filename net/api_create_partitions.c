/* net/api_create_partitions.c: CreatePartitions (key 37), v0-1: grow a topic. */
#include <stdio.h>

#include "api.h"
#include "authz.h"
#include "conn.h"

enum rn_api_result rn_api_create_partitions(rn_request *req) {
    rn_reader *r = &req->body;
    const rn_server_options *o = rn_conn_opts(req->conn);
    int32_t n;
    RN_R_ARRAY(r, &n, 10);
    typedef struct {
        char *name;
        int32_t count;
        bool bad_assignment;
        rn_err err;
        char message[256];
    } grow;
    grow *g = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *g) : NULL;
    if (n > 0 && !g) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        int32_t nassign;
        g[i].name = rn_api_read_name(req, r);
        if (!g[i].name) goto err_parse;
        RN_R_I32(r, &g[i].count);
        RN_R_ARRAY(r, &nassign, 4);
        for (int32_t a = 0; a < nassign; a++) {
            int32_t nb;
            RN_R_ARRAY(r, &nb, 4);
            for (int32_t b = 0; b < nb; b++) {
                int32_t broker;
                RN_R_I32(r, &broker);
                if (broker != o->node_id || nb != 1) g[i].bad_assignment = true;
            }
        }
    }
    int32_t timeout_ms;
    bool validate_only;
    RN_R_I32(r, &timeout_ms);
    RN_R_BOOL(r, &validate_only);

    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, n);
    for (int32_t i = 0; i < n; i++) {
        if (!rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_TOPIC, g[i].name)) {
            g[i].err = RN_KAFKA_TOPIC_AUTHORIZATION_FAILED; /* Kafka: ALTER on the topic */
        } else if (g[i].bad_assignment) {
            g[i].err = RN_KAFKA_INVALID_REPLICA_ASSIGNMENT;
            snprintf(g[i].message, sizeof g[i].message,
                     "this cluster has one broker (node %d): assignments must name only it",
                     o->node_id);
        } else {
            g[i].err = rn_engine_create_partitions(o->engine, g[i].name, g[i].count,
                                                   validate_only, g[i].message,
                                                   sizeof g[i].message);
        }
        rn_write_string(w, g[i].name);
        rn_write_i16(w, rn_api_wire(req, g[i].err));
        rn_write_string(w, g[i].err ? (g[i].message[0] ? g[i].message : rn_err_message(g[i].err))
                                    : NULL);
    }
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
