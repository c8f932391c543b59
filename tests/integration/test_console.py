"""The web console served by the broker, and the /v1 JSON it is built from.

The JSON endpoints are checked over HTTP (shapes, 404s, 400s with a sentence, 403 on
actions by default, the actions when they are on, the embedded pages' headers). The pages
are checked in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core,
tests/integration/js/console_driver.js): the overview's numbers move while
`runnel bench produce` runs, the message browser shows a record this test produced, a
group's lag appears and drops to zero once its consumer catches up, and the processors
page shows a processor. Every page is screenshotted into $RUNNEL_SCREENSHOTS (default: a
temporary directory, printed at the end); with RUNNEL_UPDATE_DOCS_SCREENSHOT=1 the
overview's also replaces net/console/screenshot.png, the README's picture."""
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import ROOT, client_program

JS = os.path.join(ROOT, "tests", "integration", "js")
CHROMIUM = os.environ.get("RUNNEL_CHROMIUM", "/usr/bin/chromium")


def http(broker, path, method="GET", form=None, headers=None):
    """(status, headers, body: parsed JSON when it is JSON)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (broker.http_port, path), data=data,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    if (hdrs.get("Content-Type") or "").startswith("application/json"):
        return status, hdrs, json.loads(raw)
    return status, hdrs, raw


def get(broker, path):
    status, _, body = http(broker, path)
    assert status == 200, (path, status, body)
    return body


def create_topics(broker, *topics, config=None):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = a.create_topics([NewTopic(name, num_partitions=n, replication_factor=1, config=config or {})
                          for name, n in topics])
    for f in fs.values():
        f.result(20)


def produce(broker, topic, records, partition=0):
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for key, value, headers in records:
        p.produce(topic, key=key, value=value, headers=headers, partition=partition)
    assert p.flush(20) == 0


def consumer(broker, group, topic):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    return c


def consume_to(c, last_offset, timeout=30):
    """Poll until the record at last_offset arrived, then commit past it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = c.poll(1)
        if m is None or m.error():
            continue
        if m.offset() >= last_offset:
            c.commit(offsets=[TopicPartition(m.topic(), m.partition(), last_offset + 1)],
                     asynchronous=False)
            return
    raise AssertionError("offset %d never arrived" % last_offset)


def wait_for(what, fn, timeout=20):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


# ---- the /v1 JSON ---------------------------------------------------------------------------


