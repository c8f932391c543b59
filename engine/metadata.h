/* engine/metadata.h: the cluster's metadata image and the records that change it: the
 * state machine that the Raft quorum (net/quorum.c) replicates, as KRaft's metadata log.
 *
 * Every broker applies the same committed entries in the same order and so holds the
 * same image; nothing else is cluster truth (a broker's local topics follow the image,
 * net/cluster.c). An entry is a list of records applied all or nothing: apply validates
 * every record against the image first and changes nothing when one is refused. Apply
 * is pure (no I/O, no clock): leader elections on a fence are a function of the image.
 *
 * Threads: apply/restore run on the Raft thread under the image's write lock; readers
 * on any thread take the read lock with rn_md_read_lock and must not keep pointers past
 * rn_md_read_unlock. */
#ifndef RN_METADATA_H
#define RN_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RN_MD_NO_LEADER (-1)

typedef struct {
    int32_t id;
    char host[256];      /* the Kafka listener clients are told about */
    int32_t port;
    char raft_host[256]; /* the Raft transport ("" when the broker is not a Raft member) */
    int32_t raft_port;
    int64_t epoch;       /* broker epoch: the Raft index of its latest registration */
    bool fenced;         /* stopped heartbeating (or never did): leads nothing, in no ISR */
} rn_md_broker;

typedef struct {
    int32_t index;
    int32_t leader;          /* RN_MD_NO_LEADER: offline */
    int32_t leader_epoch;    /* bumped on every leader change */
    int32_t partition_epoch; /* bumped on every change (leader, ISR, replicas) */
    int32_t *replicas;       /* the assignment, preferred leader first */
    int nreplicas;
    int32_t *isr;
    int nisr;
    int32_t *adding, *removing; /* a reassignment in flight (KIP-455), else n = 0 */
    int nadding, nremoving;
} rn_md_partition;

typedef struct {
    char *name;
    uint8_t id[16];
    int32_t npart;
    rn_md_partition *parts;
    char **config_names, **config_values; /* the topic's explicit configs */
    int nconfigs;
} rn_md_topic;

typedef struct rn_metadata rn_metadata;

/* ---- records ---------------------------------------------------------------------- */

enum rn_md_record_type {
    RN_MD_REGISTER_BROKER = 1, /* broker (id, host, port, raft_host, raft_port): epoch = index,
                                  unfenced; a re-registration replaces the endpoints; then
                                  as UNFENCE_BROKER for offline partitions */
    RN_MD_FENCE_BROKER = 2,    /* broker id: fenced; removed from every ISR it is in unless
                                  it is the last member; every partition it leads gets a new
                                  leader (first replica in the ISR and unfenced) and
                                  leader_epoch + 1, or RN_MD_NO_LEADER when none */
    RN_MD_UNFENCE_BROKER = 3,  /* broker id: unfenced; offline partitions whose ISR holds it
                                  get it as leader (leader_epoch + 1) */
    RN_MD_CREATE_TOPIC = 4,    /* name, id, configs, per partition its replicas: leader =
                                  first unfenced replica (else none), epoch 0, ISR = replicas */
    RN_MD_DELETE_TOPIC = 5,    /* name */
    RN_MD_CREATE_PARTITIONS = 6, /* name, the new partitions' replicas (appended) */
    RN_MD_SET_TOPIC_CONFIGS = 7, /* name, the complete new set of explicit configs */
    RN_MD_PARTITION_CHANGE = 8,  /* topic, index, and any of: leader (leader_epoch + 1 when
                                    it differs), isr, replicas/adding/removing. Refused with
                                    RN_KAFKA_INVALID_UPDATE_VERSION unless expect_partition_epoch
                                    (-1: any) matches. The ISR must be non-empty, within the
                                    replicas, and no fenced broker may join it; the leader must be
                                    -1 or an unfenced ISR member (else INELIGIBLE_REPLICA). New
                                    replicas without a new ISR: the ISR keeps its members that are
                                    still replicas. A leader that leaves the ISR is re-elected
                                    as on a fence. partition_epoch + 1 always. */
    RN_MD_SET_CLUSTER_ID = 9,    /* the cluster's id (in the topic field), once: the first
                                    controller proposes it, every broker tells clients it */
    RN_MD_SET_ENTRY = 10,        /* an access entry (kind, key) set to a value, or removed:
                                    the cluster's ACL bindings and SCRAM credentials, as
                                    engine/acl.c and engine/users.c encode them in their
                                    store (the image keeps the bytes, the broker's store
                                    follows them). A removal stays as an entry without a
                                    value, so that every broker removes its copy, also one
                                    that a broker's own configuration gave it. */
};

/* Kinds of access entries. */
#define RN_MD_ENTRY_ACL 'a'   /* key: an ACL binding (rn_acl_binding_key), value: empty */
#define RN_MD_ENTRY_SCRAM 'S' /* key, value: a user's credential for one mechanism (users.h) */

typedef struct {
    uint8_t kind;
    uint8_t *key, *value; /* value NULL: removed */
    size_t key_len, value_len;
} rn_md_entry;

