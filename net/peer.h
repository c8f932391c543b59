/* net/peer.h: one outbound Kafka-protocol connection from this broker to another
 * broker's listener (the replica fetcher's and the cluster agent's client).
 *
 * Everything runs on the caller's event_base thread. The peer connects lazily on the
 * first send, and again on the next send after a failure (not before a short backoff).
 * Requests leave in send order and Kafka answers in that order on one connection, so
 * responses are matched to requests by correlation id at the head of the queue.
 *
 * Every accepted request's callback runs exactly once: with err 0 and the response body,
 * or with an error and body NULL:
 *   RN_KAFKA_REQUEST_TIMED_OUT   its own timeout_ms passed (the connection is closed:
 *                                a late answer could not be matched any more),
 *   RN_KAFKA_NETWORK_EXCEPTION   the connection failed, closed, timed out for another
 *                                request, sent an unmatched or oversized response, or
 *                                the peer is being freed.
 * Callbacks never run inside rn_peer_send. They may call rn_peer_send (also on this
 * peer) and rn_peer_free (the peer is then freed once the callback returns).
 *
 * Security: peers speak PLAINTEXT only; inter-broker TLS and SASL come later, so the
 * address given must be a PLAINTEXT listener. */
#ifndef RN_PEER_H
#define RN_PEER_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

typedef struct rn_peer rn_peer;

/* A peer for broker node_id (the local broker's id goes in the client id,
 * "runnel-broker-<node_id>") at host:port. host is copied; it is resolved when the
 * connection is made (blocking getaddrinfo: give addresses, or names /etc/hosts knows).
 * No connection is made yet. NULL when out of memory. */
rn_peer *rn_peer_new(struct event_base *base, int32_t node_id, const char *host, int port);

/* Close the connection; pending callbacks run with RN_KAFKA_NETWORK_EXCEPTION before
 * this returns (when called from a callback, the free itself waits for it to return).
 * NULL is allowed. After it, rn_peer_send on p is not allowed (returns -1 from the
 * callbacks it runs). */
void rn_peer_free(rn_peer *p);

/* The response: body NULL when err != 0. body is positioned after the response header
 * (flexible per the API's version) and valid only during the call. */
typedef void (*rn_peer_cb)(void *ctx, rn_err err, rn_reader *body);

/* Send a request of api_key at api_version whose body (len bytes, copied; the caller
 * keeps it) is already encoded. The request header is v2 (with a tag section) when the
 * version is flexible, v1 otherwise; the response header v1 when flexible, except for
 * ApiVersions (always v0). Flexibility comes from this broker's own API table (net/api.h):
 * a broker only sends the APIs it also serves, so the table already knows the first
 * flexible version of each; a key not in it is taken as never flexible. timeout_ms > 0
 * bounds the wait for the answer. Returns 0 (cb will run exactly once), or -1 when out of
 * memory or the peer is being freed (cb never runs). */
int rn_peer_send(rn_peer *p, int16_t api_key, int16_t api_version, const uint8_t *body,
                 size_t len, int timeout_ms, rn_peer_cb cb, void *ctx);

const char *rn_peer_host(const rn_peer *p);
int rn_peer_port(const rn_peer *p);
/* Requests sent and not answered yet (for tests and metrics). */
int rn_peer_pending(const rn_peer *p);

#endif