def test_v1_json_shapes_and_errors(broker_factory):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    create_topics(broker, ("plain", 2))
    create_topics(broker, ("hooked", 1), config={"partitioner.script": "partitioners/murmur2.lua"})
    produce(broker, "plain", [(b"k%d" % i, b'{"n": %d}' % i, [("h", b"v%d" % i)]) for i in range(10)])
    produce(broker, "plain", [(None, b"\xff\xfe binary", None), (b"k", None, [("nul", None)])])
    c = consumer(broker, "readers", "plain")
    consume_to(c, 3)
    c.close()

    o = get(broker, "/v1/overview")
    for k in ("broker_id", "version", "cluster_id", "uptime_ms", "time_ms", "bytes_in", "bytes_out",
              "records_in", "records_consumed", "connections", "requests", "lua", "brokers"):
        assert k in o, k
    assert (o["topics"], o["partitions"], o["groups"], o["records_in"]) == (2, 3, 1, 12)
    assert o["records_consumed"] == 4 and o["actions_enabled"] is False
    assert o["brokers"] == [{"node_id": 1, "host": "127.0.0.1", "port": broker.port}]

    topics = {t["name"]: t for t in get(broker, "/v1/topics")["topics"]}
    assert set(topics) == {"plain", "hooked"}
    assert topics["plain"]["records"] == 12 and topics["plain"]["partition_count"] == 2
    assert topics["hooked"]["hooks"] == {"partitioner": "partitioners/murmur2.lua",
                                         "produce_filter": None, "view_filter": None}
    t = get(broker, "/v1/topics/hooked")
    assert [p["partition"] for p in t["partitions"]] == [0]
    cfg = {c["name"]: c for c in t["configs"]}
    assert cfg["partitioner.script"]["hook"] and cfg["partitioner.script"]["value"] == "partitioners/murmur2.lua"
    assert cfg["partitioner.script"]["source"] == "topic" and not cfg["partitioner.script"]["default"]
    assert not cfg["retention.ms"]["hook"] and cfg["retention.ms"]["default"]
    p0 = get(broker, "/v1/topics/plain")["partitions"][0]
    assert (p0["log_start_offset"], p0["high_watermark"], p0["log_end_offset"]) == (0, 12, 12)
    assert p0["size_bytes"] > 0 and p0["leader"] == 1

    r = get(broker, "/v1/topics/plain/records?partition=0&offset=2&limit=3")
    assert [x["offset"] for x in r["records"]] == [2, 3, 4] and r["next_offset"] == 5
    x = r["records"][0]
    assert (x["key"], x["value"], x["value_encoding"]) == ("k2", '{"n": 2}', "text")
    assert x["headers"] == [{"name": "h", "name_encoding": "text", "name_size": 1, "name_truncated": False,
                             "value": "v2", "value_encoding": "text", "value_size": 2, "value_truncated": False}]
    r = get(broker, "/v1/topics/plain/records?offset=10")
    binary, nulls = r["records"]
    assert binary["key"] is None and binary["value_encoding"] == "base64"
    assert binary["value"] == "//4gYmluYXJ5"  # base64 of b"\xff\xfe binary"
    assert nulls["value"] is None and nulls["headers"][0]["value"] is None
    ts = r["records"][0]["timestamp"]
    r = get(broker, "/v1/topics/plain/records?timestamp=%d&limit=1" % ts)
    assert r["records"][0]["timestamp"] >= ts and len(r["records"]) == 1
    r = get(broker, "/v1/topics/plain/records?timestamp=%d" % (ts + 3600_000))
    assert r["records"] == [] and r["next_offset"] == 12
    r = get(broker, "/v1/topics/plain/records?partition=1")
    assert r["records"] == [] and r["high_watermark"] == 0
    r = get(broker, "/v1/topics/plain/records?offset=999")  # clamped to the high watermark
    assert r["records"] == [] and r["start_offset"] == 12

    # a long value: its first 64 KiB, cut before a character, not through it
    big = ("a" + "é" * 35000).encode()
    produce(broker, "plain", [(b"big", big, None)], partition=1)
    x = get(broker, "/v1/topics/plain/records?partition=1")["records"][0]
    assert (x["value_encoding"], x["value_truncated"], x["value_size"]) == ("text", True, len(big))
    assert x["value"] == "a" + "é" * 32767 and x["key_truncated"] is False

    # a view's records are its source's, through the view's filter
    create_topics(broker, ("twos", 2), config={"view.of": "plain", "view.filter.script": "filters/field_equals.lua",
                                              "view.filter.field": "n", "view.filter.value": "2"})
    assert get(broker, "/v1/overview")["views"] == 1
    r = get(broker, "/v1/topics/twos/records?partition=0")
    assert [(x["offset"], x["value"]) for x in r["records"]] == [(2, '{"n": 2}')] and r["next_offset"] == 12
    assert get(broker, "/v1/topics/twos")["view_of"] == "plain"

    groups = get(broker, "/v1/groups")["groups"]
    assert groups == [{"group_id": "readers", "state": "Empty", "protocol_type": "consumer",
                       "members": 0, "partitions": 1, "lag": 8}]
    g = get(broker, "/v1/groups/readers")
    assert g["state"] == "Empty" and g["members"] == [] and g["lag"] == 8
    assert g["offsets"] == [{"topic": "plain", "partition": 0, "committed_offset": 4, "log_start_offset": 0,
                             "high_watermark": 12, "lag": 8, "member_id": None, "metadata": "",
                             "commit_timestamp": g["offsets"][0]["commit_timestamp"]}]

    # unknown things are 404s, bad parameters 400s, each with a sentence
    for path, code, words in [
        ("/v1/topics/nope", 404, "no topic named 'nope'"),
        ("/v1/topics/nope/records", 404, "no topic named 'nope'"),
        ("/v1/topics/plain/records?partition=7", 404, "no partition 7"),
        ("/v1/topics/plain/whatever", 404, "no such path"),
        ("/v1/groups/nobody", 404, "no group named 'nobody'"),
        ("/v1/groups/a%2Fb", 404, "no group named 'a/b'"),
        ("/v1/topics/plain/records?limit=0", 400, "limit must be a whole number from 1 to 500"),
        ("/v1/topics/plain/records?limit=abc", 400, "limit must be"),
        ("/v1/topics/plain/records?offset=-1", 400, "offset must be"),
        ("/v1/topics/plain/records?partition=x", 400, "partition must be"),
        ("/v1/topics/plain/records?offset=1&timestamp=2", 400, "offset or timestamp, not both"),
        ("/v1/topics/plain/records?max_bytes=999999999", 400, "max_bytes must be"),
    ]:
        status, hdrs, body = http(broker, path)
        assert status == code and words in body["error"], (path, status, body)
        assert hdrs["Content-Type"] == "application/json"

    # actions are off by default: 403 with the switch named
    for path, form in [("/v1/topics", {"name": "new"}),
                       ("/v1/groups/readers/offsets", {"topic": "plain", "offset": "earliest"})]:
        status, _, body = http(broker, path, "POST", form)
        assert status == 403 and "http.console.actions.enable=true" in body["error"], body
    assert "new" not in {t["name"] for t in get(broker, "/v1/topics")["topics"]}
    status, hdrs, body = http(broker, "/v1/overview", "DELETE")
    assert status == 405 and "read-only" in body["error"]


