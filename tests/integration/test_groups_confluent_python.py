"""Consumer groups with confluent-kafka-python (Debian's 1.7.0 on librdkafka): subscribe,
receive everything, commit, resume after a broker restart; commits from a consumer that
assigns its own partitions (generation -1); lag from committed offsets and watermarks;
the group as the admin API lists it."""
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import errors as KafkaErrors


def setup_topic(broker, topic, partitions, count, start=0):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    if start == 0:
        a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[topic].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def consume(consumer, expected, timeout=30):
    got, deadline = [], time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is None:
            continue
        assert not m.error(), m.error()
        got.append((m.partition(), m.offset(), m.value().decode()))
    return got


def group_consumer(broker, group, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000}
    conf.update(extra)
    return Consumer(conf)


def test_subscribe_commit_and_resume_after_restart(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=200)
    setup_topic(broker, "py-orders", 3, 240)
    c = group_consumer(broker, "py-payments")
    c.subscribe(["py-orders"])
    got = consume(c, 240)
    assert sorted(v for _, _, v in got) == sorted("v%d" % i for i in range(240))
    assert all([o for p, o, _ in got if p == part] == list(range(80)) for part in range(3))
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition("py-orders", p) for p in range(3)], timeout=10)
    assert [(tp.partition, tp.offset) for tp in committed] == [(0, 80), (1, 80), (2, 80)]

    # While the consumer is in the group, the admin API lists it Stable with one member
    # that owns all three partitions.
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    groups = {g.id: g for g in a.list_groups(timeout=10)}
    g = groups["py-payments"]
    assert (g.state, g.protocol_type, g.protocol) == ("Stable", "consumer", "range")
    assert len(g.members) == 1 and g.members[0].client_host.startswith("/127.0.0.1")
    assert len(g.members[0].assignment) > 0
    c.close()

    broker.restart()
    setup_topic(broker, "py-orders", 3, 30, start=240)
    c = group_consumer(broker, "py-payments")
    c.subscribe(["py-orders"])
    got = consume(c, 30)
    assert sorted(v for _, _, v in got) == sorted("v%d" % i for i in range(240, 270))
    assert min(o for _, o, _ in got) == 80
    assert c.poll(2) is None  # nothing old comes back
    c.close()


def test_assign_commit_without_joining_then_lag(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=200)
    setup_topic(broker, "py-manual", 2, 100)
    # assign() never joins: its commits carry generation -1 and no member id.
    c = group_consumer(broker, "py-manual-group")
    c.assign([TopicPartition("py-manual", 0, 0), TopicPartition("py-manual", 1, 0)])
    got = consume(c, 60)
    assert len(got) == 60
    c.commit(asynchronous=False)
    c.close()

    # Lag = high watermark - committed offset, from the broker alone.
    c = group_consumer(broker, "py-manual-group")
    committed = c.committed([TopicPartition("py-manual", 0), TopicPartition("py-manual", 1)], timeout=10)
    lag = 0
    for tp in committed:
        low, high = c.get_watermark_offsets(TopicPartition("py-manual", tp.partition), timeout=10)
        assert (low, high) == (0, 50)
        lag += high - tp.offset
    assert lag == 100 - 60
    # A group consumer picks up exactly where the assign()-style consumer stopped.
    c.subscribe(["py-manual"])
    rest = consume(c, 40)
    seen = {(p, o) for p, o, _ in got}
    assert len(rest) == 40 and not seen & {(p, o) for p, o, _ in rest}
    assert seen | {(p, o) for p, o, _ in rest} == {(p, o) for p in range(2) for o in range(50)}
    c.close()


def test_empty_group_deleted_through_admin(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=200)
    setup_topic(broker, "py-del", 1, 10)
    c = group_consumer(broker, "py-del-group")
    c.subscribe(["py-del"])
    assert len(consume(c, 10)) == 10
    c.commit(asynchronous=False)
    c.close()
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert {g.id: g.state for g in a.list_groups(timeout=10)}["py-del-group"] == "Empty"
    # confluent-kafka 1.7 has no DeleteGroups: kafka-python's admin sends it.
    ka = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    assert ka.delete_consumer_groups(["py-del-group", "py-never"]) == [
        ("py-del-group", KafkaErrors.NoError), ("py-never", KafkaErrors.GroupIdNotFoundError)]
    assert "py-del-group" not in {g.id for g in a.list_groups(timeout=10)}
    assert ka.list_consumer_group_offsets("py-del-group") == {}
    ka.close()
