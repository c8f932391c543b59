"""Stream processors inside the broker, through real clients: inputs produced with
librdkafka (confluent-kafka-python), outputs read by a librdkafka consumer group and
compared with results computed here. The ready-made processors (windowed aggregate,
enrichment join, router), state and timers, the dead-letter topic, output placement by the
topic's partitioner or the key hash, the admin path and the CLI, processors declared in
the configuration file, and exactly once across kill -9."""
import json
import os
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from confluent_kafka import Consumer, Producer

from conftest import BUILD, ROOT, run
from test_lua_hooks import create, java_murmur2

# Event times in the tests: an hour ago, aligned to the minute (recent enough that
# retention keeps the records).
T0 = (int(time.time() * 1000) // 60000) * 60000 - 3600_000


def http(broker, method, path, form=None):
    """(status, JSON) of a request to the broker's admin path."""
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (broker.http_port, path), data=data,
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def create_processor(broker, name, script, inputs, outputs, **options):
    form = {"name": name, "script": script, "inputs": ",".join(inputs),
            "outputs": ",".join(outputs)}
    form.update({"option." + k: v for k, v in options.items()})
    status, body = http(broker, "POST", "/v1/processors", form)
    assert status == 200, body
    assert body["status"] == "running", body
    return body


def status(broker, name):
    code, body = http(broker, "GET", "/v1/processors/" + name)
    assert code == 200, body
    return body


def wait_caught_up(broker, name, records_in=None, timeout=60):
    """Until the processor's committed positions reach every input's end."""
    deadline = time.time() + timeout
    while True:
        s = status(broker, name)
        done = s["lag"] == 0 and all(p["high_watermark"] >= 0 for p in s["positions"])
        if done and records_in is not None:
            done = sum(p["position"] for p in s["positions"]) >= records_in
        if done:
            return s
        assert time.time() < deadline, "processor %s did not catch up: %s" % (name, s)
        time.sleep(0.1)


def produce(broker, topic, records, **conf):
    """records: dicts with key, value and optionally partition, timestamp, headers."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, **conf})
    failures = []

    def report(err, msg):
        if err:
            failures.append(err)

    for r in records:
        kw = {k: r[k] for k in ("partition", "timestamp", "headers") if k in r}
        p.produce(topic, key=r.get("key"), value=r.get("value"), on_delivery=report, **kw)
        p.poll(0)
    assert p.flush(30) == 0
    assert not failures, failures


def consume_group(broker, topics, count, group=None, timeout=60):
    """count records from topics read by a consumer group: [(topic, partition, offset, key,
    value, headers)] in the order each partition holds them."""
    c = Consumer({"bootstrap.servers": broker.bootstrap,
                  "group.id": group or "verify-%d" % time.time_ns(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 6000})
    c.subscribe(list(topics))
    out = []
    deadline = time.time() + timeout
    try:
        while len(out) < count:
            assert time.time() < deadline, "read %d of %d records: %s" % (len(out), count, out[-5:])
            m = c.poll(0.5)
            if m is None:
                continue
            assert not m.error(), m.error()
            out.append((m.topic(), m.partition(), m.offset(),
                        m.key().decode() if m.key() is not None else None,
                        m.value().decode() if m.value() is not None else None,
                        [(k, v.decode() if v is not None else None) for k, v in (m.headers() or [])]))
        c.commit(asynchronous=False)
        extra = c.poll(1.0)  # nothing more than expected
        assert extra is None or extra.error(), "an unexpected record: %s" % extra.value()
    finally:
        c.close()
    return sorted(out, key=lambda r: (r[0], r[1], r[2]))


def plugins_with(scripts):
    """A plugins.dir: the shipped lua/ plus the given test scripts under t/."""
    d = tempfile.mkdtemp(prefix="runnel-lua-")
    shutil.copytree(os.path.join(ROOT, "lua"), d, dirs_exist_ok=True)
    os.makedirs(os.path.join(d, "t"))
    for name, text in scripts.items():
        with open(os.path.join(d, "t", name), "w") as f:
            f.write(text)
    return d


# A stateful map: a running count per key, emitted to the output partition of its task so
# that each output partition is a deterministic function of one input partition.
COUNTER = r"""
function process(record, ctx)
  if record.value == "fail" then error("refusing record " .. record.offset) end
  if record.value == "spin" then while true do end end
  if record.value == "opt" then ctx.options.sneaky = "1" end
  if record.value == "io" then io.open("/etc/passwd") end  -- the sandbox has no io
  local n = tonumber(ctx.state:get(record.key) or "0") + 1
  ctx.state:put(record.key, tostring(n))
  ctx:emit(ctx.outputs[1], record.key, record.key .. "=" .. n .. ":" .. record.value,
           {{"source.offset", tostring(record.offset)}}, ctx.task)
  if n == 3 then ctx:schedule("third-" .. record.key, record.timestamp + 1000, "event", record.key) end
end

function on_timer(timer, ctx)
  ctx:emit(ctx.outputs[1], timer.payload, "timer " .. timer.name .. " at " .. timer.at, nil, ctx.task)
end
"""


def expected_counter(inputs):
    """What COUNTER emits for {partition: [(offset, key, value, ts)]}: {partition: [(key, value)]}."""
    out = {}
    for part, recs in inputs.items():
        counts, timers, stream, res = {}, [], -1, []
        for off, key, value, ts in recs:
            stream = max(stream, ts)
            if value not in ("fail", "spin", "opt", "io"):
                counts[key] = counts.get(key, 0) + 1
                n = counts[key]
                res.append((key, "%s=%d:%s" % (key, n, value)))
                if n == 3:
                    timers.append((ts + 1000, "third-" + key, key))
            for t in sorted(x for x in timers if x[0] <= stream):
                res.append((t[2], "timer %s at %d" % (t[1], t[0])))
                timers.remove(t)
        out[part] = res
    return out


def test_state_timers_dead_letters_and_admin(broker_factory):
    plugins = plugins_with({"counter.lua": COUNTER})
    try:
        broker = broker_factory(plugins_dir=plugins, plugins_instruction_budget=2000000)
        create(broker, "events", 2)
        create(broker, "counts", 2)
        body = create_processor(broker, "counter", "t/counter.lua", ["events"], ["counts"])
        assert body["tasks"] == 2 and body["inputs"] == ["events"], body
        recs, inputs = [], {0: [], 1: []}
        for i in range(60):
            part, key = i % 2, "k%d" % (i % 5)
            value = {17: "fail", 30: "spin", 41: "opt", 52: "io"}.get(i, "v%d" % i)
            recs.append({"key": key, "value": value, "partition": part, "timestamp": T0 + i * 100})
            inputs[part].append((len(inputs[part]), key, value, T0 + i * 100))
        produce(broker, "events", recs)
        s = wait_caught_up(broker, "counter", records_in=60)
        want = expected_counter(inputs)
        total = sum(len(v) for v in want.values())
        assert s["records_in"] == 60 and s["dead_letters"] == 4, s
        got = consume_group(broker, ["counts"], total)
        for part in (0, 1):
            assert [(k, v) for (_, p, _, k, v, _) in got if p == part] == want[part]
        offset_of = {v: off for recs in inputs.values() for (off, _, v, _) in recs}
        for (_, _, _, _, v, h) in got:
            if not v.startswith("timer"):
                assert h == [("source.offset", str(offset_of[v.split(":", 1)[1]]))], (v, h)
        # the two faulty records are in the dead-letter topic with their errors; the rest flowed
        dlq = consume_group(broker, ["counter.dlq"], 4)
        by_value = {r[4]: dict(r[5]) for r in dlq}
        assert set(by_value) == {"fail", "spin", "opt", "io"}, dlq
        assert "global 'io'" in by_value["io"]["error"], by_value["io"]
        assert "ctx.options is read-only" in by_value["opt"]["error"], by_value["opt"]
        assert "refusing record 8" in by_value["fail"]["error"], by_value["fail"]
        assert by_value["fail"]["source.topic"] == "events" and by_value["fail"]["source.partition"] == "1"
        assert by_value["fail"]["source.offset"] == "8"
        assert "error.trace" in by_value["fail"]
        assert "instruction budget" in by_value["spin"]["error"] or "budget" in by_value["spin"]["error"], by_value["spin"]
        assert status(broker, "counter")["last_error"]
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % broker.http_port, timeout=10) as r:
            metrics = r.read().decode()
        assert 'runnel_processor_lag{processor="counter"} 0' in metrics, metrics
        assert 'runnel_processor_records_in_total{processor="counter"} 60' in metrics
        assert 'runnel_processor_dead_letters_total{processor="counter"} 4' in metrics

        # stop, reset to earliest (state cleared), start: the same outputs again
        code, body = http(broker, "POST", "/v1/processors/counter/reset", {"offset": "earliest"})
        assert code == 400 and "stop it first" in body["error"], body
        code, body = http(broker, "POST", "/v1/processors/counter/stop")
        assert code == 200 and body["status"] == "stopped", body
        code, body = http(broker, "POST", "/v1/processors/counter/reset", {"offset": "earliest"})
        assert code == 200 and all(p["position"] == 0 for p in body["positions"]), body
        code, body = http(broker, "POST", "/v1/processors/counter/start")
        assert code == 200, body
        wait_caught_up(broker, "counter", records_in=60)
        again = consume_group(broker, ["counts"], 2 * total)
        for part in (0, 1):
            assert [(k, v) for (_, p, _, k, v, _) in again if p == part] == want[part] * 2

        # bad requests get clear errors
        code, body = http(broker, "POST", "/v1/processors", {"name": "x", "script": "t/nope.lua", "inputs": "events"})
        assert code == 400 and "nope.lua" in body["error"], body
        code, body = http(broker, "POST", "/v1/processors", {"name": "x", "script": "t/counter.lua", "inputs": "missing"})
        assert code == 400 and "'missing' does not exist" in body["error"], body
        code, body = http(broker, "POST", "/v1/processors", {"name": "bad/name", "script": "t/counter.lua", "inputs": "events"})
        assert code == 400 and "processor name" in body["error"], body
        code, body = http(broker, "POST", "/v1/processors", {"name": "counter", "script": "t/counter.lua", "inputs": "events"})
        assert code == 409 and "already exists" in body["error"], body
        code, body = http(broker, "GET", "/v1/processors/nope")
        assert code == 404, body
        code, body = http(broker, "DELETE", "/v1/processors/counter")
        assert code == 200 and body == {"deleted": "counter"}, body
        assert http(broker, "GET", "/v1/processors")[1] == {"processors": []}
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_windowed_aggregate(broker):
    create(broker, "clicks", 2)
    create_processor(broker, "clicks-per-minute", "processors/windowed_aggregate.lua", ["clicks"],
                     ["clicks-per-minute"], **{"window.size.ms": "60000", "window.grace.ms": "5000",
                                               "key.field": "page", "value.field": "ms"})
    recs, want = [], {}
    for i in range(400):
        part = i % 2
        page = "p%d-%d" % (part, (i // 2) % 3)  # each page lives in one partition
        ts = T0 + i * 700
        ms = i % 17
        recs.append({"key": "u%d" % i, "value": json.dumps({"page": page, "ms": ms}),
                     "partition": part, "timestamp": ts})
        w = (ts - ts % 60000)
        c = want.setdefault((page, w), [0, 0])
        c[0] += 1
        c[1] += ms
    # stream time past every window's close, in both tasks (these records open a new window)
    end = T0 + 400 * 700 + 120000
    for part in (0, 1):
        recs.append({"key": "tick", "value": json.dumps({"page": "tick", "ms": 0}), "partition": part,
                     "timestamp": end})
    produce(broker, "clicks", recs)
    got = consume_group(broker, ["clicks-per-minute"], len(want))
    results = {}
    for (_, _, _, key, value, _) in got:
        r = json.loads(value)
        assert r["key"] == key and r["window_end"] - r["window_start"] == 60000
        assert (key, r["window_start"]) not in results, "a window emitted twice: %s" % value
        results[(key, r["window_start"])] = [r["count"], r["sum"]]
    assert results == {k: v for k, v in want.items()}


def test_enrich_join_and_router(broker):
    create(broker, "customers", 3)
    create(broker, "orders", 3)
    customers = {"c%d" % i: {"name": "n%d" % i, "region": ["eu", "us", "apac"][i % 3]} for i in range(20)}
    # The orders are written first but happened after the customers: the task reads its
    # inputs in timestamp order, so every order sees its customer. Keyed records land
    # where the same key does in the other topic (the same client partitioner).
    orders = [{"key": "c%d" % (i % 25), "value": json.dumps({"order_id": i, "amount": i * 10}),
               "timestamp": T0 + 60000 + i} for i in range(100)]
    produce(broker, "orders", orders)
    produce(broker, "customers", [{"key": k, "value": json.dumps(v), "timestamp": T0 + i}
                                  for i, (k, v) in enumerate(customers.items())])
    create_processor(broker, "enrich", "processors/enrich_join.lua", ["orders", "customers"],
                     ["orders-enriched"], **{"join.table": "customers", "enrich.as": "customer"})
    # route the enriched orders by the customer's region... via a second processor on the output
    create_processor(broker, "route", "processors/router.lua", ["orders-enriched"],
                     ["orders-eu", "orders-us", "orders-other"],
                     **{"route.field": "region", "route.eu": "orders-eu", "route.us": "orders-us",
                        "route.default": "orders-other"})
    got = consume_group(broker, ["orders-enriched"], 100)
    for (_, _, _, key, value, _) in got:
        v = json.loads(value)
        assert v["customer"] == customers.get(key), value
    # the router reads a top-level field: enriched orders have none called region, so
    # everything takes the default route; route the customers topic too to see real routes
    create_processor(broker, "route-customers", "processors/router.lua", ["customers"],
                     ["customers-eu", "customers-us", "customers-other"],
                     **{"route.field": "region", "route.eu": "customers-eu", "route.us": "customers-us",
                        "route.default": "customers-other"})
    other = consume_group(broker, ["orders-other"], 100)
    assert sorted(json.loads(r[4])["order_id"] for r in other) == list(range(100))
    routed = consume_group(broker, ["customers-eu", "customers-us", "customers-other"], 20)
    for (topic, _, _, key, value, _) in routed:
        region = customers[key]["region"]
        assert topic == {"eu": "customers-eu", "us": "customers-us"}.get(region, "customers-other"), (topic, key)
        assert json.loads(value) == customers[key]


PLACER = r"""
function process(record, ctx)
  ctx:emit("by-partitioner", record.key, record.value)
  ctx:emit("by-key", record.key, record.value)
end
"""


def test_output_placement_follows_the_topic(broker_factory):
    plugins = plugins_with({"placer.lua": PLACER})
    try:
        broker = broker_factory(plugins_dir=plugins)
        create(broker, "raw", 1)
        create(broker, "by-partitioner", 4, partitioner_script="partitioners/json_field.lua",
               partitioner_field="user")
        create(broker, "by-key", 5)
        create_processor(broker, "placer", "t/placer.lua", ["raw"], ["by-partitioner", "by-key"])
        recs = [{"key": "k%d" % i, "value": json.dumps({"user": "u%d" % (i % 13), "i": i})} for i in range(60)]
        produce(broker, "raw", recs)
        got = consume_group(broker, ["by-partitioner", "by-key"], 120)
        for (topic, part, _, key, value, _) in got:
            if topic == "by-partitioner":
                user = json.loads(value)["user"].encode()
                assert part == (java_murmur2(user) & 0x7FFFFFFF) % 4, (key, value, part)
            else:
                assert part == (java_murmur2(key.encode()) & 0x7FFFFFFF) % 5, (key, part)
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def test_declared_in_config_and_cli(broker_factory):
    plugins = plugins_with({"counter.lua": COUNTER})
    try:
        broker = broker_factory(plugins_dir=plugins)
        create(broker, "events", 1)
        create(broker, "counts", 1)
        broker.settings.update({"processor.tally.script": "t/counter.lua",
                                "processor.tally.inputs": "events",
                                "processor.tally.outputs": "counts"})
        broker.restart()
        produce(broker, "events", [{"key": "a", "value": "v%d" % i, "timestamp": T0 + i} for i in range(5)])
        wait_caught_up(broker, "tally", records_in=5)
        where = ["--bootstrap", broker.bootstrap, "--http", "127.0.0.1:%d" % broker.http_port]

        def cli(*args, check=True):
            return run([os.path.join(BUILD, "runnel")] + list(args) + where, check=check)
        listed = json.loads(cli("processor", "list", "--json").stdout)
        assert [p["name"] for p in listed["processors"]] == ["tally"]
        table = cli("processor", "list").stdout.decode()
        assert "tally" in table and "t/counter.lua" in table and "running" in table, table
        text = cli("processor", "status", "tally").stdout.decode()
        assert "records in   5" in text and "events" in text, text
        # a restart resumes at the committed positions: nothing is processed twice
        broker.restart()
        produce(broker, "events", [{"key": "a", "value": "w%d" % i, "timestamp": T0 + 5000 + i}
                                   for i in range(3)])
        wait_caught_up(broker, "tally", records_in=8)
        got = consume_group(broker, ["counts"], 9)  # 8 counts and the timer after the third
        assert [r[4] for r in got if not r[4].startswith("timer")] == \
            ["a=%d:%s" % (i + 1, v) for i, v in enumerate(["v0", "v1", "v2", "v3", "v4", "w0", "w1", "w2"])]
        # the CLI drives the admin path: stop, reset, start, delete
        cli("processor", "stop", "tally")
        p = cli("processor", "reset", "tally", "--to", "latest")
        assert "stopped" in p.stdout.decode()
        p = cli("processor", "reset", "tally", "--to", "-3", check=False)
        assert p.returncode == 1 and b"offset must be" in p.stderr, p.stderr
        created = json.loads(cli("processor", "create", "copy", "--script", "t/counter.lua",
                                        "--input", "events", "--output", "copied", "--stopped",
                                        "--json").stdout)
        assert created["status"] == "stopped" and created["outputs"] == ["copied"], created
        cli("processor", "start", "copy")
        wait_caught_up(broker, "copy", records_in=8)
        p = cli("processor", "delete", "nope", check=False)
        assert p.returncode == 1 and b"no processor nope" in p.stderr, p.stderr
        cli("processor", "delete", "copy")
        assert [x["name"] for x in json.loads(cli("processor", "list", "--json").stdout)["processors"]] == ["tally"]
    finally:
        shutil.rmtree(plugins, ignore_errors=True)


def read_partitions(broker, topic, partitions):
    """{partition: [(key, value)]} of everything in topic, read with assign()."""
    from confluent_kafka import TopicPartition
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "r-%d" % time.time_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, eof = {p: [] for p in range(partitions)}, set()
    deadline = time.time() + 60
    try:
        while len(eof) < partitions:
            assert time.time() < deadline
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                eof.add(m.partition())
                continue
            out[m.partition()].append((m.key().decode(), m.value().decode()))
    finally:
        c.close()
    return out


def test_exactly_once_across_kill9(broker_factory):
    """Produce a known stream (idempotent, acks=all) while the broker is killed with -9 three
    times: the outputs are exactly what an uncrashed run gives for the input as stored,
    record for record, with no loss and no duplicate."""
    plugins = plugins_with({"counter.lua": COUNTER})
    try:
        broker = broker_factory(plugins_dir=plugins, processors_step_records=50)
        create(broker, "events", 2)
        create(broker, "counts", 2)
        create_processor(broker, "counter", "t/counter.lua", ["events"], ["counts"])
        n = 6000
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                             "acks": "all", "linger.ms": 2, "message.timeout.ms": 120000,
                             "reconnect.backoff.max.ms": 200})
        errors = []

        def feed():
            for i in range(n):
                while True:
                    try:
                        producer.produce("events", key="k%d" % (i % 7), value="v%d" % i,
                                         partition=i % 2, timestamp=T0 + i,
                                         on_delivery=lambda e, m: e and errors.append(e))
                        break
                    except BufferError:
                        producer.poll(0.1)
                producer.poll(0)
                if i % 50 == 0:
                    time.sleep(0.002)
            producer.flush(120)

        t = threading.Thread(target=feed)
        t.start()
        kills = 0
        for delay in (0.8, 1.2, 1.0):
            time.sleep(delay)
            broker.kill9()
            kills += 1
            time.sleep(0.3)
            broker.start()
        t.join(180)
        assert not t.is_alive() and not errors, errors
        assert kills == 3
        s = wait_caught_up(broker, "counter", records_in=n, timeout=120)
        stored = read_partitions(broker, "events", 2)
        assert sum(len(v) for v in stored.values()) == n, "the idempotent producer lost or doubled input"
        inputs = {p: [(o, k, v, T0 + int(v[1:])) for o, (k, v) in enumerate(recs)] for p, recs in stored.items()}
        want = expected_counter(inputs)
        got = read_partitions(broker, "counts", 2)
        for part in (0, 1):
            assert len(got[part]) == len(want[part]), "partition %d: %d outputs, want %d (status %s)" % (
                part, len(got[part]), len(want[part]), s)
            assert got[part] == want[part]
    finally:
        shutil.rmtree(plugins, ignore_errors=True)
