"""Cluster test harness: several real runnel-server processes forming one cluster (a Raft
metadata quorum over controller.quorum.voters, replicated partitions), each a conftest
Broker with its own data dir, Kafka port and Raft port, plus what the cluster tests share:
Metadata read from one chosen broker, waits with deadlines, a numbered idempotent
producer on a thread, and the exactly-once check of what a fresh consumer reads back.

Invariant: every process a Cluster started is gone after close(), stopped ones are
continued first, and close() reports any broker that did not exit 0 on SIGTERM or left a
sanitizer report in its log (every incarnation's output is appended to one log)."""
import collections
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

import kafka_wire
from conftest import BUILD, Broker, free_port

# Fast failover for tests: a broker silent for 3 s is fenced and its leaderships move.
FAST_SETTINGS = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "5000",
    "controller.quorum.election.timeout.ms": "1000",
    "default.replication.factor": "3",
    "offsets.topic.num.partitions": "8",
    "offsets.topic.replication.factor": "3",
}

_taken_ports = set()
_ports_lock = threading.Lock()


def alloc_port():
    """A free TCP port on 127.0.0.1 never handed out before in this process (the OS may
    return a just-released port twice; two brokers on one port would be a confusing
    failure)."""
    with _ports_lock:
        for _ in range(1000):
            p = free_port()
            if p not in _taken_ports:
                _taken_ports.add(p)
                return p
    raise AssertionError("no free port")


def settings_from_kwargs(kw):
    """pytest-style keyword settings (group_initial_rebalance_delay_ms=200) as config keys."""
    return {k.replace("_", "."): str(v).lower() if isinstance(v, bool) else str(v) for k, v in kw.items()}


class ClusterFailure(AssertionError):
    """Something waiting cannot fix (a broker process died): wait_until re-raises it."""


def wait_until(cond, timeout, what, interval=0.1):
    """Poll cond() until it returns something truthy (returned); AssertionError naming
    `what` after timeout seconds. Exceptions from cond count as "not yet" (the last one is
    quoted on timeout), except ClusterFailure."""
    deadline, last = time.time() + timeout, None
    while True:
        try:
            v = cond()
            if v:
                return v
        except ClusterFailure:
            raise
        except Exception as e:  # a broker mid-failover: try again
            last = e
        if time.time() >= deadline:
            raise AssertionError("timed out after %ss waiting for %s%s" % (
                timeout, what, " (last error: %r)" % (last,) if last else ""))
        time.sleep(interval)


class PartitionState:
    """One partition as a Metadata response describes it (names as confluent_kafka's
    PartitionMetadata: leader, replicas, isrs)."""

    def __init__(self, id, error, leader, replicas, isrs):
        self.id, self.error, self.leader, self.replicas, self.isrs = id, error, leader, replicas, isrs

    def __repr__(self):
        return "Partition(%d leader=%d replicas=%s isrs=%s err=%d)" % (
            self.id, self.leader, self.replicas, self.isrs, self.error)


class MetadataView:
    """A Metadata response: brokers {id: (host, port)}, controller_id, topics
    {name: {partition: PartitionState}}, and which broker answered."""

    def __init__(self, via, brokers, controller_id, topics):
        self.via, self.brokers, self.controller_id, self.topics = via, brokers, controller_id, topics

    def partition(self, topic, index):
        return self.topics.get(topic, {}).get(index)


