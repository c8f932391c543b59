"""Durability: everything acknowledged survives kill -9, exactly once, with dense
offsets; a clean stop keeps topics, configs and records."""
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


def read_partition(b, topic, partition, expected_end, timeout=60):
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, partition, 0)])
    out, deadline = [], time.time() + timeout
    while time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                if m.offset() >= expected_end:
                    break
                continue
            raise AssertionError(m.error())
        out.append((m.offset(), m.value()))
    c.close()
    return out


def test_kill9_during_acks_all_production_loses_nothing(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("dur", num_partitions=2, replication_factor=1)])["dur"].result(20)
    acked, lock, stop = set(), threading.Lock(), threading.Event()

    def on_delivery(err, msg):
        if err is None:
            with lock:
                acked.add(msg.value())

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 60000, "reconnect.backoff.ms": 100})

    def produce():
        i = 0
        while not stop.is_set():
            try:
                p.produce("dur", value=b"m%08d" % i, partition=i % 2, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)

    t = threading.Thread(target=produce)
    t.start()
    deadline = time.time() + 30
    while len(acked) < 2000 and time.time() < deadline:
        time.sleep(0.05)
    broker.kill9()
    with lock:
        acked_at_kill = set(acked)
    assert len(acked_at_kill) >= 2000, "the producer was not acknowledged before the kill"
    broker.start()
    time.sleep(1)
    stop.set()
    t.join()
    p.flush(60)
    with lock:
        all_acked = set(acked)

    seen = []
    for part in (0, 1):
        hw = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w"})
        low, high = hw.get_watermark_offsets(TopicPartition("dur", part), timeout=10)
        hw.close()
        recs = read_partition(broker, "dur", part, high)
        offsets = [o for o, _ in recs]
        assert offsets == list(range(low, high)), "offsets not dense in partition %d" % part
        seen += [v for _, v in recs]
    assert len(seen) == len(set(seen)), "duplicates after restart"
    missing = all_acked - set(seen)
    assert not missing, "%d acknowledged records lost, e.g. %s" % (len(missing), sorted(missing)[:5])
    assert acked_at_kill <= set(seen)


def test_clean_restart_keeps_topics_configs_records(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("keep", num_partitions=3, replication_factor=1,
                              config={"retention.ms": "86400000"})])["keep"].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(300):
        p.produce("keep", value=b"%d" % i, partition=i % 3)
    assert p.flush(30) == 0
    broker.restart()
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    md = a.list_topics(timeout=10)
    assert len(md.topics["keep"].partitions) == 3
    cfg = a.describe_configs([ConfigResource("topic", "keep")])
    (res,) = [f.result(20) for f in cfg.values()]
    assert res["retention.ms"].value == "86400000"
    for part in range(3):
        recs = read_partition(broker, "keep", part, 100)
        assert [v for _, v in recs] == [b"%d" % i for i in range(part, 300, 3)]
    # and appends continue at the right offsets
    p = Producer({"bootstrap.servers": broker.bootstrap})
    got = []
    p.produce("keep", value=b"next", partition=0, on_delivery=lambda e, m: got.append(m.offset()))
    p.flush(30)
    assert got == [100]
