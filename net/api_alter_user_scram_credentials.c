/* net/api_alter_user_scram_credentials.c: AlterUserScramCredentials (key 51), v0
 * (flexible): delete and upsert SCRAM credentials. An upsert carries the salt, the
 * iteration count and SaltedPassword (the client ran PBKDF2); the broker keeps only
 * StoredKey and ServerKey derived from it. One result per user: a user any of whose
 * changes is invalid gets the first error and none of its changes; every valid user's
 * changes go in one RocksDB write. ALTER on the cluster is needed: without it every user
 * answers CLUSTER_AUTHORIZATION_FAILED and nothing changes.
 *
 * In a cluster, on the controller, the valid users' changes go as access entries
 * (RN_MD_SET_ENTRY, the store's own key and value) in one metadata entry, answered once
 * every live broker follows it; elsewhere NOT_CONTROLLER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_controller.h"
#include "authz.h"
#include "conn.h"
#include "rnlog.h"
#include "scram.h"

typedef struct {
    char *name;
    int8_t mechanism;
    bool deletion;
    int32_t iterations;
    rn_bytes salt, salted_password;
    int32_t index; /* request order, for a stable sort */
} change;

static int by_user(const void *a, const void *b) {
    const change *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    if (x->mechanism != y->mechanism) return x->mechanism < y->mechanism ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The first problem with one change, or RN_KAFKA_NONE. */
static rn_err check(rn_engine *e, const change *ch, const change *prev, char *msg, size_t msglen) {
    if (!ch->name[0]) {
        snprintf(msg, msglen, "Username must not be empty");
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    if (!rn_user_name_valid(ch->name, strlen(ch->name))) {
        snprintf(msg, msglen, "Username must be at most %d bytes", RN_USER_NAME_MAX);
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    if (!rn_scram_key_len(ch->mechanism)) {
        snprintf(msg, msglen, "Unknown SCRAM mechanism");
        return RN_KAFKA_UNSUPPORTED_SASL_MECHANISM;
    }
    if (prev && strcmp(prev->name, ch->name) == 0 && prev->mechanism == ch->mechanism) {
        snprintf(msg, msglen, "A user credential cannot be altered twice in the same request");
        return RN_KAFKA_DUPLICATE_RESOURCE;
    }
    if (ch->deletion) {
        rn_scram_credential cred;
        rn_err err = rn_users_get(e, ch->name, ch->mechanism, &cred);
        if (err == RN_KAFKA_RESOURCE_NOT_FOUND)
            snprintf(msg, msglen, "Attempt to delete a user credential that does not exist");
        else if (err)
            snprintf(msg, msglen, "%s", rn_err_message(err));
        return err;
    }
    if (ch->iterations < RN_SCRAM_MIN_ITERATIONS) {
        snprintf(msg, msglen, "Too few iterations");
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    if (ch->iterations > RN_SCRAM_MAX_ITERATIONS) {
        snprintf(msg, msglen, "Too many iterations");
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    if (ch->salt.len <= 0 || ch->salt.len > RN_SCRAM_SALT_MAX) {
        snprintf(msg, msglen, "The salt must be 1 to %d bytes", RN_SCRAM_SALT_MAX);
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    if (ch->salted_password.len < 0 ||
        (size_t)ch->salted_password.len != rn_scram_key_len(ch->mechanism)) {
        snprintf(msg, msglen, "The salted password must be %zu bytes for %s",
                 rn_scram_key_len(ch->mechanism), rn_scram_mechanism_name(ch->mechanism));
        return RN_KAFKA_UNACCEPTABLE_CREDENTIAL;
    }
    return RN_KAFKA_NONE;
}

typedef struct {
    change *ch;
    int32_t nusers;
    int32_t *first; /* each user's first change in ch */
    rn_err *errs;
    char **msgs;
    bool *proposed;
    rn_err write_err; /* a single broker's store write */
} alter_state;

static void write_response(rn_request *req, void *ctx, const rn_controller_result *res) {
    alter_state *st = ctx;
    rn_conn *c = req->conn;
    rn_writer *w = &req->resp;
    rn_write_i32(w, 0); /* throttle_time_ms */
    rn_write_array_len(w, st->nusers);
    for (int32_t u = 0; u < st->nusers; u++) {
        const char *name = st->ch[st->first[u]].name;
        rn_err err = st->errs[u] ? st->errs[u] : st->write_err;
        const char *msg = st->errs[u] ? st->msgs[u] : NULL;
        if (!err && st->proposed[u] && res->err) {
            err = res->err;
            msg = res->msg;
        }
        msg = err ? rn_api_error_message(err, msg) : NULL;
        rn_write_string(w, name);
        rn_write_i16(w, rn_api_wire(req, err));
        rn_write_string(w, msg);
        rn_write_tags(w);
        if (err)
            rn_log_warn("%s (%s): SCRAM credentials of '%s' not changed: %s", c->peer,
                        rn_authz_principal(req), name, msg);
        else
            rn_log_info("%s (%s): SCRAM credentials of '%s' changed", c->peer,
                        rn_authz_principal(req), name);
    }
    rn_write_tags(w);
}

/* The valid users' changes as access entries (keys and values in the arena). */
static int to_records(rn_request *req, const char *const *del_user, const int8_t *del_mech,
                      int ndel, const char *const *put_user, const rn_scram_credential *put,
                      int nput, rn_md_record *records) {
    for (int i = 0; i < ndel + nput; i++) {
        bool del = i < ndel;
        uint8_t *key = rn_arena_calloc(&req->arena, 1, RN_USER_KEY_MAX);
        uint8_t *value = del ? NULL : rn_arena_calloc(&req->arena, 1, RN_USER_VALUE_MAX);
        if (!key || (!del && !value)) return -1;
        records[i] = rn_cluster_scram_entry(del ? del_user[i] : put_user[i - ndel],
                                            del ? del_mech[i] : 0, del ? NULL : &put[i - ndel],
                                            key, value);
    }
    return 0;
}

enum rn_api_result rn_api_alter_user_scram_credentials(rn_request *req) {
    rn_reader *r = &req->body;
    int32_t ndel, nput;
    change *ch = NULL;
    RN_R_ARRAY(r, &ndel, 3);
    if (ndel < 0) ndel = 0;
    /* Both arrays land in one array: read the deletions, then grow for the upserts. */
    change *dels = ndel ? rn_arena_calloc(&req->arena, (size_t)ndel, sizeof *dels) : NULL;
    if (ndel && !dels) goto err_parse;
    for (int32_t i = 0; i < ndel; i++) {
        if (!(dels[i].name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_I8(r, &dels[i].mechanism);
        RN_R_TAGS(r);
        dels[i].deletion = true;
        dels[i].index = i;
    }
    RN_R_ARRAY(r, &nput, 12);
    if (nput < 0) nput = 0;
    int32_t total = ndel + nput;
    ch = total ? rn_arena_calloc(&req->arena, (size_t)total, sizeof *ch) : NULL;
    if (total && !ch) goto err_parse;
    if (ndel) memcpy(ch, dels, (size_t)ndel * sizeof *ch);
    for (int32_t i = ndel; i < total; i++) {
        if (!(ch[i].name = rn_api_read_name(req, r))) goto err_parse;
        RN_R_I8(r, &ch[i].mechanism);
        RN_R_I32(r, &ch[i].iterations);
        RN_R_BYTES(r, &ch[i].salt);
        RN_R_BYTES(r, &ch[i].salted_password);
        RN_R_TAGS(r);
        ch[i].index = i;
    }
    RN_R_TAGS(r);

    rn_conn *c = req->conn;
    rn_engine *e = rn_conn_opts(c)->engine;
    if (total) qsort(ch, (size_t)total, sizeof *ch, by_user);
    /* Per user (a run of ch with one name): its error, then what the good ones write. */
    int32_t nusers = 0;
    int32_t *first = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *first);
    rn_err *errs = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *errs);
    char **msgs = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *msgs);
    const char **del_user = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *del_user);
    int8_t *del_mech = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *del_mech);
    const char **put_user = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *put_user);
    rn_scram_credential *put = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *put);
    bool *proposed = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *proposed);
    rn_md_record *records = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof *records);
    alter_state *st = rn_arena_calloc(&req->arena, 1, sizeof *st);
    if (!first || !errs || !msgs || !del_user || !del_mech || !put_user || !put || !proposed ||
        !records || !st) {
        req->resp.failed = true;
        return RN_API_DONE;
    }
    rn_cluster *cluster = rn_controller_cluster(req);
    bool elsewhere = rn_controller_elsewhere(req);
    int ndw = 0, npw = 0;
    /* Kafka: AlterUserScramCredentials needs ALTER on the cluster */
    bool allowed = total == 0 || rn_authz(req, RN_ACL_OP_ALTER, RN_ACL_RESOURCE_CLUSTER, NULL);
    for (int32_t i = 0; i < total;) {
        int32_t end = i;
        while (end < total && strcmp(ch[end].name, ch[i].name) == 0) end++;
        char msg[256] = "";
        rn_err err = allowed ? RN_KAFKA_NONE : RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED;
        if (err) snprintf(msg, sizeof msg, "%s", rn_err_message(err));
        if (!err && elsewhere) {
            err = RN_KAFKA_NOT_CONTROLLER;
            rn_cluster_not_controller_message(cluster, msg, sizeof msg);
        }
        for (int32_t j = i; j < end && !err; j++)
            err = check(e, &ch[j], j > i ? &ch[j - 1] : NULL, msg, sizeof msg);
        for (int32_t j = i; j < end && !err; j++) {
            if (ch[j].deletion) {
                del_user[ndw] = ch[j].name;
                del_mech[ndw++] = ch[j].mechanism;
            } else if (rn_scram_credential_from_salted(
                           ch[j].mechanism, ch[j].salted_password.ptr,
                           (size_t)ch[j].salted_password.len, ch[j].salt.ptr,
                           (size_t)ch[j].salt.len, ch[j].iterations, &put[npw]) == 0) {
                put_user[npw++] = ch[j].name;
            } else {
                err = RN_ERR_INTERNAL;
                snprintf(msg, sizeof msg, "cannot derive the keys");
            }
        }
        first[nusers] = i;
        errs[nusers] = err;
        msgs[nusers] = err ? rn_arena_strndup(&req->arena, msg, (int32_t)strlen(msg)) : NULL;
        proposed[nusers] = cluster && !err;
        nusers++;
        i = end;
    }
    *st = (alter_state){.ch = ch, .nusers = nusers, .first = first, .errs = errs, .msgs = msgs,
                        .proposed = proposed};
    int nrec = 0;
    if (!cluster && (ndw || npw)) {
        st->write_err = rn_users_write(e, del_user, del_mech, ndw, put_user, put, npw);
    } else if (ndw || npw) {
        if (to_records(req, del_user, del_mech, ndw, put_user, put, npw, records) != 0) {
            req->resp.failed = true;
            return RN_API_DONE;
        }
        nrec = ndw + npw;
    }
    for (int i = 0; i < npw; i++) memset(&put[i], 0, sizeof put[i]);
    return rn_controller_propose(req, records, nrec, RN_CONTROLLER_TIMEOUT_MS, write_response, st);
err_parse:
    return rn_api_malformed(req);
}
