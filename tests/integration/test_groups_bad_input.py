"""Group APIs under bad and adversarial input, on the wire: every case gets the Kafka error
a client expects (or a closed connection for a malformed frame), never a crash, and the
broker keeps serving groups afterwards."""
import struct
import time

from confluent_kafka.admin import AdminClient, NewTopic

from conftest import run
from kafka_wire import closed_by_peer, connect, read_response, request, string

NONE, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE = 0, 3, 12
ILLEGAL_GENERATION, INCONSISTENT_GROUP_PROTOCOL, INVALID_GROUP_ID = 22, 23, 24
UNKNOWN_MEMBER_ID, INVALID_SESSION_TIMEOUT, REBALANCE_IN_PROGRESS = 25, 26, 27
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, MEMBER_ID_REQUIRED, FENCED_INSTANCE_ID = 68, 69, 79, 82

# A ConsumerProtocolSubscription v0 for one topic.
def subscription(topic):
    return struct.pack(">hi", 0, 1) + string(topic) + struct.pack(">i", -1)


def nbytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.d[self.p:self.p + n].decode()
        self.p += n
        return s

    def bytes(self):
        n = self.take(">i")
        if n < 0:
            return None
        b = self.d[self.p:self.p + n]
        self.p += n
        return b


class Wire:
    """One raw connection speaking fixed versions of the group APIs."""

    def __init__(self, broker):
        self.s = connect(broker, timeout=20)
        self.corr = 0

    def call(self, key, version, body):
        self.corr += 1
        self.s.sendall(request(key, version, self.corr, body))
        corr, resp = read_response(self.s)
        assert corr == self.corr
        return Reader(resp)

    def join(self, group, member_id="", protocol_type="consumer", protocols=None, session=10000,
             version=5, instance_id=None, topic="t"):
        protocols = protocols if protocols is not None else [("range", subscription(topic))]
        body = string(group) + struct.pack(">ii", session, session) + string(member_id)
        if version >= 5:
            body += string(instance_id)
        body += string(protocol_type) + struct.pack(">i", len(protocols))
        for name, meta in protocols:
            body += string(name) + nbytes(meta)
        r = self.call(11, version, body)
        r.take(">i")  # throttle
        err, gen = r.take(">hi")
        proto, leader, member = r.string(), r.string(), r.string()
        members = [(r.string(), r.string() if version >= 5 else None, r.bytes()) for _ in range(r.take(">i"))]
        return {"error": err, "generation": gen, "protocol": proto, "leader": leader,
                "member_id": member, "members": members}

    def sync(self, group, generation, member_id, assignments=(), instance_id=None):
        body = string(group) + struct.pack(">i", generation) + string(member_id) + string(instance_id)
        body += struct.pack(">i", len(assignments))
        for m, a in assignments:
            body += string(m) + nbytes(a)
        r = self.call(14, 3, body)
        r.take(">i")
        return r.take(">h"), r.bytes()

    def heartbeat(self, group, generation, member_id, instance_id=None):
        r = self.call(12, 3, string(group) + struct.pack(">i", generation) + string(member_id) + string(instance_id))
        r.take(">i")
        return r.take(">h")

    def leave(self, group, member_id):
        r = self.call(13, 1, string(group) + string(member_id))
        r.take(">i")
        return r.take(">h")

    def commit(self, group, generation, member_id, entries, version=2):
        """entries: [(topic, partition, offset, metadata)] -> [(topic, partition, error)]"""
        body = string(group)
        if version >= 1:
            body += struct.pack(">i", generation) + string(member_id)
        if 2 <= version <= 4:
            body += struct.pack(">q", -1)
        topics = {}
        for t, p, o, m in entries:
            topics.setdefault(t, []).append((p, o, m))
        body += struct.pack(">i", len(topics))
        for t, parts in topics.items():
            body += string(t) + struct.pack(">i", len(parts))
            for p, o, m in parts:
                body += struct.pack(">iq", p, o) + string(m)
        r = self.call(8, version, body)
        if version >= 3:
            r.take(">i")
        out = []
        for _ in range(r.take(">i")):
            t = r.string()
            for _ in range(r.take(">i")):
                p, e = r.take(">ih")
                out.append((t, p, e))
        return out

    def fetch_offsets(self, group, topic, partitions):
        body = string(group) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
        body += b"".join(struct.pack(">i", p) for p in partitions)
        r = self.call(9, 3, body)
        r.take(">i")
        out = []
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                p, o = r.take(">iq")
                meta, e = r.string(), r.take(">h")
                out.append((p, o, meta, e))
        return out, r.take(">h")

    def delete_groups(self, groups):
        body = struct.pack(">i", len(groups)) + b"".join(string(g) for g in groups)
        r = self.call(42, 1, body)
        r.take(">i")
        return {r.string(): r.take(">h") for _ in range(r.take(">i"))}


