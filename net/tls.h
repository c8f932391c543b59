/* net/tls.h: TLS for the SSL and SASL_SSL listeners: one OpenSSL context per server
 * (PEM certificate, key, optional CA for client certificates) and the libevent OpenSSL
 * bufferevents the connections read and write through. */
#ifndef RN_TLS_H
#define RN_TLS_H

#include <event2/util.h>
#include <stddef.h>

struct event_base;
struct bufferevent;

/* ssl.client.auth, as Kafka names it. */
enum rn_tls_client_auth { RN_TLS_CLIENT_AUTH_NONE, RN_TLS_CLIENT_AUTH_REQUESTED, RN_TLS_CLIENT_AUTH_REQUIRED };

typedef struct {
    const char *certificate_location; /* PEM: the server certificate (and its chain) */
    const char *key_location;         /* PEM: its private key */
    const char *key_password;         /* NULL or "": an unencrypted key */
    const char *ca_location;          /* PEM CAs that sign client certificates ("": none) */
    enum rn_tls_client_auth client_auth;
} rn_tls_options;

typedef struct rn_tls rn_tls;

/* Load the certificate, key and CAs; NULL and a sentence naming the file on failure.
 * The options are read now and not kept. */
rn_tls *rn_tls_new(const rn_tls_options *o, char *err, size_t errlen);
void rn_tls_free(rn_tls *t);
/* A server-side TLS bufferevent on an accepted socket (takes fd; closes it and frees the
 * TLS state with the bufferevent). NULL on failure (fd closed). Thread-safe: each
 * network thread makes its own from the shared context. */
struct bufferevent *rn_tls_bufferevent(rn_tls *t, struct event_base *base, evutil_socket_t fd);
/* The verified client certificate's subject (RFC 2253, "CN=alice,O=Example") into buf;
 * 0, or -1 when the peer sent none. Call after the handshake (BEV_EVENT_CONNECTED). */
int rn_tls_peer_subject(struct bufferevent *bev, char *buf, size_t len);
/* The last TLS error of bev as a sentence (for log lines); buf is returned. */
const char *rn_tls_error(struct bufferevent *bev, char *buf, size_t len);

#endif
