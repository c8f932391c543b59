/* net/api_envelope.c: Envelope (key 58), v0, on the active controller: a request another
 * broker forwarded for its client (net/forward.c, Kafka's KIP-590). The embedded request
 * runs here as the client's (its principal and address are authorized, not the
 * forwarding broker's), and its response goes back embedded. The forwarding broker needs
 * CLUSTER_ACTION on the cluster, as for the other inter-broker APIs; only the APIs marked
 * for the controller in the API table are accepted inside.
 *
 * A deferred inner request (a proposal waiting for its commit) is the Envelope's
 * handler_state; the Envelope's cancel cancels and frees it, and its completion
 * (rn_envelope_complete) answers the Envelope. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "authz.h"
#include "conn.h"
#include "rnlog.h"

/* EnvelopeResponse v0: response_data (nullable), error_code, tags. */
static void write_envelope(rn_request *env, const rn_request *inner, rn_err err) {
    rn_writer *w = &env->resp;
    if (inner && !err && !inner->resp.failed) {
        bool tags = rn_api_flexible(inner->api, inner->api_version);
        size_t n = 4 + (tags ? 1 : 0) + inner->resp.len;
        uint8_t hdr[5];
        rn_put_be32(hdr, (uint32_t)inner->correlation_id);
        hdr[4] = 0; /* the response header's empty tag section */
        rn_write_uvarint(w, (uint32_t)n + 1); /* compact bytes */
        rn_write_raw(w, hdr, tags ? 5 : 4);
        rn_write_raw(w, inner->resp.buf, inner->resp.len);
    } else {
        rn_write_bytes(w, NULL, -1);
        if (!err) err = RN_ERR_NOMEM;
    }
    rn_write_i16(w, rn_api_wire(env, err));
    rn_write_tags(w);
}

void rn_envelope_complete(rn_request *inner) {
    rn_request *env = inner->envelope;
    env->cancel = NULL;
    env->handler_state = NULL;
    write_envelope(env, inner, RN_KAFKA_NONE);
    rn_request_free(inner);
    rn_request_complete(env);
}

static void envelope_cancel(rn_request *env) {
    rn_request *inner = env->handler_state;
    if (inner->cancel) inner->cancel(inner);
    rn_request_free(inner);
}

/* The client's address as text ("" when it is not 4 or 16 bytes). */
static void client_host(rn_bytes a, char *out, size_t len) {
    out[0] = 0;
    if (a.len == 4) inet_ntop(AF_INET, a.ptr, out, (socklen_t)len);
    else if (a.len == 16) inet_ntop(AF_INET6, a.ptr, out, (socklen_t)len);
}

enum rn_api_result rn_api_envelope(rn_request *req) {
    rn_reader *r = &req->body;
    rn_bytes data, principal, address;
    RN_R_BYTES(r, &data);
    RN_R_BYTES(r, &principal);
    RN_R_BYTES(r, &address);
    RN_R_TAGS(r);
    /* Kafka: forwarding needs CLUSTER_ACTION on the cluster */
    if (!rn_authz(req, RN_ACL_OP_CLUSTER_ACTION, RN_ACL_RESOURCE_CLUSTER, NULL)) {
        write_envelope(req, NULL, RN_KAFKA_CLUSTER_AUTHORIZATION_FAILED);
        return RN_API_DONE;
    }
    if (data.len < 0 || principal.len < 0 || principal.len > 320) {
        write_envelope(req, NULL, RN_KAFKA_INVALID_REQUEST);
        return RN_API_DONE;
    }
    rn_err err;
    rn_request *inner = rn_request_inner(req, data.ptr, (size_t)data.len, &err);
    if (!inner) {
        rn_log_warn("%s: an Envelope whose request is not served here (%s)", req->conn->peer,
                    rn_err_name(err));
        write_envelope(req, NULL, err);
        return RN_API_DONE;
    }
    char host[64];
    client_host(address, host, sizeof host);
    inner->principal = rn_arena_strndup(&inner->arena, principal.ptr, principal.len);
    inner->client_host = rn_arena_strndup(&inner->arena, host, (int32_t)strlen(host));
    if (!inner->principal || !inner->client_host) {
        rn_request_free(inner);
        write_envelope(req, NULL, RN_ERR_NOMEM);
        return RN_API_DONE;
    }
    switch (inner->api->handler(inner)) {
    case RN_API_DEFERRED:
        req->handler_state = inner;
        req->cancel = envelope_cancel;
        return RN_API_DEFERRED;
    case RN_API_DONE:
        write_envelope(req, inner, RN_KAFKA_NONE);
        break;
    case RN_API_NO_RESPONSE:
    case RN_API_MALFORMED:
        write_envelope(req, NULL, RN_KAFKA_INVALID_REQUEST);
        break;
    }
    rn_request_free(inner);
    return RN_API_DONE;
err_parse:
    return rn_api_malformed(req);
}
