"""Durability on a clean stop: SIGTERM while an idempotent acks=all producer is writing
loses no acknowledged record, duplicates none and leaves offsets dense; the producer's
retries carry on against the restarted broker. (test_restart.py has the kill -9 case.)"""
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from test_restart import read_partition


def test_sigterm_during_acks_all_production_loses_nothing(broker):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("term", num_partitions=2, replication_factor=1)])["term"].result(20)
    acked, failed, lock, stop = set(), [], threading.Lock(), threading.Event()

    def on_delivery(err, msg):
        with lock:
            if err is None:
                acked.add(msg.value())
            else:
                failed.append((msg.value(), err))

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 60000, "reconnect.backoff.ms": 100,
                  "reconnect.backoff.max.ms": 500})
    produced = [0]

    def produce():
        i = 0
        while not stop.is_set():
            try:
                p.produce("term", value=b"m%08d" % i, partition=i % 2, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)
        produced[0] = i

    t = threading.Thread(target=produce)
    t.start()
    try:
        deadline = time.time() + 30
        while len(acked) < 2000 and time.time() < deadline:
            time.sleep(0.05)
        broker.stop()  # SIGTERM under load; asserts the broker exits 0
        with lock:
            acked_at_stop = set(acked)
        assert len(acked_at_stop) >= 2000, "the producer was not acknowledged before the stop"
        assert "stopped cleanly" in broker.read_log()
        broker.start()
        # keep producing against the restarted broker for a moment
        deadline = time.time() + 30
        while len(acked) < len(acked_at_stop) + 1000 and time.time() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join()
    assert p.flush(60) == 0, "records still in flight after 60s"
    with lock:
        all_acked = set(acked)
    assert not failed, "%d deliveries failed, e.g. %s" % (len(failed), failed[:3])
    assert len(all_acked) == produced[0], "not every produced record was acknowledged"
    assert len(all_acked) > len(acked_at_stop), "nothing was acknowledged after the restart"

    seen = []
    for part in (0, 1):
        hw = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w"})
        low, high = hw.get_watermark_offsets(TopicPartition("term", part), timeout=10)
        hw.close()
        recs = read_partition(broker, "term", part, high)
        offsets = [o for o, _ in recs]
        assert offsets == list(range(low, high)), "offsets not dense in partition %d" % part
        seen += [v for _, v in recs]
    assert len(seen) == len(set(seen)), "duplicates after the SIGTERM restart"
    missing = all_acked - set(seen)
    assert not missing, "%d acknowledged records lost, e.g. %s" % (len(missing), sorted(missing)[:5])
    assert acked_at_stop <= set(seen)
    # and within each partition, in the order they were produced
    for part in (0, 1):
        vals = [v for v in seen if int(v[1:]) % 2 == part]
        assert vals == sorted(vals), "partition %d out of order" % part
