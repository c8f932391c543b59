"""A three-broker cluster (tests/integration/cluster.py) seen by real clients: kill -9 of a
partition leader under an idempotent producer, a leader frozen by SIGSTOP past its session
timeout, the loss of the metadata quorum, and a fourth broker joining and taking
partitions by reassignment while records flow. Each test checks what a fresh consumer
reads back against the producer's delivery reports (every acknowledged record exactly
once, at its offset; offsets dense) and prints the figures the issue's closing note
quotes (failover seconds, records checked)."""
import json
import os
import struct
import subprocess
import threading
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_wire
from conftest import BUILD
from cluster import (Cluster, GroupReader, NumberedProducer, admin_error_text, check_exactly_once,
                     consume_all, settings_from_kwargs, wait_until)


@pytest.fixture
def cluster_factory():
    """make(n=3, **settings): a started, ready cluster; every process is gone afterwards
    and unclean exits or sanitizer reports fail the test."""
    made = []

    def make(n=3, **settings):
        c = Cluster(n, settings_from_kwargs(settings))
        made.append(c)
        return c.start(timeout=90)

    yield make
    problems = []
    for c in made:
        problems += c.close()
    assert not problems, "\n".join(problems)


def figures(capsys, text):
    """The numbers the closing note quotes, shown even under pytest -q."""
    with capsys.disabled():
        print("\nCLUSTER FIGURES %s" % text)


def create_topic(c, name, partitions, rf=3, config=None, timeout=60):
    """CreateTopics until it succeeds; NOT_CONTROLLER (the controller moved between
    librdkafka's Metadata and its request, as after a restart) is retried, as Kafka's own
    admin client does. Returns the partitions once each has rf replicas in sync."""
    deadline, tries = time.time() + timeout, 0
    while True:
        tries += 1
        fs = c.admin().create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rf,
                                               config=config or {})], request_timeout=20)
        try:
            fs[name].result(40)
            break
        except KafkaException as e:
            code = e.args[0].code() if e.args and isinstance(e.args[0], KafkaError) else None
            if code == KafkaError.TOPIC_ALREADY_EXISTS and tries > 1:
                break  # an earlier try got through after all
            if code != KafkaError.NOT_CONTROLLER or time.time() > deadline:
                raise
            # A broker forwards admin requests to the controller (Envelope), but while a
            # quorum elects its leader there is none to forward to: a new client asks
            # Metadata afresh.
            c._admin = None
            time.sleep(0.3)
    return c.wait_partitions(name, partitions, isr_size=rf)


def test_leader_kill9(cluster_factory, capsys):
    c = cluster_factory(3, min_insync_replicas=2)
    parts = create_topic(c, "kill9", 3, config={"min.insync.replicas": "2"})
    victim = parts[0].leader
    prod = NumberedProducer(c.bootstrap, "kill9", 3, total=20000, rate=4000)
    prod.start()
    try:
        wait_until(lambda: prod.acked_count() >= 5000, 60, "5000 acknowledged records before the kill")
        killed_at = time.time()
        acked_at_kill = prod.acked_count()
        c.kill9(victim)
        new_leader, failover = c.wait_new_leader("kill9", 0, victim, timeout=30)
        prod.finish(180)
    finally:
        prod.stop()
    resumed = prod.first_ack_after(killed_at, partition=0)
    assert failover < 15, failover
    assert not prod.fatal, prod.fatal
    assert not prod.failed, "%d deliveries failed, e.g. %s; producer errors %s; now %s" % (
        len(prod.failed), list(prod.failed.items())[:5], prod.errors[-5:], c.metadata().topics.get("kill9"))
    assert len(prod.acked) == 20000

    c.start_broker(victim)
    c.wait_ready(3, timeout=60)
    rejoined = time.time()
    for p in range(3):
        c.wait_in_isr("kill9", p, victim, timeout=60)
    rejoined = time.time() - rejoined
    recs = consume_all(c.bootstrap, "kill9", range(3))
    checked = check_exactly_once(recs, prod.acked, range(3), prod.failed)
    assert checked == 20000
    figures(capsys, "leader_kill9: broker %d (leader of kill9-0) killed after %d acks; Metadata named "
            "broker %d leader after %.2f s; produce to partition 0 resumed after %s s; restarted broker "
            "back in every ISR after %.1f s; %d records checked, 0 duplicates, 0 lost" % (
                victim, acked_at_kill, new_leader, failover,
                "%.2f" % resumed if resumed is not None else "?", rejoined, checked))