def test_console_pages_are_embedded_with_caching_headers(broker):
    status, hdrs, body = http(broker, "/")
    assert status == 200 and hdrs["Content-Type"] == "text/html; charset=utf-8"
    assert hdrs["Cache-Control"] == "no-cache" and "script-src 'self'" in hdrs["Content-Security-Policy"]
    html = body.decode()
    version = re.search(r'/console/app\.js\?v=([0-9a-f]{16})"', html).group(1)
    assert "@CONSOLE_VERSION@" not in html
    assert http(broker, "/console/")[2] == body
    status, hdrs, js = http(broker, "/console/app.js?v=" + version)
    assert status == 200 and hdrs["Content-Type"] == "text/javascript; charset=utf-8"
    assert hdrs["Cache-Control"] == "public, max-age=31536000, immutable"
    assert js == open(os.path.join(ROOT, "net", "console", "app.js"), "rb").read()
    status, hdrs, _ = http(broker, "/console/app.js")  # without the version: revalidate
    assert hdrs["Cache-Control"] == "no-cache"
    status, _, _ = http(broker, "/console/app.js", headers={"If-None-Match": hdrs["ETag"]})
    assert status == 304
    status, hdrs, _ = http(broker, "/console/style.css")
    assert status == 200 and hdrs["Content-Type"] == "text/css; charset=utf-8"
    assert http(broker, "/console/screenshot.png")[0] == 404  # the README's, not the console's
    assert http(broker, "/console/../conftest.py")[0] == 404