/* A record as a caller builds it (arrays point to the caller's memory). */
typedef struct {
    enum rn_md_record_type type;
    int32_t broker_id;                 /* REGISTER/FENCE/UNFENCE */
    const char *host, *raft_host;      /* REGISTER */
    int32_t port, raft_port;
    const char *topic;                 /* topic records and PARTITION_CHANGE */
    uint8_t topic_id[16];              /* CREATE_TOPIC */
    const char *const *config_names, *const *config_values; /* CREATE_TOPIC, SET_TOPIC_CONFIGS */
    int nconfigs;
    int32_t npart;                     /* CREATE_TOPIC, CREATE_PARTITIONS: partitions given */
    const int32_t *const *assignments; /* [npart][nreplicas[i]] */
    const int *nreplicas;
    int32_t partition;                 /* PARTITION_CHANGE */
    int32_t expect_partition_epoch;    /* PARTITION_CHANGE, -1: any */
    bool set_leader, set_isr, set_replicas;
    int32_t leader;
    const int32_t *isr;
    int nisr;
    const int32_t *replicas, *adding, *removing; /* set_replicas: all three */
    int nreplicas_new, nadding, nremoving;
    uint8_t entry_kind;                /* SET_ENTRY: RN_MD_ENTRY_*, the key, and the value */
    const uint8_t *entry_key, *entry_value;
    size_t entry_key_len, entry_value_len;
    bool entry_remove;                 /* SET_ENTRY: remove the entry (no value) */
} rn_md_record;

/* Encode an entry of n records into a malloc'd buffer (caller frees). NULL: no memory, an
 * unknown record type, a negative count, or a string longer than 65535 bytes. */
uint8_t *rn_md_encode(const rn_md_record *records, int n, size_t *len);

/* ---- the image -------------------------------------------------------------------- */

rn_metadata *rn_md_new(void);
void rn_md_free(rn_metadata *md);

/* Apply a committed entry at Raft index `index`. Returns 0, or the Kafka error of the
 * first refused record (RN_KAFKA_TOPIC_ALREADY_EXISTS, RN_KAFKA_UNKNOWN_TOPIC_OR_PARTITION,
 * RN_KAFKA_INVALID_UPDATE_VERSION, RN_KAFKA_INVALID_REPLICA_ASSIGNMENT, RN_KAFKA_BROKER_NOT_AVAILABLE,
 * RN_KAFKA_CORRUPT_MESSAGE for bytes that do not decode...) with a sentence in msg; the
 * image is then unchanged, except that the applied index still moves to `index` (every
 * broker refuses the entry alike, so it is applied, as nothing; waiters on the index must
 * not hang). RN_ERR_NOMEM changes nothing at all. Bumps the image version on success. */
rn_err rn_md_apply(rn_metadata *md, uint64_t index, const uint8_t *entry, size_t len, char *msg,
                   size_t msglen);

/* The whole image as bytes (a Raft snapshot; caller frees; NULL: no memory), and back.
 * snapshot takes the read lock itself. restore replaces the image wholly, version and
 * applied index included; RN_KAFKA_CORRUPT_MESSAGE leaves it as it was. */
uint8_t *rn_md_snapshot(rn_metadata *md, size_t *len);
rn_err rn_md_restore(rn_metadata *md, const uint8_t *buf, size_t len);

/* Reading: hold the read lock while using anything returned below. */
void rn_md_read_lock(rn_metadata *md);
void rn_md_read_unlock(rn_metadata *md);
uint64_t rn_md_version(const rn_metadata *md); /* changes with every applied entry */
uint64_t rn_md_applied_index(const rn_metadata *md);
#define RN_MD_CLUSTER_ID_MAX 64
/* The cluster id, "" until set. */
const char *rn_md_cluster_id(const rn_metadata *md);
/* Brokers sorted by id. */
const rn_md_broker *rn_md_brokers(const rn_metadata *md, int *n);
const rn_md_broker *rn_md_broker_get(const rn_metadata *md, int32_t id);
/* Topics sorted by name. */
const rn_md_topic *rn_md_topics(const rn_metadata *md, int *n);
const rn_md_topic *rn_md_topic_get(const rn_metadata *md, const char *name);
/* A function cannot share its name with a typedef in C; these keep rn_md_broker(md, id)
 * and rn_md_topic(md, name) calls working (a function-like macro expands only before a
 * '(', so the type names are untouched). */
#define rn_md_broker(md, id) rn_md_broker_get((md), (id))
#define rn_md_topic(md, name) rn_md_topic_get((md), (name))
const rn_md_partition *rn_md_partition_get(const rn_metadata *md, const char *topic,
                                           int32_t index);
/* The access entries of one kind, sorted by key (bytewise, a prefix first). */
const rn_md_entry *rn_md_entries(const rn_metadata *md, uint8_t kind, int *n);
/* Whether id is in the list. */
bool rn_md_contains(const int32_t *ids, int n, int32_t id);

/* Replica placement for a new topic or new partitions: rf distinct unfenced brokers per
 * partition, spread round-robin from a start that depends on the partition index and the
 * number of topics in the image (Kafka's rack-unaware assignment, deterministic). Fills out[npart][rf] (caller's memory). RN_KAFKA_INVALID_REPLICATION_FACTOR
 * when fewer than rf brokers are unfenced. Read lock held by the caller. */
rn_err rn_md_assign_replicas(const rn_metadata *md, int32_t first_index, int32_t npart, int rf,
                             int32_t *out);

#endif