def read_metadata(port, timeout=2.0):
    """Metadata v1 for every topic, asked of the broker on `port` alone (a client library
    would pick any broker, and the tests need to know whose view they read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.settimeout(timeout)
        s.sendall(kafka_wire.request(3, 1, 7, struct.pack(">i", -1), client_id="cluster-test"))
        corr, body = kafka_wire.read_response(s)
    finally:
        s.close()
    assert corr == 7, corr
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, body, pos)
        pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string():
        nonlocal pos
        n = take(">h")
        if n < 0:
            return None
        v = body[pos:pos + n].decode()
        pos += n
        return v

    brokers = {}
    for _ in range(take(">i")):
        node = take(">i")
        host = string()
        brokers[node] = (host, take(">i"))
        string()  # rack
    controller = take(">i")
    topics = {}
    for _ in range(take(">i")):
        take(">h")  # topic error
        name = string()
        take(">b")  # is_internal
        parts = {}
        for _ in range(take(">i")):
            err, index, leader = take(">hii")
            replicas = [take(">i") for _ in range(take(">i"))]
            isrs = [take(">i") for _ in range(take(">i"))]
            parts[index] = PartitionState(index, err, leader, replicas, isrs)
        topics[name] = parts
    return MetadataView(None, brokers, controller, topics)


class ClusterBroker(Broker):
    """One cluster member: a conftest Broker (same start/stop/kill9/log/sanitizer checks)
    under <cluster dir>/node<id>, with node.id set and a Raft port of its own."""

    def __init__(self, tmp, node_id, settings):
        os.makedirs(tmp, exist_ok=True)
        super().__init__(tmp, settings)
        self.node_id = node_id
        self.port = alloc_port()
        self.http_port = alloc_port()
        self.raft_port = alloc_port()
        self.stopped = False  # SIGSTOPped
        self.settings.update({
            "node.id": str(node_id),
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "http.listener": "127.0.0.1:%d" % self.http_port,
        })
        self.settings.update(settings or {})

    @property
    def raft_address(self):
        return "127.0.0.1:%d" % self.raft_port

    def sigstop(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        if self.proc and self.stopped:
            self.proc.send_signal(signal.SIGCONT)
        self.stopped = False

    def responsive(self):
        return self.alive() and not self.stopped

    def metadata(self, timeout=2.0):
        view = read_metadata(self.port, timeout)
        view.via = self.node_id
        return view


class Cluster:
    """N brokers, all voters of the metadata quorum, on free ports in one temporary dir.
    Brokers are addressed by node id: cluster[2] is broker 2."""

    def __init__(self, n=3, settings=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="runnel-cluster-")
        self.own_tmp = tmp is None
        self.settings = dict(FAST_SETTINGS)
        self.settings.update(settings or {})
        self.brokers = {}
        for node_id in range(1, n + 1):
            self.brokers[node_id] = ClusterBroker(os.path.join(self.tmp, "node%d" % node_id), node_id,
                                                  dict(self.settings))
        self.voters = ",".join("%d@%s" % (i, b.raft_address) for i, b in sorted(self.brokers.items()))
        for b in self.brokers.values():
            b.settings["controller.quorum.voters"] = self.voters
        self._admin = None

    def __getitem__(self, node_id):
        return self.brokers[node_id]

    def __iter__(self):
        return iter(sorted(self.brokers.values(), key=lambda b: b.node_id))

    # ---- addresses -------------------------------------------------------------------

    @property
    def bootstrap(self):
        """Every broker's Kafka address, "host:port,host:port,...": clients find the live ones."""
        return self.bootstrap_of(sorted(self.brokers))

    def bootstrap_of(self, node_ids):
        return ",".join(self.brokers[i].bootstrap for i in node_ids)

    def alive_ids(self):
        return [b.node_id for b in self if b.alive()]

    def responsive_ids(self):
        return [b.node_id for b in self if b.responsive()]

    # ---- processes -------------------------------------------------------------------

    def start(self, timeout=60):
        """Start every broker (each accepting TCP) and wait until the cluster is ready."""
        for b in self:
            if not b.alive():
                b.start()
        return self.wait_ready(timeout=timeout)

    def start_broker(self, node_id):
        """(Re)start one broker on its data dir and ports; returns once it accepts TCP."""
        return self.brokers[node_id].start()

    def add_broker(self, node_id=None):
        """A broker that is not a voter: it finds the controller through the others'
        Kafka listeners and joins the quorum as a non-voting standby. Started; returns it
        (wait for it with wait_ready(n=...))."""
        node_id = node_id or max(self.brokers) + 1
        b = ClusterBroker(os.path.join(self.tmp, "node%d" % node_id), node_id, dict(self.settings))
        b.settings.update({
            "controller.quorum.voters": self.voters,
            "controller.quorum.listener": b.raft_address,
            "controller.quorum.bootstrap.servers": self.bootstrap_of(sorted(self.voter_ids())),
        })
        self.brokers[node_id] = b
        return b.start()

    def voter_ids(self):
        return [int(v.split("@", 1)[0]) for v in self.voters.split(",")]

    def kill9(self, node_id):
        b = self.brokers[node_id]
        b.kill9()
        b.stopped = False

    def sigstop(self, node_id):
        self.brokers[node_id].sigstop()

    def sigcont(self, node_id):
        self.brokers[node_id].sigcont()

    def stop_broker(self, node_id):
        """SIGTERM; AssertionError unless it exits 0."""
        b = self.brokers[node_id]
        b.sigcont()
        b.stop()

    def restart(self, timeout=60):
        """Every broker stopped (SIGTERM, all at once) and started again on the same data
        dirs and ports; returns when the cluster is ready again."""
        problems = self._stop_all()
        assert not problems, "\n".join(problems)
        return self.start(timeout=timeout)

    def _stop_all(self, timeout=30):
        """SIGTERM to every live broker at once (after SIGCONT), then wait; a broker that
        does not exit within timeout is killed. Returns the problems seen."""
        problems = []
        live = [b for b in self if b.alive()]
        for b in live:
            b.sigcont()
            b.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + timeout
        for b in live:
            try:
                rc = b.proc.wait(max(0.1, deadline - time.time()))
                if rc != 0:
                    problems.append("broker %d exited %s on SIGTERM:\n%s" % (b.node_id, rc, b.read_log()[-4000:]))
            except subprocess.TimeoutExpired:
                b.proc.kill()
                b.proc.wait()
                problems.append("broker %d did not stop within %ss:\n%s" % (b.node_id, timeout, b.read_log()[-4000:]))
            finally:
                b.proc = None
                b.log.close()
        for b in self:  # a broker that exited by itself (a crash) is a problem too
            if b.proc is not None and b.proc.poll() is not None:
                problems.append("broker %d had exited with %s:\n%s" % (b.node_id, b.proc.returncode,
                                                                        b.read_log()[-4000:]))
                b.proc = None
                b.log.close()
        return problems

    def close(self):
        """Stop everything this cluster started; returns the problems (unclean exits,
        sanitizer findings) for the caller to assert on."""
        self._admin = None
        problems = self._stop_all()
        for b in self:
            found = b.sanitizer_findings()
            if found:
                problems.append("sanitizer findings %s in broker %d's log:\n%s" % (
                    found, b.node_id, b.read_log()[-8000:]))
        if self.own_tmp and not os.environ.get("RUNNEL_KEEP_CLUSTER"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems

    # ---- the single Broker's interface, for the client suites under RUNNEL_CLUSTER ------

    @property
    def port(self):
        return self.brokers[1].port

    @property
    def log_path(self):
        """Where one broker's log would be (tests use its directory); read_log() has the logs."""
        return os.path.join(self.tmp, "server.log")

    def alive(self):
        return any(b.alive() for b in self)

    def stop(self):
        problems = self._stop_all()
        assert not problems, "\n".join(problems)

    def sanitizer_findings(self):
        return sorted({m for b in self for m in b.sanitizer_findings()})

    def read_log(self):
        """Every broker's log since mark_logs() (else whole), one after another, each
        headed by its node id."""
        marks = getattr(self, "_log_marks", {})
        return "".join("==== broker %d\n%s" % (b.node_id, b.read_log()[marks.get(b.node_id, 0):])
                       for b in self)

    def mark_logs(self):
        """From now on read_log() starts here (a cluster shared by several tests shows
        each test its own lines)."""
        self._log_marks = {b.node_id: len(b.read_log()) for b in self}

    def crashed(self):
        """Brokers whose process exited without being told to."""
        return [b.node_id for b in self if b.proc is not None and b.proc.poll() is not None]

    # ---- what clients see --------------------------------------------------------------

    def metadata(self, via=None, timeout=2.0):
        """Metadata from broker `via` (an id), else from the first responsive broker that
        answers."""
        ids = [via] if via is not None else self.responsive_ids()
        last = None
        for i in ids:
            try:
                return self.brokers[i].metadata(timeout)
            except (OSError, ConnectionError, struct.error, AssertionError) as e:
                last = e
        raise AssertionError("no broker of %s answered Metadata: %r" % (ids, last))

    def admin(self):
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def wait_ready(self, n=None, timeout=60):
        """Until every responsive broker's Metadata lists n brokers (default: the live
        ones) and a controller, and a client (AdminClient.list_topics) sees the same.
        Returns self."""
        n = n or len(self.alive_ids())

        def ready():
            if self.crashed():
                raise ClusterFailure("broker(s) %s exited:\n%s" % (self.crashed(), self.read_log()[-6000:]))
            views = [self.brokers[i].metadata() for i in self.responsive_ids()]
            if not views or not all(len(v.brokers) >= n and v.controller_id >= 0 for v in views):
                return False
            # /ready: each broker follows the image up to its registration (its group
            # coordinators have loaded their commits).
            for i in self.responsive_ids():
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.brokers[i].http_port,
                                           timeout=2).read()
                except OSError:
                    return False
            md = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=5)
            return len(md.brokers) >= n and md.controller_id >= 0
        wait_until(ready, timeout, "%d brokers and a controller in Metadata" % n, interval=0.2)
        return self

    def offsets_partition_of(self, group):
        """The __consumer_offsets partition (a PartitionState) that holds `group`
        (Kafka's abs(String.hashCode) % partitions)."""
        h = 0
        for ch in group.encode():
            h = (31 * h + ch) & 0xFFFFFFFF
        h = h - (1 << 32) if h >= 1 << 31 else h
        parts = self.metadata().topics["__consumer_offsets"]
        return parts[(0 if h == -(1 << 31) else abs(h)) % len(parts)]

    def coordinator_of(self, group):
        """The broker coordinating `group`: the leader of its __consumer_offsets partition."""
        return self.offsets_partition_of(group).leader

    def wait_partitions(self, topic, partitions, isr_size=None, via=None, timeout=30):
        """Until `topic` has `partitions` partitions, each with a leader (and isr_size
        in-sync replicas when given). Returns {partition: PartitionState}."""
        def ok():
            parts = self.metadata(via).topics.get(topic, {})
            if len(parts) != partitions:
                return None
            for p in parts.values():
                if p.error or p.leader < 0 or (isr_size and len(p.isrs) < isr_size):
                    return None
            return parts
        return wait_until(ok, timeout, "%d led partitions of %s%s" % (
            partitions, topic, " with %d in sync" % isr_size if isr_size else ""))

    def wait_new_leader(self, topic, index, old_leader, timeout=30):
        """Until a broker other than old_leader answers Metadata naming a leader other
        than old_leader. Returns (new leader id, seconds waited)."""
        t0 = time.time()

        def moved():
            for i in self.responsive_ids():
                if i == old_leader:
                    continue
                try:
                    p = self.brokers[i].metadata().partition(topic, index)
                except (OSError, ConnectionError, struct.error):
                    continue
                if p and p.leader >= 0 and p.leader != old_leader:
                    return p.leader
            return None
        leader = wait_until(moved, timeout, "a leader of %s-%d other than %d" % (topic, index, old_leader),
                            interval=0.05)
        return leader, time.time() - t0

    def wait_in_isr(self, topic, index, node_id, timeout=30):
        """Until node_id is in the ISR of the partition (asked of another broker). Returns
        (PartitionState, seconds waited)."""
        t0 = time.time()
        others = [i for i in self.responsive_ids() if i != node_id] or None

        def back():
            p = self.metadata(others[0] if others else None).partition(topic, index)
            return p if p and node_id in p.isrs else None
        p = wait_until(back, timeout, "broker %d back in the ISR of %s-%d" % (node_id, topic, index))
        return p, time.time() - t0

    # ---- the CLI -------------------------------------------------------------------------

    def cli(self, *args, timeout=60, check=True):
        """`runnel ARGS <bootstrap option> <every broker>`. The partition commands were
        specified with --bootstrap-server; the rest of the tool says --bootstrap: the
        spelling `runnel partition reassign --help` shows is used."""
        argv = [os.path.join(BUILD, "runnel")] + list(args) + [cli_bootstrap_option(), self.bootstrap]
        env = dict(os.environ)
        env.pop("RUNNEL_BOOTSTRAP", None)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        p = subprocess.run(argv, capture_output=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(argv), p.returncode, p.stdout.decode(errors="replace")[-3000:],
                p.stderr.decode(errors="replace")[-3000:]))
        return p

    def reassign(self, topic, partition, replicas):
        return self.cli("partition", "reassign", "--topic", topic, "--partition", str(partition),
                        "--replicas", ",".join(str(r) for r in replicas))

    def reassignments_in_flight(self, topic):
        """The in-flight reassignments `runnel partition reassignments` lists for topic
        (whatever each entry looks like: JSON objects, else text lines), [] when none."""
        p = self.cli("partition", "reassignments", "--json")
        text = p.stdout.decode(errors="replace").strip()
        if not text:
            return []
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError:
                return [line for line in text.splitlines() if topic in line]
        if isinstance(data, dict):
            data = data.get("reassignments", data.get("partitions", [data] if data else []))
        return [e for e in data if topic in json.dumps(e)]


