"""Power loss, simulated: the broker runs with an LD_PRELOAD library
(tests/preload/durable_image.c) that keeps the image a power cut would leave, only the
bytes that were fsynced. After kill -9 a new broker starts on that image. With
log.flush.sync=true every acknowledged record must be in it; with false, acknowledged
records may be lost, and are (which shows the simulation bites)."""
import os
import shutil
import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import BUILD, Broker
from test_lua_hooks import create
from test_restart import read_partition


def power_cut(broker_factory, tmp_path, monkeypatch, flush_sync):
    lib = os.path.join(BUILD, "libdurable_image.so")
    assert os.path.exists(lib), "%s is not built (CMake builds tests/preload/)" % lib
    data, image = tmp_path / "data", tmp_path / "image"
    monkeypatch.setenv("LD_PRELOAD", lib)
    monkeypatch.setenv("RUNNEL_WATCH_DIR", str(data))
    monkeypatch.setenv("RUNNEL_IMAGE_DIR", str(image))
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0")
    broker = broker_factory(data_dir=str(data), log_flush_sync=flush_sync)
    monkeypatch.delenv("LD_PRELOAD")
    create(broker, "durable", 2)
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def on_delivery(err, msg):
        if err is None:
            with lock:
                acked.append(msg.value())

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                  "message.timeout.ms": 30000})

    def produce():
        i = 0
        while not stop.is_set():
            try:
                p.produce("durable", value=b"r%08d" % i, partition=i % 2, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            p.poll(0.001)

    t = threading.Thread(target=produce)
    t.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if len(acked) >= 5000:
                break
        time.sleep(0.02)
    broker.kill9()  # the power goes
    with lock:
        at_cut = set(acked)
    stop.set()
    t.join()
    assert len(at_cut) >= 5000, "too few acknowledgements before the cut"

    # a new broker on what the disk would hold
    (tmp_path / "after").mkdir()
    after = Broker(str(tmp_path / "after"), {"data.dir": str(image), "log.flush.sync": "true"})
    after.start()
    try:
        stored = set()
        c = Consumer({"bootstrap.servers": after.bootstrap, "group.id": "check"})
        md = c.list_topics(timeout=10)
        c.close()
        if "durable" in md.topics:
            for part in (0, 1):
                c = Consumer({"bootstrap.servers": after.bootstrap, "group.id": "w"})
                low, high = c.get_watermark_offsets(TopicPartition("durable", part), timeout=10)
                c.close()
                recs = read_partition(after, "durable", part, high)
                assert [o for o, _ in recs] == list(range(low, high)), "offsets not dense"
                stored |= {v for _, v in recs}
        lost = at_cut - stored
        print("log.flush.sync=%s: %d acknowledged before the cut, %d survived it, %d lost" % (
            flush_sync, len(at_cut), len(at_cut & stored), len(lost)))
        return lost
    finally:
        after.stop()
        shutil.rmtree(str(image), ignore_errors=True)


def test_flush_sync_true_loses_nothing_acknowledged(broker_factory, tmp_path, monkeypatch):
    lost = power_cut(broker_factory, tmp_path, monkeypatch, True)
    assert not lost, "%d acknowledged records lost, e.g. %s" % (len(lost), sorted(lost)[:5])


def test_flush_sync_false_can_lose_acknowledged(broker_factory, tmp_path, monkeypatch):
    lost = power_cut(broker_factory, tmp_path, monkeypatch, False)
    assert lost, "nothing was lost without fsync: the simulation does not drop unsynced writes"
