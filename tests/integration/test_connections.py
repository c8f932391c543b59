"""Connection behaviour: idle close, long-polling fetch, in-order answers."""
import struct
import subprocess
import time

from conftest import run
from kafka_wire import closed_by_peer, connect, read_response, request


def test_idle_connection_closes(broker_factory):
    b = broker_factory(connections_max_idle_ms=500)
    s = connect(b)
    t = time.time()
    assert closed_by_peer(s, timeout=10)
    assert 0.4 < time.time() - t < 5


def test_fetch_long_poll_wakes_on_produce(broker):
    run(["kcat", "-b", broker.bootstrap, "-q", "-L", "-t", "lp"])
    # Fetch v4 at offset 0 of an empty partition, max_wait 10 s, min_bytes 1.
    body = struct.pack(">iiiib", -1, 10000, 1, 1 << 20, 0) + struct.pack(">i", 1)
    body += struct.pack(">h", 2) + b"lp" + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    s = connect(broker, timeout=20)
    t0 = time.time()
    s.sendall(request(1, 4, 41, body))
    # A request behind the parked fetch is answered after it, in order.
    s.sendall(request(18, 0, 42, b""))
    time.sleep(1)
    run(["kcat", "-b", broker.bootstrap, "-q", "-P", "-t", "lp"], input=b"wake\n")
    corr, resp = read_response(s)
    waited = time.time() - t0
    assert corr == 41
    assert 0.9 < waited < 5, "the fetch should wait for data, then answer at once (%.2fs)" % waited
    assert b"wake" in resp
    corr, _ = read_response(s)
    assert corr == 42


def test_fetch_long_poll_times_out_empty(broker):
    run(["kcat", "-b", broker.bootstrap, "-q", "-L", "-t", "quiet"])
    body = struct.pack(">iiiib", -1, 700, 1, 1 << 20, 0) + struct.pack(">i", 1)
    body += struct.pack(">h", 5) + b"quiet" + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    s = connect(broker, timeout=20)
    t0 = time.time()
    s.sendall(request(1, 4, 7, body))
    corr, resp = read_response(s)
    assert corr == 7 and 0.6 < time.time() - t0 < 3
    # throttle, [topic, [partition, error, hw, lso, aborted, records]]: no error, empty records
    (part, err, hw) = struct.unpack_from(">ihq", resp, 4 + 4 + 2 + 5 + 4)
    assert (part, err, hw) == (0, 0, 0)