_bootstrap_option = None


def cli_bootstrap_option():
    global _bootstrap_option
    if _bootstrap_option is None:
        try:
            p = subprocess.run([os.path.join(BUILD, "runnel"), "partition", "reassign", "--help"],
                               capture_output=True, timeout=30)
            help_text = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired):
            help_text = b""
        _bootstrap_option = "--bootstrap-server" if b"--bootstrap-server" in help_text else "--bootstrap"
    return _bootstrap_option


# ---- clients -----------------------------------------------------------------------------

class NumberedProducer(threading.Thread):
    """An idempotent producer (acks=all) on its own thread sending values "0", "1", ... to
    partition i % partitions (i from `first`), at most `rate` a second, until `total` were
    sent or stop().
    acked {value: (partition, offset)} and failed {value: error} are its delivery
    reports; ack_times [(time, partition)] show when producing stalled and resumed."""

    def __init__(self, bootstrap, topic, partitions, total=None, rate=None, first=0, **conf):
        super().__init__(daemon=True)
        self.topic, self.partitions, self.total, self.rate = topic, partitions, total, rate
        self.first = first
        self.conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                     "linger.ms": 5, "message.timeout.ms": 60000, "error_cb": self._on_error}
        self.conf.update(conf)
        self.acked, self.failed, self.ack_times, self.errors, self.fatal = {}, {}, [], [], []
        self.sent = 0
        self.unflushed = None
        self.exception = None
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def _on_error(self, err):
        self.errors.append(err)
        if err.fatal():
            self.fatal.append(err)

    def _on_delivery(self, err, msg):
        v = msg.value().decode()
        with self._lock:
            if err:
                self.failed[v] = err
            else:
                self.acked[v] = (msg.partition(), msg.offset())
                self.ack_times.append((time.time(), msg.partition()))

    def run(self):
        try:
            p = Producer(self.conf)
            t0 = time.time()
            i = 0
            while not self._halt.is_set() and (self.total is None or i < self.total):
                if self.rate and i > self.rate * (time.time() - t0):
                    p.poll(0.005)
                    continue
                try:
                    n = self.first + i
                    p.produce(self.topic, value=b"%d" % n, partition=n % self.partitions,
                              on_delivery=self._on_delivery)
                except BufferError:
                    p.poll(0.05)
                    continue
                i += 1
                self.sent = i
                p.poll(0)
            self.unflushed = p.flush(90)
        except Exception as e:  # reported by join()
            self.exception = e

    def stop(self):
        self._halt.set()

    def acked_count(self):
        with self._lock:
            return len(self.acked)

    def finish(self, timeout=120):
        """Wait for the thread: every record delivered or failed, nothing left queued."""
        self.join(timeout)
        assert not self.is_alive(), "producer still running after %ss (%d sent, %d acked)" % (
            timeout, self.sent, len(self.acked))
        if self.exception:
            raise self.exception
        assert self.unflushed == 0, "%d records never delivered" % self.unflushed
        return self

    def first_ack_after(self, t, partition=None):
        """Seconds from t to the first acknowledgement after t (of partition when given)."""
        with self._lock:
            times = [at for at, p in self.ack_times if at > t and (partition is None or p == partition)]
        return min(times) - t if times else None


