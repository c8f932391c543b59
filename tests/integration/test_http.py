"""The broker's HTTP endpoint: probes, /metrics parsed as Prometheus text with counters
that move after traffic (requests, bytes, partitions, group lag, Lua hooks), and the JSON
admin path that reloads Lua scripts."""
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import run
from kafka_wire import connect, produce_v7, read_response, record_batch, request


def get(broker, path, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (broker.http_port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics(broker):
    """{(name, frozenset(labels)): value} from /metrics, through the Prometheus parser."""
    status, body = get(broker, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def test_probes_and_unknown_paths(broker):
    assert get(broker, "/health") == (200, "ok\n")
    assert get(broker, "/ready") == (200, "ready\n")
    status, body = get(broker, "/nope")
    assert status == 404 and "/metrics" in body


def test_metrics_move_with_traffic(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=100)
    before = metrics(broker)
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    a.create_topics([NewTopic("m", num_partitions=2, replication_factor=1),
                     NewTopic("hooked", num_partitions=2, replication_factor=1,
                              config={"partitioner.script": "partitioners/murmur2.lua"})])["m"].result(20)
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(100):
        p.produce("m", key=b"k%d" % i, value=b"v" * 100, partition=i % 2)
        p.produce("hooked", key=b"k%d" % i, value=b"x")
    assert p.flush(20) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "mgroup", "enable.auto.commit": False})
    c.assign([TopicPartition("m", 0, 0)])
    got = 0
    while got < 30:
        msg = c.poll(5)
        assert msg is not None and not msg.error()
        got += 1
    c.commit(message=msg, asynchronous=False)  # offset 30 on partition 0
    c.close()

    after = metrics(broker)
    assert value(after, "runnel_requests_total", api="Produce") > (value(before, "runnel_requests_total", api="Produce") or 0)
    assert value(after, "runnel_requests_total", api="OffsetCommit") >= 1
    assert value(after, "runnel_request_duration_seconds_count", api="Fetch") >= 1
    assert value(after, "runnel_request_duration_seconds_bucket", api="Fetch", le="+Inf") == \
        value(after, "runnel_request_duration_seconds_count", api="Fetch")
    assert after[("runnel_bytes_in_total", frozenset())] > before[("runnel_bytes_in_total", frozenset())] + 100 * 100
    assert after[("runnel_bytes_out_total", frozenset())] > before[("runnel_bytes_out_total", frozenset())]
    assert after[("runnel_connections_opened_total", frozenset())] >= 3
    for part in (0, 1):
        assert value(after, "runnel_partition_high_watermark", topic="m", partition=str(part)) == 50
        assert value(after, "runnel_partition_log_start_offset", topic="m", partition=str(part)) == 0
        assert value(after, "runnel_partition_size_bytes", topic="m", partition=str(part)) > 50 * 100
    assert value(after, "runnel_group_lag", group="mgroup", topic="m", partition="0") == 20
    assert value(after, "runnel_group_members", group="mgroup", state="Empty") == 0
    assert after[("runnel_lua_calls_total", frozenset())] >= 100
    assert after[("runnel_lua_errors_total", frozenset())] == 0
    assert after[("runnel_lua_seconds_total", frozenset())] > 0
    # Error codes carried by responses, and RocksDB's figures.
    s = connect(broker)
    s.sendall(request(0, 7, 1, produce_v7("m", 7, record_batch([b"x"]))))  # no partition 7
    read_response(s)
    s.close()
    errs = metrics(broker)
    assert any(name == "runnel_response_errors_total" and dict(labels).get("error") == "3"
               for (name, labels) in errs), "no UNKNOWN_TOPIC_OR_PARTITION counted"
    assert after[("runnel_rocksdb_memtable_bytes", frozenset())] > 0
    assert ("runnel_rocksdb_write_stopped", frozenset()) in after
    # Scrapes do not disturb the broker: Kafka clients still work.
    run(["kcat", "-b", broker.bootstrap, "-q", "-L"])


def test_plugin_reload_through_the_admin_path(broker_factory):
    plugins = tempfile.mkdtemp(prefix="runnel-plugins-")
    try:
        script = os.path.join(plugins, "mark.lua")
        with open(script, "w") as f:
            f.write('function filter(r) r.value = "one" return r end\n')
        broker = broker_factory(plugins_dir=plugins)
        a = AdminClient({"bootstrap.servers": broker.bootstrap})
        a.create_topics([NewTopic("marked", num_partitions=1, replication_factor=1,
                                  config={"produce.filter.script": "mark.lua"})])["marked"].result(20)
        p = Producer({"bootstrap.servers": broker.bootstrap})
        p.produce("marked", value=b"x")
        p.flush(10)
        assert get(broker, "/v1/plugins/reload")[0] == 405  # GET does not reload
        with open(script, "w") as f:
            f.write("function filter(r) return (\n")
        status, body = get(broker, "/v1/plugins/reload", method="POST")
        assert status == 422 and json.loads(body)["failed"] == 1 and "mark.lua" in json.loads(body)["report"]
        p.produce("marked", value=b"x")
        p.flush(10)
        with open(script, "w") as f:
            f.write('function filter(r) r.value = "two" return r end\n')
        status, body = get(broker, "/v1/plugins/reload", method="POST")
        assert (status, json.loads(body)["failed"]) == (200, 0)
        p.produce("marked", value=b"x")
        p.flush(10)
        out = run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", "marked", "-o", "beginning", "-e"]).stdout
        assert out.decode().split() == ["one", "one", "two"]
        stats = json.loads(get(broker, "/v1/plugins")[1])
        assert stats["reloads"] == 1 and stats["reload_failures"] == 1 and stats["calls"] >= 3
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_sighup_applies_live_config_keys_and_names_the_rest(tmp_path):
    """SIGHUP re-reads the configuration file: log.level applies at once (and DescribeConfigs
    shows it), a key that needs a restart is named in the log, a broken file changes
    nothing."""
    import signal
    import time

    from conftest import ROOT, Broker
    conf = tmp_path / "runnel.conf"
    base = open(os.path.join(ROOT, "conf", "runnel.conf")).read()
    conf.write_text(base)

    class FileBroker(Broker):
        def argv(self):
            argv = super().argv()
            argv[argv.index("-c") + 1] = str(conf)
            return argv

    b = FileBroker(str(tmp_path))
    b.settings.pop("log.level", None)  # the file decides it
    b.start()
    try:
        conf.write_text(base.replace("log.level=info", "log.level=debug").replace("num.partitions=1", "num.partitions=3"))
        b.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "log.level is now debug" not in b.read_log():
            time.sleep(0.1)
        log = b.read_log()
        assert "log.level is now debug" in log
        assert "num.partitions changed from 1 to 3: it takes effect at the next start" in log
        a = AdminClient({"bootstrap.servers": b.bootstrap})
        from confluent_kafka.admin import ConfigResource
        res = a.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "1")])
        cfg = list(res.values())[0].result(10)
        assert cfg["log.level"].value == "debug"
        conf.write_text(base + "\nno.such.key=1\n")
        b.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "configuration not reloaded" not in b.read_log():
            time.sleep(0.1)
        assert "unknown key 'no.such.key'" in b.read_log()
        assert b.alive()
    finally:
        b.stop()
    assert not b.sanitizer_findings()
