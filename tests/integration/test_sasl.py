"""SASL on the Kafka listeners: SCRAM-SHA-256/512 and PLAIN with every client
(confluent-kafka-python/librdkafka, kcat, kafka-python with its v0 raw tokens, kafkajs),
wrong passwords refused with SASL_AUTHENTICATION_FAILED, nothing but the handshake served
before authentication, and users managed with DescribeUserScramCredentials /
AlterUserScramCredentials (no client here has those calls: raw frames)."""
import base64
import hashlib
import hmac
import json
import os
import struct
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaException, Producer

from conftest import ROOT, run
import kafka_wire as kw

JS = os.path.join(ROOT, "tests", "integration", "js")
USERS = "alice:alice-secret,bob:b0b"
MECHS = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"


def sasl_broker(factory, **extra):
    b = factory(sasl_users=USERS, sasl_enabled_mechanisms=MECHS, **extra)
    b.settings["listeners"] = "SASL_PLAINTEXT://127.0.0.1:%d" % b.port
    b.restart()
    return b


@pytest.fixture
def broker(broker_factory):
    return sasl_broker(broker_factory)


def rk_conf(broker, mech, user="alice", password="alice-secret", **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": password}
    conf.update(extra)
    return conf


def produce_consume_confluent(conf, topic, n=20):
    p = Producer(dict(conf, **{"message.timeout.ms": 15000}))
    for i in range(n):
        p.produce(topic, value=b"v%d" % i, key=b"k%d" % i)
    assert p.flush(30) == 0
    c = Consumer(dict(conf, **{"group.id": topic + "-g", "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    for _ in range(300):
        if len(got) >= n:
            break
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert got == [b"v%d" % i for i in range(n)]


# ---- a SCRAM client on raw frames --------------------------------------------------------

def str16(b):
    return struct.pack(">h", len(b)) + b


def handshake(s, mech, version=1, corr=1):
    s.sendall(kw.request(17, version, corr, str16(mech.encode())))
    _, body = kw.read_response(s)
    err, n = struct.unpack_from(">hi", body)
    pos, mechs = 6, []
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", body, pos)
        mechs.append(body[pos + 2:pos + 2 + ln].decode())
        pos += 2 + ln
    return err, mechs


def authenticate(s, token, version=1, corr=2):
    s.sendall(kw.request(36, version, corr, struct.pack(">i", len(token)) + token))
    _, body = kw.read_response(s)
    (err,) = struct.unpack_from(">h", body)
    (ml,) = struct.unpack_from(">h", body, 2)
    pos = 4 + max(ml, 0)
    msg = body[4:pos].decode() if ml >= 0 else None
    (bl,) = struct.unpack_from(">i", body, pos)
    return err, msg, body[pos + 4:pos + 4 + bl]


class Scram:
    def __init__(self, user, password, mech="SCRAM-SHA-256"):
        self.user, self.password = user, password.encode()
        self.hash = hashlib.sha256 if mech.endswith("256") else hashlib.sha512
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=%s,r=%s" % (user, self.cnonce)

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.cnonce)
        salted = hashlib.pbkdf2_hmac(self.hash().name, self.password, base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored = self.hash(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        auth = ",".join([self.first_bare, server_first.decode(), without_proof]).encode()
        sig = hmac.new(stored, auth, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = base64.b64encode(hmac.new(server_key, auth, self.hash).digest())
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()


def scram_login(broker, user, password, mech="SCRAM-SHA-256"):
    s = kw.connect(broker)
    assert handshake(s, mech)[0] == 0
    c = Scram(user, password, mech)
    err, msg, server_first = authenticate(s, c.first())
    assert err == 0, msg
    err, msg, server_final = authenticate(s, c.final(server_first), corr=3)
    return s, err, msg, server_final, c


# ---- clients ------------------------------------------------------------------------------

@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_confluent_kafka_sasl(broker, mech):
    produce_consume_confluent(rk_conf(broker, mech), "ck-" + mech.lower())


def test_wrong_password_refused_librdkafka(broker):
    errors = []
    p = Producer(rk_conf(broker, "SCRAM-SHA-256", password="nope",
                         **{"error_cb": lambda e: errors.append(e), "message.timeout.ms": 3000}))
    p.produce("never", b"x")
    p.flush(5)
    assert any(e.code() == -169 for e in errors), errors  # _AUTHENTICATION
    assert any("invalid credentials with SASL mechanism SCRAM-SHA-256" in e.str() for e in errors), errors
    assert "authentication failed for user 'alice'" in broker.read_log()


def test_kcat_scram(broker):
    sasl = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=SCRAM-SHA-512",
            "-X", "sasl.username=bob", "-X", "sasl.password=b0b"]
    run(["kcat", "-b", broker.bootstrap, "-P", "-t", "kc"] + sasl, input=b"one\ntwo\n")
    got = run(["kcat", "-b", broker.bootstrap, "-C", "-t", "kc", "-o", "beginning", "-e", "-q"] + sasl)
    assert got.stdout.decode().split() == ["one", "two"]
    bad = run(["kcat", "-b", broker.bootstrap, "-L"] + sasl[:-1] + ["sasl.password=wrong"], check=False)
    assert bad.returncode != 0 and b"Authentication failed" in bad.stderr


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_kafka_python_sasl(broker, mech):
    """kafka-python 2.0.2 sends SaslHandshake v0, then bare SASL tokens."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import NoBrokersAvailable
    conf = dict(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=mech, sasl_plain_username="alice", sasl_plain_password="alice-secret")
    p = KafkaProducer(**conf)
    for i in range(5):
        p.send("kp", b"v%d" % i).get(timeout=15)
    p.close()
    c = KafkaConsumer("kp", auto_offset_reset="earliest", consumer_timeout_ms=5000, **conf)
    assert [m.value for m in c] == [b"v%d" % i for i in range(5)]
    c.close()
    with pytest.raises(NoBrokersAvailable):
        KafkaProducer(**dict(conf, sasl_plain_password="wrong"))


def test_kafkajs_sasl(broker):
    assert os.path.isdir(os.path.join(JS, "node_modules", "kafkajs")), "run scripts/install-deps.sh"
    prog = os.path.join(JS, "sasl_produce_consume.js")
    for mech in ("scram-sha-256", "scram-sha-512", "plain"):
        out = json.loads(run(["node", prog, broker.bootstrap, "kjs-" + mech, "10", mech, "alice",
                              "alice-secret"], timeout=120).stdout)
        assert out["received"] == ["v%d" % i for i in range(10)]
    out = json.loads(run(["node", prog, broker.bootstrap, "kjs-bad", "1", "scram-sha-256", "alice",
                          "wrong"], timeout=60).stdout)
    assert out["error"] == "KafkaJSSASLAuthenticationError"
    assert "invalid credentials" in out["message"]


# ---- the protocol, on raw frames -----------------------------------------------------------

def test_scram_raw_exchange_and_server_signature(broker):
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        s, err, msg, server_final, c = scram_login(broker, "alice", "alice-secret", mech)
        assert err == 0 and msg is None
        assert server_final == b"v=" + c.server_signature
        s.sendall(kw.request(3, 1, 9, struct.pack(">i", 0)))  # Metadata now answers
        corr, _ = kw.read_response(s)
        assert corr == 9
        s.close()


def test_wrong_password_answers_58_then_closes(broker):
    s, err, msg, _, _ = scram_login(broker, "alice", "wrong")
    assert err == 58  # SASL_AUTHENTICATION_FAILED
    assert msg == ("Authentication failed during authentication due to invalid credentials with "
                   "SASL mechanism SCRAM-SHA-256")
    assert kw.closed_by_peer(s)
    # An unknown user gets the same exchange and the same answer (no user enumeration).
    s, err, msg2, _, _ = scram_login(broker, "mallory", "x")
    assert err == 58 and msg2 == msg
    assert kw.closed_by_peer(s)
    # PLAIN
    s = kw.connect(broker)
    assert handshake(s, "PLAIN")[0] == 0
    err, msg, _ = authenticate(s, b"\0alice\0wrong")
    assert err == 58 and msg == "Authentication failed: Invalid username or password"
    assert kw.closed_by_peer(s)
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port, timeout=10) as r:
        metrics = r.read().decode()
    assert 'runnel_response_errors_total{api="SaslAuthenticate",error="58"} 3' in metrics


def test_nothing_but_handshake_before_authentication(broker):
    s = kw.connect(broker)
    s.sendall(kw.request(18, 0, 1, b""))  # ApiVersions is allowed
    corr, body = kw.read_response(s)
    assert corr == 1 and struct.unpack_from(">h", body)[0] == 0
    keys = {struct.unpack_from(">h", body, 6 + 6 * i)[0] for i in range(struct.unpack_from(">i", body, 2)[0])}
    assert {17, 36, 50, 51} <= keys
    s.sendall(kw.request(3, 1, 2, struct.pack(">i", -1)))  # Metadata is not
    assert kw.closed_by_peer(s)
    # After a handshake, still nothing else until the exchange is over.
    s = kw.connect(broker)
    assert handshake(s, "SCRAM-SHA-256") == (0, ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
    s.sendall(kw.request(0, 7, 2, kw.produce_v7("t", 0, kw.record_batch([b"x"]))))
    assert kw.closed_by_peer(s)
    # A mechanism not enabled: UNSUPPORTED_SASL_MECHANISM (33) with the list, then closed.
    s = kw.connect(broker)
    assert handshake(s, "GSSAPI") == (33, ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"])
    assert kw.closed_by_peer(s)
    # SaslAuthenticate without a handshake: ILLEGAL_SASL_STATE (34), closed.
    s = kw.connect(broker)
    assert authenticate(s, b"n,,n=alice,r=abc")[0] == 34
    assert kw.closed_by_peer(s)
    assert "before SASL authentication" in broker.read_log()
    assert "auto-created topic 't'" not in broker.read_log()  # the produce never ran


def test_raw_tokens_after_v0_handshake(broker):
    s = kw.connect(broker)
    assert handshake(s, "PLAIN", version=0)[0] == 0
    tok = b"\0alice\0alice-secret"
    s.sendall(struct.pack(">i", len(tok)) + tok)
    assert kw.recv_exact(s, 4) == b"\0\0\0\0"  # empty server token: authenticated
    s.sendall(kw.request(18, 0, 5, b""))
    assert kw.read_response(s)[0] == 5
    s.close()
    s = kw.connect(broker)
    assert handshake(s, "PLAIN", version=0)[0] == 0
    tok = b"\0alice\0bad"
    s.sendall(struct.pack(">i", len(tok)) + tok)
    assert kw.closed_by_peer(s)  # Kafka closes without a word


def test_handshake_on_plaintext_listener_is_illegal(broker_factory):
    b = broker_factory()
    s = kw.connect(b)
    assert handshake(s, "PLAIN")[0] == 34
    s.sendall(kw.request(18, 0, 7, b""))  # the connection stays usable
    assert kw.read_response(s)[0] == 7


# ---- DescribeUserScramCredentials / AlterUserScramCredentials (flexible v0) -----------------

def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def cstr(s):
    return uvarint(0) if s is None else uvarint(len(s.encode()) + 1) + s.encode()


def cbytes(b):
    return uvarint(len(b) + 1) + b


def carray(items):
    return uvarint(0) if items is None else uvarint(len(items) + 1) + b"".join(items)


def flex_request(api_key, corr, body):
    frame = struct.pack(">hhi", api_key, 0, corr) + kw.string("raw-test") + b"\0" + body
    return struct.pack(">i", len(frame)) + frame


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def uv(self):
        n = shift = 0
        while True:
            x = self.b[self.p]
            self.p += 1
            n |= (x & 0x7F) << shift
            if not x & 0x80:
                return n
            shift += 7

    def fmt(self, f):
        v = struct.unpack_from(f, self.b, self.p)
        self.p += struct.calcsize(f)
        return v[0]

    def cstr(self):
        n = self.uv() - 1
        if n < 0:
            return None
        s = self.b[self.p:self.p + n].decode()
        self.p += n
        return s


def call_flex(s, api_key, corr, body):
    s.sendall(flex_request(api_key, corr, body))
    c, data = kw.read_response(s)
    assert c == corr and data[0] == 0  # response header v1: an empty tag section
    return Reader(data[1:])


def describe(s, users, corr=10):
    body = carray(None if users is None else [cstr(u) + b"\0" for u in users]) + b"\0"
    r = call_flex(s, 50, corr, body)
    r.fmt(">i")
    top = (r.fmt(">h"), r.cstr())
    out = {}
    for _ in range(r.uv() - 1):
        user, err, msg = r.cstr(), r.fmt(">h"), r.cstr()
        infos = []
        for _ in range(r.uv() - 1):
            infos.append((r.fmt(">b"), r.fmt(">i")))
            r.uv()
        r.uv()
        out[user] = (err, msg, sorted(infos))
    return top, out


def upsertion(user, mech, password, iterations=4096, salt=None, salted=None):
    salt = salt or os.urandom(16)
    h = "sha256" if mech == 1 else "sha512"
    salted = salted if salted is not None else hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
    return cstr(user) + struct.pack(">bi", mech, iterations) + cbytes(salt) + cbytes(salted) + b"\0"


def deletion(user, mech):
    return cstr(user) + struct.pack(">b", mech) + b"\0"


def alter(s, deletions, upsertions, corr=20):
    r = call_flex(s, 51, corr, carray(deletions) + carray(upsertions) + b"\0")
    r.fmt(">i")
    out = {}
    for _ in range(r.uv() - 1):
        user, err, msg = r.cstr(), r.fmt(">h"), r.cstr()
        r.uv()
        out[user] = (err, msg)
    return out


def test_describe_and_alter_user_scram_credentials(broker):
    s, err, _, _, _ = scram_login(broker, "alice", "alice-secret")
    assert err == 0
    top, users = describe(s, None)
    assert top == (0, None)
    assert users == {"alice": (0, None, [(1, 4096), (2, 4096)]), "bob": (0, None, [(1, 4096), (2, 4096)])}

    # carol gets SCRAM-SHA-512 only, at 8192 iterations; the broker sees no password.
    assert alter(s, [], [upsertion("carol", 2, "c4rol", 8192)]) == {"carol": (0, None)}
    assert describe(s, ["carol", "nobody", "bob", "bob"])[1] == {
        "carol": (0, None, [(2, 8192)]),
        "nobody": (91, "Attempt to describe a user credential that does not exist: nobody", []),
        "bob": (92, "Cannot describe SCRAM credentials for the same user twice in a single request: bob", []),
    }
    produce_consume_confluent(rk_conf(broker, "SCRAM-SHA-512", "carol", "c4rol"), "carol-topic", 3)
    # PLAIN checks against the SCRAM-SHA-512 credential when there is no SHA-256 one.
    produce_consume_confluent(rk_conf(broker, "PLAIN", "carol", "c4rol"), "carol-plain", 2)
    assert scram_login(broker, "carol", "c4rol", "SCRAM-SHA-256")[1] == 58

    # Per-user errors; a user with any bad change keeps its credentials untouched.
    res = alter(s, [deletion("bob", 1), deletion("ghost", 1), deletion("dave", 9)],
                [upsertion("erin", 1, "x", iterations=100), upsertion("frank", 1, "x", iterations=20000),
                 upsertion("bob", 1, "new"), upsertion("", 1, "x"),
                 upsertion("gina", 1, "x", salted=b"short")])
    assert res == {
        "bob": (92, "A user credential cannot be altered twice in the same request"),
        "ghost": (91, "Attempt to delete a user credential that does not exist"),
        "dave": (33, "Unknown SCRAM mechanism"),
        "erin": (93, "Too few iterations"),
        "frank": (93, "Too many iterations"),
        "": (93, "Username must not be empty"),
        "gina": (93, "The salted password must be 32 bytes for SCRAM-SHA-256"),
    }
    assert scram_login(broker, "bob", "b0b")[1] == 0

    # Password change and deletion take effect for new connections, and survive a restart.
    assert alter(s, [deletion("bob", 2)], [upsertion("bob", 1, "n3w")]) == {"bob": (0, None)}
    s.close()
    broker.settings["sasl.users"] = "alice:alice-secret"  # bob is no longer bootstrapped
    broker.restart()
    assert scram_login(broker, "bob", "b0b")[1] == 58
    assert scram_login(broker, "bob", "n3w")[1] == 0
    assert scram_login(broker, "bob", "n3w", "SCRAM-SHA-512")[1] == 58
    s, err, _, _, _ = scram_login(broker, "carol", "c4rol", "SCRAM-SHA-512")
    assert err == 0
    assert describe(s, None)[1]["bob"] == (0, None, [(1, 4096)])


def test_no_password_in_the_data_dir(broker):
    broker.stop()
    for root, _dirs, files in os.walk(broker.data_dir):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                assert b"alice-secret" not in fh.read(), f
    broker.start()
