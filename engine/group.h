/* engine/group.h: the group coordinator's contract: consumer groups (membership,
 * rebalancing, assignments relayed from the leader) and committed offsets. No sockets:
 * net/ turns requests into these calls and results into responses.
 *
 * The state machine is Kafka's classic group protocol:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
 *   CompletingRebalance --leader's SyncGroup--> Stable --join/leave/expiry--> Preparing...
 *   any --DeleteGroups or offsets expired while Empty--> Dead
 *
 * Assignment strategies (range, roundrobin, cooperative-sticky) are computed by the
 * leader client; the coordinator picks the protocol every member supports and relays.
 * Group metadata and committed offsets live in the store's groups family and are
 * recovered at open: a Stable group comes back Stable, its members get a fresh session.
 *
 * Every function is thread-safe (one coordinator lock; the store's fsync happens outside
 * it). Strings in requests are the caller's, NUL-terminated; "" is an absent member id.
 * Strings in results are malloc'd and owned by the result (free with the *_free
 * functions). JoinGroup and SyncGroup may have to wait for other members: they answer
 * through a waiter (below), possibly before the call returns. */
#ifndef RN_GROUP_H
#define RN_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct rn_engine rn_engine;
typedef struct rn_store rn_store;
typedef struct rn_coordinator rn_coordinator;
typedef struct rn_member rn_member;

typedef struct {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int32_t max_size;                   /* group.max.size */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes, in ms */
    int64_t offsets_retention_check_interval_ms;
    int32_t offset_metadata_max_bytes;  /* offset.metadata.max.bytes */
} rn_group_options;

/* ---- membership ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const uint8_t *metadata; /* the member's subscription for this protocol */
    size_t metadata_len;
} rn_group_protocol;

typedef struct {
    const char *group_id;
    const char *member_id;         /* "" for a new member */
    const char *group_instance_id; /* NULL: dynamic member */
    const char *protocol_type;     /* "consumer" for consumers */
    const char *client_id, *client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    const rn_group_protocol *protocols;
    int nprotocols;
    bool require_known_member_id; /* JoinGroup v4+: MEMBER_ID_REQUIRED handshake */
} rn_join_request;

typedef struct {
    char *member_id;
    char *group_instance_id; /* NULL: dynamic */
    uint8_t *metadata;
    size_t metadata_len;
} rn_join_member;

typedef struct {
    rn_err error;
    int32_t generation_id;
    char *protocol_type, *protocol_name, *leader, *member_id; /* may be NULL */
    rn_join_member *members; /* the leader's copy only */
    int nmembers;
} rn_join_result;

typedef struct {
    rn_err error;
    char *protocol_type, *protocol_name; /* may be NULL */
    uint8_t *assignment;
    size_t assignment_len;
} rn_sync_result;

/* A JoinGroup or SyncGroup in progress. The caller owns it and sets done/ctx; the
 * coordinator fills the result and calls done exactly once, on whatever thread completes
 * the rebalance (possibly inside rn_coordinator_join/sync), with the coordinator lock
 * held: done must be quick and must not call the coordinator (net wakes its event loop).
 * rn_coordinator_cancel stops that: after it returns, done is never called. */
typedef struct rn_group_waiter {
    void (*done)(struct rn_group_waiter *w);
    void *ctx;
    bool completed;
    rn_join_result join; /* set before done, for a join */
    rn_sync_result sync; /* set before done, for a sync */
    rn_member *member;   /* coordinator-owned: whom it waits for (NULL once detached) */
} rn_group_waiter;

void rn_coordinator_join(rn_coordinator *c, const rn_join_request *rq, rn_group_waiter *w);

typedef struct {
    const char *member_id;
    const uint8_t *assignment;
    size_t assignment_len;
} rn_group_assignment;

typedef struct {
    const char *group_id, *member_id, *group_instance_id;
    int32_t generation_id;
    const char *protocol_type, *protocol_name; /* NULL when not sent (SyncGroup < v5) */
    const rn_group_assignment *assignments;    /* the leader's */
    int nassignments;
} rn_sync_request;

void rn_coordinator_sync(rn_coordinator *c, const rn_sync_request *rq, rn_group_waiter *w);

/* Detach a waiter whose request is going away (its connection closed). */
void rn_coordinator_cancel(rn_coordinator *c, rn_group_waiter *w);
void rn_join_result_free(rn_join_result *r);
void rn_sync_result_free(rn_sync_result *r);

/* Heartbeat: RN_KAFKA_NONE, REBALANCE_IN_PROGRESS (rejoin), UNKNOWN_MEMBER_ID,
 * ILLEGAL_GENERATION, FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE (Dead). */
rn_err rn_coordinator_heartbeat(rn_coordinator *c, const char *group_id, const char *member_id,
                                const char *group_instance_id, int32_t generation_id);

/* LeaveGroup for one member (identified by member id, or by instance id for a static
 * member: member_id may then be ""). UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID. */
rn_err rn_coordinator_leave(rn_coordinator *c, const char *group_id, const char *member_id,
                            const char *group_instance_id);

/* ---- committed offsets ----------------------------------------------------------- */

typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;  /* -1: unknown */
    const char *metadata;  /* NULL: none */
    rn_err error;          /* out */
} rn_offset_commit;