def consume_all(bootstrap, topic, partitions, timeout=60):
    """Every record of topic's partitions from offset 0 to the high watermark at the
    start, read by a fresh consumer (no group offsets): [(partition, offset, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check-%d" % os.getpid(),
                  "enable.auto.commit": False, "enable.partition.eof": False})
    try:
        ends = {}
        for part in partitions:
            ends[part] = wait_until(lambda: c.get_watermark_offsets(TopicPartition(topic, part), timeout=5),
                                    30, "the watermarks of %s-%d" % (topic, part))[1]
        c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in partitions])
        out, pos = [], {p: 0 for p in partitions}
        deadline = time.time() + timeout
        while any(pos[p] < ends[p] for p in partitions):
            assert time.time() < deadline, "read %s of %s records of %s within %ss" % (
                pos, ends, topic, timeout)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().retriable() or m.error().code() == KafkaError._PARTITION_EOF, m.error()
                continue
            if m.offset() >= ends[m.partition()]:
                continue
            out.append((m.partition(), m.offset(), m.value().decode()))
            pos[m.partition()] = m.offset() + 1
        return out
    finally:
        c.close()


def check_exactly_once(records, acked, partitions, failed=()):
    """records (from consume_all) against acked {value: (partition, offset)}: each
    acknowledged record of those partitions is present exactly once at the offset it was
    acknowledged with; offsets are dense from 0; anything else read is a value whose
    delivery was reported failed (in `failed`). Returns the number of records checked."""
    partitions = list(partitions)
    counts = collections.Counter(v for _, _, v in records)
    dups = sorted((v for v, n in counts.items() if n > 1), key=int)
    assert not dups, "%d records read more than once, e.g. %s" % (len(dups), dups[:10])
    for part in partitions:
        offs = sorted(o for p, o, _ in records if p == part)
        assert offs == list(range(len(offs))), "partition %d offsets not dense from 0: gaps at %s" % (
            part, sorted(set(range(offs[-1] + 1)) - set(offs))[:10] if offs else [])
    where = {v: (p, o) for p, o, v in records}
    mine = {v: po for v, po in acked.items() if po[0] in partitions}
    missing = sorted((v for v in mine if v not in where), key=int)
    assert not missing, "%d acknowledged records lost, e.g. %s" % (len(missing), missing[:10])
    moved = [(v, mine[v], where[v]) for v in mine if mine[v] != where[v]]
    assert not moved, "records not where they were acknowledged (value, acked, read): %s" % moved[:10]
    extra = sorted((v for v in where if v not in mine and v not in failed), key=int)
    assert not extra, "%d records read that were never acknowledged nor failed: %s" % (len(extra), extra[:10])
    return len(records)


class GroupReader(threading.Thread):
    """A consumer-group member (subscribe, auto commit) reading on its own thread until
    stop(): records [(partition, offset, value)] in the order read."""

    def __init__(self, bootstrap, group, topic, **conf):
        super().__init__(daemon=True)
        self.conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                     "session.timeout.ms": 10000, "heartbeat.interval.ms": 500}
        self.conf.update(conf)
        self.topic = topic
        self.records, self.errors = [], []
        self.rebalances = []  # (time, "assign" or "revoke", [partition, ...])
        self.exception = None
        self._halt = threading.Event()

    def run(self):
        try:
            c = Consumer(self.conf)

            def on(kind):
                return lambda _c, parts: self.rebalances.append(
                    (time.time(), kind, sorted(p.partition for p in parts)))
            c.subscribe([self.topic], on_assign=on("assign"), on_revoke=on("revoke"))
            try:
                while not self._halt.is_set():
                    m = c.poll(0.2)
                    if m is None:
                        continue
                    if m.error():
                        self.errors.append(m.error())
                        continue
                    self.records.append((m.partition(), m.offset(), m.value().decode()))
            finally:
                c.close()
        except Exception as e:
            self.exception = e

    def values(self):
        return {v for _, _, v in list(self.records)}

    def owned(self):
        """The partitions of the last assignment (none before the first, or after a
        revocation)."""
        last = self.rebalances[-1] if self.rebalances else None
        return last[2] if last and last[1] == "assign" else []

    def finish(self, timeout=30):
        self._halt.set()
        self.join(timeout)
        assert not self.is_alive(), "group consumer did not stop"
        if self.exception:
            raise self.exception
        return self


def admin_error_text(exc):
    """The words an admin failure carries: its KafkaError name and message."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        e = exc.args[0]
        return "%s %s" % (e.name(), e.str())
    return "%s %s" % (type(exc).__name__, exc)
