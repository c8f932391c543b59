/* net/cluster.h: this broker as a member of a cluster: the Raft quorum member
 * (net/quorum.c) that holds the metadata image (engine/metadata.h), the broker agent that
 * registers, heartbeats and makes the local engine follow the image (local topics, leader
 * and follower roles, replica fetchers), and, on the quorum leader, the active controller
 * (broker liveness and fencing, ISR changes, reassignments, topic placement).
 *
 * No cluster (no controller.quorum.voters): rn_cluster_start is never called and the
 * handlers' `cluster` pointer is NULL; the broker leads every partition it has, as before.
 *
 * Threads: the quorum runs on its own thread (libuv), the agent and replica fetchers on
 * another (libevent). Everything here may be called from any thread. */
#ifndef RN_CLUSTER_H
#define RN_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "metadata.h"
#include "users.h"

typedef struct rn_cluster rn_cluster;

typedef struct {
    rn_engine *engine;
    int32_t node_id;
    const char *voters;    /* controller.quorum.voters: "1@host:port,2@host:port,..." (Raft) */
    const char *bootstrap; /* controller.quorum.bootstrap.servers: Kafka "host:port,..." of
                              brokers to find the controller through when this broker is
                              not a voter; may be "" for voters */
    const char *raft_listener; /* this broker's Raft address "host:port" when it is not in
                                  voters (it joins as a non-voting standby); "" for voters */
    const char *raft_dir;  /* data.dir/raft */
    const char *host;      /* this broker's advertised Kafka listener */
    int port;
    int64_t session_timeout_ms;      /* broker.session.timeout.ms */
    int64_t heartbeat_interval_ms;   /* broker.heartbeat.interval.ms */
    int64_t replica_lag_time_max_ms; /* replica.lag.time.max.ms */
    int32_t default_replication_factor; /* default.replication.factor */
    int32_t min_insync_replicas;        /* min.insync.replicas (broker default) */
    bool unclean_leader_election;       /* unclean.leader.election.enable */
    int32_t offsets_topic_partitions;   /* offsets.topic.num.partitions */
    int32_t offsets_topic_replication_factor; /* offsets.topic.replication.factor */
    unsigned election_timeout_ms;       /* controller.quorum.election.timeout.ms */
} rn_cluster_options;

/* Start the quorum member, the agent and its threads. NULL and a sentence in err when
 * the options are wrong (unparsable voters, this node neither a voter nor given a
 * raft_listener) or Raft cannot start (its address in use, its files unreadable). */
rn_cluster *rn_cluster_start(const rn_cluster_options *o, char *err, size_t errlen);
/* Stop heartbeating and fetching, leave the quorum's thread; the engine stays open. */
void rn_cluster_stop(rn_cluster *c);

int32_t rn_cluster_node_id(const rn_cluster *c);
/* Whether this broker serves its share: registered, and the local engine follows the
 * image up to its registration (so its coordinators have loaded their commits). NULL
 * and a sentence in why (a buffer of whylen) when not. */
bool rn_cluster_ready(rn_cluster *c, char *why, size_t whylen);
/* The image every broker agrees on; read it under rn_md_read_lock. */
rn_metadata *rn_cluster_metadata(rn_cluster *c);
/* The active controller (the quorum leader) as this broker last heard, or -1. */
int32_t rn_cluster_controller_id(rn_cluster *c);
/* Why an admin request is not served here, for its error_message (into buf). */
const char *rn_cluster_not_controller_message(rn_cluster *c, char *buf, size_t len);
/* Whether this broker is the active controller now. */
bool rn_cluster_is_controller(rn_cluster *c);
int32_t rn_cluster_default_replication_factor(const rn_cluster *c);
/* The cluster id clients are told (the image's; this broker's own until it is set). */
const char *rn_cluster_id(rn_cluster *c, char buf[RN_MD_CLUSTER_ID_MAX + 1]);
int32_t rn_cluster_min_insync_replicas(const rn_cluster *c);

/* ---- the controller: changes to the image ----------------------------------------- */

/* Done runs once, on the quorum's thread, after the entry was committed and applied here
 * (err 0, or the apply's refusal with its sentence in msg), or when it could not be:
 * RN_KAFKA_NOT_CONTROLLER (this broker is not the leader, or lost leadership before the
 * commit), RN_KAFKA_REQUEST_TIMED_OUT (no commit within timeout_ms: no quorum). It must
 * be quick (a handler wakes its loop). */
typedef void (*rn_cluster_done)(void *ctx, rn_err err, const char *msg);

/* Propose an entry of records (encoded here; the caller's memory is not kept). */
void rn_cluster_propose(rn_cluster *c, const rn_md_record *records, int n, int timeout_ms,
                        rn_cluster_done done, void *ctx);

/* The access entry that sets user's credential (cred) or removes its credential for
 * mechanism (cred NULL). key and value are the caller's (RN_USER_KEY_MAX and
 * RN_USER_VALUE_MAX bytes) and must outlive the proposal's call. */
rn_md_record rn_cluster_scram_entry(const char *user, int8_t mechanism,
                                    const rn_scram_credential *cred, uint8_t *key, uint8_t *value);

/* Propose and wait, on the caller's thread (a blocking path: the HTTP admin actions):
 * returns as rn_cluster_propose's done would, once the entry is committed and every live
 * broker follows it (rn_cluster_applied_everywhere, at most 3 s more). msg gets the
 * refusal's sentence. */
