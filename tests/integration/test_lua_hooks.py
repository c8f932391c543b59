"""Lua hooks through real clients: a broker-side murmur2 partitioner that agrees with the
Java client, produce filters (reject with a reason, redact), a filtered view consumed by a
librdkafka group, runaway scripts that are stopped without hurting anyone else, and a hot
reload under load."""
import json
import os
import shutil
import signal
import struct
import tempfile
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, run
from kafka_wire import connect, read_response, record_batch, request, string
from test_groups_librdkafka import Consumer as GroupConsumer
from test_groups_librdkafka import wait_until


def java_murmur2(data):
    """Kafka's Utils.murmur2, written from its definition, for the expectations."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = data[n4 * 4:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(broker, topic, partitions, **configs):
    a = admin(broker)
    a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                              config={k.replace("_", "."): v for k, v in configs.items()})])[topic].result(20)


def read_all(broker, topic, partitions):
    """{partition: [(offset, key, value, headers)]} read with assign()."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    out = {}
    for p in range(partitions):
        out[p] = []
        c.assign([TopicPartition(topic, p, 0)])
        while True:
            m = c.poll(10)
            assert m is not None, "no EOF from %s-%d" % (topic, p)
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                break
            out[p].append((m.offset(), m.key(), m.value(), m.headers()))
    c.close()
    return out


def test_java_murmur2_vectors_and_partitioner_agree_with_librdkafka(broker):
    # The vectors from Kafka's UtilsTest.testMurmur2, through this file's murmur2.
    for data, want in [(b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
                       (b"a-little-bit-longer-string", -1486304829),
                       (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971), (b"abc", 479470107)]:
        assert java_murmur2(data) == want
    create(broker, "placed", 6, partitioner_script="partitioners/murmur2.lua")
    create(broker, "client-placed", 6)
    keys = [b"21", b"foobar", b"abc", b"a-little-bit-long-string"] + [b"customer-%d" % i for i in range(300)]
    # The client picks partitions at random: the broker's script decides.
    p = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "random", "linger.ms": 5})
    # librdkafka's murmur2_random is the Java partitioner, on the client side.
    j = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    reports = []
    for k in keys:
        p.produce("placed", key=k, value=b"v-" + k, on_delivery=lambda e, m: reports.append(e))
        j.produce("client-placed", key=k, value=b"v-" + k)
    assert p.flush(30) == 0 and j.flush(30) == 0
    assert reports == [None] * len(keys)
    broker_side = {k: part for part, recs in read_all(broker, "placed", 6).items() for _, k, _, _ in recs}
    client_side = {k: part for part, recs in read_all(broker, "client-placed", 6).items() for _, k, _, _ in recs}
    assert len(broker_side) == len(keys)
    assert broker_side == client_side
    for k in keys:
        assert broker_side[k] == (java_murmur2(k) & 0x7FFFFFFF) % 6


def produce_v8(broker, topic, partition, values):
    """Produce v8 on the wire; returns (error, record_errors, error_message)."""
    body = string(None) + struct.pack(">hi", -1, 10000) + struct.pack(">i", 1) + string(topic)
    batch = record_batch(values)
    body += struct.pack(">ii", 1, partition) + struct.pack(">i", len(batch)) + batch
    s = connect(broker)
    s.sendall(request(0, 8, 7, body))
    _, resp = read_response(s)
    s.close()
    pos = 4 + 2 + len(topic) + 4  # topics count, name, partitions count
    _part, err, _base, _lat, _lso = struct.unpack_from(">ihqqq", resp, pos)
    pos += 30
    (n,) = struct.unpack_from(">i", resp, pos)
    pos += 4
    rec_errs = []
    for _ in range(n):
        (idx, ml) = struct.unpack_from(">ih", resp, pos)
        pos += 6
        rec_errs.append((idx, resp[pos:pos + ml].decode() if ml >= 0 else None))
        pos += max(ml, 0)
    (ml,) = struct.unpack_from(">h", resp, pos)
    msg = resp[pos + 2:pos + 2 + ml].decode() if ml >= 0 else None
    return err, rec_errs, msg


