/* net/api_controller.h: what the controller's handlers share (CreateTopics, DeleteTopics,
 * CreatePartitions, AlterConfigs, AlterPartition, AlterPartitionReassignments,
 * BrokerRegistration in cluster mode): propose records for a request, park it, and answer
 * on the request's own loop once the entry is committed (or refused, or timed out).
 *
 * The quorum's done callback only wakes the request's loop; the response is written
 * there. A connection that closes first cancels the request: the late done then finds
 * nothing to wake (a small refcounted call shared by both sides). */
#ifndef RN_API_CONTROLLER_H
#define RN_API_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "cluster.h"
#include "metadata.h"

/* Proposals wait this long when the request carries no timeout of its own. */
#define RN_CONTROLLER_TIMEOUT_MS 5000
/* The most replicas a partition may have (the engine's ISR holds 16). */
#define RN_CONTROLLER_MAX_REPLICAS 16

typedef struct {
    rn_err err;           /* 0: committed and applied; else the apply's refusal,
                             NOT_CONTROLLER, REQUEST_TIMED_OUT, or RN_ERR_NOMEM */
    const char *msg;      /* the refusal's sentence, or NULL */
    int64_t broker_epoch; /* rn_controller_register_broker only */
} rn_controller_result;

/* Writes the whole response into req->resp, on the request's loop. ctx is the handler's
 * (arena memory is fine: it runs before the request is freed, or not at all). */
typedef void (*rn_controller_answer)(rn_request *req, void *ctx, const rn_controller_result *res);

/* An item of the request that went into the proposed entry takes the entry's refusal,
 * with its sentence (into message, len bytes). Nothing for an item that was not proposed,
 * or when the entry committed. */
void rn_controller_item_refused(const rn_controller_result *res, bool proposed, rn_err *err,
                                char *message, size_t len);

/* The request's cluster (NULL on a single broker). */
rn_cluster *rn_controller_cluster(const rn_request *req);
/* Whether this is a cluster member that is not the active controller now: the handler
 * then answers NOT_CONTROLLER. */
bool rn_controller_elsewhere(const rn_request *req);
/* A single broker's check of one partition's assignment (CreateTopics,
 * CreatePartitions): it may name this node alone, else INVALID_REPLICA_ASSIGNMENT with
 * the sentence in msg. */
rn_err rn_controller_single_broker_replicas(const rn_request *req, const int32_t *brokers, int n,
                                            char *msg, size_t msglen);
/* num.partitions, for a CreateTopics that asks for -1 partitions. */
int32_t rn_controller_default_partitions(const rn_request *req);
/* A request's timeout_ms, or RN_CONTROLLER_TIMEOUT_MS when it gave none (<= 0). */
int rn_controller_timeout(int32_t timeout_ms);

/* Propose one entry of n records (encoded at once: the records' memory is the caller's
 * and need only last the call) and answer when done: returns RN_API_DEFERRED. n == 0
 * proposes nothing and answers now with err 0: returns RN_API_DONE.
 * An admin change is answered once every live broker follows the committed image
 * (rn_cluster_applied_everywhere; at most 3 s after the commit), so the client's next
 * request, to any broker, sees it. */
enum rn_api_result rn_controller_propose(rn_request *req, const rn_md_record *records, int n,
                                         int timeout_ms, rn_controller_answer answer, void *ctx);
/* The same, answered at the commit: the controller's own RPCs (AlterPartition), whose
 * sender acts on its own image. */
enum rn_api_result rn_controller_propose_committed(rn_request *req, const rn_md_record *records,
                                                   int n, int timeout_ms,
                                                   rn_controller_answer answer, void *ctx);
/* rn_cluster_register_broker for BrokerRegistration; the answer carries the epoch. */
enum rn_api_result rn_controller_register_broker(rn_request *req, int32_t id, const char *host,
                                                 int port, const char *raft_host, int raft_port,
                                                 rn_controller_answer answer, void *ctx);

/* A replica list as an assignment may name it: 1..RN_CONTROLLER_MAX_REPLICAS ids, distinct, each a registered
 * broker. RN_KAFKA_INVALID_REPLICA_ASSIGNMENT with a sentence in msg. Read lock held. */
rn_err rn_controller_check_replicas(const rn_metadata *md, const int32_t *ids, int n, char *msg,
                                    size_t msglen);

/* A random topic id (as the engine makes them). */
void rn_controller_topic_id(uint8_t id[16]);

#endif
