/* net/api_acl.h: what the ACL APIs (DescribeAcls, CreateAcls, DeleteAcls) share: reading a
 * binding filter and writing a binding, per request version (v1 adds the pattern type). */
#ifndef RN_API_ACL_H
#define RN_API_ACL_H

#include "acl.h"
#include "api.h"

/* Reads ResourceTypeFilter, ResourceNameFilter, PatternTypeFilter (v1+, else LITERAL),
 * PrincipalFilter, HostFilter, Operation, PermissionType into f (strings in the arena,
 * NULL for null). 0, or -1 when the request is malformed. */
int rn_api_acl_read_filter(rn_request *req, rn_reader *r, rn_acl_binding *f);

/* The engine's ACLs for this request's connection. */
rn_acls *rn_api_acls(rn_request *req);

#endif
