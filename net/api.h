/* net/api.h: the table of Kafka APIs this broker speaks (key, name, versions, handler),
 * which ApiVersions reads, and the request a handler serves.
 *
 * A handler reads its request body from req->body and writes its response body into
 * resp (the connection writes the size and response header). It returns RN_API_DONE,
 * RN_API_NO_RESPONSE (acks=0 produce), RN_API_DEFERRED (it will call
 * rn_request_complete later: a long-polling fetch), or RN_API_MALFORMED (the connection
 * is closed, with a log line naming the API, version and failing field). */
#ifndef RN_API_H
#define RN_API_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "codec.h"
#include "engine.h"

typedef struct rn_server rn_server;
typedef struct rn_conn rn_conn;
typedef struct rn_request rn_request;

enum rn_api_result { RN_API_DONE = 0, RN_API_NO_RESPONSE, RN_API_DEFERRED, RN_API_MALFORMED };

struct rn_request {
    int16_t api_key, api_version;
    int32_t correlation_id;
    rn_bytes client_id;
    rn_reader body;          /* positioned at the body; flexible per the API table */
    const uint8_t *body_start; /* where body started (a handler run again reads it anew) */
    rn_writer resp;          /* the response body */
    rn_arena arena;          /* freed with the request */
    uint8_t *frame;          /* the request bytes (owned); decoded fields point here */
    size_t frame_len;
    rn_server *server;
    rn_conn *conn;
    const struct rn_api *api;
    int64_t received_us;
    /* WAITING: a request answered from state that changes (Metadata) behind an unfinished
     * one; its handler runs when it reaches the head of the queue (net/conn.c). */
    enum { RN_REQ_RUNNING, RN_REQ_DONE, RN_REQ_SKIP, RN_REQ_WAITING } state;
    /* Deferred requests: called if the connection closes first (must release
     * everything the handler holds, e.g. parked fetch state). */
    void (*cancel)(rn_request *req);
    void *handler_state;
    rn_request *next;        /* the connection's in-order queue */
    /* Error codes this response carries, counted for /metrics when it leaves. */
    struct {
        int16_t code;
        uint32_t count;
    } errors[8];
    int nerrors;
    /* A request a broker forwarded in an Envelope (net/api_envelope.c): the client's
     * principal and host to authorize (NULL: the connection's), and the Envelope request
     * whose response this one becomes when it completes. */
    const char *principal, *client_host;
    rn_request *envelope;
};

typedef enum rn_api_result (*rn_api_handler)(rn_request *req);

typedef struct rn_api {
    int16_t key;
    const char *name;
    int16_t min_version, max_version; /* advertised in ApiVersions */
    int16_t flexible_from;            /* first flexible version, or -1 */
    rn_api_handler handler;
    /* Served by the active controller: another broker of a cluster forwards it there in
     * an Envelope (KIP-590), the client's principal with it (net/forward.c). */
    bool controller;
} rn_api;

/* An error as the response carries it (rn_err_wire), counted for the request's metrics:
 * handlers write every error code through this. */
int16_t rn_api_wire(rn_request *req, rn_err err);

/* An error_message field: NULL without an error, else the handler's sentence (message NULL
 * or "": the error table's text). */
const char *rn_api_error_message(rn_err err, const char *message);

/* The row for key, or NULL. */
const rn_api *rn_api_find(int16_t key);
/* All rows, for ApiVersions. */
const rn_api *rn_api_table(int *count);
static inline bool rn_api_flexible(const rn_api *api, int16_t version) {
    return api->flexible_from >= 0 && version >= api->flexible_from;
}

/* Finish a deferred request: its response body is in req->resp. Any thread that owns
 * the request's connection (its network thread). A request inside an Envelope completes
 * its Envelope instead (net/api_envelope.c). */
void rn_request_complete(rn_request *req);

/* ---- requests inside an Envelope (net/conn.c; net/api_envelope.c uses them) ---------- */