def test_actions_when_switched_on(broker_factory):
    broker = broker_factory(http_console_actions_enable=True, group_initial_rebalance_delay_ms=0)
    assert get(broker, "/v1/overview")["actions_enabled"] is True
    status, _, body = http(broker, "/v1/topics", "POST",
                           {"name": "made", "partitions": "3", "config.retention.ms": "60000"})
    assert status == 201 and body["partition_count"] == 3, body
    assert {c["name"]: c["value"] for c in body["configs"]}["retention.ms"] == "60000"
    status, _, body = http(broker, "/v1/topics", "POST", {"name": "made"})
    assert status == 409 and "made" in body["error"]
    status, _, body = http(broker, "/v1/topics", "POST", {"name": "bad name!"})
    assert status == 400 and body["error"]
    status, _, body = http(broker, "/v1/topics", "POST", {"name": "x", "config.nope": "1"})
    assert status == 400 and "nope" in body["error"]
    # a page of another origin cannot make a browser act
    status, _, body = http(broker, "/v1/topics", "POST", {"name": "csrf"},
                           headers={"Origin": "http://evil.example"})
    assert status == 403 and "another origin" in body["error"]

    produce(broker, "made", [(b"k", b"v%d" % i, None) for i in range(5)])
    c = consumer(broker, "g", "made")
    consume_to(c, 4)
    status, _, body = http(broker, "/v1/groups/g/offsets", "POST", {"topic": "made", "offset": "earliest"})
    assert status == 409 and "active member" in body["error"], body
    c.close()
    status, _, body = http(broker, "/v1/groups/g/offsets", "POST", {"topic": "made", "offset": "earliest"})
    assert status == 200 and body["lag"] == 5, body
    status, _, body = http(broker, "/v1/groups/g/offsets", "POST",
                           {"topic": "made", "partition": "0", "offset": "2"})
    assert status == 200 and body["lag"] == 3
    status, _, body = http(broker, "/v1/groups/g/offsets", "POST", {"topic": "made", "offset": "soon"})
    assert status == 400 and "earliest, latest or an offset" in body["error"]
    status, _, body = http(broker, "/v1/groups/g/offsets", "POST", {"topic": "nope", "offset": "latest"})
    assert status == 404


# ---- the pages, in Chromium ---------------------------------------------------------------