rn_err rn_cluster_propose_wait(rn_cluster *c, const rn_md_record *records, int n, int timeout_ms,
                               char *msg, size_t msglen);

/* Forwarding (net/forward.c): send an Envelope request body (encoded, copied here) to
 * the active controller, on the agent's thread. done runs once, on the agent's thread,
 * with the Envelope's response_data (the embedded response header and body; valid during
 * the call), or an error: the Envelope's error code, NOT_CONTROLLER (no controller known),
 * or a network error. 0, or -1 when out of memory (done never runs). */
typedef void (*rn_cluster_forwarded)(void *ctx, rn_err err, const uint8_t *response, size_t len);
int rn_cluster_forward(rn_cluster *c, const uint8_t *body, size_t len, rn_cluster_forwarded done,
                       void *ctx);

/* Metadata's auto.create.topics.enable: create `topic` with num.partitions and
 * default.replication.factor (capped at the unfenced brokers) on the controller: proposed
 * here when this broker is the controller, else sent to it as CreateTopics. Fire and
 * forget: the client retries its Metadata (LEADER_NOT_AVAILABLE meanwhile). */
void rn_cluster_auto_create(rn_cluster *c, const char *topic, int32_t partitions);

/* ---- controller RPCs, served on the controller (net/api_broker_*.c) ---------------- */

/* BrokerRegistration: a broker announces its endpoints (its Raft address travels as the
 * listener named "CONTROLLER"). Proposes REGISTER_BROKER (and,
 * for a broker with a raft address that is not a member yet, adds it to the quorum as a
 * non-voting standby first). done as for rn_cluster_propose; *broker_epoch gets the
 * epoch before done runs. */
void rn_cluster_register_broker(rn_cluster *c, int32_t id, const char *host, int port,
                                const char *raft_host, int raft_port, int64_t *broker_epoch,
                                rn_cluster_done done, void *ctx);
/* BrokerHeartbeat: the broker is alive (the controller fences brokers silent for longer
 * than broker.session.timeout.ms). want_fence: a broker shutting down. Fills whether it
 * is fenced in the image now. RN_KAFKA_NOT_CONTROLLER, RN_KAFKA_STALE_BROKER_EPOCH,
 * RN_KAFKA_BROKER_NOT_AVAILABLE (not registered). */
rn_err rn_cluster_broker_heartbeat(rn_cluster *c, int32_t id, int64_t broker_epoch,
                                   int64_t metadata_offset, bool want_fence, bool *is_fenced);

/* The cluster's clock: monotonic milliseconds. */
int64_t rn_cluster_now_ms(void);
/* The index of the last entry applied to this broker's image. */
uint64_t rn_cluster_applied_index(rn_cluster *c);
/* On the controller: whether every live broker follows the image up to index (itself as
 * its agent reconciled, the others as their heartbeats said), so that a client asking any
 * of them next sees the change. Fenced brokers and brokers silent for longer than two
 * heartbeat intervals are not waited for. Any thread. */
bool rn_cluster_applied_everywhere(rn_cluster *c, uint64_t index);

/* The coordinator's commits of a group, appended to its __consumer_offsets partition so
 * that they are replicated and a new coordinator loads them (entries with an error are
 * skipped). On the caller's thread, not awaited: *part and *end (the partition and the log
 * end after the append; *part NULL when nothing was appended) are for the caller's
 * replicated rn_durable_wait. Returns the append's error (NOT_COORDINATOR when this broker
 * does not lead the partition), or 0. */
rn_err rn_cluster_replicate_commits(rn_cluster *c, const char *group,
                                    const rn_offset_commit *entries, int n, rn_partition **part,
                                    int64_t *end);

/* ---- the broker's own view ------------------------------------------------------------ */

/* Where a partition's leader is, for clients: the leader's id and Kafka endpoint (host
 * copied into a 256-byte buffer). RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
 * RN_KAFKA_LEADER_NOT_AVAILABLE (offline). */
rn_err rn_cluster_leader_of(rn_cluster *c, const char *topic, int32_t index, int32_t *leader,
                            char host[256], int *port);
/* Whether a client request for topic-index may be served here: p (this broker's copy, NULL
 * when it has none yet) must be led here (RN_ROLE_LEADER; a partition with no role yet
 * is not: the agent has not applied the image here). RN_KAFKA_NOT_LEADER_OR_FOLLOWER when
 * the image has the partition (the client refreshes its metadata and retries),
 * RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION when it has not. */
rn_err rn_cluster_serve_check(rn_cluster *c, rn_partition *p, const char *topic, int32_t index);
/* Whether this broker coordinates the group now: RN_KAFKA_NONE; RN_KAFKA_NOT_COORDINATOR
 * (another broker does); RN_KAFKA_COORDINATOR_LOAD_IN_PROGRESS (the image names this one but
 * it has not led the group's __consumer_offsets partition and loaded its commits yet);
 * RN_KAFKA_COORDINATOR_NOT_AVAILABLE (no leader). */
rn_err rn_cluster_coordinator_here(rn_cluster *c, const char *group);
/* The broker that coordinates a group: the leader of its __consumer_offsets partition. */
rn_err rn_cluster_coordinator_of(rn_cluster *c, const char *group, int32_t *node,
                                 char host[256], int *port);

#endif
