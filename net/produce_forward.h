/* net/produce_forward.h: in a cluster, the batches a topic's partitioner placed on
 * partitions another broker leads, sent to those leaders as Produce v7: the forwarding
 * broker is a plain producer to the leader (hooked batches carry no producer id).
 *
 * One rn_produce_forward belongs to one client Produce request. Its batches are grouped
 * per owner (the client's partition entry whose hooks made them: an opaque key, never
 * dereferenced) and per leader, and each group leaves as ONE Produce request of one
 * topic, a partition's batches concatenated in the order given. Requests go over a peer
 * (net/peer.h) cached per network thread and per leader, so the forwards of one client
 * connection reach a leader on one connection, in the order the client sent them; the
 * cache is freed when the thread exits.
 *
 * The leader appends forwarded batches as they are (no second run of the hooks): see
 * rn_produce_forward_trusted.
 *
 * Everything runs on the event_base given to rn_produce_forward_new (the client
 * connection's network thread). */
#ifndef RN_PRODUCE_FORWARD_H
#define RN_PRODUCE_FORWARD_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "cluster.h"
#include "produce_hooks.h"

typedef struct rn_produce_forward rn_produce_forward;

/* A request's forwards, sent with the client's acks (0 becomes 1: the leader must answer
 * for the forward to be freed) and timeout_ms. NULL when out of memory. Freed by
 * rn_produce_forward_release. */
rn_produce_forward *rn_produce_forward_new(struct event_base *base, rn_cluster *c, int16_t acks,
                                           int32_t timeout_ms);

/* Queue set->batches[which[0..n-1]] of topic for their leaders, as owner's (an owner's
 * batches come in one call). The bytes are copied (the set stays the caller's). All or nothing: every partition's leader is looked
 * up first; RN_KAFKA_LEADER_NOT_AVAILABLE or RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION from the
 * image, RN_KAFKA_NOT_LEADER_OR_FOLLOWER when the image names this broker (its agent has
 * not made it leader yet: the client retries), RN_ERR_NOMEM; nothing is queued then. */
rn_err rn_produce_forward_add(rn_produce_forward *f, const void *owner, const char *topic,
                              const rn_hooked_set *set, const int *which, int n);

/* Unqueue owner's sends that were not started (its local appends failed: the client is
 * answered an error and will send everything again). */
void rn_produce_forward_drop(rn_produce_forward *f, const void *owner);

/* Send everything queued. done(ctx) runs once on the base, after every forward was
 * answered, never inside this call, and never after rn_produce_forward_release; done
 * NULL: nobody waits (acks=0). Returns whether anything is in flight (false: done never
 * runs). A send the peer refuses counts as answered with RN_KAFKA_NETWORK_EXCEPTION. */
bool rn_produce_forward_start(rn_produce_forward *f, void (*done)(void *ctx), void *ctx);

/* The owner's outcome: the first error among its forwards as the leaders answered it
 * (NOT_LEADER_OR_FOLLOWER etc. passed through, so the client refreshes its metadata and
 * retries), RN_KAFKA_REQUEST_TIMED_OUT while one is unanswered (or was never started),
 * RN_KAFKA_NONE when it has none or all succeeded. f may be NULL. */
rn_err rn_produce_forward_result(const rn_produce_forward *f, const void *owner);

/* The request is done with f (answered or cancelled): done never runs from now on, and
 * f is freed at once or when its last forward is answered. NULL is allowed. */
void rn_produce_forward_release(rn_produce_forward *f);

/* At the leader: whether req is another broker's forward, whose records its hooks placed
 * already, to be appended as they are. The marker is the client id the broker's peer sends
 * ("runnel-broker-<id>") together with the connection coming from the address broker <id>
 * registered in the metadata image (its advertised host, compared as text: brokers must
 * advertise IP addresses for their forwards to be recognised; a forward that is not is
 * warned about once and runs the hooks again, which places records the same way for a
 * deterministic partitioner but rewrites twice with a rewriting filter). This is NOT
 * authentication (inter-broker auth is later work): it only stops a client from skipping
 * a topic's hooks by naming itself like a broker from a host that is not one. */
bool rn_produce_forward_trusted(const rn_request *req, rn_cluster *c);

#endif
