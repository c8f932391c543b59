"""kafka-python 2.0.2 (pure Python; negotiates nothing per API, infers the broker
version from ApiVersions v0 and Metadata v0, PROTOCOL.md trap 4)."""
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def test_admin_create_describe_delete(broker):
    a = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    r = a.create_topics([NewTopic("kp", 3, 1, topic_configs={"retention.ms": "120000"})])
    assert r.topic_errors[0][1] == 0
    try:
        a.create_topics([NewTopic("kp", 3, 1)])
        raise AssertionError("second create should fail")
    except TopicAlreadyExistsError:
        pass
    (res,) = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp")])
    entries = {e[0]: e[1] for e in res.resources[0][4]}
    assert entries["retention.ms"] == "120000"
    r = a.delete_topics(["kp"])
    assert r.topic_error_codes[0][1] == 0
    a.close()


def test_produce_and_consume_by_assign(broker):
    # retries: kafka-python's default is 0, so on a cluster the first send to an
    # auto-created topic fails if its leader has not applied the creation yet (as with
    # Kafka); Kafka's own clients retry by default.
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", compression_type="gzip",
                      retries=5)
    metas = [p.send("kpy", key=b"k%d" % i, value=b"v%d" % i, partition=0).get(timeout=20)
             for i in range(300)]
    p.close()
    assert [m.offset for m in metas] == list(range(300))
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, consumer_timeout_ms=5000)
    tp = TopicPartition("kpy", 0)
    c.assign([tp])
    c.seek_to_beginning()
    got = [(m.offset, m.key, m.value) for m in c]
    assert got == [(i, b"k%d" % i, b"v%d" % i) for i in range(300)]
    assert c.end_offsets([tp]) == {tp: 300}
    assert c.beginning_offsets([tp]) == {tp: 0}
    ts = c.offsets_for_times({tp: 0})
    assert ts[tp].offset == 0
    c.close()
