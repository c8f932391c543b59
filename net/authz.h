/* net/authz.h: may this request's principal do an operation on a resource? The one place
 * handlers ask, so the API -> operation mapping (Kafka's, "Operations and Resources on
 * Protocols") reads at each call site and the decision lives here:
 *   - no authorizer (authorizer.class.name empty, the default): allowed;
 *   - a super user (super.users=User:admin;User:ops): allowed;
 *   - else the engine's ACLs decide (engine/acl.h: a DENY wins, implied operations,
 *     allow.everyone.if.no.acl.found when no binding names the resource).
 * The principal is the connection's (net/conn.h), the host its peer address without the
 * port. A denial is logged at info (principal, host, operation, resource) and counted
 * (rn_authz_denials); the handler answers with Kafka's *_AUTHORIZATION_FAILED code, which
 * /metrics counts per API like every error. */
#ifndef RN_AUTHZ_H
#define RN_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "api.h"

/* The name of the one cluster resource, as Kafka names it. */
#define RN_AUTHZ_CLUSTER_NAME "kafka-cluster"

/* op: RN_ACL_OP_*, resource_type: RN_ACL_RESOURCE_* (name ignored for the cluster). */
bool rn_authz(rn_request *req, int op, int resource_type, const char *name);
/* The same without the log line: for filtering listings (Metadata of all topics,
 * ListGroups), where Kafka does not log what it leaves out. */
bool rn_authz_quiet(rn_request *req, int op, int resource_type, const char *name);
/* May the principal do op on at least one resource of the type (Kafka's
 * authorizeByResourceType: an ALLOW binding for it, literal or prefixed, that a DENY does
 * not cover)? InitProducerId asks it: WRITE on some topic stands for IDEMPOTENT_WRITE. */
bool rn_authz_any(rn_request *req, int op, int resource_type);
/* Whether authorization is on for this request's server. */
bool rn_authz_enabled(const rn_request *req);

/* Denials since start (every server). */
uint64_t rn_authz_denials(void);

/* The principal a request is made for: the client's a broker forwarded it for
 * (Envelope), else the connection's. */
const char *rn_authz_principal(const rn_request *req);

#endif