def test_filter_rejects_with_the_reason_and_keeps_good_records(broker):
    create(broker, "orders", 1, produce_filter_script="filters/require_json_fields.lua",
           produce_filter_fields="id,region")
    # Produce v8: the reason, and which record.
    err, rec_errs, msg = produce_v8(broker, "orders", 0, [b'{"id": 1, "region": "eu"}', b"not json at all"])
    assert err == 87  # INVALID_RECORD
    assert rec_errs and rec_errs[0][0] == 1 and "JSON" in rec_errs[0][1], rec_errs
    assert msg == rec_errs[0][1]
    err, rec_errs, msg = produce_v8(broker, "orders", 0, [b'{"id": 2}'])
    assert err == 87 and "region" in msg, msg
    err, rec_errs, msg = produce_v8(broker, "orders", 0, [b'{"id": 3, "region": "us"}'])
    assert (err, rec_errs, msg) == (0, [], None)
    # A real client gets INVALID_RECORD for the bad one, success for the good one.
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    got = []
    p.produce("orders", value=b'{"id": 4}', on_delivery=lambda e, m: got.append(e))
    p.flush(10)
    p.produce("orders", value=b'{"id": 5, "region": "eu"}', on_delivery=lambda e, m: got.append(e))
    p.flush(10)
    assert got[0].code() == KafkaError.INVALID_RECORD and got[1] is None
    stored = [json.loads(v) for _, _, v, _ in read_all(broker, "orders", 1)[0]]
    assert [r["id"] for r in stored] == [3, 5]


def test_redacting_filter_rewrites_what_is_stored(broker):
    create(broker, "signups", 1, produce_filter_script="filters/redact.lua", produce_filter_fields="email,card")
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "zstd"})
    p.produce("signups", key=b"u1", value=json.dumps({"name": "ann", "email": "ann@example.com", "card": "4111"}),
              headers=[("source", b"web")])
    p.produce("signups", key=b"u2", value=json.dumps({"name": "bob"}))
    p.produce("signups", key=b"u3", value=b"plain text")
    assert p.flush(10) == 0
    recs = read_all(broker, "signups", 1)[0]
    assert [k for _, k, _, _ in recs] == [b"u1", b"u2", b"u3"]
    first = json.loads(recs[0][2])
    assert first == {"name": "ann", "email": "***", "card": "***"}
    assert ("source", b"web") in recs[0][3]
    assert dict(recs[0][3])["redacted"] in (b"email,card", b"card,email")
    assert json.loads(recs[1][2]) == {"name": "bob"} and not recs[1][3]
    assert recs[2][2] == b"plain text"


