"""Lua hooks on a three-broker cluster: a broker-side partitioner places records on
partitions other brokers lead, and the broker the client sent to forwards them
(net/produce_forward.c), so every record lands where the script says, once, whichever
broker received it; the hooks run once (on the receiving broker), a produce filter's
refusal still refuses, and only a real broker's connection may skip the hooks."""
import json
import os
import shutil
import socket
import struct
import tempfile
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from cluster import Cluster, wait_until
from conftest import ROOT
from kafka_wire import produce_v7, read_response, record_batch, request
from test_lua_hooks import java_murmur2

PARTITIONS = 6

# A filter that is not idempotent: every run adds a header, so a record that went through
# the hooks twice would carry two.
TAG_FILTER = 'function filter(r)\n  r.headers[#r.headers + 1] = {"hooked", "1"}\n  return r\nend\n'


@pytest.fixture(scope="module")
def cluster():
    plugins = tempfile.mkdtemp(prefix="runnel-plugins-")
    shutil.rmtree(plugins)
    shutil.copytree(os.path.join(ROOT, "lua"), plugins)
    with open(os.path.join(plugins, "tag_once.lua"), "w") as f:
        f.write(TAG_FILTER)
    c = Cluster(3, {"plugins.dir": plugins})
    try:
        c.start(timeout=90)
        yield c
    finally:
        problems = c.close()
        shutil.rmtree(plugins, ignore_errors=True)
    assert not problems, "\n".join(problems)


def create_topic(c, name, config, rf=2):
    """CreateTopics (NOT_CONTROLLER retried, as Kafka's admin client does); returns
    {partition: PartitionState} once every partition is led and fully in sync."""
    deadline = time.time() + 60
    while True:
        fs = c.admin().create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=rf,
                                               config=config)], request_timeout=20)
        try:
            fs[name].result(40)
            break
        except KafkaException as e:
            code = e.args[0].code() if e.args and isinstance(e.args[0], KafkaError) else None
            if code == KafkaError.TOPIC_ALREADY_EXISTS:
                break
            if code != KafkaError.NOT_CONTROLLER or time.time() > deadline:
                raise
            time.sleep(0.3)
    parts = c.wait_partitions(name, PARTITIONS, isr_size=rf)
    # Every broker's agent has applied the leaderships (the receiving broker decides by its
    # local roles which batches to forward).
    wait_until(lambda: all(b.metadata().topics.get(name, {}).keys() == set(range(PARTITIONS)) for b in c),
               30, "every broker to know %s" % name)
    return parts


def where(user):
    """The partition partitioners/json_field.lua gives a record whose field is `user`."""
    return (java_murmur2(user.encode()) & 0x7FFFFFFF) % PARTITIONS


