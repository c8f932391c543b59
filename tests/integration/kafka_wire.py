"""Hand-built Kafka frames for the tests that must send what no client would."""
import socket
import time
import struct


def crc32c(data, crc=0):
    table = crc32c.table
    if table is None:
        table = crc32c.table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


crc32c.table = None


def varint(n):
    n = (n << 1) ^ (n >> 63)
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def record_batch(values, magic=2, corrupt_crc=False, timestamp=None):
    if timestamp is None:
        timestamp = int(time.time() * 1000)
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp, timestamp, -1, -1, -1,
                            len(values)) + records
    crc = crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    after_len = struct.pack(">ibI", 0, magic, crc) + after_crc
    return struct.pack(">qi", 0, len(after_len)) + after_len


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(api_key, version, correlation_id, body, client_id="raw-test"):
    frame = struct.pack(">hhi", api_key, version, correlation_id) + string(client_id) + body
    return struct.pack(">i", len(frame)) + frame


def produce_v7(topic, partition, records, acks=-1):
    body = string(None) + struct.pack(">hi", acks, 10000) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(records)) + records
    return body


def connect(broker, timeout=10):
    s = socket.create_connection(("127.0.0.1", broker.port), timeout=timeout)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_response(s):
    (size,) = struct.unpack(">i", recv_exact(s, 4))
    data = recv_exact(s, size)
    (corr,) = struct.unpack(">i", data[:4])
    return corr, data[4:]


def closed_by_peer(s, timeout=10):
    """True when the broker closes the connection (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def parse_produce_v7(body):
    """[(topic, partition, error_code, base_offset)] from a Produce v7 response body."""
    out, pos = [], 0
    (nt,) = struct.unpack_from(">i", body, pos); pos += 4
    for _ in range(nt):
        (ln,) = struct.unpack_from(">h", body, pos); pos += 2
        name = body[pos:pos + ln].decode(); pos += ln
        (np,) = struct.unpack_from(">i", body, pos); pos += 4
        for _ in range(np):
            part, err, base, _lat, _lso = struct.unpack_from(">ihqqq", body, pos); pos += 30
            out.append((name, part, err, base))
    return out