class Browser:
    """console_driver.js: one JSON command a line."""

    def __init__(self):
        if not os.path.exists(CHROMIUM):
            pytest.skip("no Chromium at %s (scripts/install-deps.sh installs Debian's)" % CHROMIUM)
        if not os.path.isdir(os.path.join(JS, "node_modules", "playwright-core")):
            pytest.skip("playwright-core is not installed (scripts/install-deps.sh: npm ci)")
        self.proc = subprocess.Popen(["node", os.path.join(JS, "console_driver.js")], cwd=JS,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.version = self.answer(60)

    def answer(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise AssertionError("the browser driver stopped answering:\n" + self.proc.stderr.read()[-4000:])
        a = json.loads(line)
        if not a["ok"]:
            raise AssertionError(a["error"])
        return a["value"]

    def __call__(self, cmd, timeout=60, **kw):
        kw["cmd"] = cmd
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        return self.answer(timeout)

    def close(self):
        try:
            self("close", timeout=10)
        except AssertionError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def shots(request):
    d = os.environ.get("RUNNEL_SCREENSHOTS") or tempfile.mkdtemp(prefix="runnel-console-")
    os.makedirs(d, exist_ok=True)
    yield d
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\nconsole screenshots: %s (%s)" % (d, ", ".join(sorted(os.listdir(d)))))


@pytest.fixture(scope="module")
def chromium():
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def browser(chromium):
    chromium("page")
    yield chromium
    chromium("blank")  # stop polling before the test's broker stops
    errors = chromium("errors")
    assert not errors, "the page logged errors:\n" + "\n".join(errors)


def url(broker, hash_=""):
    return "http://127.0.0.1:%d/%s" % (broker.http_port, hash_)


def number(text):
    return int(re.sub(r"[^0-9]", "", text) or "0")


def test_overview_numbers_move_while_producing(broker_factory, browser, shots):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    create_topics(broker, ("load", 2))
    browser("goto", url=url(broker))
    browser("wait_text", selector="#ov-topics", pattern=r"^1$")
    runnel = client_program("runnel")
    docs = os.environ.get("RUNNEL_UPDATE_DOCS_SCREENSHOT") == "1"  # a longer run: more chart
    seconds = 40 if docs else 9
    bench = [subprocess.Popen([runnel, "bench", "produce", "load", "--duration", str(seconds), "--size", "200",
                               "--bootstrap", broker.bootstrap],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
             subprocess.Popen([runnel, "bench", "consume", "load", "--group", "readers", "--duration",
                               str(seconds + 1), "--bootstrap", broker.bootstrap],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
    try:
        seen = [number(browser("wait_text", selector="#ov-records-in", pattern=r"[1-9]"))]
        for _ in range(2):  # the total goes up twice as the page polls: live, not a snapshot
            seen.append(number(browser("wait_text", selector="#ov-records-in",
                                       pattern=r"^(?!%s$)" % re.escape("{:,}".format(seen[-1])))))
        assert seen[0] < seen[1] < seen[2], seen
        browser("wait_text", selector="#ov-rate-in", pattern=r"^[1-9]")
        browser("wait_text", selector="#ov-mb-in", pattern=r"^(?!0\.00$)\d")
        browser("wait_text", selector="#ov-mb-out", pattern=r"^(?!0\.00$)\d")
        # the consumer's group commits (librdkafka: every 5 s) move records out
        browser("wait_text", selector="#ov-rate-out", pattern=r"^[1-9]", timeout=15000)
        if docs:
            time.sleep(seconds - 12)
        path = browser("screenshot", path=os.path.join(shots, "overview.png"))
    finally:
        for p in bench:
            p.wait(seconds + 30)
    for p in bench:
        assert p.returncode == 0, p.stderr.read()[-2000:]
    drawn = browser("eval", expr="""(() => { const c = document.querySelector('#chart-records');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; })()""")
    assert drawn > 1000, "the records chart drew almost nothing"
    if docs:
        shutil.copyfile(path, os.path.join(ROOT, "net", "console", "screenshot.png"))


def test_message_browser_shows_a_produced_record(broker_factory, browser, shots):
    broker = broker_factory()
    create_topics(broker, ("orders", 2))
    create_topics(broker, ("routed", 1), config={"partitioner.script": "partitioners/murmur2.lua"})
    produce(broker, "orders", [(b"o-%d" % i, b'{"order": %d, "item": "socks"}' % i, None) for i in range(5)], 1)
    produce(broker, "orders", [(b"order-42", b'{"order": 42, "item": "teapot", "qty": 2}',
                                [("source", b"console-test")])], 1)
    browser("goto", url=url(broker, "#/topics"))
    browser("wait_text", selector="#topics-table", pattern=r"orders")
    browser("wait_text", selector="#topics-table", pattern=r"partitioner partitioners/murmur2\.lua")
    browser("screenshot", path=os.path.join(shots, "topics.png"))

    browser("goto", url=url(broker, "#/topics/orders"))
    browser("wait_text", selector="#partitions-table", pattern=r"\b6\b")
    browser("select", selector="#mb-partition", value="1")
    browser("click", selector="#mb-read")
    text = browser("wait_text", selector="#records-table", pattern=r"teapot")
    assert "order-42" in text and '"qty": 2' in text  # pretty JSON
    assert "source: console-test" in text
    # by offset: the fifth record, and only from there
    browser("select", selector="#mb-mode", value="offset")
    browser("fill", selector="#mb-at", value="4")
    browser("fill", selector="#mb-limit", value="1")
    browser("click", selector="#mb-read")
    browser("wait_text", selector="#mb-pager", pattern=r"offsets 4…4 of 0…5")
    text = browser("text", selector="#records-table")
    assert "o-4" in text and "teapot" not in text
    # by time: from a minute ago, everything
    browser("select", selector="#mb-mode", value="timestamp")
    browser("fill", selector="#mb-at", value=str(int(time.time() * 1000) - 60000))
    browser("fill", selector="#mb-limit", value="20")
    browser("click", selector="#mb-read")
    browser("wait_text", selector="#mb-pager", pattern=r"offsets 0…5 of 0…5")
    browser("wait_text", selector="#records-table", pattern=r"o-0[\s\S]*teapot")
    browser("screenshot", path=os.path.join(shots, "topic.png"), full_page=True)

    browser("goto", url=url(broker, "#/topics/routed"))
    browser("wait_text", selector="#configs-table", pattern=r"partitioner\.script\s+partitioners/murmur2\.lua")
    hooks = browser("eval", expr="[...document.querySelectorAll('#configs-table tr.hook code')].map(e => e.textContent)")
    assert "partitioner.script" in hooks and "retention.ms" not in hooks


def test_group_lag_appears_then_drops_to_zero(broker_factory, browser, shots):
    broker = broker_factory(group_initial_rebalance_delay_ms=0)
    create_topics(broker, ("events", 1))
    produce(broker, "events", [(None, b"e%d" % i, None) for i in range(100)])
    c = consumer(broker, "watchers", "events")
    try:
        consume_to(c, 29)  # committed 30 of 100
        browser("goto", url=url(broker, "#/groups"))
        browser("wait_text", selector="#groups-table", pattern=r"watchers\s+Stable\s+consumer\s+1\s+1\s+70")
        browser("screenshot", path=os.path.join(shots, "groups.png"))
        browser("goto", url=url(broker, "#/groups/watchers"))
        browser("wait_text", selector="#group-lag", pattern=r"^70$")
        browser("wait_text", selector="#offsets-table", pattern=r"events\s+0\s+30\s+100\s+70")
        browser("wait_text", selector="#members-table", pattern=r"events \[0\]")
        consume_to(c, 99)  # caught up
        browser("wait_text", selector="#group-lag", pattern=r"^0$")
        browser("wait_text", selector="#offsets-table", pattern=r"events\s+0\s+100\s+100\s+0")
        time.sleep(1)
        browser("screenshot", path=os.path.join(shots, "group.png"), full_page=True)
    finally:
        c.close()


def test_processors_and_lua_pages(broker_factory, browser, shots):
    broker = broker_factory()
    create_topics(broker, ("clicks", 2))
    create_topics(broker, ("hooked", 1), config={"partitioner.script": "partitioners/murmur2.lua"})
    status, _, body = http(broker, "/v1/processors", "POST",
                           {"name": "router", "script": "processors/router.lua", "inputs": "clicks",
                            "outputs": "clicks-out", "option.route.key": "true",
                            "option.route.default": "clicks-out"})
    assert status == 200, body
    produce(broker, "clicks", [(b"u%d" % i, b"click", None) for i in range(50)])
    produce(broker, "hooked", [(b"u%d" % i, b"x", None) for i in range(10)])
    wait_for("the router to catch up", lambda: get(broker, "/v1/processors/router")["records_in"] == 50)

    browser("goto", url=url(broker, "#/processors"))
    text = browser("wait_text", selector="#processors-table", pattern=r"router\s+running\s+processors/router\.lua")
    assert "clicks → clicks-out" in text
    browser("wait_text", selector="#positions-table", pattern=r"router\s+clicks-0")
    browser("wait_text", selector="#processors-table", pattern=r"\b50\b")
    assert browser("text", selector="#actions-off")  # read-only: no start/stop buttons
    browser("screenshot", path=os.path.join(shots, "processors.png"))

    browser("goto", url=url(broker, "#/lua"))
    browser("wait_text", selector="#lua-calls", pattern=r"^[1-9]")
    text = browser("wait_text", selector="#lua-table", pattern=r"partitioners/murmur2\.lua")
    assert "processors/router.lua" in text and "hooked" in text
    assert "http.console.actions.enable=true" in browser("text", selector="#actions-off")
    browser("screenshot", path=os.path.join(shots, "lua.png"))


def test_console_actions_when_switched_on(broker_factory, browser):
    broker = broker_factory(http_console_actions_enable=True)
    browser("goto", url=url(broker, "#/topics"))
    browser("fill", selector="#new-topic-name", value="from-console")
    browser("fill", selector="#new-topic-partitions", value="3")
    browser("click", selector="#create-topic button")
    browser("wait_text", selector="#topics-table", pattern=r"from-console\s+3")
    assert get(broker, "/v1/topics/from-console")["partition_count"] == 3
    browser("goto", url=url(broker, "#/lua"))
    browser("click", selector="#lua-reload-button")
    browser("wait_text", selector="#lua-reload pre", pattern=r"\S")