def read_placed(bootstrap, topic, timeout=60):
    """Every record of topic up to the high watermarks at the start:
    [(partition, offset, key, value, headers)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check-hooks-%d" % os.getpid(),
                  "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        ends = {p: wait_until(lambda: c.get_watermark_offsets(TopicPartition(topic, p), timeout=5), 30,
                              "the watermarks of %s-%d" % (topic, p))[1] for p in range(PARTITIONS)}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        out, pos = [], {p: 0 for p in range(PARTITIONS)}
        deadline = time.time() + timeout
        while any(pos[p] < ends[p] for p in pos):
            assert time.time() < deadline, "read %s of %s records of %s" % (pos, ends, topic)
            m = c.poll(0.5)
            if m is None or (m.error() and m.error().retriable()):
                continue
            assert not m.error(), m.error()
            if m.offset() >= ends[m.partition()]:
                continue
            out.append((m.partition(), m.offset(), m.key(), m.value(), m.headers() or []))
            pos[m.partition()] = m.offset() + 1
        return out
    finally:
        c.close()


def users_on(partition, count):
    """count user names json_field.lua places on partition."""
    out, i = [], 0
    while len(out) < count:
        u = "user-%d" % i
        if where(u) == partition:
            out.append(u)
        i += 1
    return out


def test_partitioner_places_across_leaders(cluster, capsys):
    c = cluster
    parts = create_topic(c, "placed", {"partitioner.script": "partitioners/json_field.lua",
                                       "partitioner.field": "user", "produce.filter.script": "tag_once.lua"})
    leaders = {i: p.leader for i, p in parts.items()}
    # Two records per user of a small set: the script spreads them over every partition.
    values = {n: json.dumps({"user": "user-%d" % (n % 50), "n": n}).encode() for n in range(600)}
    # The client's own placement: everything to partition 0 (so to its leader alone).
    p = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 5, "batch.num.messages": 40})
    reports = []
    for n, v in values.items():
        p.produce("placed", key=b"k%d" % n, value=v, partition=0, on_delivery=lambda e, m: reports.append(e))
        p.poll(0)
    assert p.flush(60) == 0
    assert reports == [None] * len(values), [e for e in reports if e][:5]

    got = read_placed(c.bootstrap, "placed")
    seen = {}
    for part, _off, key, value, headers in got:
        rec = json.loads(value)
        assert key == b"k%d" % rec["n"]
        assert rec["n"] not in seen, "record %d read twice" % rec["n"]
        seen[rec["n"]] = part
        assert part == where(rec["user"]), (rec, part)
        # The hooks ran once: on the broker the client sent to, not again at the leader.
        assert [h for h in headers if h[0] == "hooked"] == [("hooked", b"1")], (rec, headers)
    assert sorted(seen) == sorted(values), "lost: %s" % sorted(set(values) - set(seen))[:10]
    elsewhere = {part for part in seen.values() if leaders[part] != leaders[0]}
    assert elsewhere, "no record landed on a partition another broker leads: %s" % leaders
    forwarded = sum(1 for part in seen.values() if leaders[part] != leaders[0])
    with capsys.disabled():
        print("\nHOOKS ON A CLUSTER: %d records, %d forwarded from broker %d to the leaders of "
              "partitions %s (leaders %s)" % (len(seen), forwarded, leaders[0], sorted(elsewhere), leaders))


def test_filter_still_refuses_on_a_cluster(cluster):
    c = cluster
    parts = create_topic(c, "guarded", {"partitioner.script": "partitioners/json_field.lua",
                                        "partitioner.field": "user",
                                        "produce.filter.script": "filters/require_json_fields.lua",
                                        "produce.filter.fields": "user,n"})
    leaders = {i: p.leader for i, p in parts.items()}
    p = Producer({"bootstrap.servers": c.bootstrap, "linger.ms": 0})
    results = {}
    for n in range(60):
        rec = {"user": "user-%d" % n, "n": n}
        if n % 10 == 3:
            del rec["n"]  # refused by the filter
        p.produce("guarded", value=json.dumps(rec).encode(), partition=0,
                  on_delivery=lambda e, m, n=n: results.__setitem__(n, e))
        assert p.flush(30) == 0  # one record per request: a refusal refuses only it
    for n, e in results.items():
        if n % 10 == 3:
            assert e is not None and e.code() == KafkaError.INVALID_RECORD, (n, e)
        else:
            assert e is None, (n, e)
    got = read_placed(c.bootstrap, "guarded")
    stored = {}
    for part, _off, _key, value, _headers in got:
        rec = json.loads(value)
        assert "n" in rec, "a refused record was stored: %s" % rec
        assert rec["n"] not in stored
        stored[rec["n"]] = part
        assert part == where(rec["user"])
    assert sorted(stored) == [n for n in range(60) if n % 10 != 3]
    assert any(leaders[part] != leaders[0] for part in stored.values()), leaders


def test_acks_zero_forwards_too(cluster):
    """acks=0: nobody waits for the answer, the records still reach their leaders."""
    c = cluster
    create_topic(c, "unacked", {"partitioner.script": "partitioners/json_field.lua", "partitioner.field": "user"})
    p = Producer({"bootstrap.servers": c.bootstrap, "acks": 0, "linger.ms": 5})
    for n in range(100):
        p.produce("unacked", value=json.dumps({"user": "user-%d" % n, "n": n}).encode(), partition=0)
    assert p.flush(30) == 0
    probe = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "probe"})
    try:
        wait_until(lambda: sum(probe.get_watermark_offsets(TopicPartition("unacked", i), timeout=5)[1]
                               for i in range(PARTITIONS)) == 100, 30, "100 records in unacked")
    finally:
        probe.close()
    got = read_placed(c.bootstrap, "unacked")
    assert sorted(json.loads(v)["n"] for _, _, _, v, _ in got) == list(range(100))
    assert all(part == where(json.loads(v)["user"]) for part, _, _, v, _ in got)


def raw_produce(c, node_id, topic, partition, value, client_id, source):
    """One Produce v7 (acks=all) from the local address `source`; returns its error code."""
    s = socket.socket()
    s.settimeout(15)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", c[node_id].port))
        s.sendall(request(0, 7, 11, produce_v7(topic, partition, record_batch([value])), client_id=client_id))
        _corr, body = read_response(s)
    finally:
        s.close()
    pos = 4 + 2 + len(topic) + 4  # topics count, name, partitions count
    _index, err = struct.unpack_from(">ih", body, pos)
    return err


def test_only_a_broker_host_skips_the_hooks(cluster):
    """A forward (a broker's client id from that broker's registered host) is appended as
    it is; the same client id from another address runs the hooks like any client's."""
    c = cluster
    parts = create_topic(c, "marked", {"partitioner.script": "partitioners/json_field.lua",
                                       "partitioner.field": "user", "produce.filter.script": "tag_once.lua"})
    target = 1
    leader = parts[target].leader
    other = next(b.node_id for b in c if b.node_id != leader)
    u_spoof, u_trusted = users_on(target, 2)
    marker = "runnel-broker-%d" % other
    assert raw_produce(c, leader, "marked", target, json.dumps({"user": u_spoof}).encode(), marker,
                       "127.0.0.2") == 0
    assert raw_produce(c, leader, "marked", target, json.dumps({"user": u_trusted}).encode(), marker,
                       "127.0.0.1") == 0
    got = {json.loads(v)["user"]: (part, [h for h in hs if h[0] == "hooked"])
           for part, _o, _k, v, hs in read_placed(c.bootstrap, "marked")}
    assert got[u_spoof] == (target, [("hooked", b"1")]), got
    assert got[u_trusted] == (target, []), got
    assert "names itself broker %d but is not that broker's registered host" % other in c.read_log()
