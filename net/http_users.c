/* net/http_users.c: SCRAM users through the HTTP admin path (the CLI's `runnel user`):
 *   GET    /v1/users               every user and its mechanisms and iterations
 *   POST   /v1/users/<name>        password=..., mechanism=SCRAM-SHA-256|SCRAM-SHA-512
 *                                  (default both), iterations=4096..16384 (default 4096)
 *   DELETE /v1/users/<name>        every credential of the user (?mechanism=... for one)
 * Changes are actions: only with http.console.actions.enable (else 403), like the
 * console's. The password is hashed here (salted, iterated) and never stored.
 *
 * In a cluster the credentials are the image's (engine/metadata.h access entries): the
 * controller proposes the change and answers once every live broker follows it; another
 * broker answers 409 naming the controller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "http_console.h"
#include "cluster.h"
#include "http_internal.h"
#include "scram.h"
#include "users.h"

/* Write the changes: to the store on a single broker, through the controller in a
 * cluster. 0, or -1 when the reply (an error) was sent. */
static int write_changes(struct evhttp_request *r, const rn_http_options *o,
                         const char *const *del_user, const int8_t *del_mech, int ndel,
                         const char *const *put_user, const rn_scram_credential *put, int nput) {
    if (!o->cluster) {
        if (rn_users_write(o->engine, del_user, del_mech, ndel, put_user, put, nput) == RN_KAFKA_NONE)
            return 0;
        rn_http_json_error(r, 500, "storing the change failed");
        return -1;
    }
    char msg[256] = "";
    if (!rn_cluster_is_controller(o->cluster)) {
        rn_cluster_not_controller_message(o->cluster, msg, sizeof msg);
        rn_http_json_error(r, 409, "users are changed on the controller: %s", msg);
        return -1;
    }
    rn_md_record rec[4];
    uint8_t keys[4][RN_USER_KEY_MAX], values[4][RN_USER_VALUE_MAX];
    int n = 0;
    for (int i = 0; i < ndel + nput && n < 4; i++, n++) {
        bool del = i < ndel;
        rec[n] = rn_cluster_scram_entry(del ? del_user[i] : put_user[i - ndel],
                                        del ? del_mech[i] : 0, del ? NULL : &put[i - ndel],
                                        keys[n], values[n]);
    }
    rn_err err = rn_cluster_propose_wait(o->cluster, rec, n, 5000, msg, sizeof msg);
    if (!err) return 0;
    rn_http_json_error(r, err == RN_KAFKA_NOT_CONTROLLER ? 409 : 503, "%s: %s", rn_err_name(err),
                       msg[0] ? msg : rn_err_message(err));
    return -1;
}

static void list_users(struct evhttp_request *r, const rn_http_options *o) {
    rn_user_info *v;
    int n;
    if (rn_users_list(o->engine, NULL, &v, &n) != RN_KAFKA_NONE) {
        rn_http_json_error(r, 500, "reading the users failed");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        rn_user_infos_free(v, n);
        return;
    }
    evbuffer_add(b, "{\"users\": [", 11);
    for (int i = 0; i < n; i++) {
        evbuffer_add_printf(b, "%s{\"name\": ", i ? ", " : "");
        rn_http_json_string(b, v[i].name);
        evbuffer_add(b, ", \"mechanisms\": [", 17);
        for (int k = 0; k < v[i].nmechanisms; k++)
            evbuffer_add_printf(b, "%s{\"mechanism\": \"%s\", \"iterations\": %d}", k ? ", " : "",
                                rn_scram_mechanism_name(v[i].mechanisms[k]), v[i].iterations[k]);
        evbuffer_add(b, "]}", 2);
    }
    evbuffer_add(b, "]}\n", 3);
    rn_http_json_reply(r, 200, b);
    evbuffer_free(b);
    rn_user_infos_free(v, n);
}

