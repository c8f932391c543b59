"""Authorization with the built-in ACL authorizer (authorizer.class.name set): a SASL
broker with users admin (a super user), alice, bob and mallory; admin writes ACLs through
kafka-python's admin API, then each user works through confluent-kafka (librdkafka),
kafka-python, and raw frames where the exact error field matters. Covered: WRITE/READ on
topics, READ on groups to join, Metadata hiding what a principal may not DESCRIBE, a DENY
beating an ALLOW, prefixed patterns, CREATE for CreateTopics and auto-creation, cluster
operations (DescribeAcls), allow.everyone.if.no.acl.found, super users, and ACL changes
taking effect on an open connection."""
import re
import struct
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KTopicPartition
from kafka import errors as kerrors
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.admin.acl_resource import ACLResourcePatternType

import kafka_wire as kw

PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret",
             "mallory": "mallory-secret"}
TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED = 29, 30, 31
LITERAL, PREFIXED = ACLResourcePatternType.LITERAL, ACLResourcePatternType.PREFIXED
ALLOW, DENY = ACLPermissionType.ALLOW, ACLPermissionType.DENY
TOPIC, GROUP, CLUSTER = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER


def authz_broker(factory, **extra):
    settings = dict(sasl_users=",".join("%s:%s" % kv for kv in PASSWORDS.items()),
                    sasl_enabled_mechanisms="PLAIN,SCRAM-SHA-256",
                    authorizer_class_name="kafka.security.authorizer.AclAuthorizer",
                    super_users="User:admin; User:ops")
    settings.update(extra)
    b = factory(**settings)
    b.settings["listeners"] = "SASL_PLAINTEXT://127.0.0.1:%d" % b.port
    b.restart()
    return b


@pytest.fixture
def broker(broker_factory):
    return authz_broker(broker_factory)


# ---- clients as a user ------------------------------------------------------------------

def kp_conf(broker, user):
    return dict(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="PLAIN", sasl_plain_username=user,
                sasl_plain_password=PASSWORDS[user])


def rk_conf(broker, user, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "SCRAM-SHA-256" if user == "alice" else "PLAIN",
            "sasl.username": user, "sasl.password": PASSWORDS[user]}
    conf.update(extra)
    return conf


def admin(broker, user="admin"):
    return KafkaAdminClient(request_timeout_ms=20000, **kp_conf(broker, user))


def acl(principal, op, rtype, name, pattern=LITERAL, perm=ALLOW):
    return ACL(principal=principal, host="*", operation=op, permission_type=perm,
               resource_pattern=ResourcePattern(rtype, name, pattern))


def grant(broker, *acls):
    a = admin(broker)
    res = a.create_acls(list(acls))
    a.close()
    assert len(res["succeeded"]) == len(acls) and not res["failed"], res


def revoke(broker, principal, rtype, name):
    a = admin(broker)
    a.delete_acls([ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                             permission_type=ACLPermissionType.ANY,
                             resource_pattern=ResourcePatternFilter(rtype, name, LITERAL))])
    a.close()


def create_topics(broker, *names, user="admin"):
    """{name: error code} of a CreateTopics as user (librdkafka's admin client)."""
    client = AdminClient(rk_conf(broker, user))  # alive until the futures are done
    futures = client.create_topics(
        [NewTopic(n, num_partitions=1, replication_factor=1) for n in names], request_timeout=20)
    out = {}
    for name, f in futures.items():
        try:
            f.result(30)
            out[name] = 0
        except KafkaException as e:
            out[name] = e.args[0].code()
    return out


def produce(broker, user, topic, n=5, **extra):
    """Delivery errors (codes) of n messages, None for each delivered one."""
    results = []
    p = Producer(rk_conf(broker, user, **dict({"message.timeout.ms": 15000}, **extra)))
    for i in range(n):
        p.produce(topic, value=b"%s-%d" % (user.encode(), i),
                  on_delivery=lambda err, msg: results.append(err.code() if err else None))
    p.flush(30)
    return results


