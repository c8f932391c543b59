"""confluent-kafka-python (librdkafka underneath): admin, produce, consume by assign."""
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic


def admin(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def wait(futures):
    return {k: f.result(timeout=30) for k, f in futures.items()}


def consume_all(b, topic, partitions, expected, timeout=30):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "assign-only",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, deadline = [], time.time() + timeout
    while len(out) < expected and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert not m.error(), m.error()
        out.append(m)
    c.close()
    return out


def test_admin_create_describe_alter_delete(broker):
    a = admin(broker)
    wait(a.create_topics([NewTopic("cfg", num_partitions=3, replication_factor=1,
                                   config={"retention.ms": "3600000"})]))
    md = a.list_topics(timeout=10)
    assert len(md.topics["cfg"].partitions) == 3

    (cfg,) = wait(a.describe_configs([ConfigResource("topic", "cfg")])).values()
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["cleanup.policy"].value == "delete"

    wait(a.alter_configs([ConfigResource("topic", "cfg", set_config={"retention.bytes": "1048576"})]))
    (cfg,) = wait(a.describe_configs([ConfigResource("topic", "cfg")])).values()
    assert cfg["retention.bytes"].value == "1048576"
    # AlterConfigs replaces the whole set: retention.ms went back to the default.
    assert cfg["retention.ms"].value == "604800000"

    wait(a.create_partitions([NewPartitions("cfg", 5)]))
    assert len(a.list_topics(timeout=10).topics["cfg"].partitions) == 5

    wait(a.delete_topics(["cfg"]))
    assert "cfg" not in a.list_topics(timeout=10).topics


def test_admin_errors_are_clear(broker):
    a = admin(broker)
    wait(a.create_topics([NewTopic("dup", num_partitions=1, replication_factor=1)]))
    with pytest.raises(Exception) as e:
        wait(a.create_topics([NewTopic("dup", num_partitions=1, replication_factor=1)]))
    assert "TOPIC_ALREADY_EXISTS" in str(e.value) or "already exists" in str(e.value)
    with pytest.raises(Exception) as e:
        wait(a.create_topics([NewTopic("bad name!", num_partitions=1, replication_factor=1)]))
    assert "INVALID_TOPIC" in str(e.value) or "name" in str(e.value)
    with pytest.raises(Exception) as e:
        wait(a.create_topics([NewTopic("rf3", num_partitions=1, replication_factor=3)]))
    assert "REPLICATION_FACTOR" in str(e.value)
    with pytest.raises(Exception) as e:
        wait(a.create_topics([NewTopic("badcfg", num_partitions=1, replication_factor=1,
                                       config={"retention.ms": "soon"})]))
    assert "retention.ms" in str(e.value)
    with pytest.raises(Exception) as e:
        wait(a.create_partitions([NewPartitions("dup", 1)]))
    assert "INVALID_PARTITIONS" in str(e.value) or "partitions" in str(e.value)
    with pytest.raises(Exception) as e:
        wait(a.alter_configs([ConfigResource("topic", "dup", set_config={"no.such.key": "1"})]))
    assert "no.such.key" in str(e.value)


def test_broker_configs_are_described(broker):
    a = admin(broker)
    (cfg,) = wait(a.describe_configs([ConfigResource("broker", "1")])).values()
    assert cfg["num.partitions"].value == "1"
    assert cfg["log.flush.sync"].value == "true"


def test_produce_consume_with_keys_headers(broker):
    a = admin(broker)
    wait(a.create_topics([NewTopic("pc", num_partitions=2, replication_factor=1)]))
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                  "compression.codec": "zstd"})
    errors = []
    for i in range(400):
        p.produce("pc", key=b"k%d" % i, value=b"v%d" % i, partition=i % 2,
                  headers=[("n", b"%d" % i)], on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(30) == 0 and not errors
    msgs = consume_all(broker, "pc", 2, 400)
    assert len(msgs) == 400
    by_key = {m.key(): m for m in msgs}
    for i in range(400):
        m = by_key[b"k%d" % i]
        assert m.value() == b"v%d" % i and m.partition() == i % 2
        assert m.headers() == [("n", b"%d" % i)]
    for part in (0, 1):
        offs = [m.offset() for m in msgs if m.partition() == part]
        assert offs == list(range(200))


def test_watermarks_and_offsets_for_times(broker):
    p = Producer({"bootstrap.servers": broker.bootstrap})
    base = int(time.time() * 1000) - 100000
    for i in range(100):
        p.produce("times", value=b"%d" % i, timestamp=base + i * 1000)
        if i % 10 == 9:
            p.flush(10)  # several batches, so the time index has several entries
    assert p.flush(30) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "x"})
    assert c.get_watermark_offsets(TopicPartition("times", 0), timeout=10) == (0, 100)
    got = c.offsets_for_times([TopicPartition("times", 0, base + 42 * 1000 - 1)], timeout=10)
    assert got[0].offset == 42
    got = c.offsets_for_times([TopicPartition("times", 0, base + 1000 * 1000)], timeout=10)
    assert got[0].offset in (-1, 100)  # nothing that recent: the end
    c.close()


def test_log_append_time_topic_stamps_records(broker):
    from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME
    a = admin(broker)
    wait(a.create_topics([NewTopic("lat", num_partitions=1, replication_factor=1,
                                   config={"message.timestamp.type": "LogAppendTime"}),
                          NewTopic("cct", num_partitions=1, replication_factor=1)]))
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.codec": "lz4"})
    old = 1000000000000  # 2001: the broker must replace it on the LogAppendTime topic
    for topic in ("lat", "cct"):
        for i in range(5):
            p.produce(topic, value=b"%d" % i, timestamp=old + i)
    assert p.flush(30) == 0
    before = int(time.time() * 1000)
    for topic, want_type in (("lat", TIMESTAMP_LOG_APPEND_TIME), ("cct", TIMESTAMP_CREATE_TIME)):
        msgs = consume_all(broker, topic, 1, 5)
        assert len(msgs) == 5
        for i, m in enumerate(msgs):
            ts_type, ts = m.timestamp()
            assert ts_type == want_type, (topic, ts_type)
            if topic == "lat":
                assert before - 60000 < ts <= before + 1000, ts
            else:
                assert ts == old + i
