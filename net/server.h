/* net/server.h: the Kafka listener: accepts connections and spreads them over network
 * threads, each its own libevent base. Handlers reach the broker's state through
 * rn_server_options (read-only after start). */
#ifndef RN_SERVER_H
#define RN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "metrics.h"
#include "tls.h"

#define RN_SERVER_MAX_LISTENERS 8

typedef struct rn_server rn_server;
struct event_base;

/* A listener's security.protocol, as Kafka names them in listeners=PROTOCOL://... */
typedef enum {
    RN_SECURITY_PLAINTEXT = 0,
    RN_SECURITY_SSL,
    RN_SECURITY_SASL_PLAINTEXT,
    RN_SECURITY_SASL_SSL,
} rn_security_protocol;

static inline bool rn_security_sasl(rn_security_protocol p) {
    return p == RN_SECURITY_SASL_PLAINTEXT || p == RN_SECURITY_SASL_SSL;
}
static inline bool rn_security_tls(rn_security_protocol p) {
    return p == RN_SECURITY_SSL || p == RN_SECURITY_SASL_SSL;
}

typedef struct {
    char host[256];
    int port;
    rn_security_protocol protocol; /* listeners[] only; advertised[] ignores it */
} rn_endpoint;

typedef struct {
    rn_engine *engine;
    int32_t node_id;
    rn_endpoint listeners[RN_SERVER_MAX_LISTENERS];
    int listener_count;
    rn_endpoint advertised[RN_SERVER_MAX_LISTENERS]; /* advertised[i] for listeners[i] */
    int network_threads;
    int32_t socket_request_max_bytes;
    size_t output_high_water;        /* stop reading a connection above this much output */
    int64_t connections_max_idle_ms;
    bool auto_create_topics;
    bool delete_topic_enable;
    int32_t message_max_bytes;
    int32_t fetch_max_wait_cap_ms;
    /* DescribeConfigs on the BROKER resource: fills entries the caller frees with
     * rn_config_entries_free. */
    rn_err (*describe_broker_configs)(void *ctx, rn_config_entry **out, int *count);
    void *describe_broker_ctx;
    struct rn_plugins *plugins; /* the Lua host for topic hooks (NULL: none) */
    /* Security: the mechanisms SASL listeners offer (RN_SASL_* bits, net/sasl.h), and
     * the PEM files of SSL/SASL_SSL listeners (read at start, not kept). */
    unsigned sasl_mechanisms;
    rn_tls_options tls;
    /* Authorization (net/authz.h): off unless authorizer.class.name is set. super_users
     * is Kafka's "User:admin;User:ops" (not copied: it must outlive the server). */
    bool authorizer_enabled;
    const char *super_users;
    bool allow_everyone_if_no_acl_found;
    /* Client quotas (net/quota.h), owned by the caller; NULL: none. */
    struct rn_quotas *quotas;
    /* The cluster this broker is a member of (net/cluster.h), owned by the caller; NULL:
     * a single broker that leads every partition it has. */
    struct rn_cluster *cluster;
} rn_server_options;

/* Bind every listener (on `base`, the caller's loop, which must run for accepts to
 * happen) and start the network threads. The options are copied. NULL and a message
 * in err on failure (e.g. "cannot listen on 127.0.0.1:9092: Address already in use"). */
rn_server *rn_server_start(struct event_base *base, const rn_server_options *opts, char *err,
                           size_t errlen);
/* Serve an already-connected socket as if listener 0 had accepted it (tests, fuzzing,
 * and later socket activation). Takes the descriptor. */
void rn_server_adopt(rn_server *s, int fd);

/* The port a listener actually bound (useful with port 0). */
int rn_server_port(const rn_server *s, int listener);
/* Stop accepting, close every connection (cancelling parked fetches), join threads. */
void rn_server_stop(rn_server *s);

const rn_server_options *rn_server_opts(const rn_server *s);
/* The request counters (net/metrics.h), for the HTTP endpoint. */
rn_metrics *rn_server_metrics(rn_server *s);
/* The TLS context of SSL/SASL_SSL listeners (NULL when no listener uses TLS). */
rn_tls *rn_server_tls(const rn_server *s);

#endif