/* Commit offsets for a member of the current generation, or (generation -1, member "")
 * for a consumer that assigns partitions itself, which Kafka allows while the group has
 * no members. The group is created (Empty, no protocol type) when it does not exist.
 * Returns a group-level error that applies to every entry (ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID, INVALID_GROUP_ID,
 * COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR); otherwise each entry's error is set
 * (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE) and the rest are durable (as
 * durable as log.flush.sync makes appends) when this returns. */
rn_err rn_coordinator_commit(rn_coordinator *c, const char *group_id, int32_t generation_id,
                             const char *member_id, const char *group_instance_id,
                             rn_offset_commit *entries, int n);

typedef struct {
    char *topic;
    int32_t partition;
    int64_t offset;        /* -1: none committed */
    int32_t leader_epoch;
    char *metadata;        /* NULL: none */
    int64_t commit_timestamp;
} rn_committed_offset;

/* The group's committed offset for one partition (offset -1 when none). */
rn_err rn_coordinator_committed(rn_coordinator *c, const char *group_id, const char *topic,
                                int32_t partition, rn_committed_offset *out);
/* Every committed offset of the group, sorted by topic and partition. */
rn_err rn_coordinator_committed_all(rn_coordinator *c, const char *group_id,
                                    rn_committed_offset **out, int *n);
void rn_committed_offset_clear(rn_committed_offset *o);
void rn_committed_offsets_free(rn_committed_offset *o, int n);

typedef struct {
    const char *topic;
    int32_t partition;
    rn_err error; /* out: GROUP_SUBSCRIBED_TO_TOPIC when a member consumes the topic */
} rn_offset_delete;

/* OffsetDelete: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP (members, not the consumer protocol),
 * INVALID_GROUP_ID; per entry GROUP_SUBSCRIBED_TO_TOPIC. */
rn_err rn_coordinator_delete_offsets(rn_coordinator *c, const char *group_id,
                                     rn_offset_delete *entries, int n);

/* ---- administration ------------------------------------------------------------- */

typedef struct {
    char *member_id, *group_instance_id, *client_id, *client_host;
    uint8_t *metadata, *assignment;
    size_t metadata_len, assignment_len;
} rn_member_description;

typedef struct {
    char *group_id;
    const char *state; /* static: "Empty", "PreparingRebalance", ... "Dead" */
    char *protocol_type, *protocol_name; /* "" when none */
    int32_t generation_id;
    rn_member_description *members;
    int nmembers;
} rn_group_description;

/* An unknown group is described as Dead with no members (as Kafka does). */
rn_err rn_coordinator_describe(rn_coordinator *c, const char *group_id, rn_group_description *out);
void rn_group_description_clear(rn_group_description *d);

typedef struct {
    char *group_id;
    char *protocol_type;
    const char *state;
} rn_group_listing;

/* Every group, sorted by id. */
rn_err rn_coordinator_list(rn_coordinator *c, rn_group_listing **out, int *n);
void rn_group_listings_free(rn_group_listing *l, int n);

/* DeleteGroups: the group and its offsets. NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND,
 * INVALID_GROUP_ID. */
rn_err rn_coordinator_delete_group(rn_coordinator *c, const char *group_id);

/* Forget committed offsets of a deleted topic, in every group. */
void rn_coordinator_topic_deleted(rn_coordinator *c, const char *topic);

/* Run timers now (session expiry, rebalance and initial delays, offsets retention): the
 * coordinator's thread does this on its own; tests call it to step time. */
void rn_coordinator_tick(rn_coordinator *c, int64_t now_ms);

/* ---- following another coordinator (a cluster's __consumer_offsets) --------------- */

/* Called after a group's record was written (record, len: the group_store.h encoding) or
 * after the group was deleted with its offsets (record NULL), with the coordinator's lock
 * held: it must copy what it keeps and return at once (a cluster queues it for its
 * __consumer_offsets partition). */
typedef void (*rn_group_observer)(void *ctx, const char *group_id, const uint8_t *record,
                                  size_t len);
/* Set the observer (NULL: none). Before traffic starts. */
void rn_coordinator_observe(rn_coordinator *c, rn_group_observer fn, void *ctx);
/* A group as another coordinator left it: its record (NULL: deleted, with its offsets)
 * replaces this coordinator's group of that id, in memory and in the store; members get
 * fresh sessions. A group with a JoinGroup or SyncGroup parked here keeps its state
 * (RN_KAFKA_REBALANCE_IN_PROGRESS). The observer is not called. */
rn_err rn_coordinator_restore_group(rn_coordinator *c, const char *group_id,
                                    const uint8_t *record, size_t len);

/* Commits another coordinator accepted: stored as they are, without the group checks
 * (the group is created Empty if this coordinator has none). Entries get their error as
 * in rn_coordinator_commit. Not synced: the log they come from is the durable copy. */
rn_err rn_coordinator_restore_commits(rn_coordinator *c, const char *group_id,
                                      rn_offset_commit *entries, int n);

/* ---- life cycle (the engine's) ---------------------------------------------------- */

/* Load groups and offsets from the store; start the timer thread when thread is true. */
rn_err rn_coordinator_open(rn_store *store, rn_engine *engine, const rn_group_options *opts,
                           bool flush_sync, bool thread, rn_coordinator **out);
void rn_coordinator_close(rn_coordinator *c);

#endif
