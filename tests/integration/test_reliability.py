"""Reliability: kill -9 again and again under idempotent acks=all production, a full disk,
and abuse (10,000 connections, a slow-loris client, a huge Metadata request, decompression
bombs in every codec): the broker loses nothing it acknowledged, refuses what it must,
stays within memory and keeps serving everyone else.

RUNNEL_CRASH_ROUNDS (default 20) sets the kill -9 rounds; `make test-long` runs more."""
import os
import resource
import socket
import struct
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from kafka_wire import connect, read_response, request, string
from test_lua_hooks import create
from test_restart import read_partition

ROUNDS = int(os.environ.get("RUNNEL_CRASH_ROUNDS", "20"))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def serves(broker, topic="alive", timeout=30):
    """A produce and a read through librdkafka work now."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": timeout * 1000})
    p.produce(topic, value=b"still here")
    assert p.flush(timeout) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "alive-%d" % time.time_ns(),
                  "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    m, deadline = None, time.time() + timeout
    while m is None and time.time() < deadline:
        m = c.poll(0.5)
    c.close()
    assert m is not None and not m.error()


def verify_log(broker, topic, partitions, acked):
    """Dense offsets, no duplicate, every acknowledged value present. Returns records read."""
    seen = []
    for part in range(partitions):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w"})
        low, high = c.get_watermark_offsets(TopicPartition(topic, part), timeout=20)
        c.close()
        recs = read_partition(broker, topic, part, high)
        assert [o for o, _ in recs] == list(range(low, high)), "offsets not dense in %s-%d" % (topic, part)
        seen += [v for _, v in recs]
    assert len(seen) == len(set(seen)), "%d duplicates" % (len(seen) - len(set(seen)))
    missing = acked - set(seen)
    assert not missing, "%d acknowledged records lost, e.g. %s" % (len(missing), sorted(missing)[:5])
    return len(seen)


def test_kill9_rounds_lose_nothing_acknowledged(broker):
    create(broker, "crash", 3)
    acked, lock, stop = set(), threading.Lock(), threading.Event()
    fatal = []

    def on_delivery(err, msg):
        if err is None:
            with lock:
                acked.add(msg.value())
        elif err.fatal():
            fatal.append(err)

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 2, "message.timeout.ms": 120000, "reconnect.backoff.ms": 50,
                  "reconnect.backoff.max.ms": 500})

    def produce():
        i = 0
        while not stop.is_set():
            try:
                p.produce("crash", value=b"m%09d" % i, partition=i % 3, on_delivery=on_delivery)
                i += 1
            except BufferError:
                p.poll(0.01)
            p.poll(0)
            if i % 200 == 0:
                time.sleep(0.001)

    t = threading.Thread(target=produce)
    t.start()
    try:
        for r in range(ROUNDS):
            with lock:
                before = len(acked)
            deadline = time.time() + 60
            while True:  # some acknowledgements since the last restart, then kill
                with lock:
                    if len(acked) >= before + 300:
                        break
                assert time.time() < deadline, "round %d: no progress after the restart" % r
                assert not fatal, fatal
                time.sleep(0.02)
            broker.kill9()
            broker.start()
    finally:
        stop.set()
        t.join()
    assert p.flush(120) == 0
    assert not fatal, fatal
    with lock:
        all_acked = set(acked)
    checked = verify_log(broker, "crash", 3, all_acked)
    print("%d kill -9 rounds survived, %d records checked, %d acknowledged" % (ROUNDS, checked, len(all_acked)))


def test_disk_full_refuses_writes_keeps_reads_and_recovers(broker_factory, tmp_path):
    """The data dir on a small tmpfs (a memtable flush needs room too: 64 MB per log
    family, which the threshold leaves): when free space drops below log.dir.min.free.bytes,
    producers get KAFKA_STORAGE_ERROR, consumers keep reading, nothing acknowledged is lost,
    and writes resume by themselves when space returns."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640m", "tmpfs", str(mnt)]).returncode:
        pytest.skip("needs root and mount(8) to make a small filesystem")
    try:
        ballast = mnt / "ballast"
        broker = broker_factory(data_dir=str(mnt / "data"), rocksdb_block_cache_bytes=1048576,
                                log_tail_cache_bytes=65536, log_dir_min_free_bytes=200 << 20)
        create(broker, "fill", 1)
        with open(ballast, "wb") as f:  # leave the broker a few MB
            st = os.statvfs(str(mnt))
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - (320 << 20)))
        acked, errors = [], []

        def on_delivery(err, msg):
            (errors if err else acked).append(err or msg.value())

        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                      "message.timeout.ms": 10000, "retries": 0})
        value = os.urandom(1000)
        i = 0
        deadline = time.time() + 90
        while not errors and time.time() < deadline:
            for _ in range(500):
                try:
                    p.produce("fill", value=b"%09d" % i + value, on_delivery=on_delivery)
                    i += 1
                except BufferError:
                    p.poll(0.05)
            p.poll(0.05)
        p.flush(30)
        assert errors, "the disk never filled (%d acknowledged)" % len(acked)
        assert {e.code() for e in errors} == {KafkaError.KAFKA_STORAGE_ERROR}, errors[:3]
        assert "below log.dir.min.free.bytes" in broker.read_log()
        assert broker.alive()
        # reads go on while the disk is full
        got = read_partition(broker, "fill", 0, len(acked))
        assert {v for _, v in got} >= set(acked)
        # space returns: writes resume
        os.unlink(ballast)
        deadline = time.time() + 60
        resumed = False
        res = []
        while not resumed and time.time() < deadline:
            res = []
            p2 = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                           "message.timeout.ms": 10000})
            p2.produce("fill", value=b"after", on_delivery=lambda e, m: res.append(e))
            p2.flush(15)
            resumed = res == [None]
            if not resumed:
                time.sleep(0.5)
        assert resumed, "writes did not resume after space returned: %s" % res
        assert "accepting produce" in broker.read_log()
        broker.stop()
        broker.start()
        got = read_partition(broker, "fill", 0, len(acked) + 1)
        assert set(acked) <= {v for _, v in got} and b"after" in {v for _, v in got}
        broker.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_ten_thousand_connections(broker):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 10300:
        pytest.skip("RLIMIT_NOFILE hard limit %d is below 10,300" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pid = broker.proc.pid
    before = rss_kib(pid)
    socks = []
    try:
        for i in range(10000):
            s = socket.socket()
            s.setblocking(True)
            s.connect(("127.0.0.1", broker.port))
            socks.append(s)
        # every connection is served: ApiVersions on a sample of them
        for s in socks[::500]:
            s.sendall(request(18, 0, 1, b""))
            assert read_response(s)[0] == 1
        time.sleep(0.5)
        after = rss_kib(pid)
        per_conn = (after - before) * 1024 / 10000
        print("10,000 connections held: RSS %d -> %d KiB, %.0f bytes per connection" % (before, after, per_conn))
        assert per_conn < 64 * 1024, "%.0f bytes per idle connection" % per_conn
        serves(broker)
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    serves(broker)


def test_slow_loris_does_not_hold_others(broker):
    """A client that sends its request a byte every 50 ms: everyone else is served."""
    s = connect(broker)
    req = request(3, 1, 9, struct.pack(">i", 1) + string("x" * 200))
    stop = threading.Event()

    def drip():
        for b in req:
            if stop.is_set():
                return
            s.sendall(bytes([b]))
            time.sleep(0.05)

    t = threading.Thread(target=drip)
    t.start()
    try:
        start = time.time()
        for _ in range(3):
            serves(broker, "loris")
        assert time.time() - start < 30
    finally:
        stop.set()
        t.join()
        s.close()


def test_metadata_for_100k_topics(broker):
    """One Metadata request naming 100,000 (absent) topics: answered, memory bounded."""
    pid = broker.proc.pid
    before = rss_kib(pid)
    names = b"".join(string("t%06d" % i) for i in range(100000))
    body = struct.pack(">i", 100000) + names + b"\x00"  # v4: topics, allow_auto_topic_creation false
    s = connect(broker)
    s.sendall(request(3, 4, 11, body))
    corr, payload = read_response(s)
    s.close()
    assert corr == 11
    # throttle_time, brokers..., then 100,000 topic entries each UNKNOWN_TOPIC_OR_PARTITION (3)
    assert payload.count(b"\x00\x03\x00\x07t") == 100000
    after = rss_kib(pid)
    print("Metadata for 100,000 topics: RSS %d -> %d KiB, response %d bytes" % (before, after, len(payload)))
    assert after - before < 512 * 1024
    serves(broker)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_decompression_bomb_is_bounded(broker_factory, codec):
    """A tiny batch that inflates to 200 MB, into a topic whose produce filter must read
    it: refused, memory bounded, the broker serves on. Built by librdkafka, which
    compresses what it is given."""
    broker = broker_factory()
    create(broker, "bombs", 1, produce_filter_script="filters/require_json_fields.lua",
           produce_filter_fields="id")
    pid = broker.proc.pid
    before = rss_kib(pid)
    results = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec,
                  "message.max.bytes": 400_000_000, "batch.size": 400_000_000,
                  "message.copy.max.bytes": 0, "retries": 0, "message.timeout.ms": 30000})
    p.produce("bombs", value=b"\0" * (200 << 20), on_delivery=lambda e, m: results.append(e))
    p.flush(60)
    assert len(results) == 1 and results[0] is not None, "a 200 MB record was accepted"
    after = rss_kib(pid)
    print("%s bomb: %s; broker RSS %d -> %d KiB" % (codec, results[0], before, after))
    assert after - before < 256 * 1024, "the broker grew by %d KiB" % (after - before)
    serves(broker)