def test_leader_sigstop(cluster_factory, capsys):
    c = cluster_factory(3, min_insync_replicas=2)
    parts = create_topic(c, "frozen", 3, config={"min.insync.replicas": "2"})
    victim = parts[1].leader
    prod = NumberedProducer(c.bootstrap, "frozen", 3, total=10000, rate=1000)
    prod.start()
    try:
        wait_until(lambda: prod.acked_count() >= 2000, 60, "2000 acknowledged records before SIGSTOP")
        stopped_at = time.time()
        c.sigstop(victim)
        new_leader, failover = c.wait_new_leader("frozen", 1, victim, timeout=30)
        # Frozen for longer than broker.session.timeout.ms (3 s) in any case.
        time.sleep(max(0.0, stopped_at + 6.5 - time.time()))
        c.sigcont(victim)
        continued_at = time.time()
        state, rejoin = c.wait_in_isr("frozen", 1, victim, timeout=40)
        # Back as a follower; and the broker itself now agrees who leads.
        assert state.leader != victim, state
        wait_until(lambda: c.metadata(via=victim).partition("frozen", 1).leader == state.leader, 20,
                   "the continued broker to learn the new leader")
        prod.finish(180)
    finally:
        c.sigcont(victim)
        prod.stop()
    assert failover < 15, failover
    assert rejoin < 20, rejoin
    assert not prod.fatal, prod.fatal
    assert not prod.failed, "%d deliveries failed, e.g. %s" % (len(prod.failed), list(prod.failed.items())[:5])
    recs = consume_all(c.bootstrap, "frozen", range(3))
    checked = check_exactly_once(recs, prod.acked, range(3), prod.failed)
    assert checked == 10000
    figures(capsys, "leader_sigstop: broker %d (leader of frozen-1) stopped %.1f s; Metadata named broker %d "
            "leader after %.2f s; after SIGCONT back in the ISR as a follower in %.2f s; %d records checked, "
            "0 duplicates, 0 lost" % (victim, continued_at - stopped_at, new_leader, failover, rejoin, checked))


