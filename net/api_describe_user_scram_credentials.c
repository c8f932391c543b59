/* net/api_describe_user_scram_credentials.c: DescribeUserScramCredentials (key 50), v0
 * (flexible): each user's SCRAM mechanisms and iteration counts, never salts or keys.
 * A null or empty list describes every user; an unknown user is RESOURCE_NOT_FOUND, a
 * user named twice DUPLICATE_RESOURCE, as Kafka answers. DESCRIBE on the cluster is
 * needed (CLUSTER_AUTHORIZATION_FAILED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "conn.h"
#include "scram.h"

static void write_user(rn_writer *w, rn_request *req, const char *name, rn_err err,
                       const char *msg, const rn_user_info *u) {
    rn_write_string(w, name);
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_string(w, err ? msg : NULL);
    rn_write_array_len(w, u ? u->nmechanisms : 0);
    for (int j = 0; u && j < u->nmechanisms; j++) {
        rn_write_i8(w, u->mechanisms[j]);
        rn_write_i32(w, u->iterations[j]);
        rn_write_tags(w);
    }
    rn_write_tags(w);
}

typedef struct {
    const char *name;
    int32_t index;
} named;

static int by_name(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

enum rn_api_result rn_api_describe_user_scram_credentials(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t n;
    RN_R_ARRAY(r, &n, 2);
    char **names = n > 0 ? rn_arena_calloc(&req->arena, (size_t)n, sizeof *names) : NULL;
    if (n > 0 && !names) goto err_parse;
    for (int32_t i = 0; i < n; i++) {
        if (!(names[i] = rn_api_read_name(req, r))) goto err_parse;
        RN_R_TAGS(r);
    }
    RN_R_TAGS(r);

    rn_engine *e = rn_conn_opts(req->conn)->engine;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    if (!rn_authz(req, RN_ACL_OP_DESCRIBE, RN_ACL_RESOURCE_CLUSTER, NULL)) {
        /* Kafka: DescribeUserScramCredentials needs DESCRIBE on the cluster */
        rn_write_i16(w, rn_api_wire(req, RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED));
        rn_write_string(w, rn_err_message(RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED));
        rn_write_array_len(w, 0);
        rn_write_tags(w);
        return RN_API_DONE;
    }
    if (n <= 0) {
        rn_user_info *all = NULL;
        int count = 0;
        rn_err err = rn_users_list(e, NULL, &all, &count);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, err ? rn_err_message(err) : NULL);
        rn_write_array_len(w, err ? 0 : count);
        for (int i = 0; !err && i < count; i++)
            write_user(w, req, all[i].name, RN_KAFKA_NONE, NULL, &all[i]);
        rn_user_infos_free(all, count);
        rn_write_tags(w);
        return RN_API_DONE;
    }
    /* Names asked twice, found by sorting (a request may name very many). */
    named *sorted = rn_arena_calloc(&req->arena, (size_t)n, sizeof *sorted);
    bool *twice = rn_arena_calloc(&req->arena, (size_t)n, sizeof *twice);
    if (!sorted || !twice) {
        w->failed = true;
        return RN_API_DONE;
    }
    for (int32_t i = 0; i < n; i++) sorted[i] = (named){names[i], i};
    qsort(sorted, (size_t)n, sizeof *sorted, by_name);
    for (int32_t i = 1; i < n; i++)
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            twice[sorted[i - 1].index] = twice[sorted[i].index] = true;
    rn_write_i16(w, 0);
    rn_write_string(w, NULL);
    rn_write_array_len(w, n);
    for (int32_t i = 0; i < n; i++) {
        char msg[RN_USER_NAME_MAX + 128];
        if (twice[i]) {
            snprintf(msg, sizeof msg,
                     "Cannot describe SCRAM credentials for the same user twice in a single "
                     "request: %.256s", names[i]);
            write_user(w, req, names[i], RN_KAFKA_DUPLICATE_RESOURCE, msg, NULL);
            continue;
        }
        rn_user_info *u = NULL;
        int count = 0;
        rn_err err = rn_users_list(e, names[i], &u, &count);
        if (!err && count == 0) {
            err = RN_KAFKA_RESOURCE_NOT_FOUND;
            snprintf(msg, sizeof msg, "Attempt to describe a user credential that does not exist: %.256s",
                     names[i]);
        } else if (err) {
            snprintf(msg, sizeof msg, "%s", rn_err_message(err));
        }
        write_user(w, req, names[i], err, msg, err ? NULL : &u[0]);
        rn_user_infos_free(u, count);
    }
    rn_write_tags(w);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
