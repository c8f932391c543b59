"""kafka-python 2.0.2 consumers in consumer groups: subscribe, commit, resume after a
broker restart from the committed offsets, admin views of the group and its offsets, two
members of one group splitting a topic's partitions between them, and a rebalance that
hands a partition over at the offset committed while the group was rebalancing."""
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

# The broker waits group.initial.rebalance.delay.ms (3 s by default) before the first
# generation of an empty group; 200 ms keeps the tests fast.
GROUP_SETTINGS = dict(group_initial_rebalance_delay_ms=200, group_min_session_timeout_ms=1000)


def create_topic(b, name, partitions):
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    r = a.create_topics([NewTopic(name, partitions, 1)])
    assert r.topic_errors[0][1] == 0, r
    a.close()


def produce(b, topic, partitions, start, count):
    """Records i in [start, start+count): key k<i>, value v<i>, partition i % partitions.
    Returns {value: (partition, offset)} as the broker acknowledged them."""
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    futs = [(i, p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % partitions))
            for i in range(start, start + count)]
    acked = {b"v%d" % i: (f.get(timeout=20).partition, f.get(timeout=20).offset) for i, f in futs}
    p.close()
    return acked


def group_consumer(b, group, **kw):
    opts = dict(bootstrap_servers=b.bootstrap, group_id=group, auto_offset_reset="earliest",
                enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500)
    opts.update(kw)
    return KafkaConsumer(**opts)


def poll_until(c, expected, timeout=20, linger=1.5):
    """Poll until `expected` records arrived, then keep polling `linger` seconds so that
    extra (duplicate or old) records would be seen too."""
    got, deadline, until = [], time.time() + timeout, None
    while time.time() < deadline:
        for recs in c.poll(timeout_ms=200).values():
            got.extend(recs)
        if len(got) >= expected:
            until = until or time.time() + linger
            if time.time() >= until:
                break
    return got


def check_exactly(got, acked):
    """Every acknowledged record exactly once, with its key, at its partition/offset."""
    values = [r.value for r in got]
    assert len(values) == len(set(values)), "duplicates: %d records, %d distinct" % (
        len(values), len(set(values)))
    assert set(values) == set(acked), "missing %s, unexpected %s" % (
        sorted(set(acked) - set(values))[:10], sorted(set(values) - set(acked))[:10])
    for r in got:
        assert r.key == b"k" + r.value[1:]
        assert (r.partition, r.offset) == acked[r.value]


def test_kafka_python_group_commit_restart_resume(broker_factory):
    b = broker_factory(**GROUP_SETTINGS)
    topic, group, parts = "kpg", "kpg-group", 3
    create_topic(b, topic, parts)
    acked = produce(b, topic, parts, 0, 300)

    c = group_consumer(b, group)
    c.subscribe([topic])
    got = poll_until(c, 300)
    assert c.assignment() == {TopicPartition(topic, p) for p in range(parts)}
    check_exactly(got, acked)
    for p in range(parts):
        offs = sorted(r.offset for r in got if r.partition == p)
        assert offs == list(range(100)), "partition %d offsets not dense: %s" % (p, offs[:20])

    c.commit()
    tps = [TopicPartition(topic, p) for p in range(parts)]
    assert {tp: c.committed(tp) for tp in tps} == {tp: 100 for tp in tps}

    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    (desc,) = a.describe_consumer_groups([group])
    assert desc.error_code == 0 and desc.group == group
    assert desc.state == "Stable" and desc.protocol_type == "consumer"
    assert desc.protocol == "range"
    assert len(desc.members) == 1
    m = desc.members[0]
    assert m.member_metadata.subscription == [topic]
    assert sorted(m.member_assignment.assignment[0][1]) == list(range(parts))
    assert (group, "consumer") in a.list_consumer_groups()
    c.close()  # LeaveGroup: the group goes Empty at once

    (desc,) = a.describe_consumer_groups([group])
    assert desc.state == "Empty" and desc.members == []
    committed = a.list_consumer_group_offsets(group)
    assert {tp: om.offset for tp, om in committed.items()} == {tp: 100 for tp in tps}
    a.close()

    b.restart()

    # Committed offsets survived the restart: lag is end - committed = 0 per partition.
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    committed = a.list_consumer_group_offsets(group)
    probe = KafkaConsumer(bootstrap_servers=b.bootstrap)
    ends = probe.end_offsets(tps)
    probe.close()
    assert set(committed) == set(tps)
    assert {tp: ends[tp] - committed[tp].offset for tp in tps} == {tp: 0 for tp in tps}

    acked2 = produce(b, topic, parts, 300, 100)
    # 300..399 by i % 3: partition 0 gets 34 (offsets 100..133), partitions 1 and 2 get 33.
    assert sorted(acked2.values()) == sorted(
        [(0, o) for o in range(100, 134)] + [(p, o) for p in (1, 2) for o in range(100, 133)])

    c = group_consumer(b, group)
    c.subscribe([topic])
    got = poll_until(c, 100)
    check_exactly(got, acked2)  # only the new ones: none of the 300 committed before
    assert min(r.offset for r in got) == 100
    c.commit()
    c.close()

    committed = a.list_consumer_group_offsets(group)
    assert {tp: om.offset for tp, om in committed.items()} == {
        TopicPartition(topic, 0): 134, TopicPartition(topic, 1): 133, TopicPartition(topic, 2): 133}
    a.close()


