"""Connection behaviour: idle close, long-polling fetch, in-order answers."""
import select
import struct
import subprocess
import threading
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


def test_back_pressure_stops_reading_then_answers_everything_in_order(broker_factory):
    b = broker_factory(socket_output_max_bytes=65536)
    # 1 MB in one partition, so each fetch below answers with up to 1 MB.
    payload = b"".join(b"%05d" % i + b"x" * 995 + b"\n" for i in range(1000))
    run(["kcat", "-b", b.bootstrap, "-q", "-P", "-t", "bp", "-X", "batch.size=100000"], input=payload)
    # Fetches for 64 KiB each, padded to about 30 KB with a long client id, so the kernel's
    # socket buffers hold a few hundred of them, not tens of thousands.
    body = struct.pack(">iiiib", -1, 0, 0, 65536, 0) + struct.pack(">i", 1)
    body += struct.pack(">h", 2) + b"bp" + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 65536)
    client_id = "x" * 30000
    s = connect(b, timeout=30)
    s.setblocking(False)
    sent, pending, stalled = 0, b"", False
    deadline = time.time() + 20
    while time.time() < deadline:
        if not pending:
            pending = request(1, 4, sent, body, client_id=client_id)
            sent += 1
        try:
            pending = pending[s.send(pending):]
        except BlockingIOError:
            pass
        if pending:
            # Full socket: a broker that still reads drains it within a second.
            _, writable, _ = select.select([], [s], [], 1.0)
            if not writable:
                stalled = True
                break
    frame_len = len(request(1, 4, 0, body, client_id=client_id))
    # Unread answers pile up in the broker only to about socket.output.max.bytes (plus what
    # the kernel buffers hold): it stopped reading instead of queueing 1 MB answers forever.
    assert stalled, "the broker kept reading %d requests without anyone reading answers" % sent
    # What was sent fits in socket buffers, both ways (requests waiting to be read, answers
    # waiting to be read by us), not the gigabytes an unthrottled broker takes in 20 s.
    kernel = sum(int(open("/proc/sys/net/ipv4/tcp_%s" % k).read().split()[2]) for k in ("rmem", "wmem"))
    assert sent * frame_len < 4 * kernel + (16 << 20), (sent, kernel)
    s.setblocking(True)
    if pending:  # finish the half-sent frame while answers are read
        threading.Thread(target=s.sendall, args=(pending,), daemon=True).start()
    for want in range(sent):
        corr, resp = read_response(s)
        assert corr == want
        assert len(resp) > 1000  # each answer carries at least its first whole record (1 KB)
