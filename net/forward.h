/* net/forward.h: a cluster broker that is not the active controller sends the requests
 * only the controller serves (rn_api.controller: topic, config, ACL, SCRAM and
 * reassignment changes) to it in an Envelope (Kafka's KIP-590), with the client's
 * principal and address, and answers the client with the controller's response: a client
 * may send them to any broker, as to Kafka. When no controller answers, the request is
 * served here after all, and its handler says NOT_CONTROLLER and names the controller. */
#ifndef RN_FORWARD_H
#define RN_FORWARD_H

#include <stdbool.h>

#include "api.h"

/* Whether this request goes to the controller (a cluster member that is not it, a
 * controller API, not itself inside an Envelope). */
bool rn_forward_wanted(const rn_request *req);
/* Forward it: RN_API_DEFERRED (completed when the controller answers), or what the local
 * handler returns when it cannot be sent. */
enum rn_api_result rn_forward(rn_request *req);

#endif
