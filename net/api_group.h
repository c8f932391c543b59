/* net/api_group.h: what the group APIs share: reading optional names, the client's
 * host as Kafka shows it, and parking a JoinGroup or SyncGroup until the coordinator
 * answers it (the answer may come from any thread; it is written on the connection's). */
#ifndef RN_API_GROUP_H
#define RN_API_GROUP_H

#include <event2/event.h>

#include "api.h"
#include "group.h"

/* Read a nullable string into the arena: *out NULL for null. -1 on a malformed frame. */
int rn_api_read_opt_name(rn_request *req, rn_reader *r, char **out);

/* "/" + the peer's address without the port, in the request's arena. */
const char *rn_api_client_host(rn_request *req);

rn_coordinator *rn_api_coordinator(rn_request *req);

/* In a cluster, a group is coordinated by the leader of its __consumer_offsets partition
 * (net/cluster.h): RN_KAFKA_NOT_COORDINATOR here when that is another broker (the client
 * asks FindCoordinator again), RN_KAFKA_COORDINATOR_NOT_AVAILABLE while it has no leader;
 * RN_KAFKA_NONE on a single broker. */
rn_err rn_api_group_elsewhere(rn_request *req, const char *group_id);

typedef struct rn_group_wait rn_group_wait;
/* Write the response body from gw->waiter's result (the result is freed afterwards). */
typedef void (*rn_group_respond)(rn_group_wait *gw);

struct rn_group_wait {
    rn_request *req;
    rn_group_waiter waiter;
    struct event *wake;
    rn_group_respond respond;
    bool is_join;
};

/* Park req (arena-allocated state; the request's cancel hook is set). NULL when out of
 * memory: the handler then answers with an error at once. */
rn_group_wait *rn_group_wait_new(rn_request *req, rn_group_respond respond, bool is_join);

#endif