def consume(broker, user, topic, group, n, timeout=30):
    """(values, error codes seen) from a subscribed confluent consumer."""
    c = Consumer(rk_conf(broker, user, **{"group.id": group, "auto.offset.reset": "earliest",
                                          "session.timeout.ms": 6000}))
    c.subscribe([topic])
    got, errors = [], []
    deadline = time.time() + timeout
    while time.time() < deadline and len(got) < n and not errors:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                errors.append(m.error().code())
        else:
            got.append(m.value())
    c.close()
    return got, errors


def listed_topics(broker, user, topic=None):
    p = Producer(rk_conf(broker, user))
    md = p.list_topics(topic=topic, timeout=15)
    return md.topics


# ---- raw frames on one authenticated connection ----------------------------------------

def plain_login(broker, user):
    s = kw.connect(broker)
    s.sendall(kw.request(17, 1, 1, kw.string("PLAIN")))
    _, body = kw.read_response(s)
    assert struct.unpack_from(">h", body)[0] == 0
    token = b"\0" + user.encode() + b"\0" + PASSWORDS[user].encode()
    s.sendall(kw.request(36, 1, 2, struct.pack(">i", len(token)) + token))
    _, body = kw.read_response(s)
    assert struct.unpack_from(">h", body)[0] == 0, body
    return s


def fetch_error(s, topic, corr):
    """The error code of partition 0 in a Fetch v4 of topic."""
    body = struct.pack(">iiiib", -1, 0, 1, 1 << 20, 0) + struct.pack(">i", 1) + kw.string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    s.sendall(kw.request(1, 4, corr, body))
    _, resp = kw.read_response(s)
    pos = 4 + 4  # throttle_time_ms, topics count
    (ln,) = struct.unpack_from(">h", resp, pos)
    pos += 2 + ln + 4 + 4  # name, partitions count, partition index
    return struct.unpack_from(">h", resp, pos)[0]


def list_offsets_error(s, topic, corr):
    """The error code of partition 0 in a ListOffsets v1 (latest) of topic."""
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kw.string(topic)
    body += struct.pack(">i", 1) + struct.pack(">iq", 0, -1)
    s.sendall(kw.request(2, 1, corr, body))
    _, resp = kw.read_response(s)
    (ln,) = struct.unpack_from(">h", resp, 4)
    return struct.unpack_from(">h", resp, 4 + 2 + ln + 4 + 4)[0]


def authentications(broker, user):
    return len(re.findall(r"authenticated as User:%s " % user, broker.read_log()))


# ---- the tests ---------------------------------------------------------------------------

def test_alice_produces_and_consumes_her_topic_with_her_group(broker):
    assert create_topics(broker, "alice-t") == {"alice-t": 0}
    grant(broker,
          acl("User:alice", ACLOperation.WRITE, TOPIC, "alice-t"),
          acl("User:alice", ACLOperation.READ, TOPIC, "alice-t"),
          acl("User:alice", ACLOperation.READ, GROUP, "alice-g"))
    # librdkafka, idempotent: InitProducerId is allowed by WRITE on a topic (Kafka 3.x)
    assert produce(broker, "alice", "alice-t", 10, **{"enable.idempotence": True}) == [None] * 10
    got, errors = consume(broker, "alice", "alice-t", "alice-g", 10)
    assert errors == [] and got == [b"alice-%d" % i for i in range(10)]
    # kafka-python: produce, then read the group's committed offset (OffsetFetch: DESCRIBE
    # on the group, implied by READ)
    p = KafkaProducer(**kp_conf(broker, "alice"))
    p.send("alice-t", b"kp").get(timeout=15)
    p.close()
    c = KafkaConsumer(group_id="alice-g", enable_auto_commit=False, **kp_conf(broker, "alice"))
    assert c.committed(KTopicPartition("alice-t", 0)) == 10
    c.close()
    assert "authorization on: the built-in ACL authorizer" in broker.read_log()