def test_quorum_loss(cluster_factory, capsys):
    c = cluster_factory(3)
    parts = create_topic(c, "quorum", 3)
    survivor = parts[0].leader
    dead = [i for i in c.voter_ids() if i != survivor]
    before = NumberedProducer(c.bootstrap, "quorum", 3, total=600)
    before.start()
    before.finish(60)
    assert len(before.acked) == 600 and not before.failed

    for d in dead:
        c.kill9(d)
    # No quorum: a metadata change fails within its timeout, with a clear error.
    admin = AdminClient({"bootstrap.servers": c[survivor].bootstrap})
    t0 = time.time()
    fs = admin.create_topics([NewTopic("quorum-lost", num_partitions=1, replication_factor=1)],
                             request_timeout=10, operation_timeout=5)
    with pytest.raises(KafkaException) as refused:
        fs["quorum-lost"].result(40)
    refused_after = time.time() - t0
    text = admin_error_text(refused.value)
    assert any(w in text.upper() for w in ("NOT_CONTROLLER", "TIMED_OUT", "TIMED OUT")), text

    # What the survivor leads is still readable, exactly as acknowledged.
    view = c.metadata(via=survivor)
    mine = sorted(p for p, st in view.topics["quorum"].items() if st.leader == survivor)
    assert 0 in mine, view.topics["quorum"]
    readable = consume_all(c[survivor].bootstrap, "quorum", mine, timeout=30)
    checked_during = check_exactly_once(readable, before.acked, mine)
    # What a dead broker led is not: its leader cannot move without a quorum, so a
    # consumer of those partitions gets nothing. (Not asked with get_watermark_offsets:
    # librdkafka 2.0.2 can block past its timeout when the leader is unreachable.)
    theirs = [p for p in range(3) if p not in mine]
    assert all(view.partition("quorum", p).leader != survivor for p in theirs)
    if theirs:
        probe = Consumer({"bootstrap.servers": c[survivor].bootstrap, "group.id": "quorum-probe",
                          "enable.auto.commit": False})
        try:
            probe.assign([TopicPartition("quorum", p, OFFSET_BEGINNING) for p in theirs])
            deadline, got = time.time() + 3, []
            while time.time() < deadline:
                m = probe.poll(0.3)
                if m is not None and not m.error():
                    got.append((m.partition(), m.offset()))
            assert not got, "read from partitions whose leader is dead: %s" % got[:10]
        finally:
            probe.close()

    # The two come back: everything resumes.
    restarted_at = time.time()
    for d in dead:
        c.start_broker(d)
    c.wait_ready(3, timeout=60)
    c.wait_partitions("quorum", 3, isr_size=3, timeout=60)
    resumed_after = time.time() - restarted_at
    create_topic(c, "quorum-back", 3)
    after = NumberedProducer(c.bootstrap, "quorum", 3, total=300, first=600)
    again = NumberedProducer(c.bootstrap, "quorum-back", 3, total=300)
    for p in (after, again):
        p.start()
    for p in (after, again):
        p.finish(90)
        assert not p.failed and not p.fatal, (p.failed, p.fatal)
    acked = dict(before.acked)
    acked.update(after.acked)
    checked = check_exactly_once(consume_all(c.bootstrap, "quorum", range(3)), acked, range(3))
    checked += check_exactly_once(consume_all(c.bootstrap, "quorum-back", range(3)), again.acked, range(3))
    assert checked == 1200
    figures(capsys, "quorum_loss: brokers %s killed; CreateTopics refused after %.1f s (%s); survivor %d "
            "served partitions %s: %d records checked; partitions %s unavailable; after restart the "
            "cluster was ready in %.1f s; %d records checked after" % (
                dead, refused_after, text.strip(), survivor, mine, checked_during, theirs, resumed_after, checked))


def test_add_broker_and_reassign(cluster_factory, capsys):
    c = cluster_factory(3, group_initial_rebalance_delay_ms=200)
    create_topic(c, "moving", 3)
    c.add_broker(4)
    c.wait_ready(4, timeout=60)
    parts = c.wait_partitions("moving", 3, isr_size=3)
    # Broker 4 joins every partition and one old replica leaves: partition 0 drops its
    # leader and names 4 first (4 should lead it), the others drop a follower.
    targets = {}
    for p, st in sorted(parts.items()):
        if p == 0:
            targets[p] = [4] + [r for r in st.replicas if r != st.leader]
        else:
            drop = [r for r in st.replicas if r != st.leader][-1]
            targets[p] = [r for r in st.replicas if r != drop] + [4]

    prod = NumberedProducer(c.bootstrap, "moving", 3, rate=800)
    reader = GroupReader(c.bootstrap, "moving-readers", "moving")
    prod.start()
    reader.start()
    try:
        wait_until(lambda: prod.acked_count() >= 1000, 60, "1000 acknowledged records before reassigning")
        t0 = time.time()
        for p, replicas in targets.items():
            c.reassign("moving", p, replicas)

        last = {}

        def settled():
            last["in flight"] = c.reassignments_in_flight("moving")
            last["metadata"] = c.metadata().topics.get("moving")
            if last["in flight"]:
                return False
            return all(last["metadata"][p].replicas == t and sorted(last["metadata"][p].isrs) == sorted(t)
                       for p, t in targets.items())
        try:
            wait_until(settled, 90, "the reassignments to finish", interval=1.0)
        except AssertionError as e:
            raise AssertionError("%s: targets %s, last seen %s" % (e, targets, last)) from None
        took = time.time() - t0
        n = prod.acked_count()
        wait_until(lambda: prod.acked_count() >= n + 500, 30, "records acknowledged after the move")
    finally:
        prod.stop()
    try:
        prod.finish(120)
        wait_until(lambda: set(prod.acked) <= reader.values(), 60, "the group member to read every acked record")
    finally:
        reader.finish()
    assert not prod.fatal, prod.fatal
    assert not prod.failed, "%d deliveries failed, e.g. %s" % (len(prod.failed), list(prod.failed.items())[:5])
    group_dups = len(reader.records) - len(reader.values())

    recs = consume_all(c.bootstrap, "moving", range(3))
    checked = check_exactly_once(recs, prod.acked, range(3), prod.failed)
    view = c.metadata(via=4)
    assert len(view.brokers) == 4
    led_by_4 = sorted(p for p, st in view.topics["moving"].items() if st.leader == 4)
    from_4 = 0
    if led_by_4:
        from_4 = check_exactly_once(consume_all(c[4].bootstrap, "moving", led_by_4), prod.acked, led_by_4,
                                    prod.failed)
    figures(capsys, "add_broker_and_reassign: 3 partitions moved to %s in %.1f s under load; %d records "
            "checked (%d of them from broker 4 leading %s); the group member read all with %d redelivered" % (
                targets, took, checked, from_4, led_by_4, group_dups))