/* The mechanisms a form names (mechanism=...; absent: both). 0 when it names another. */
static int form_mechanisms(struct evkeyvalq *q, int8_t out[2]) {
    const char *m = evhttp_find_header(q, "mechanism");
    if (!m) {
        out[0] = RN_SCRAM_SHA_256;
        out[1] = RN_SCRAM_SHA_512;
        return 2;
    }
    out[0] = rn_scram_mechanism_parse(m, strlen(m));
    return out[0] > 0 ? 1 : 0;
}

static void set_user(struct evhttp_request *r, const rn_http_options *o, const char *name) {
    struct evkeyvalq q;
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "the form does not parse");
        return;
    }
    const char *password = evhttp_find_header(&q, "password");
    int8_t mech[2];
    int nm = form_mechanisms(&q, mech);
    int64_t iterations = 4096;
    char err[200] = "";
    int it = rn_http_param_int(&q, "iterations", 4096, 16384, &iterations, err, sizeof err);
    rn_scram_credential cred[2];
    const char *users[2] = {name, name};
    if (!password || !*password)
        snprintf(err, sizeof err, "password= is required");
    else if (!nm)
        snprintf(err, sizeof err, "mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512");
    for (int i = 0; !err[0] && it >= 0 && i < nm; i++)
        if (rn_scram_credential_new(mech[i], password, strlen(password), (int32_t)iterations,
                                    &cred[i]) != 0)
            snprintf(err, sizeof err, "making the credential failed");
    evhttp_clear_headers(&q);
    if (err[0]) {
        rn_http_json_error(r, 400, "%s", err);
        return;
    }
    if (write_changes(r, o, NULL, NULL, 0, users, cred, nm) != 0) return;
    list_users(r, o);
}

static void delete_user(struct evhttp_request *r, const rn_http_options *o, const char *name) {
    struct evkeyvalq q;
    if (rn_http_form(r, &q) != 0) {
        evhttp_clear_headers(&q);
        rn_http_json_error(r, 400, "the form does not parse");
        return;
    }
    int8_t mech[2];
    int nm = form_mechanisms(&q, mech);
    evhttp_clear_headers(&q);
    if (!nm) {
        rn_http_json_error(r, 400, "mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512");
        return;
    }
    rn_user_info *v;
    int n;
    if (rn_users_list(o->engine, name, &v, &n) != RN_KAFKA_NONE) {
        rn_http_json_error(r, 500, "reading the users failed");
        return;
    }
    const char *users[2] = {name, name};
    int8_t del[2];
    int nd = 0;
    for (int i = 0; i < nm; i++)
        for (int k = 0; n == 1 && k < v[0].nmechanisms; k++)
            if (v[0].mechanisms[k] == mech[i]) del[nd++] = mech[i];
    rn_user_infos_free(v, n);
    if (!nd) {
        rn_http_json_error(r, 404, "no such user or credential: %s", name);
        return;
    }
    if (write_changes(r, o, users, del, nd, NULL, NULL, 0) != 0) return;
    list_users(r, o);
}

void rn_http_users(struct evhttp_request *r, const rn_http_options *o, const char *rest) {
    char *segs[2];
    int n = rn_http_segments(rest, segs, 1);
    if (n < 0) {
        rn_http_json_error(r, 404, "expected /v1/users or /v1/users/<name>");
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
    if (n == 0) {
        if (rn_http_console_readonly(r)) list_users(r, o);
    } else if (!rn_user_name_valid(segs[0], strlen(segs[0]))) {
        rn_http_json_error(r, 400, "a user name is 1 to %d bytes", RN_USER_NAME_MAX);
    } else if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_DELETE) {
        rn_http_json_error(r, 405, "POST sets a user's password, DELETE removes the user");
    } else if (rn_http_console_action(r, o)) {
        if (cmd == EVHTTP_REQ_POST)
            set_user(r, o, segs[0]);
        else
            delete_user(r, o, segs[0]);
    }
    rn_http_segments_free(segs, n);
}