def test_bob_can_neither_read_nor_see_alices_topic(broker):
    assert create_topics(broker, "alice-t", "bob-t") == {"alice-t": 0, "bob-t": 0}
    grant(broker,
          acl("User:alice", ACLOperation.ALL, TOPIC, "alice-t"),
          acl("User:bob", ACLOperation.WRITE, TOPIC, "bob-t"),
          acl("User:bob", ACLOperation.READ, GROUP, "bob-g"))
    assert produce(broker, "alice", "alice-t", 3) == [None] * 3
    # Metadata: an all-topics listing leaves alice-t out; asked by name, it is refused
    assert set(listed_topics(broker, "bob")) == {"bob-t"}
    assert set(listed_topics(broker, "alice")) == {"alice-t"}
    assert set(listed_topics(broker, "admin")) == {"alice-t", "bob-t"}
    named = listed_topics(broker, "bob", "alice-t")
    assert named["alice-t"].error.code() == TOPIC_AUTHORIZATION_FAILED
    # Fetch and ListOffsets answer TOPIC_AUTHORIZATION_FAILED in the partition's field
    s = plain_login(broker, "bob")
    assert fetch_error(s, "alice-t", 10) == TOPIC_AUTHORIZATION_FAILED
    assert list_offsets_error(s, "alice-t", 11) == TOPIC_AUTHORIZATION_FAILED
    assert fetch_error(s, "no-such-topic", 12) == TOPIC_AUTHORIZATION_FAILED  # existence not disclosed
    s.close()
    # librdkafka: the consumer gets TOPIC_AUTHORIZATION_FAILED, the producer's deliveries fail
    got, errors = consume(broker, "bob", "alice-t", "bob-g", 1, timeout=20)
    assert got == [] and errors and errors[0] == TOPIC_AUTHORIZATION_FAILED, errors
    assert produce(broker, "bob", "alice-t", 2) == [TOPIC_AUTHORIZATION_FAILED] * 2
    # kafka-python (Metadata v1): its consumer gets nothing, its producer never gets the
    # topic's partitions (2.0.2 logs "not authorized" and asks again until max_block_ms)
    c = KafkaConsumer("alice-t", group_id="bob-g", consumer_timeout_ms=5000, **kp_conf(broker, "bob"))
    assert list(c) == []
    c.close()
    p = KafkaProducer(max_block_ms=3000, **kp_conf(broker, "bob"))
    with pytest.raises((kerrors.TopicAuthorizationFailedError, kerrors.KafkaTimeoutError)):
        p.send("alice-t", b"x").get(timeout=15)
    p.close()
    log = broker.read_log()
    assert "principal User:bob from 127.0.0.1 denied Read on Topic:alice-t (Fetch v4" in log
    assert "principal User:bob from 127.0.0.1 denied Describe on Topic:alice-t (Metadata v1" in log
    assert "principal User:bob from 127.0.0.1 denied Write on Topic:alice-t (Produce" not in log
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port, timeout=10) as r:
        metrics = r.read().decode()
    denials = [l for l in metrics.splitlines() if l.startswith("runnel_authorization_denials_total ")]
    assert denials and int(denials[0].split()[1]) >= 4, denials


def test_deny_wins_over_allow(broker):
    assert create_topics(broker, "shared") == {"shared": 0}
    grant(broker,
          acl("User:*", ACLOperation.ALL, TOPIC, "shared"),
          acl("User:mallory", ACLOperation.READ, TOPIC, "shared", perm=DENY),
          acl("User:*", ACLOperation.WRITE, TOPIC, "sh", PREFIXED),
          acl("User:mallory", ACLOperation.WRITE, TOPIC, "sha", PREFIXED, perm=DENY))
    assert produce(broker, "alice", "shared", 2) == [None, None]
    assert produce(broker, "mallory", "shared", 1) == [TOPIC_AUTHORIZATION_FAILED]
    for user, want in (("alice", 0), ("bob", 0), ("mallory", TOPIC_AUTHORIZATION_FAILED)):
        s = plain_login(broker, user)
        assert fetch_error(s, "shared", 5) == want, user
        s.close()