def unclean_scenario(c, topic):
    """A partition on brokers 4 (leader) and 1: 1 is killed (the ISR shrinks to 4), records
    are acked by 4 alone, then 4 is killed: the partition is offline with its last in-sync
    replica dead (two voters stay up, so the controller acts). Broker 1 comes back out of
    sync. Returns (the partition's state, 1)."""
    c.add_broker(4)
    c.wait_ready(n=4)
    fs = c.admin().create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[[4, 1]])], request_timeout=20)
    fs[topic].result(40)
    c.wait_partitions(topic, 1, isr_size=2)
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})
    for i in range(50):
        p.produce(topic, value=b"early-%d" % i)
    assert p.flush(30) == 0
    c.kill9(1)
    wait_until(lambda: c.metadata(2).topics[topic][0].isrs == [4], 30, "the ISR shrinks to broker 4")
    for i in range(50):
        p.produce(topic, value=b"late-%d" % i)
    assert p.flush(30) == 0  # acked by broker 4 alone: broker 1 never had them
    c.kill9(4)
    wait_until(lambda: c.metadata(2).topics[topic][0].leader == -1, 30, "the partition goes offline")
    c.start_broker(1)
    c.wait_ready(n=3)
    time.sleep(2)  # an unclean election, when enabled, happens within a controller tick
    return c.metadata(2).topics[topic][0], 1


def test_unclean_leader_election_off_and_on(cluster_factory, capsys):
    # Off (the default): the partition stays offline rather than lose acknowledged records.
    c = cluster_factory(3)
    state, b = unclean_scenario(c, "clean")
    assert state.leader == -1, state
    # On: the out-of-sync replica leads, and the controller says so in its log.
    c2 = cluster_factory(3, unclean_leader_election_enable=True)
    state2, b2 = unclean_scenario(c2, "unclean")
    assert state2.leader == b2 and state2.isrs == [b2], state2
    assert "unclean leader election" in c2.read_log()
    figures(capsys, "unclean_leader_election: off: offline with its last in-sync replica dead; "
                    "on: broker %d (out of sync) elected" % b2)


def describe_acls_of(broker):
    """Every ACL binding one broker holds: a raw DescribeAcls v1 (match anything) to that
    broker alone, as [(resource type, name, pattern, principal, host, operation,
    permission)]."""
    body = struct.pack(">bhbhhbb", 1, -1, 1, -1, -1, 1, 1)
    s = kafka_wire.connect(broker)
    try:
        s.sendall(kafka_wire.request(29, 1, 5, body))
        corr, data = kafka_wire.read_response(s)
    finally:
        s.close()
    assert corr == 5
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take(">h")
        v = data[pos:pos + max(n, 0)].decode()
        pos += max(n, 0)
        return v
    take(">i")
    assert take(">h") == 0
    string()
    out = []
    for _ in range(take(">i")):
        rtype, name, pattern = take(">b"), string(), take(">b")
        for _ in range(take(">i")):
            out.append((rtype, name, pattern, string(), string(), take(">b"), take(">b")))
    return sorted(out)