/* A request made of an embedded header and body (frame: copied) on the Envelope's
 * connection, to answer into it: NULL with *err UNSUPPORTED_VERSION (an API or version
 * this broker does not serve), INVALID_REQUEST (an API only the controller's clients
 * send directly, or a header that does not parse) or RN_ERR_NOMEM. */
rn_request *rn_request_inner(rn_request *envelope, const uint8_t *frame, size_t len, rn_err *err);
void rn_request_free(rn_request *req);
/* Called by rn_request_complete for a request with an envelope (net/api_envelope.c). */
void rn_envelope_complete(rn_request *inner);
/* Run a request's handler again from the start, as if it had just arrived (a forward that
 * failed is served here); completes or parks it as the handler says. */
void rn_request_rerun(rn_request *req);

/* Log a malformed request (API, version, offset, failing field) and return
 * RN_API_MALFORMED; handlers `return rn_api_malformed(req);` at err_parse. */
enum rn_api_result rn_api_malformed(rn_request *req);

/* Read a string field (a topic or resource name) and copy it, NUL-terminated, into the
 * request's arena (a null string reads as ""). NULL when the frame is malformed or memory
 * ran out: the caller goes to err_parse. */
char *rn_api_read_name(rn_request *req, rn_reader *r);

/* The handlers, one per API (net/api_<name>.c). */
enum rn_api_result rn_api_produce(rn_request *req);
enum rn_api_result rn_api_fetch(rn_request *req);
enum rn_api_result rn_api_list_offsets(rn_request *req);
enum rn_api_result rn_api_metadata(rn_request *req);
enum rn_api_result rn_api_api_versions(rn_request *req);
enum rn_api_result rn_api_create_topics(rn_request *req);
enum rn_api_result rn_api_delete_topics(rn_request *req);
enum rn_api_result rn_api_create_partitions(rn_request *req);
enum rn_api_result rn_api_describe_configs(rn_request *req);
enum rn_api_result rn_api_alter_configs(rn_request *req);
enum rn_api_result rn_api_incremental_alter_configs(rn_request *req);
enum rn_api_result rn_api_delete_records(rn_request *req);
enum rn_api_result rn_api_init_producer_id(rn_request *req);
enum rn_api_result rn_api_offset_commit(rn_request *req);
enum rn_api_result rn_api_offset_fetch(rn_request *req);
enum rn_api_result rn_api_find_coordinator(rn_request *req);
enum rn_api_result rn_api_join_group(rn_request *req);
enum rn_api_result rn_api_heartbeat(rn_request *req);
enum rn_api_result rn_api_leave_group(rn_request *req);
enum rn_api_result rn_api_sync_group(rn_request *req);
enum rn_api_result rn_api_describe_groups(rn_request *req);
enum rn_api_result rn_api_list_groups(rn_request *req);
enum rn_api_result rn_api_delete_groups(rn_request *req);
enum rn_api_result rn_api_describe_acls(rn_request *req);
enum rn_api_result rn_api_create_acls(rn_request *req);
enum rn_api_result rn_api_delete_acls(rn_request *req);
enum rn_api_result rn_api_offset_delete(rn_request *req);
enum rn_api_result rn_api_sasl_handshake(rn_request *req);
enum rn_api_result rn_api_sasl_authenticate(rn_request *req);
enum rn_api_result rn_api_describe_user_scram_credentials(rn_request *req);
enum rn_api_result rn_api_alter_user_scram_credentials(rn_request *req);
/* The cluster's (net/cluster.h): replication and the controller's RPCs. */
enum rn_api_result rn_api_offset_for_leader_epoch(rn_request *req);
enum rn_api_result rn_api_alter_partition_reassignments(rn_request *req);
enum rn_api_result rn_api_list_partition_reassignments(rn_request *req);
enum rn_api_result rn_api_alter_partition(rn_request *req);
enum rn_api_result rn_api_broker_registration(rn_request *req);
enum rn_api_result rn_api_broker_heartbeat(rn_request *req);
enum rn_api_result rn_api_envelope(rn_request *req);

#endif
