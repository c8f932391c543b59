"""kcat (librdkafka 2.0.2): metadata, produce, consume, offsets, every codec."""
import json

import pytest

from conftest import run


def kcat(broker, *args, input=None):
    return run(["kcat", "-b", broker.bootstrap, "-q"] + list(args), input=input, timeout=60)


def test_metadata_lists_broker_and_topics(broker):
    kcat(broker, "-P", "-t", "orders", input=b"one\n")
    meta = json.loads(kcat(broker, "-L", "-J").stdout)
    assert [b["id"] for b in meta["brokers"]] == [1]
    assert meta["brokers"][0]["name"] == broker.bootstrap
    topics = {t["topic"]: t for t in meta["topics"]}
    assert "orders" in topics
    part = topics["orders"]["partitions"][0]
    assert part["leader"] == 1 and part["replicas"] == [{"id": 1}] and part["isrs"] == [{"id": 1}]


def test_produce_then_consume_exactly(broker):
    lines = [("key%d" % i, "value %d" % i) for i in range(500)]
    payload = "".join("%s:%s\n" % kv for kv in lines).encode()
    kcat(broker, "-P", "-t", "orders", "-K:", input=payload)
    out = kcat(broker, "-C", "-t", "orders", "-o", "beginning", "-e", "-f", "%k=%s@%o\n").stdout.decode()
    got = out.splitlines()
    assert got == ["%s=%s@%d" % (k, v, i) for i, (k, v) in enumerate(lines)]


def test_consume_from_offset(broker):
    kcat(broker, "-P", "-t", "t", input=b"".join(b"m%d\n" % i for i in range(10)))
    out = kcat(broker, "-C", "-t", "t", "-o", "7", "-e").stdout.decode().split()
    assert out == ["m7", "m8", "m9"]
    out = kcat(broker, "-C", "-t", "t", "-o", "-2", "-e").stdout.decode().split()
    assert out == ["m8", "m9"]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_every_codec_round_trips(broker, codec):
    msgs = [b"%s-%d-%s" % (codec.encode(), i, b"x" * (i % 50)) for i in range(2000)]
    kcat(broker, "-P", "-t", "c-" + codec, "-z", codec, input=b"\n".join(msgs) + b"\n")
    out = kcat(broker, "-C", "-t", "c-" + codec, "-o", "beginning", "-e").stdout
    assert out.split(b"\n")[:-1] == msgs


def test_unknown_topic_without_auto_create(broker_factory):
    b = broker_factory(auto_create_topics_enable=False)
    p = run(["kcat", "-b", b.bootstrap, "-C", "-t", "nope", "-e", "-o", "beginning"], check=False, timeout=30)
    assert p.returncode != 0
    assert b"Unknown topic" in p.stderr or b"UNKNOWN_TOPIC" in p.stderr
    meta = json.loads(run(["kcat", "-b", b.bootstrap, "-L", "-J"]).stdout)
    # A cluster lists its internal __consumer_offsets, as Kafka does.
    assert [t for t in meta["topics"] if not t["topic"].startswith("__")] == []