def stable_member(broker, group, topic="t"):
    """A raw member that joined and synced: (wire, member_id, generation)."""
    w = Wire(broker)
    j = w.join(group, topic=topic)
    assert j["error"] == MEMBER_ID_REQUIRED and j["member_id"]
    j = w.join(group, member_id=j["member_id"], topic=topic)
    assert j["error"] == NONE and j["leader"] == j["member_id"], j
    assert [m[0] for m in j["members"]] == [j["member_id"]]
    err, assignment = w.sync(group, j["generation"], j["member_id"], [(j["member_id"], b"plan")])
    assert (err, assignment) == (NONE, b"plan")
    return w, j["member_id"], j["generation"]


def test_join_errors(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    w = Wire(broker)
    assert w.join("g-bad", protocol_type="")["error"] == INCONSISTENT_GROUP_PROTOCOL
    assert w.join("g-bad", protocols=[])["error"] == INCONSISTENT_GROUP_PROTOCOL
    assert w.join("", member_id="")["error"] == INVALID_GROUP_ID
    assert w.join("g-bad", session=1)["error"] == INVALID_SESSION_TIMEOUT
    assert w.join("g-bad", session=10**9)["error"] == INVALID_SESSION_TIMEOUT
    # A member id the group never gave out.
    assert w.join("g-none", member_id="made-up")["error"] == UNKNOWN_MEMBER_ID

    m, member, gen = stable_member(broker, "g-typed")
    other = Wire(broker)
    # Unknown protocol type, and a protocol the existing member does not support.
    assert other.join("g-typed", protocol_type="connect")["error"] == INCONSISTENT_GROUP_PROTOCOL
    assert other.join("g-typed", protocols=[("my-own", b"")])["error"] == INCONSISTENT_GROUP_PROTOCOL
    # The group is untouched: the member's heartbeat is still fine.
    assert m.heartbeat("g-typed", gen, member) == NONE


def test_generation_and_member_checks(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    w, member, gen = stable_member(broker, "g-gen")
    assert w.heartbeat("g-gen", gen, member) == NONE
    assert w.heartbeat("g-gen", gen - 1, member) == ILLEGAL_GENERATION
    assert w.heartbeat("g-gen", gen + 7, member) == ILLEGAL_GENERATION
    assert w.heartbeat("g-gen", gen, "nobody") == UNKNOWN_MEMBER_ID
    assert w.heartbeat("no-such-group", 1, member) == UNKNOWN_MEMBER_ID
    assert w.heartbeat("g-gen", gen, member, instance_id="not-static") == UNKNOWN_MEMBER_ID
    assert w.sync("g-gen", gen + 1, member)[0] == ILLEGAL_GENERATION
    assert w.sync("g-gen", gen, "nobody")[0] == UNKNOWN_MEMBER_ID
    assert w.leave("g-gen", "nobody") == UNKNOWN_MEMBER_ID
    # Non-empty groups cannot be deleted; unknown ones are not found.
    assert w.delete_groups(["g-gen", "never-was"]) == {"g-gen": NON_EMPTY_GROUP, "never-was": GROUP_ID_NOT_FOUND}
    assert w.leave("g-gen", member) == NONE
    assert w.heartbeat("g-gen", gen, member) == UNKNOWN_MEMBER_ID
    assert w.delete_groups(["g-gen"]) == {"g-gen": NONE}


def test_commit_errors(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("ct", num_partitions=2, replication_factor=1)])["ct"].result(20)
    w, member, gen = stable_member(broker, "g-commit", topic="ct")
    got = w.commit("g-commit", gen, member, [("ct", 0, 5, "note"), ("ct", 1, 9, None), ("ct", 2, 1, None),
                                             ("no-such-topic", 0, 1, None), ("ct", 0, 6, "x" * 5000)])
    assert got == [("ct", 0, NONE), ("ct", 1, NONE), ("ct", 2, UNKNOWN_TOPIC_OR_PARTITION),
                   ("ct", 0, OFFSET_METADATA_TOO_LARGE), ("no-such-topic", 0, UNKNOWN_TOPIC_OR_PARTITION)]
    # The stale generation, a stranger, and an assign()-style commit while members exist.
    assert w.commit("g-commit", gen - 1, member, [("ct", 0, 50, None)]) == [("ct", 0, ILLEGAL_GENERATION)]
    assert w.commit("g-commit", gen, "stranger", [("ct", 0, 50, None)]) == [("ct", 0, UNKNOWN_MEMBER_ID)]
    assert w.commit("g-commit", -1, "", [("ct", 0, 50, None)]) == [("ct", 0, UNKNOWN_MEMBER_ID)]
    assert w.commit("", -1, "", [("ct", 0, 50, None)]) == [("ct", 0, INVALID_GROUP_ID)]
    # Only the good commits are stored.
    offsets, err = w.fetch_offsets("g-commit", "ct", [0, 1, 2])
    assert err == NONE
    assert offsets == [(0, 5, "note", NONE), (1, 9, "", NONE), (2, -1, "", NONE)]
    assert w.fetch_offsets("never-committed", "ct", [0]) == ([(0, -1, "", NONE)], NONE)
    # v0 (no generation): allowed once the group is empty.
    assert w.leave("g-commit", member) == NONE
    assert w.commit("g-commit", -1, "", [("ct", 1, 11, None)], version=0) == [("ct", 1, NONE)]
    assert w.fetch_offsets("g-commit", "ct", [1])[0] == [(1, 11, "", NONE)]


def test_member_that_disconnects_while_joining_is_forgotten(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    w, member, gen = stable_member(broker, "g-drop")
    newcomer = Wire(broker)
    j = newcomer.join("g-drop")
    assert j["error"] == MEMBER_ID_REQUIRED
    # The second join parks (the first member must rejoin); the newcomer hangs up.
    body = string("g-drop") + struct.pack(">ii", 10000, 10000) + string(j["member_id"]) + string(None)
    body += string("consumer") + struct.pack(">i", 1) + string("range") + nbytes(subscription("t"))
    newcomer.s.sendall(request(11, 5, 99, body))
    # The join arrives on another connection: the rebalance starts once the broker read it.
    deadline = time.time() + 10
    while w.heartbeat("g-drop", gen, member) != REBALANCE_IN_PROGRESS:
        assert time.time() < deadline, "the newcomer's join never started a rebalance"
        time.sleep(0.05)
    newcomer.s.close()
    time.sleep(1.5)  # the broker notices the close (otherwise both would simply join)
    j2 = w.join("g-drop", member_id=member)
    assert j2["error"] == NONE and j2["generation"] == gen + 1
    assert [m[0] for m in j2["members"]] == [member]
    assert w.sync("g-drop", j2["generation"], member, [(member, b"all")]) == (NONE, b"all")


def test_malformed_group_frames_close_only_that_connection(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    s = connect(broker)
    # JoinGroup v5 whose protocol array claims more entries than the frame holds.
    body = string("g-mal") + struct.pack(">ii", 10000, 10000) + string("") + string(None) + string("consumer")
    body += struct.pack(">i", 100000) + string("range")
    s.sendall(request(11, 5, 1, body))
    assert closed_by_peer(s)
    s = connect(broker)
    # OffsetCommit v2 cut in the middle of a partition.
    body = string("g-mal") + struct.pack(">i", -1) + string("") + struct.pack(">q", -1)
    body += struct.pack(">i", 1) + string("t") + struct.pack(">i", 1) + struct.pack(">i", 0)
    s.sendall(request(8, 2, 1, body))
    assert closed_by_peer(s)
    # Groups still work for everyone else.
    w, member, gen = stable_member(broker, "g-after")
    assert w.heartbeat("g-after", gen, member) == NONE
    run(["kcat", "-b", broker.bootstrap, "-q", "-L"])
