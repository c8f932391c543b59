"""Retention by size and time moves the log start offset; consumers start there."""
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def watermarks(b, topic):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "wm"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    finally:
        c.close()


def test_retention_bytes(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("small", 1, 1, config={"retention.bytes": "20000"})])["small"].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(200):
        p.produce("small", value=b"%04d" % i + b"x" * 996)
        p.flush(10)  # one batch per record: retention works in whole batches
    # Retention runs every 500 ms, also while the records above were being produced: wait
    # until the low watermark has settled (unchanged over two passes).
    deadline = time.time() + 20
    last = None
    while time.time() < deadline:
        now = watermarks(broker, "small")
        if now == last and now[0] > 0:
            break
        last = now
        time.sleep(1.2)
    low, high = watermarks(broker, "small")
    assert high == 200 and 150 < low < 200, (low, high)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r", "enable.auto.commit": False})
    c.assign([TopicPartition("small", 0, -2)])  # OFFSET_BEGINNING
    m = None
    while m is None or m.error():
        m = c.poll(5)
    # The first record served is the log start, with the value produced at that offset.
    assert m.offset() == watermarks(broker, "small")[0] >= low
    assert m.value().startswith(b"%04d" % m.offset())
    c.close()


def test_retention_ms_by_record_time(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("old", 1, 1, config={"retention.ms": "60000"})])["old"].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    now = int(time.time() * 1000)
    for i in range(10):
        p.produce("old", value=b"stale", timestamp=now - 3600 * 1000)
        p.flush(10)
    p.produce("old", value=b"fresh", timestamp=now)
    p.flush(10)
    deadline = time.time() + 15
    while watermarks(broker, "old")[0] < 10 and time.time() < deadline:
        time.sleep(0.2)
    assert watermarks(broker, "old") == (10, 11)