def test_view_consumed_by_a_librdkafka_group(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=200)
    create(broker, "all-orders", 3)
    create(broker, "eu-orders", 3, view_of="all-orders", view_filter_script="filters/field_equals.lua",
           view_filter_field="region", view_filter_value="eu")
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": "lz4", "linger.ms": 5})
    want = set()
    for i in range(300):
        region = "eu" if i % 4 == 0 else "us"
        p.produce("all-orders", key=b"o%d" % i, value=json.dumps({"id": i, "region": region}), partition=i % 3)
    assert p.flush(20) == 0
    source = read_all(broker, "all-orders", 3)
    for part, recs in source.items():
        for off, _, v, _ in recs:
            if json.loads(v)["region"] == "eu":
                want.add((part, off, json.loads(v)["id"]))
    assert len(want) == 75
    c = GroupConsumer(broker, "eu-billing", "eu-orders", "--idle=2500")
    try:
        got = c.wait().records()
    finally:
        c.cleanup()
    # Exactly the matching records, at their offsets in the source.
    assert sorted((p_, o, json.loads(v)["id"]) for p_, o, v in got) == sorted(want)
    # Commits, watermarks and lag work on the view: the group committed past the last
    # record it was given (the consumer commits per record), the watermarks are the
    # source's, and the lag is the filtered-out tail.
    k = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "eu-billing"})
    for tp in k.committed([TopicPartition("eu-orders", p_) for p_ in range(3)], timeout=10):
        low, high = k.get_watermark_offsets(TopicPartition("eu-orders", tp.partition), timeout=10)
        last = max(o for p_, o, _ in want if p_ == tp.partition)
        assert (low, high) == (0, 100) and tp.offset == last + 1
    k.close()
    # Writing to a view is refused.
    errs = []
    p.produce("eu-orders", value=b"{}", partition=0, on_delivery=lambda e, m: errs.append(e))
    p.flush(10)
    assert errs[0] is not None and errs[0].code() == KafkaError.TOPIC_EXCEPTION


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_runaway_scripts_are_stopped_and_nothing_else_suffers(broker_factory):
    plugins = tempfile.mkdtemp(prefix="runnel-plugins-")
    try:
        write(os.path.join(plugins, "loop.lua"), "function filter(r)\n  while true do end\nend\n")
        write(os.path.join(plugins, "sneaky.lua"),
              "function filter(r)\n  while true do pcall(function() while true do end end) end\nend\n")
        write(os.path.join(plugins, "hog.lua"),
              "function filter(r)\n  local t = {}\n  while true do t[#t + 1] = string.rep('x', 100000) .. #t end\nend\n")
        write(os.path.join(plugins, "fine.lua"), "function filter(r) return true end\n")
        broker = broker_factory(plugins_dir=plugins, plugins_instruction_budget=2000000,
                                plugins_memory_limit_bytes=32 * 1024 * 1024)
        for t, script in [("t-loop", "loop.lua"), ("t-sneaky", "sneaky.lua"), ("t-hog", "hog.lua"), ("t-fine", "fine.lua")]:
            create(broker, t, 1, produce_filter_script=script)
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "message.timeout.ms": 20000})
        got = {}
        for t in ("t-loop", "t-sneaky", "t-hog", "t-fine"):
            p.produce(t, value=b"x", on_delivery=lambda e, m: got.__setitem__(m.topic(), e))
            p.flush(20)
        assert got["t-fine"] is None
        for t in ("t-loop", "t-sneaky", "t-hog"):
            assert got[t] is not None and got[t].code() == KafkaError.INVALID_RECORD, (t, got[t])
        err, _, msg = produce_v8(broker, "t-loop", 0, [b"x"])
        assert err == 87 and "instruction budget" in msg and "loop.lua" in msg, msg
        err, _, msg = produce_v8(broker, "t-hog", 0, [b"x"])
        assert err == 87 and "memory limit" in msg, msg
        # The broker is up and every other topic works, hooks included.
        run(["kcat", "-b", broker.bootstrap, "-q", "-P", "-t", "plain"], input=b"alive\n")
        assert run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", "plain", "-o", "beginning", "-e"]).stdout == b"alive\n"
        p.produce("t-fine", value=b"y")
        assert p.flush(10) == 0
        assert [v for _, _, v, _ in read_all(broker, "t-fine", 1)[0]] == [b"x", b"y"]
        assert broker.alive()
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_hot_reload_while_producing(broker_factory):
    plugins = tempfile.mkdtemp(prefix="runnel-plugins-")
    try:
        script = os.path.join(plugins, "tag.lua")
        version = 'function filter(r)\n  r.headers[#r.headers + 1] = {"version", "%s"}\n  return r\nend\n'
        write(script, version % "1")
        broker = broker_factory(plugins_dir=plugins)
        create(broker, "tagged", 1, produce_filter_script="tag.lua")
        p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2})
        errors, stop, sent, acked = [], threading.Event(), [0], [0]

        def report(e, m):
            if e:
                errors.append(e)
            else:
                acked[0] += 1

        def produce():
            while not stop.is_set():
                p.produce("tagged", value=b"%d" % sent[0], on_delivery=report)
                sent[0] += 1
                p.poll(0)
                time.sleep(0.002)
            p.flush(30)

        th = threading.Thread(target=produce)
        th.start()
        # Version 1 is in use before anything changes (however slow the machine).
        wait_until(lambda: acked[0] >= 50, 30, "records under version 1")
        # A broken version first: it is refused and version 1 keeps running.
        write(script, "function filter(r) return (\n")
        broker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload of tag.lua failed" in broker.read_log(), 10, "the refused reload")
        write(script, version % "2")
        broker.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reloaded tag.lua (version 2)" in broker.read_log(), 10, "the reload")
        marker = sent[0]
        wait_until(lambda: acked[0] >= marker + 50, 30, "records after the reload")
        stop.set()
        th.join(60)
        assert errors == []
        recs = read_all(broker, "tagged", 1)[0]
        assert len(recs) == sent[0]
        versions = [dict(h)["version"] for _, _, _, h in recs]
        # Every record has a version; they only ever go from 1 to 2; after the reload all are 2.
        assert set(versions) == {b"1", b"2"}
        switch = versions.index(b"2")
        assert all(v == b"1" for v in versions[:switch]) and all(v == b"2" for v in versions[switch:])
        assert switch <= marker
        log = broker.read_log()
        assert "reload of tag.lua failed, the previous version keeps running" in log
        # Not one connection was dropped by the broker during the reloads.
        assert "closing connection" not in log
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_view_with_wholly_filtered_batches_for_kafka_python_and_kafkajs(broker):
    """One record per batch, most filtered out: no client sees an empty batch (kafka-python
    fails on them), yet every consumer reaches the records after a filtered stretch."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP
    create(broker, "events", 1)
    create(broker, "rare", 1, view_of="events", view_filter_script="filters/field_equals.lua",
           view_filter_field="kind", view_filter_value="rare")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    for i in range(60):
        p.produce("events", value=json.dumps({"i": i, "kind": "rare" if i % 20 == 7 else "common"}), partition=0)
        p.flush(10)  # one record per batch
    want = [7, 27, 47]
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=3000)
    c.assign([KTP("rare", 0)])
    assert [(m.offset, json.loads(m.value)["i"]) for m in c] == [(i, i) for i in want]
    # The filtered tail (48..59) holds the position; a new match is delivered at once.
    p.produce("events", value=json.dumps({"i": 60, "kind": "rare"}), partition=0)
    p.flush(10)
    assert [(m.offset, json.loads(m.value)["i"]) for m in c] == [(60, 60)]
    c.close()
    out = json.loads(run(["node", os.path.join(ROOT, "tests", "integration", "js", "group_consume.js"),
                          broker.bootstrap, "rare", "rare-js", "4", "20000", "500"], timeout=60).stdout)
    assert sorted((r["partition"], int(r["offset"])) for r in out["received"]) == [(0, i) for i in want + [60]]


def test_regrouped_batches_respect_max_message_bytes(broker):
    create(broker, "small-batches", 3, partitioner_script="partitioners/murmur2.lua",
           max_message_bytes="20000")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50, "batch.size": 15000,
                  "compression.type": "gzip"})
    reports = []
    for i in range(300):
        p.produce("small-batches", key=b"k%d" % i, value=b"%04d" % i + b"." * 996, partition=0,
                  on_delivery=lambda e, m: reports.append(e))
    assert p.flush(30) == 0
    assert reports == [None] * 300
    recs = read_all(broker, "small-batches", 3)
    assert sum(len(v) for v in recs.values()) == 300
    for part, rs in recs.items():
        assert all((java_murmur2(k) & 0x7FFFFFFF) % 3 == part for _, k, _, _ in rs)
