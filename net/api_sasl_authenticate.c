/* net/api_sasl_authenticate.c: SaslAuthenticate (key 36), v0-2: one SASL token each way
 * after a v1 SaslHandshake. A failed exchange answers SASL_AUTHENTICATION_FAILED with
 * Kafka's message and closes the connection once the answer is written. No session
 * lifetime (0): connections are not asked to re-authenticate. */
#include <stdlib.h>

#include "api.h"
#include "conn.h"

enum rn_api_result rn_api_sasl_authenticate(rn_request *req) {
    rn_reader *r = &req->body;
    rn_conn *c = req->conn;
    rn_bytes auth_bytes;
    RN_R_BYTES(r, &auth_bytes);
    RN_R_TAGS(r);
    uint8_t *out = NULL;
    size_t outlen = 0;
    char msg[256] = "";
    rn_err err = RN_KAFKA_NONE;
    if (c->auth != RN_AUTH_AUTHENTICATE || !c->sasl) {
        err = RN_KAFKA_ILLEGAL_SASL_STATE;
        snprintf(msg, sizeof msg, "Unexpected SaslAuthenticate request: %s",
                 c->auth == RN_AUTH_DONE ? "not expected on this connection now"
                                         : "SaslHandshake v1 must come first");
        c->close_after_flush = true;
    } else {
        enum rn_sasl_step st =
            rn_sasl_step(c->sasl, auth_bytes.ptr ? auth_bytes.ptr : (const uint8_t *)"",
                         auth_bytes.len > 0 ? (size_t)auth_bytes.len : 0, &out, &outlen, msg,
                         sizeof msg);
        if (st == RN_SASL_DONE) {
            rn_conn_sasl_done(c);
        } else if (st == RN_SASL_FAILED) {
            err = RN_KAFKA_SASL_AUTHENTICATION_FAILED;
            rn_conn_sasl_failed(c, msg);
            c->close_after_flush = true;
        }
    }
    rn_writer *w = &req->resp;
    rn_write_i16(w, rn_api_wire(req, err));
    rn_write_string(w, err ? msg : NULL);
    rn_write_bytes(w, out ? out : (const uint8_t *)"", err ? 0 : (int32_t)outlen);
    if (req->api_version >= 1) rn_write_i64(w, 0); /* session_lifetime_ms */
    rn_write_tags(w);
    free(out);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