def test_acls_and_users_are_the_clusters(cluster_factory):
    """ACL bindings and SCRAM credentials are in the replicated metadata, as in KRaft:
    changed through any broker (kafka-python's admin client and the Kafka API: a broker
    that is not the controller forwards the request there) or `runnel user` over the
    controller's HTTP listener (another broker's refuses and names the controller), every
    broker holds them before the change is answered, and a broker that was down catches
    up."""
    from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             KafkaAdminClient, ResourcePattern, ResourcePatternFilter, ResourceType)
    from test_sasl import alter, describe, upsertion
    c = cluster_factory(3, http_console_actions_enable=True)
    acl = ACL("User:alice", "*", ACLOperation.WRITE, ACLPermissionType.ALLOW,
              ResourcePattern(ResourceType.TOPIC, "orders", ACLResourcePatternType.PREFIXED))

    def any_broker(call):
        # kafka-python sends ACL changes to a broker of its choosing; one that is not the
        # controller forwards them there (Envelope), as Kafka's brokers do.
        a = KafkaAdminClient(bootstrap_servers=c.bootstrap, request_timeout_ms=20000)
        try:
            return call(a)
        finally:
            a.close()

    res = any_broker(lambda a: a.create_acls([acl]))
    assert len(res["succeeded"]) == 1 and not res["failed"], res
    want = [(2, "orders", 4, "User:alice", "*", 4, 3)]
    for b in c:  # answered once every live broker follows it: no waiting here
        assert describe_acls_of(b) == want, b.node_id

    # A broker down during a change catches up when it is back.
    controller = c.metadata().controller_id
    down = [i for i in c.alive_ids() if i != controller][0]
    c.stop_broker(down)
    flt = ACLFilter("User:alice", None, ACLOperation.ANY, ACLPermissionType.ANY,
                    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    res = any_broker(lambda a: a.delete_acls([flt]))
    (_, matched, err), = res
    assert err.errno == 0 and [m[0].resource_pattern.resource_name for m in matched] == ["orders"], res
    for i in c.alive_ids():
        assert describe_acls_of(c[i]) == [], i
    c.start_broker(down)
    c.wait_ready()
    wait_until(lambda: describe_acls_of(c[down]) == [], 30, "the returning broker to drop the binding")

    # SCRAM credentials through the Kafka API, sent to a broker that is not the controller:
    # forwarded, and answered once every broker has them.
    controller = c.metadata().controller_id
    other = [i for i in c.alive_ids() if i != controller][0]
    s = kafka_wire.connect(c[other])
    try:
        assert alter(s, [], [upsertion("carol", 2, "c4rol-pw", iterations=8192)]) == {"carol": (0, None)}
    finally:
        s.close()
    assert "AlterUserScramCredentials not forwarded" not in c[other].read_log()
    for b in c:
        s = kafka_wire.connect(b)
        try:
            assert describe(s, ["carol"])[1]["carol"] == (0, None, [(2, 8192)]), b.node_id
        finally:
            s.close()

    # ... and through `runnel user` (HTTP): set and delete on the controller, listed on all.
    def user_cli(node, *args, check=True):
        p = subprocess.run([os.path.join(BUILD, "runnel"), "user"] + list(args) +
                           ["--http", "127.0.0.1:%d" % c[node].http_port], capture_output=True, timeout=30)
        assert not check or p.returncode == 0, p.stderr
        return p

    p = user_cli(other, "set", "dave", "--password", "d4ve-pw", check=False)
    assert p.returncode == 1 and b"controller" in p.stderr, p.stderr
    user_cli(controller, "set", "dave", "--password", "d4ve-pw")
    user_cli(controller, "delete", "carol")
    for b in c:
        users = {u["name"]: [m["mechanism"] for m in u["mechanisms"]]
                 for u in json.loads(user_cli(b.node_id, "list", "--json").stdout)["users"]}
        assert users == {"dave": ["SCRAM-SHA-256", "SCRAM-SHA-512"]}, (b.node_id, users)


def test_group_survives_its_coordinator_kill9(cluster_factory, capsys):
    """A group's state (generation, members, assignment) goes to __consumer_offsets with its
    commits, as in Kafka: when its coordinator dies, the broker that takes over loads the
    group Stable, and the members carry on without a rebalance."""
    c = cluster_factory(3)
    create_topic(c, "steady", 2)
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all"})

    def produce(first, n):
        for i in range(first, first + n):
            p.produce("steady", value=b"s%d" % i, partition=i % 2)
        assert p.flush(30) == 0

    produce(0, 200)
    readers = [GroupReader(c.bootstrap, "steady-readers", "steady") for _ in range(2)]
    for r in readers:
        r.start()
    try:
        wait_until(lambda: len(set().union(*(r.values() for r in readers))) == 200 and
                   sorted(readers[0].owned() + readers[1].owned()) == [0, 1], 60,
                   "the group to read the first 200 records, one partition each")
        events_before = [len(r.rebalances) for r in readers]
        coordinator = c.coordinator_of("steady-readers")
        killed_at = time.time()
        c.kill9(coordinator)
        produce(200, 200)
        wait_until(lambda: len(set().union(*(r.values() for r in readers))) == 400, 90,
                   "the group to read the next 200 records after its coordinator died")
        resumed = time.time() - killed_at
        new_coordinator = c.coordinator_of("steady-readers")
        for r, n in zip(readers, events_before):
            assert r.rebalances[n:] == [], (r.rebalances, n)
        values = [v for r in readers for _, _, v in r.records]
        assert len(values) == len(set(values)) == 400, "records read twice: the group rebalanced"
    finally:
        for r in readers:
            r.finish()
    assert new_coordinator not in (coordinator, -1)
    log = c[new_coordinator].read_log()
    assert "group steady-readers: recovered Stable" in log, log[-3000:]
    figures(capsys, "group coordinator kill9: coordinator %d -> %d, all 400 records read %.2fs "
            "after the kill, 0 rebalances, 0 read twice" % (coordinator, new_coordinator, resumed))


def test_commit_is_acknowledged_once_replicated(cluster_factory, capsys):
    """An acknowledged commit is on the in-sync replicas of the group's __consumer_offsets
    partition, as in Kafka, so the next coordinator has it: with both replicas frozen the
    answer waits for them, and a commit acknowledged just before its coordinator's kill -9
    is there afterwards."""
    c = cluster_factory(3)
    create_topic(c, "ledger", 1)
    group = "ledger-readers"
    state = c.offsets_partition_of(group)
    coordinator, followers = state.leader, [r for r in state.replicas if r != state.leader]
    conf = {"bootstrap.servers": c.bootstrap, "group.id": group, "enable.auto.commit": False}
    cons = Consumer(conf)
    try:
        cons.commit(offsets=[TopicPartition("ledger", 0, 3)], asynchronous=False)
        for f in followers:
            c.sigstop(f)
        answered, outcome = threading.Event(), []

        def commit():
            try:
                cons.commit(offsets=[TopicPartition("ledger", 0, 5)], asynchronous=False)
                outcome.append("ok")
            except KafkaException as e:
                outcome.append(e)
            answered.set()
        t0 = time.time()
        committer = threading.Thread(target=commit)
        committer.start()
        early = answered.wait(1.5)
        for f in followers:
            c.sigcont(f)
        assert not early, "acknowledged (%s) while no replica had it" % outcome
        assert answered.wait(30), "the commit was never answered"
        waited = time.time() - t0
        committer.join()
        assert outcome == ["ok"], outcome
        cons.commit(offsets=[TopicPartition("ledger", 0, 8)], asynchronous=False)
    finally:
        cons.close()
    c.kill9(coordinator)
    new_state = wait_until(lambda: (lambda p: p if p.leader not in (-1, coordinator) else None)(
        c.offsets_partition_of(group)), 30, "a new coordinator")
    cons = Consumer(conf)
    try:
        got = wait_until(lambda: cons.committed([TopicPartition("ledger", 0)], timeout=5)[0].offset == 8,
                         30, "the commit at the new coordinator")
    finally:
        cons.close()
    assert got
    figures(capsys, "commit replication: unanswered while both replicas were frozen (1.5 s), answered "
            "%.2f s after the commit; commit 8 "
            "read from coordinator %d after coordinator %d was killed" % (waited, new_state.leader, coordinator))
