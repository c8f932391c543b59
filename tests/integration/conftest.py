"""Integration test harness: the real runnel-server on a free port with a temporary data
dir, driven by real Kafka clients. A sanitizer report in the server's stderr fails the
test that was running."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import shutil

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER = os.environ.get("RUNNEL_SERVER", os.path.join(ROOT, "build-asan", "runnel-server"))
BUILD = os.environ.get("RUNNEL_BUILD", os.path.dirname(SERVER))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer", "ERROR: UndefinedBehavior")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One runnel-server process; restartable on the same data dir."""

    def __init__(self, tmp, settings=None):
        self.port = free_port()
        self.data_dir = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "server.log")
        self.http_port = free_port()
        self.settings = {
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "http.listener": "127.0.0.1:%d" % self.http_port,
            "data.dir": self.data_dir,
            "log.retention.check.interval.ms": "500",
            "log.level": "info",
        }
        self.settings.update(settings or {})
        self.proc = None
        self.starts = 0

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def argv(self):
        argv = [SERVER, "-c", os.path.join(ROOT, "conf", "runnel.conf")]
        for k, v in self.settings.items():
            argv += ["--set", "%s=%s" % (k, v)]
        return argv

    def start(self, timeout=20):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.starts += 1
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("runnel-server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("runnel-server did not accept within %ss:\n%s" % (timeout, self.read_log()))

    def stop(self, timeout=30):
        """SIGTERM: a clean stop must exit 0."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("runnel-server did not stop within %ss:\n%s" % (timeout, self.read_log()))
        finally:
            self.proc = None
            self.log.close()
        assert rc == 0, "runnel-server exited %s on SIGTERM:\n%s" % (rc, self.read_log())

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self.log.close()

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_findings(self):
        log = self.read_log()
        return [m for m in SANITIZER_MARKS if m in log]


@pytest.fixture
def broker_factory(request):
    if CLUSTER_SIZE:
        yield from cluster_broker_factory(request.getfixturevalue("cluster_pool"))
        return
    made = []
    tmps = []

    def make(**settings):
        tmp = tempfile.mkdtemp(prefix="runnel-test-")
        tmps.append(tmp)
        b = Broker(tmp, {k.replace("_", "."): str(v).lower() if isinstance(v, bool) else str(v)
                         for k, v in settings.items()})
        made.append(b)
        return b.start()

    yield make
    problems = []
    for b in made:
        if b.alive():
            try:
                b.stop()
            except AssertionError as e:
                problems.append(str(e))
        found = b.sanitizer_findings()
        if found:
            problems.append("sanitizer findings %s in the server log:\n%s" % (found, b.read_log()[-8000:]))
    for t in tmps:
        shutil.rmtree(t, ignore_errors=True)
    assert not problems, "\n".join(problems)


# RUNNEL_CLUSTER=N: broker_factory (and so broker) starts an N-broker cluster instead
# (tests/integration/cluster.py: default.replication.factor=3, offsets.topic.num.partitions=8,
# fast session timeouts), and the client suites run against it unchanged. The tests below
# assert a single broker's shape and are skipped then.
CLUSTER_SIZE = int(os.environ.get("RUNNEL_CLUSTER") or 0)
SINGLE_BROKER_ONLY = {
    "test_kcat.py::test_metadata_lists_broker_and_topics": "asserts broker 1 is the only broker and replica",
    "test_kafkajs.py::test_kafkajs_admin_and_produce": "asserts leader 1 and isr [1]",
    "test_confluent_python.py::test_admin_errors_are_clear": "expects replication factor 3 to be refused",
}


def pytest_collection_modifyitems(config, items):
    if not CLUSTER_SIZE:
        return
    for item in items:
        reason = SINGLE_BROKER_ONLY.get(item.nodeid.rsplit("/", 1)[-1])
        if reason:
            item.add_marker(pytest.mark.skip(reason="RUNNEL_CLUSTER: " + reason))


@pytest.fixture(scope="module")
def cluster_pool():
    """RUNNEL_CLUSTER: a module's clusters, one per distinct settings, shared by its tests
    (three ASan brokers started and stopped per test were most of the cluster run's time).
    Closed, and their sanitizer reports checked, when the module ends."""
    pool = {}
    yield pool
    problems = []
    for c in pool.values():
        problems += c.close()
    assert not problems, "\n".join(problems)


def cluster_broker_factory(pool):
    """broker_factory's body in cluster mode: make(**settings) gives a ready Cluster whose
    bootstrap names every broker (the module's, when one with these settings is up: tests
    use their own topic and group names); restart() restarts them all; read_log() is every
    log from the start of the test. A broker that died during the test fails it."""
    from cluster import Cluster, settings_from_kwargs

    used = []

    def make(**settings):
        key = tuple(sorted(settings_from_kwargs(settings).items()))
        c = pool.get(key)
        if c is not None and (c.crashed() or len(c.alive_ids()) != CLUSTER_SIZE):
            problems = pool.pop(key).close()
            assert not problems, "\n".join(problems)
            c = None
        if c is None:
            c = pool[key] = Cluster(CLUSTER_SIZE, dict(key))
            c.start(timeout=90)
        else:
            c.wait_ready()
        c.mark_logs()
        used.append(c)
        return c

    yield make
    for c in used:
        assert not c.crashed(), "broker(s) %s exited:\n%s" % (c.crashed(), c.read_log()[-6000:])


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


def run(argv, timeout=60, input=None, check=True):
    """Run a client program; fail with its output if it fails."""
    p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), p.returncode, p.stdout.decode(errors="replace")[-4000:],
            p.stderr.decode(errors="replace")[-4000:]))
    return p


def client_program(name):
    path = os.path.join(BUILD, name)
    assert os.path.exists(path), "%s is not built (cmake builds tests/clients/*.c)" % path
    return path
