/* net/cluster_internal.h: the cluster's parts shared by net/cluster.c (the broker agent:
 * registration, heartbeats, making the local engine follow the image) and
 * net/controller.c (the active controller's duties). Internal to net/. */
#ifndef RN_CLUSTER_INTERNAL_H
#define RN_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cluster.h"
#include "peer.h"
#include "quorum.h"
#include "replica_fetcher.h"

struct event_base;
struct event;

#define RN_CLUSTER_MAX_BROKERS 64

/* The controller's memory of broker heartbeats (it is not in the image: liveness is the
 * controller's judgement, its verdicts -- fence, unfence -- are records). */
typedef struct {
    int32_t id;
    int64_t last_heartbeat_ms;
    uint64_t metadata_offset; /* the image it has followed, as its last heartbeat said */
    bool fence_proposed, unfence_proposed;
} rn_heartbeat_seen;

struct rn_cluster {
    rn_cluster_options o;     /* strings point into the copies below */
    char *voters, *bootstrap, *raft_listener, *raft_dir, *host;
    rn_metadata *md;
    rn_quorum *q;
    int nvoters;

    /* The agent's thread and loop: registration, heartbeats, reconciling, fetchers and
     * the controller's timer all run here. */
    pthread_t thread;
    struct event_base *base;
    struct event *reconcile_ev, *tick_ev, *stop_ev;
    rn_replica_fetcher *fetcher;
    rn_peer *controller_peer;       /* to the controller's Kafka listener */
    int32_t controller_peer_id;
    rn_peer *bootstrap_peer;
    int bootstrap_next;
    int32_t learned_controller;     /* from a bootstrap Metadata answer */
    char learned_host[256];
    int learned_port;
    atomic_llong broker_epoch;      /* -1: not registered */
    atomic_bool caught_up;          /* reconciled the image as of the registration */
    bool rpc_in_flight, register_in_flight, alter_in_flight;
    int64_t next_heartbeat_ms, next_isr_check_ms;
    uint64_t reconciled_version;
    atomic_ullong reconciled_index; /* the log index the local engine follows (0: none) */
    uint64_t reported_index;        /* reconciled_index as the last heartbeat sent it */
    struct {
        char *name;
        uint64_t hash;
    } *hashes;                      /* topic configs last applied, by topic */
    int nhashes, caphashes;
    uint64_t acl_hash, scram_hash;  /* the image's access entries last followed */
    bool access_followed;           /* once: the hashes above mean something */
    /* The two queues other threads fill for the agent's thread; queue_lock guards both.
     * Group records the coordinator wrote (queued under its own lock), for
     * __consumer_offsets. */
    pthread_mutex_t queue_lock;
    struct rn_group_change *changes, **changes_tail;
    struct event *groups_ev;
    /* Admin requests to forward (queued by network threads, sent by the agent) on a
     * connection of their own. */
    struct rn_forward_job *forwards, **forwards_tail;
    struct event *forward_ev;
    rn_peer *forward_peer;
    int32_t forward_peer_id;

    /* The controller's state (the agent's thread). */
    pthread_mutex_t hb_lock;
    rn_heartbeat_seen seen[RN_CLUSTER_MAX_BROKERS];
    int nseen;
    atomic_bool is_leader;
    bool was_leader;
    bool offsets_topic_proposed, reassign_proposed, cluster_id_proposed, unclean_proposed;
    int64_t controller_since_ms;
};

/* The controller's timer work (agent thread): fence silent brokers, finish
 * reassignments, create __consumer_offsets. */
void rn_controller_tick(rn_cluster *c, int64_t now);
/* Make the local ACLs and SCRAM credentials follow the image's access entries (agent
 * thread, image read lock held; net/cluster_access.c). 0, or -1 when a write failed. */
int rn_cluster_follow_access(rn_cluster *c);
/* Forget what the previous term knew (this broker just became the controller). */
void rn_controller_reset(rn_cluster *c, int64_t now);

#define RN_OFFSETS_TOPIC "__consumer_offsets"

#endif