def test_prefixed_acls(broker):
    assert create_topics(broker, "bob-1", "bob-2", "bo-x") == {"bob-1": 0, "bob-2": 0, "bo-x": 0}
    grant(broker,
          acl("User:bob", ACLOperation.WRITE, TOPIC, "bob-", PREFIXED),
          acl("User:bob", ACLOperation.READ, TOPIC, "bob-", PREFIXED),
          acl("User:bob", ACLOperation.READ, GROUP, "bob-", PREFIXED))
    for t in ("bob-1", "bob-2"):
        assert produce(broker, "bob", t, 3) == [None] * 3
        got, errors = consume(broker, "bob", t, "bob-g-" + t, 3)
        assert errors == [] and len(got) == 3
    assert produce(broker, "bob", "bo-x", 1) == [TOPIC_AUTHORIZATION_FAILED]
    assert set(listed_topics(broker, "bob")) == {"bob-1", "bob-2"}
    # a group outside the prefix: READ on the group is missing
    got, errors = consume(broker, "bob", "bob-1", "other-g", 1, timeout=20)
    assert got == [] and errors and errors[0] == GROUP_AUTHORIZATION_FAILED, errors


def test_joining_a_group_needs_read_on_it(broker):
    assert create_topics(broker, "alice-t") == {"alice-t": 0}
    grant(broker,
          acl("User:alice", ACLOperation.ALL, TOPIC, "alice-t"),
          acl("User:alice", ACLOperation.DESCRIBE, GROUP, "seen-g"))
    assert produce(broker, "alice", "alice-t", 1) == [None]
    # no ACL on the group: FindCoordinator already refuses; DESCRIBE only: JoinGroup refuses
    for group in ("nobody-g", "seen-g"):
        got, errors = consume(broker, "alice", "alice-t", group, 1, timeout=20)
        assert got == [] and errors and errors[0] == GROUP_AUTHORIZATION_FAILED, (group, errors)
    log = broker.read_log()
    assert "denied Describe on Group:nobody-g (FindCoordinator" in log
    assert "denied Read on Group:seen-g (JoinGroup" in log
    # kafka-python: the same refusal, as GroupAuthorizationFailedError
    c = KafkaConsumer("alice-t", group_id="seen-g", consumer_timeout_ms=10000, **kp_conf(broker, "alice"))
    with pytest.raises(kerrors.GroupAuthorizationFailedError):
        for _ in c:
            pass
    c.close()


def test_create_topics_needs_create(broker):
    assert create_topics(broker, "b-new", user="bob") == {"b-new": TOPIC_AUTHORIZATION_FAILED}
    grant(broker, acl("User:bob", ACLOperation.CREATE, TOPIC, "bob-", PREFIXED),
          acl("User:bob", ACLOperation.WRITE, TOPIC, "bob-", PREFIXED))
    assert create_topics(broker, "bob-new", "else-new", user="bob") == {
        "bob-new": 0, "else-new": TOPIC_AUTHORIZATION_FAILED}
    # auto-creation through Metadata needs CREATE too
    assert produce(broker, "bob", "bob-auto", 1) == [None]
    grant(broker, acl("User:mallory", ACLOperation.WRITE, TOPIC, "m-auto"))
    assert produce(broker, "mallory", "m-auto", 1) == [TOPIC_AUTHORIZATION_FAILED]
    # CREATE on the cluster: any name
    grant(broker, acl("User:mallory", ACLOperation.CREATE, CLUSTER, "kafka-cluster"))
    assert create_topics(broker, "anything", user="mallory") == {"anything": 0}
    assert set(listed_topics(broker, "admin")) == {"bob-new", "bob-auto", "anything"}


