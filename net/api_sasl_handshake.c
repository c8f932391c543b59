/* net/api_sasl_handshake.c: SaslHandshake (key 17), v0-1: the client names a mechanism
 * and learns the enabled ones. v1 tokens then travel in SaslAuthenticate; v0 tokens as
 * bare size-prefixed frames (kafka-python does this). An unknown mechanism is answered
 * with UNSUPPORTED_SASL_MECHANISM and the connection closes, as in Kafka. */
#include "api.h"
#include "conn.h"
#include "rnlog.h"

enum rn_api_result rn_api_sasl_handshake(rn_request *req) {
    rn_reader *r = &req->body;
    rn_conn *c = req->conn;
    rn_bytes mechanism;
    RN_R_STR(r, &mechanism);
    const rn_server_options *o = rn_conn_opts(c);
    rn_err err = RN_KAFKA_NONE;
    unsigned enabled = rn_security_sasl(c->security_protocol) ? o->sasl_mechanisms : 0;
    unsigned bit = mechanism.len > 0 ? rn_sasl_mechanism_parse((const char *)mechanism.ptr,
                                                               (size_t)mechanism.len)
                                     : 0;
    if (!rn_security_sasl(c->security_protocol) || c->auth != RN_AUTH_HANDSHAKE) {
        /* No SASL here, or the exchange already happened (no re-authentication yet). */
        err = RN_KAFKA_ILLEGAL_SASL_STATE;
    } else if (!(bit & enabled)) {
        err = RN_KAFKA_UNSUPPORTED_SASL_MECHANISM;
        rn_log_warn("%s (client %s): SASL mechanism '%.*s' is not enabled; closing", c->peer,
                    c->client_id[0] ? c->client_id : "-", mechanism.len > 0 ? (int)mechanism.len : 0,
                    mechanism.len > 0 ? (const char *)mechanism.ptr : "");
        c->close_after_flush = true;
    } else if (!(c->sasl = rn_sasl_new(bit, rn_conn_credential_lookup, o->engine))) {
        err = RN_ERR_NOMEM;
        c->close_after_flush = true;
    } else {
        c->auth = req->api_version == 0 ? RN_AUTH_RAW : RN_AUTH_AUTHENTICATE;
    }
    if (err == RN_KAFKA_ILLEGAL_SASL_STATE && c->auth != RN_AUTH_DONE) c->close_after_flush = true;
    rn_writer *w = &req->resp;
    rn_write_i16(w, rn_api_wire(req, err));
    const char *names[8];
    int n = rn_sasl_mechanism_names(enabled, names, 8);
    rn_write_array_len(w, n);
    for (int i = 0; i < n; i++) rn_write_string(w, names[i]);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