class Member(threading.Thread):
    """A group consumer polling in its own thread (kafka-python's poll blocks while it
    rejoins, so two members cannot share one thread). `got` fills as records arrive;
    `assignment` is the member's current partition set."""

    def __init__(self, b, group, topic, name, **kw):
        super().__init__(daemon=True, name=name)
        self.b, self.group, self.topic, self.kw = b, group, topic, kw
        self.got, self.errors, self.assignment = [], [], set()
        self.halt = threading.Event()
        self.start()

    def run(self):
        try:
            c = group_consumer(self.b, self.group, client_id=self.name, **self.kw)
            c.subscribe([self.topic])
            while not self.halt.is_set():
                for recs in c.poll(timeout_ms=200).values():
                    self.got.extend(recs)
                self.assignment = {tp.partition for tp in c.assignment()}
            c.close()
        except Exception as e:  # reported by the main thread
            self.errors.append(repr(e))

    def stop(self):
        self.halt.set()
        self.join(15)
        assert not self.is_alive(), "%s did not stop" % self.name
        assert self.errors == [], "%s failed: %s" % (self.name, self.errors)


def wait_for(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def split_evenly(m1, m2, parts):
    return (len(m1.assignment) == 1 and len(m2.assignment) == 1
            and m1.assignment | m2.assignment == set(range(parts)))


def test_kafka_python_two_members_split_partitions(broker_factory):
    b = broker_factory(**GROUP_SETTINGS)
    topic, group, parts, n = "kp2", "kp2-group", 2, 200
    create_topic(b, topic, parts)

    m1, m2 = Member(b, group, topic, "m1"), Member(b, group, topic, "m2")
    try:
        wait_for(lambda: split_evenly(m1, m2, parts), 20,
                 "one partition each (m1 %s, m2 %s)" % (m1.assignment, m2.assignment))
        assigned = {"m1": set(m1.assignment), "m2": set(m2.assignment)}

        a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        (desc,) = a.describe_consumer_groups([group])
        a.close()
        assert desc.state == "Stable" and len(desc.members) == 2
        assert sorted(m.client_id for m in desc.members) == ["m1", "m2"]
        by_client = {m.client_id: set(m.member_assignment.assignment[0][1]) for m in desc.members}
        assert by_client == assigned

        acked = produce(b, topic, parts, 0, n)
        wait_for(lambda: len(m1.got) + len(m2.got) >= n, 20, "%d records" % n)
        time.sleep(1.0)  # room for duplicates to show up
        # What each member got while both were in the group: once the first one closes
        # (LeaveGroup) the other rightly takes both partitions and, with nothing committed,
        # reads the other one from the beginning; that is not part of this check.
        got = {"m1": list(m1.got), "m2": list(m2.got)}
        assert {"m1": m1.assignment, "m2": m2.assignment} == assigned, "a later rebalance"
    finally:
        m1.stop()
        m2.stop()

    # Each member saw only its own partition, and together every record exactly once.
    for name in ("m1", "m2"):
        assert {r.partition for r in got[name]} == assigned[name]
        assert sorted(r.offset for r in got[name]) == list(range(n // parts))
    check_exactly(got["m1"] + got["m2"], acked)


def test_kafka_python_rebalance_hands_over_committed_positions(broker_factory):
    """m1 alone reads everything; m2 joins. With auto-commit, kafka-python commits its
    positions while the group is PreparingRebalance (the old generation, which Kafka
    accepts), so m2 starts its partition where m1 stopped: no record twice."""
    b = broker_factory(**GROUP_SETTINGS)
    topic, group, parts = "kph", "kph-group", 2
    create_topic(b, topic, parts)
    acked = produce(b, topic, parts, 0, 200)

    auto = dict(enable_auto_commit=True, auto_commit_interval_ms=60000)  # commits on rebalance only
    m1 = Member(b, group, topic, "m1", **auto)
    m2 = None
    try:
        wait_for(lambda: len(m1.got) >= 200, 20, "m1 to read 200 (got %d)" % len(m1.got))
        assert m1.assignment == {0, 1}
        m2 = Member(b, group, topic, "m2", **auto)
        wait_for(lambda: split_evenly(m1, m2, parts), 20,
                 "one partition each (m1 %s, m2 %s)" % (m1.assignment, m2.assignment))
        a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
        committed = a.list_consumer_group_offsets(group)
        a.close()
        assert {tp.partition: om.offset for tp, om in committed.items()} == {0: 100, 1: 100}

        acked.update(produce(b, topic, parts, 200, 200))
        wait_for(lambda: len(m1.got) + len(m2.got) >= 400, 20, "400 records")
        time.sleep(1.0)
        got = {"m1": list(m1.got), "m2": list(m2.got)}
        final = {"m1": set(m1.assignment), "m2": set(m2.assignment)}
    finally:
        m1.stop()
        if m2:
            m2.stop()

    check_exactly(got["m1"] + got["m2"], acked)
    (p2,) = final["m2"]
    assert {r.partition for r in got["m2"]} == {p2}
    assert sorted(r.offset for r in got["m2"]) == list(range(100, 200))