def test_cluster_operations_and_super_users(broker):
    assert create_topics(broker, "alice-t") == {"alice-t": 0}
    grant(broker, acl("User:alice", ACLOperation.ALL, TOPIC, "alice-t"))
    # admin is a super user: no ACL names it, yet it produces, consumes with any group, lists
    assert produce(broker, "admin", "alice-t", 2) == [None, None]
    got, errors = consume(broker, "admin", "alice-t", "any-group", 2)
    assert errors == [] and len(got) == 2
    # DescribeAcls needs DESCRIBE on the cluster, CreateAcls ALTER
    a = admin(broker, "alice")
    with pytest.raises(kerrors.ClusterAuthorizationFailedError):
        a.describe_acls(ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                                  permission_type=ACLPermissionType.ANY,
                                  resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                                         ACLResourcePatternType.ANY)))
    res = a.create_acls([acl("User:alice", ACLOperation.ALL, TOPIC, "*")])
    assert len(res["failed"]) == 1 and not res["succeeded"]
    # DescribeConfigs of a topic she may not describe
    from kafka.admin import ConfigResource, ConfigResourceType
    resp = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "other")])
    assert resp[0].resources[0][0] == TOPIC_AUTHORIZATION_FAILED
    a.close()
    grant(broker, acl("User:alice", ACLOperation.DESCRIBE, CLUSTER, "kafka-cluster"))
    a = admin(broker, "alice")
    a.describe_acls(ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                              permission_type=ACLPermissionType.ANY,
                              resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                                     ACLResourcePatternType.ANY)))
    a.close()


def test_allow_everyone_if_no_acl_found(broker_factory):
    broker = authz_broker(broker_factory, allow_everyone_if_no_acl_found=True)
    assert create_topics(broker, "free", "alice-only") == {"free": 0, "alice-only": 0}
    grant(broker, acl("User:alice", ACLOperation.ALL, TOPIC, "alice-only"))
    # no ACL names "free", its group, or the cluster: everyone may
    assert produce(broker, "mallory", "free", 3, **{"enable.idempotence": True}) == [None] * 3
    got, errors = consume(broker, "mallory", "free", "free-g", 3)
    assert errors == [] and len(got) == 3
    # a resource some ACL names is decided by its ACLs
    s = plain_login(broker, "mallory")
    assert fetch_error(s, "alice-only", 3) == TOPIC_AUTHORIZATION_FAILED
    assert fetch_error(s, "free", 4) == 0
    s.close()
    assert set(listed_topics(broker, "mallory")) == {"free"}


def test_acl_changes_apply_to_open_connections(broker):
    assert create_topics(broker, "late") == {"late": 0}
    s = plain_login(broker, "bob")
    assert fetch_error(s, "late", 3) == TOPIC_AUTHORIZATION_FAILED
    grant(broker, acl("User:bob", ACLOperation.READ, TOPIC, "late"))
    assert fetch_error(s, "late", 4) == 0
    revoke(broker, "User:bob", TOPIC, "late")
    assert fetch_error(s, "late", 5) == TOPIC_AUTHORIZATION_FAILED
    s.close()
    # librdkafka: one producer, denied, then allowed without a new login
    results = []
    p = Producer(rk_conf(broker, "bob", **{"message.timeout.ms": 3000,
                                           "topic.metadata.refresh.interval.ms": 500}))
    cb = lambda err, msg: results.append(err.code() if err else None)  # noqa: E731
    p.produce("late", b"denied", on_delivery=cb)
    p.flush(15)
    assert results == [TOPIC_AUTHORIZATION_FAILED]
    logins = authentications(broker, "bob")
    grant(broker, acl("User:bob", ACLOperation.WRITE, TOPIC, "late"))
    deadline = time.time() + 20
    while results[-1] is not None and time.time() < deadline:
        try:  # refused at once while librdkafka holds the topic's error
            p.produce("late", b"allowed", on_delivery=cb)
        except KafkaException as e:
            assert e.args[0].code() == TOPIC_AUTHORIZATION_FAILED
        p.flush(15)
        time.sleep(0.2)
    assert results[-1] is None, results
    assert authentications(broker, "bob") == logins


def test_authorization_off_by_default(broker_factory):
    """Without authorizer.class.name, ACLs exist but decide nothing."""
    b = broker_factory()
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=20000)
    a.create_acls([acl("User:*", ACLOperation.ALL, TOPIC, "*", perm=DENY)])
    a.close()
    p = Producer({"bootstrap.servers": b.bootstrap})
    got = []
    p.produce("anything", b"x", on_delivery=lambda err, msg: got.append(err))
    p.flush(15)
    assert got == [None]
    assert "authorization off" in b.read_log()
