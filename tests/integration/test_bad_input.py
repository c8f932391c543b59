"""Bad input never crashes the broker and never corrupts data: every case is followed by
a real client producing and consuming through the same broker."""
import os
import struct

import pytest

from conftest import run
from kafka_wire import (closed_by_peer, connect, parse_produce_v7, produce_v7, read_response,
                        record_batch, request)


def make_topic(broker, topic):
    """Metadata for an unknown topic auto-creates it (Produce alone does not, as in Kafka)."""
    run(["kcat", "-b", broker.bootstrap, "-q", "-L", "-t", topic])


def still_serves(broker, topic="after"):
    run(["kcat", "-b", broker.bootstrap, "-q", "-P", "-t", topic], input=b"alive\n")
    out = run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", topic, "-o", "-1", "-e"]).stdout
    assert out == b"alive\n"


def test_garbage_closes_only_that_connection(broker):
    s = connect(broker)
    s.sendall(struct.pack(">i", 64) + os.urandom(64))
    assert closed_by_peer(s)
    still_serves(broker)


def test_truncated_frame_then_close(broker):
    s = connect(broker)
    s.sendall(struct.pack(">i", 1000) + b"\x00\x03\x00\x01")
    s.close()
    still_serves(broker)


@pytest.mark.parametrize("size", [0x7FFFFFFF, -5, 3])
def test_impossible_length_prefix_closes(broker, size):
    s = connect(broker)
    s.sendall(struct.pack(">i", size) + b"\x00" * 16)
    assert closed_by_peer(s)
    still_serves(broker)


def test_array_count_beyond_frame_closes(broker):
    s = connect(broker)
    body = struct.pack(">i", 0x7FFFFFFF)  # Metadata v1: a topic array claiming 2^31-1 topics
    s.sendall(request(3, 1, 7, body))
    assert closed_by_peer(s)
    still_serves(broker)


def test_bad_crc_is_corrupt_message_and_nothing_stored(broker):
    make_topic(broker, "crc")
    s = connect(broker)
    s.sendall(request(0, 7, 11, produce_v7("crc", 0, record_batch([b"x" * 10], corrupt_crc=True))))
    corr, body = read_response(s)
    assert corr == 11
    assert parse_produce_v7(body) == [("crc", 0, 2, -1)]  # CORRUPT_MESSAGE
    # the same connection still works, and the good batch lands at offset 0
    s.sendall(request(0, 7, 12, produce_v7("crc", 0, record_batch([b"good"]))))
    corr, body = read_response(s)
    assert corr == 12 and parse_produce_v7(body) == [("crc", 0, 0, 0)]
    out = run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", "crc", "-o", "beginning", "-e"]).stdout
    assert out == b"good\n"


def test_old_message_format_is_rejected(broker):
    make_topic(broker, "old")
    s = connect(broker)
    s.sendall(request(0, 7, 5, produce_v7("old", 0, record_batch([b"v1"], magic=1))))
    _, body = read_response(s)
    assert parse_produce_v7(body) == [("old", 0, 43, -1)]  # UNSUPPORTED_FOR_MESSAGE_FORMAT


def test_batch_over_message_max_bytes(broker_factory):
    b = broker_factory(message_max_bytes=1024)
    make_topic(b, "big")
    s = connect(b)
    s.sendall(request(0, 7, 9, produce_v7("big", 0, record_batch([b"y" * 2000]))))
    _, body = read_response(s)
    assert parse_produce_v7(body) == [("big", 0, 10, -1)]  # MESSAGE_TOO_LARGE
    still_serves(b)


def test_produce_to_unknown_topic(broker):
    s = connect(broker)
    s.sendall(request(0, 7, 6, produce_v7("never-made", 0, record_batch([b"v"]))))
    _, body = read_response(s)
    assert parse_produce_v7(body) == [("never-made", 0, 3, -1)]  # UNKNOWN_TOPIC_OR_PARTITION


def test_api_versions_unknown_version_answers_v0_with_error(broker):
    s = connect(broker)
    s.sendall(request(18, 99, 3, b""))
    corr, body = read_response(s)
    assert corr == 3
    err, n = struct.unpack_from(">hi", body)
    assert err == 35 and n >= 10
    keys = {struct.unpack_from(">hhh", body, 6 + 6 * i)[0] for i in range(n)}
    assert {0, 1, 2, 3, 18, 19, 20, 21, 22, 32, 33, 37, 44} <= keys
    # the connection stays open: a supported version is answered next
    s.sendall(request(18, 0, 4, b""))
    corr, body = read_response(s)
    assert corr == 4 and struct.unpack_from(">h", body)[0] == 0


def test_unknown_api_key_gets_unsupported_version(broker):
    s = connect(broker)
    s.sendall(request(9999 % 32768, 0, 8, b""))
    corr, body = read_response(s)
    assert corr == 8 and struct.unpack(">h", body[:2])[0] == 35
    assert closed_by_peer(s)
    still_serves(broker)


def test_delete_records_raw(broker):
    run(["kcat", "-b", broker.bootstrap, "-q", "-P", "-t", "dr"], input=b"".join(b"%d\n" % i for i in range(20)))
    s = connect(broker)
    body = struct.pack(">i", 1) + struct.pack(">h", 2) + b"dr" + struct.pack(">i", 1)
    body += struct.pack(">iq", 0, 15) + struct.pack(">i", 5000)
    s.sendall(request(21, 1, 21, body))
    corr, resp = read_response(s)
    # throttle, [topic, [partition, low_watermark, error]]
    assert struct.unpack_from(">iih", resp, 0)[1:] == (1, 2)
    part, low, err = struct.unpack_from(">iqh", resp, 4 + 4 + 2 + 2 + 4)
    assert (part, low, err) == (0, 15, 0)
    out = run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", "dr", "-o", "beginning", "-e"]).stdout
    assert out.split() == [b"%d" % i for i in range(15, 20)]
    # beyond the high watermark: OFFSET_OUT_OF_RANGE
    body = body[:-16] + struct.pack(">iq", 0, 999) + struct.pack(">i", 5000)
    s.sendall(request(21, 1, 22, body))
    _, resp = read_response(s)
    part, low, err = struct.unpack_from(">iqh", resp, 4 + 4 + 2 + 2 + 4)
    assert err == 1
