/* net/conn.h: network threads and the connections they own (internal to net/).
 *
 * A connection belongs to one network thread for its whole life; everything that
 * touches it runs on that thread, except rn_conn_wake-style event_active calls, which
 * libevent makes thread-safe. Requests are queued in arrival order and their responses
 * leave in that order, whatever order handlers finish in. */
#ifndef RN_CONN_H
#define RN_CONN_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>

#include "api.h"
#include "sasl.h"
#include "server.h"

typedef struct rn_net_thread rn_net_thread;

typedef struct rn_pending_fd {
    evutil_socket_t fd;
    int listener;
    struct rn_pending_fd *next;
} rn_pending_fd;

struct rn_net_thread {
    int index;
    pthread_t tid;
    struct event_base *base;
    struct event *notify;      /* new connections or stop */
    pthread_mutex_t lock;      /* guards pending and stopping */
    rn_pending_fd *pending;
    bool stopping;
    rn_conn *conns;            /* this thread's connections */
    rn_server *server;
};

struct rn_conn {
    rn_net_thread *thread;
    struct bufferevent *bev;
    int listener;              /* index of the listener that accepted it */
    char peer[64];
    char client_id[80];        /* from the first request that named one, for logs */
    rn_request *head, *tail;   /* in arrival order */
    int inflight;
    bool paused;               /* reading disabled by back-pressure */
    bool processing;           /* inside conn_process_input */
    bool close_after_flush;
    rn_conn *next, *prev;
    /* Security. On a SASL listener only ApiVersions, SaslHandshake and SaslAuthenticate
     * pass until auth is RN_AUTH_DONE; anything else closes the connection (as Kafka). */
    rn_security_protocol security_protocol;
    enum {
        RN_AUTH_DONE = 0,     /* authenticated, or the listener needs no SASL */
        RN_AUTH_HANDSHAKE,    /* waiting for SaslHandshake */
        RN_AUTH_AUTHENTICATE, /* SaslHandshake v1: tokens come in SaslAuthenticate */
        RN_AUTH_RAW,          /* SaslHandshake v0: tokens come as bare size-prefixed frames */
    } auth;
    rn_sasl *sasl;            /* the exchange under way (NULL otherwise) */
    char principal[320];      /* "User:alice", the TLS subject, or "User:ANONYMOUS" */
    /* Quotas (KIP-219): not read until muted_until_us after a throttled response. */
    bool muted;
    int64_t muted_until_us;
    struct event *unmute;
};

/* Take ownership of an accepted socket. */
void rn_conn_create(rn_net_thread *t, evutil_socket_t fd, int listener);
/* Close now: cancel deferred requests, free everything. */
void rn_conn_close(rn_conn *c, const char *why);

/* The end of a SASL exchange, whichever way its tokens came: DONE makes the exchange's
 * user the principal; FAILED logs the message (the caller answers and closes). Both
 * free c->sasl. */
void rn_conn_sasl_done(rn_conn *c);
void rn_conn_sasl_failed(rn_conn *c, const char *msg);
/* An rn_scram_lookup over the engine's stored credentials (ctx is the rn_engine). */
int rn_conn_credential_lookup(void *ctx, const char *user, int8_t mechanism,
                              rn_scram_credential *out);

/* Mute the connection (stop reading it) for ms, or longer if it already is: a client
 * over its quota (net/quota.h). */
void rn_conn_throttle(rn_conn *c, int32_t ms);

/* The server's view for handlers. */
const rn_server_options *rn_conn_opts(const rn_conn *c);
struct event_base *rn_conn_base(const rn_conn *c);

#endif
