"""ACLs through a real client's admin API (kafka-python): CreateAcls, DescribeAcls with
Kafka's filters (literal, prefixed, match), DeleteAcls, bad bindings refused with a
reason, bindings kept across a restart."""
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, KafkaAdminClient,
                         ResourcePattern, ResourcePatternFilter, ResourceType)
from kafka.admin.acl_resource import ACLResourcePatternType


def admin(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=20000)


def acl(principal, op, perm, rtype, name, pattern=ACLResourcePatternType.LITERAL, host="*"):
    return ACL(principal=principal, host=host, operation=op, permission_type=perm,
               resource_pattern=ResourcePattern(rtype, name, pattern))


def describe(a, rtype=ResourceType.ANY, name=None, pattern=ACLResourcePatternType.ANY, principal=None):
    acls, err = a.describe_acls(ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                                          permission_type=ACLPermissionType.ANY,
                                          resource_pattern=ResourcePatternFilter(rtype, name, pattern)))
    assert err.errno == 0, err
    return sorted((x.principal, x.operation, x.permission_type, x.resource_pattern.resource_type,
                   x.resource_pattern.resource_name, x.resource_pattern.pattern_type) for x in acls)


def test_create_describe_delete_and_restart(broker):
    a = admin(broker)
    res = a.create_acls([
        acl("User:alice", ACLOperation.READ, ACLPermissionType.ALLOW, ResourceType.TOPIC, "orders"),
        acl("User:alice", ACLOperation.DESCRIBE, ACLPermissionType.ALLOW, ResourceType.GROUP, "shop"),
        acl("User:bob", ACLOperation.WRITE, ACLPermissionType.ALLOW, ResourceType.TOPIC, "ord",
            ACLResourcePatternType.PREFIXED),
        acl("User:*", ACLOperation.DESCRIBE, ACLPermissionType.DENY, ResourceType.TOPIC, "*"),
    ])
    assert len(res["succeeded"]) == 4 and not res["failed"], res
    everything = describe(a)
    assert len(everything) == 4
    # MATCH: every binding that applies to the topic "orders"
    matched = describe(a, ResourceType.TOPIC, "orders", ACLResourcePatternType.MATCH)
    assert {m[0] for m in matched} == {"User:alice", "User:bob", "User:*"}, matched
    assert describe(a, ResourceType.TOPIC, "ord", ACLResourcePatternType.PREFIXED)[0][0] == "User:bob"
    assert [m[3] for m in describe(a, principal="User:alice")] == sorted([ResourceType.TOPIC, ResourceType.GROUP])
    # bad bindings: refused one by one, with the reason
    res = a.create_acls([
        acl("alice", ACLOperation.READ, ACLPermissionType.ALLOW, ResourceType.TOPIC, "t"),
        acl("User:carol", ACLOperation.READ, ACLPermissionType.ALLOW, ResourceType.TOPIC, "t"),
    ])
    assert len(res["failed"]) == 1 and len(res["succeeded"]) == 1, res
    assert res["failed"][0][1].__name__ == "InvalidRequestError", res["failed"]  # kafka-python drops the message
    a.close()

    broker.restart()
    a = admin(broker)
    assert len(describe(a)) == 5
    res = a.delete_acls([ACLFilter(principal="User:alice", host=None, operation=ACLOperation.ANY,
                                   permission_type=ACLPermissionType.ANY,
                                   resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                                          ACLResourcePatternType.ANY))])
    (flt, deleted, err), = res
    assert err.errno == 0 and len(deleted) == 2, res
    assert {d[0].resource_pattern.resource_name for d in deleted} == {"orders", "shop"}
    assert {x[0] for x in describe(a)} == {"User:bob", "User:*", "User:carol"}
    a.close()
