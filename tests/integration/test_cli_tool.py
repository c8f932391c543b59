"""The `runnel` command-line tool (cli/, on librdkafka) against a real broker: topics,
produce, consume, groups, and its errors and exit codes. Output is read through --json."""
import json
import os
import subprocess
import time

import pytest

from conftest import client_program, free_port

SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"runtime error:", b"LeakSanitizer")


def cli(broker, *args, input=None, expect=0, timeout=60):
    """Runs `runnel ARGS --bootstrap <broker>`; checks the exit status and that the tool's
    own sanitizers stayed quiet."""
    argv = [client_program("runnel")] + list(args)
    if broker is not None:
        argv += ["--bootstrap", broker.bootstrap]
    env = dict(os.environ)
    env.pop("RUNNEL_BOOTSTRAP", None)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env)
    for m in SANITIZER_MARKS:
        assert m not in p.stderr, p.stderr.decode(errors="replace")
    if expect is not None:
        assert p.returncode == expect, "%s exited %d (wanted %d)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(argv), p.returncode, expect, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))
    return p


def cli_json(broker, *args, **kw):
    return json.loads(cli(broker, *args, "--json", **kw).stdout)


def json_lines(p):
    return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]


def test_topic_create_list_describe_alter_delete(broker):
    out = cli_json(broker, "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000")
    assert out == {"topic": "orders", "partitions": 3, "created": True}
    out = cli_json(broker, "topic", "create", "keyed", "--partitions", "2",
                   "--config", "partitioner.script=partitioners/murmur2.lua")
    assert out["partitions"] == 2

    topics = {t["topic"]: t["partitions"] for t in cli_json(broker, "topic", "list")}
    assert topics["orders"] == 3 and topics["keyed"] == 2

    d = cli_json(broker, "topic", "describe", "keyed")
    assert [p["partition"] for p in d["partitions"]] == [0, 1]
    assert all(p["low"] == 0 and p["high"] == 0 for p in d["partitions"])
    assert d["configs"] == {"partitioner.script": "partitioners/murmur2.lua"}

    # alter merges: retention.ms stays while cleanup.policy is added
    out = cli_json(broker, "topic", "alter", "orders", "--config", "cleanup.policy=delete")
    assert out["configs"] == {"retention.ms": "3600000", "cleanup.policy": "delete"}
    d = cli_json(broker, "topic", "describe", "orders")
    assert d["configs"] == {"retention.ms": "3600000", "cleanup.policy": "delete"}
    cli(broker, "topic", "alter", "orders", "--delete-config", "retention.ms")
    assert cli_json(broker, "topic", "describe", "orders")["configs"] == {"cleanup.policy": "delete"}

    # the human table has the same facts
    text = cli(broker, "topic", "describe", "keyed").stdout.decode()
    assert "partitioner.script" in text and "HIGH" in text

    assert cli_json(broker, "topic", "delete", "orders") == {"topic": "orders", "deleted": True}
    assert "orders" not in {t["topic"] for t in cli_json(broker, "topic", "list")}
    p = cli(broker, "topic", "describe", "orders", expect=1)
    assert b"topic orders does not exist" in p.stderr


def test_bad_hook_script_is_refused_with_the_brokers_message(broker):
    p = cli(broker, "topic", "create", "bad", "--config", "partitioner.script=partitioners/nope.lua", expect=1)
    err = p.stderr.decode()
    assert err.startswith("runnel: cannot create topic bad: ")
    assert "partitioners/nope.lua" in err
    cli(broker, "topic", "create", "ok", "--partitions", "1")
    p = cli(broker, "topic", "alter", "ok", "--config", "produce.filter.script=filters/missing.lua", expect=1)
    assert b"filters/missing.lua" in p.stderr
    assert "bad" not in {t["topic"] for t in cli_json(broker, "topic", "list")}


def test_produce_with_keys_and_headers_then_consume(broker):
    cli(broker, "topic", "create", "events", "--partitions", "1")
    p = cli(broker, "produce", "events", "--key-separator", "::", "--header", "src=cli", "--header", "v=2",
            "--compression", "lz4", "--acks", "all", input=b"k1::hello\nk2::wor::ld\nno key here\n")
    assert b"produced 3 records to events" in p.stderr

    recs = json_lines(cli(broker, "consume", "events", "--json"))
    assert [(r["key"], r["value"], r["offset"]) for r in recs] == [
        ("k1", "hello", 0), ("k2", "wor::ld", 1), (None, "no key here", 2)]
    for r in recs:
        assert r["topic"] == "events" and r["partition"] == 0 and r["timestamp"] > 0
        assert r["headers"] == [{"key": "src", "value": "cli"}, {"key": "v", "value": "2"}]

    out = cli(broker, "consume", "events", "--format", "%T/%p/%o %k=%v [%h]\\n").stdout.decode()
    assert out.splitlines() == ["events/0/0 k1=hello [src=cli,v=2]", "events/0/1 k2=wor::ld [src=cli,v=2]",
                                "events/0/2 =no key here [src=cli,v=2]"]
    # default format: the value and a newline; --count stops early
    assert cli(broker, "consume", "events", "--count", "2").stdout == b"hello\nwor::ld\n"


def test_produce_from_file_json_summary_and_binary_values(broker, tmp_path):
    cli(broker, "topic", "create", "files", "--partitions", "2")
    path = tmp_path / "records.txt"
    path.write_bytes(b"a\n\xff\xfe\n\"quoted\"\ttab\n")
    summary = cli_json(broker, "produce", "files", "--file", str(path), "--partition", "1")
    assert summary == {"topic": "files", "records": 3, "delivered": 3, "failed": 0, "error": None}
    recs = json_lines(cli(broker, "consume", "files", "--partition", "1", "--json"))
    assert [r["partition"] for r in recs] == [1, 1, 1]
    assert recs[0]["value"] == "a"
    assert recs[1]["value"] is None and recs[1]["value_base64"] == "//4="
    assert recs[2]["value"] == '"quoted"\ttab'
    assert cli(broker, "consume", "files", "--partition", "0").stdout == b""


def test_produce_failure_names_the_error(broker):
    cli(broker, "topic", "create", "strict", "--partitions", "1",
        "--config", "produce.filter.script=filters/require_json_fields.lua",
        "--config", "produce.filter.fields=id")
    p = cli(broker, "produce", "strict", input=b'{"id": 1}\nnot json\n', expect=1)
    err = p.stderr.decode()
    assert "failed" in err and "strict" in err, err


def test_consume_from_offset_and_timestamp(broker):
    cli(broker, "topic", "create", "timed", "--partitions", "1")
    cli(broker, "produce", "timed", input=b"old1\nold2\n")
    time.sleep(0.3)
    cut = int(time.time() * 1000)
    time.sleep(0.3)
    cli(broker, "produce", "timed", input=b"new1\nnew2\n")

    assert cli(broker, "consume", "timed", "--from", "@%d" % cut).stdout == b"new1\nnew2\n"
    assert cli(broker, "consume", "timed", "--from", "1").stdout == b"old2\nnew1\nnew2\n"
    assert cli(broker, "consume", "timed", "--from", "end").stdout == b""
    assert cli(broker, "consume", "timed", "--from", "beginning", "--count", "1").stdout == b"old1\n"
    # a timestamp after every record: nothing, and no waiting for the idle timeout
    start = time.time()
    assert cli(broker, "consume", "timed", "--from", "@%d" % (cut + 3600_000)).stdout == b""
    assert time.time() - start < 15


def test_consume_group_commits_and_lag(broker):
    cli(broker, "topic", "create", "work", "--partitions", "2")
    cli(broker, "produce", "work", "--key-separator", ":", input=b"".join(b"k%d:v%d\n" % (i, i) for i in range(6)))

    first = json_lines(cli(broker, "consume", "work", "--group", "g1", "--json"))
    assert sorted(r["value"] for r in first) == ["v%d" % i for i in range(6)]
    # the second run starts from the committed offsets: nothing new
    assert cli(broker, "consume", "work", "--group", "g1", "--json").stdout == b""

    groups = {g["group"]: g for g in cli_json(broker, "group", "list")}
    assert groups["g1"]["state"] == "Empty"

    d = cli_json(broker, "group", "describe", "g1")
    assert d["group"] == "g1" and d["state"] == "Empty" and d["members"] == []
    assert d["total_lag"] == 0
    assert sum(o["committed"] for o in d["offsets"]) == 6

    cli(broker, "produce", "work", input=b"".join(b"more%d\n" % i for i in range(10)))
    d = cli_json(broker, "group", "describe", "g1")
    assert d["total_lag"] == 10
    assert sum(o["lag"] for o in d["offsets"]) == 10
    assert all(o["high"] - o["committed"] == o["lag"] for o in d["offsets"])
    text = cli(broker, "group", "describe", "g1").stdout.decode()
    assert "total lag 10" in text

    # --count commits only what was printed
    assert len(json_lines(cli(broker, "consume", "work", "--group", "g1", "--count", "4", "--json"))) == 4
    assert cli_json(broker, "group", "describe", "g1")["total_lag"] == 6

    assert cli_json(broker, "group", "delete", "g1") == {"group": "g1", "deleted": True}
    assert "g1" not in {g["group"] for g in cli_json(broker, "group", "list")}
    p = cli(broker, "group", "describe", "g1", expect=1)
    assert b"group g1 does not exist" in p.stderr


def test_group_describe_shows_live_members_and_refuses_delete(broker):
    cli(broker, "topic", "create", "live", "--partitions", "3")
    cli(broker, "produce", "live", input=b"a\nb\nc\n")
    argv = [client_program("runnel"), "consume", "live", "--group", "watchers", "--follow", "--timeout-ms", "30000",
            "--bootstrap", broker.bootstrap]
    member = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # it prints (and flushes) every record as it comes
        got = [member.stdout.readline() for _ in range(3)]
        assert sorted(got) == [b"a\n", b"b\n", b"c\n"]
        deadline = time.time() + 30
        d = None
        while time.time() < deadline:
            d = cli_json(broker, "group", "describe", "watchers")
            if d["state"] == "Stable" and d["members"] and d["members"][0]["assignment"]:
                break
            time.sleep(0.5)
        assert d["state"] == "Stable" and d["protocol"], d
        (m,) = d["members"]
        assert m["client_id"] == "runnel-cli" and m["host"]
        assert sorted(p["partition"] for p in m["assignment"]) == [0, 1, 2]
        p = cli(broker, "group", "delete", "watchers", expect=1)
        assert b"not empty" in p.stderr.lower() or b"non" in p.stderr.lower()
    finally:
        member.terminate()
        out, err = member.communicate(timeout=30)
    assert member.returncode == 0, err
    assert out == b""
    # SIGTERM committed what it printed
    assert cli_json(broker, "group", "describe", "watchers")["total_lag"] == 0


def test_unreachable_broker():
    port = free_port()
    start = time.time()
    for args in (["topic", "list"], ["group", "list"], ["consume", "x"], ["produce", "x"]):
        p = subprocess.run([client_program("runnel")] + args + ["--bootstrap", "127.0.0.1:%d" % port],
                           input=b"x\n", capture_output=True, timeout=30)
        assert p.returncode == 1, p
        assert p.stderr.decode().strip() == \
            "runnel: cannot reach broker at 127.0.0.1:%d: connection refused" % port
    assert time.time() - start < 20
    # RUNNEL_BOOTSTRAP is the default
    env = dict(os.environ, RUNNEL_BOOTSTRAP="127.0.0.1:%d" % port)
    p = subprocess.run([client_program("runnel"), "topic", "list"], capture_output=True, env=env, timeout=30)
    assert p.returncode == 1 and (b"127.0.0.1:%d" % port) in p.stderr


def test_usage_errors_and_help():
    runnel = client_program("runnel")

    def run(*args):
        return subprocess.run([runnel] + list(args), capture_output=True, timeout=30)

    p = run("frobnicate")
    assert p.returncode == 2 and b"unknown command 'frobnicate'" in p.stderr
    p = run("topic", "frob")
    assert p.returncode == 2 and b"runnel topic create" in p.stderr
    p = run("topic", "create")
    assert p.returncode == 2 and b"missing argument" in p.stderr and b"usage: runnel topic create NAME" in p.stderr
    p = run("consume")
    assert p.returncode == 2 and b"usage: runnel consume TOPIC" in p.stderr
    p = run("consume", "t", "--from", "yesterday")
    assert p.returncode == 2 and b"--from" in p.stderr
    p = run("produce", "t", "--compression", "brotli")
    assert p.returncode == 2
    p = run("topic", "list", "--no-such-option")
    assert p.returncode == 2 and b"unknown option '--no-such-option'" in p.stderr
    p = run("consume", "t", "--format", "%q")
    assert p.returncode == 2
    p = run()
    assert p.returncode == 2
    p = run("--help")
    assert p.returncode == 0 and b"group describe" in p.stdout
    for cmd in (["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "alter"],
                ["topic", "delete"], ["produce"], ["consume"], ["group", "list"], ["group", "describe"],
                ["group", "delete"], ["group", "reset-offsets"], ["plugin", "list"], ["plugin", "reload"],
                ["plugin", "check"]):
        p = run(*cmd, "--help")
        assert p.returncode == 0 and p.stdout.startswith(b"usage: runnel " + " ".join(cmd).encode()), cmd
        assert b"--json" in p.stdout and b"--bootstrap" in p.stdout


def test_plugin_reload_and_list_over_http(broker_factory, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    script = plugins / "mark.lua"
    script.write_text('function filter(r) r.value = "one" return r end\n')
    broker = broker_factory(plugins_dir=str(plugins))
    http = ["--http", "127.0.0.1:%d" % broker.http_port]
    cli(broker, "topic", "create", "marked", "--config", "produce.filter.script=mark.lua")
    cli(broker, "produce", "marked", input=b"x\n")

    # an unchanged tree reloads cleanly
    p = cli(broker, "plugin", "reload", *http)
    assert b"reloaded the Lua scripts" in p.stdout

    script.write_text('function filter(r) r.value = "two" return r end\n')
    assert cli_json(broker, "plugin", "reload", *http) == {"failed": 0, "report": ""}
    cli(broker, "produce", "marked", input=b"x\n")

    # a broken script: exit 1 naming it, the old version keeps running
    script.write_text("function filter(r) return (\n")
    p = cli(broker, "plugin", "reload", *http, expect=1)
    err = p.stderr.decode()
    assert err.startswith("runnel: reload failed for 1 script") and "mark.lua" in err, err
    out = json.loads(cli(broker, "plugin", "reload", *http, "--json", expect=1).stdout)
    assert out["failed"] == 1 and "mark.lua" in out["report"]
    cli(broker, "produce", "marked", input=b"x\n")
    got = [r["value"] for r in json_lines(cli(broker, "consume", "marked", "--json"))]
    assert got == ["one", "two", "two"]

    stats = cli_json(broker, "plugin", "list", *http)
    assert stats["reloads"] == 1 and stats["reload_failures"] == 2 and stats["calls"] >= 3
    text = cli(broker, "plugin", "list", *http).stdout.decode()
    assert "reload_failures" in text and "COUNTER" in text

    # RUNNEL_HTTP is the default endpoint when --http is not given
    env = dict(os.environ, RUNNEL_HTTP="127.0.0.1:%d" % broker.http_port)
    p = subprocess.run([client_program("runnel"), "plugin", "list", "--json"], capture_output=True,
                       timeout=30, env=env)
    assert p.returncode == 0 and json.loads(p.stdout)["reloads"] == 1


def test_plugin_commands_name_an_unreachable_http_endpoint():
    port = free_port()
    for cmd in (["plugin", "list"], ["plugin", "reload"]):
        p = cli(None, *cmd, "--http", "127.0.0.1:%d" % port, expect=1)
        assert p.stderr.decode().strip() == (
            "runnel: cannot reach the broker's HTTP endpoint at 127.0.0.1:%d: connection refused" % port)
    # without --http or RUNNEL_HTTP: the bootstrap host with port 9644
    env = dict(os.environ, RUNNEL_BOOTSTRAP="127.0.0.1:%d" % port)
    env.pop("RUNNEL_HTTP", None)
    p = subprocess.run([client_program("runnel"), "plugin", "list"], capture_output=True, timeout=30, env=env)
    assert p.returncode == 0 or b"HTTP endpoint at 127.0.0.1:9644:" in p.stderr  # 0: a broker is on 9644


def test_group_reset_offsets(broker):
    cli(broker, "topic", "create", "again", "--partitions", "2")
    # Four records in each partition (a keyless produce could put all eight in one).
    cli(broker, "produce", "again", "--partition", "0", input=b"".join(b"r%d\n" % i for i in range(4)))
    cli(broker, "produce", "again", "--partition", "1", input=b"".join(b"r%d\n" % i for i in range(4, 8)))
    assert len(json_lines(cli(broker, "consume", "again", "--group", "rg", "--json"))) == 8
    assert cli_json(broker, "group", "describe", "rg")["total_lag"] == 0

    # --dry-run shows the plan and changes nothing
    out = cli_json(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "earliest", "--dry-run")
    assert out["dry_run"] is True and [p["offset"] for p in out["partitions"]] == [0, 0]
    assert sum(p["previous"] for p in out["partitions"]) == 8
    assert cli_json(broker, "group", "describe", "rg")["total_lag"] == 0

    out = cli_json(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "earliest")
    assert out["dry_run"] is False and [p["offset"] for p in out["partitions"]] == [0, 0]
    assert cli_json(broker, "group", "describe", "rg")["total_lag"] == 8
    again = json_lines(cli(broker, "consume", "again", "--group", "rg", "--json"))
    assert sorted(r["value"] for r in again) == ["r%d" % i for i in range(8)]

    # one partition, to an offset (clamped to the partition's end), then latest
    d = {(o["partition"]): o for o in cli_json(broker, "group", "describe", "rg")["offsets"]}
    high0 = d[0]["high"]
    out = cli_json(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "1", "--partition", "0")
    assert [(p["partition"], p["offset"]) for p in out["partitions"]] == [(0, min(1, high0))]
    out = cli_json(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "999999", "--partition", "0")
    assert out["partitions"][0]["offset"] == high0
    out = cli_json(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "@0")
    assert [p["offset"] for p in out["partitions"]] == [0, 0]
    text = cli(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "latest").stdout.decode()
    assert "reset the offsets of group rg" in text and "PREVIOUS" in text
    assert cli_json(broker, "group", "describe", "rg")["total_lag"] == 0
    # a group that never existed can be given offsets too
    out = cli_json(broker, "group", "reset-offsets", "fresh", "--topic", "again", "--to", "earliest")
    assert all(p["previous"] is None for p in out["partitions"])
    assert cli_json(broker, "group", "describe", "fresh")["total_lag"] == 8

    # usage and lookup errors
    cli(broker, "group", "reset-offsets", "rg", "--to", "earliest", expect=2)
    cli(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "yesterday", expect=2)
    p = cli(broker, "group", "reset-offsets", "rg", "--topic", "nope", "--to", "earliest", expect=1)
    assert b"topic nope does not exist" in p.stderr
    p = cli(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "earliest", "--partition", "7",
            expect=1)
    assert b"has no partition 7" in p.stderr

    # a live member: refused, nothing committed
    argv = [client_program("runnel"), "consume", "again", "--group", "rg", "--follow", "--timeout-ms", "30000",
            "--bootstrap", broker.bootstrap]
    member = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            d = cli_json(broker, "group", "describe", "rg")
            if d["members"]:
                break
            time.sleep(0.3)
        assert d["members"], d
        p = cli(broker, "group", "reset-offsets", "rg", "--topic", "again", "--to", "earliest", expect=1)
        err = p.stderr.decode()
        assert "cannot reset the offsets of group rg" in err and "active member" in err, err
    finally:
        member.terminate()
        member.communicate(timeout=30)
    assert cli_json(broker, "group", "describe", "rg")["total_lag"] == 0


def test_plugin_check_offline(tmp_path):
    # the shipped scripts (the default --dir), no broker involved
    assert cli_json(None, "plugin", "check", "filters/redact.lua") == {
        "script": "filters/redact.lua", "hook": "filter", "ok": True}
    assert b"defines partition" in cli(None, "plugin", "check", "partitioners/murmur2.lua").stdout
    out = json_lines(cli(None, "plugin", "check", "filters/redact.lua", "--records", "--json",
                         "--config", "produce.filter.fields=pw", input=b'{"id":1,"pw":"x"}\nplain\n'))
    assert out[0]["verdict"] == "rewrite" and out[0]["value"] == '{"id":1,"pw":"***"}'
    assert out[0]["headers"] == [{"key": "redacted", "value": "pw"}]
    assert out[1] == {"line": 2, "verdict": "keep"}
    parts = json_lines(cli(None, "plugin", "check", "partitioners/murmur2.lua", "--records", "--json",
                           "--partitions", "4", "--key-separator", ":", input=b"a:1\nb:2\na:3\n"))
    assert [p["verdict"] for p in parts] == ["partition"] * 3
    assert parts[0]["partition"] == parts[2]["partition"] and all(0 <= p["partition"] < 4 for p in parts)

    # a script of one's own: verdicts, and a failure on a record exits 1
    (tmp_path / "f.lua").write_text(
        'function filter(r)\n'
        '  if r.value == "drop" then return false end\n'
        '  if r.value == "no" then return nil, "said no" end\n'
        '  if r.value == "boom" then error("kaboom") end\n'
        '  return true\n'
        'end\n')
    p = cli(None, "plugin", "check", "f.lua", "--dir", str(tmp_path), "--records", input=b"ok\ndrop\nno\n")
    assert p.stdout.decode().splitlines() == ["1: keep", "2: drop", "3: reject: said no"]
    p = cli(None, "plugin", "check", "f.lua", "--dir", str(tmp_path), "--records", input=b"ok\nboom\n", expect=1)
    assert "2: error: f.lua:4: kaboom" in p.stdout.decode()
    assert b"f.lua failed on 1 of 2 records" in p.stderr

    (tmp_path / "broken.lua").write_text("function filter(r) return (\n")
    p = cli(None, "plugin", "check", "broken.lua", "--dir", str(tmp_path), expect=1)
    assert p.stderr.startswith(b"runnel: ") and b"broken.lua" in p.stderr
    p = cli(None, "plugin", "check", "nope.lua", "--dir", str(tmp_path), expect=1)
    assert b"nope.lua" in p.stderr
    cli(None, "plugin", "check", "f.lua", "--hook", "sideways", expect=2)


def test_bench_produce_then_consume(broker):
    out = cli_json(broker, "bench", "produce", "bt", "--count", "20000", "--size", "100", "--keys", "100",
                   "--partitions", "3")
    assert out["topic"] == "bt" and out["records"] == 20000 and out["errors"] == 0
    assert out["bytes"] == 20000 * 100  # values only
    assert out["seconds"] > 0 and out["records_per_sec"] > 0 and out["mb_per_sec"] > 0
    assert 0 <= out["latency_p50_ms"] <= out["latency_p95_ms"] <= out["latency_p99_ms"] <= out["latency_max_ms"]
    d = cli_json(broker, "topic", "describe", "bt")
    assert len(d["partitions"]) == 3
    assert sum(p["high"] for p in d["partitions"]) == 20000

    # without --count/--duration: every partition to its end, exactly what is there
    out = cli_json(broker, "bench", "consume", "bt")
    assert out["records"] == 20000 and out["bytes"] == 20000 * 100 and out["errors"] == 0
    assert out["records_per_sec"] > 0
    assert 0 <= out["latency_p50_ms"] <= out["latency_p99_ms"] <= out["latency_max_ms"]
    out = cli_json(broker, "bench", "consume", "bt", "--group", "bench", "--count", "500")
    assert out["records"] == 500

    # the human summary; the options reach the client (an existing topic needs no --partitions)
    p = cli(broker, "bench", "produce", "bt", "--count", "1000", "--size", "10", "--acks", "1",
            "--compression", "lz4", "--linger-ms", "1", "--batch-size", "65536")
    text = p.stdout.decode()
    assert "produced 1,000 records" in text and "rec/s" in text and "p99" in text, text
    p = cli(broker, "bench", "consume", "bt", "--duration", "1.5")
    text = p.stdout.decode()
    assert "consumed 21,000 records" in text and "rec/s" in text, text
    # a second's progress line went to stderr (not a TTY: one line each, no \r)
    assert b"rec/s" in p.stderr and b"\r" not in p.stderr


def test_bench_errors_and_bad_usage(broker):
    for args in (["produce", "bt", "--count", "0"], ["produce", "bt", "--count", "5", "--duration", "1"],
                 ["produce", "bt", "--duration", "soon"], ["produce", "bt", "--acks", "2"],
                 ["produce", "bt", "--size", "-1"], ["produce", "bt", "--keys", "x"],
                 ["produce", "bt", "--compression", "brotli"], ["produce", "bt", "--partitions", "0"],
                 ["produce", "bt", "--nope"], ["produce"], ["consume", "bt", "--duration", "0"],
                 ["consume", "bt", "--size", "10"], ["consume", "bt", "--group", ""]):
        p = cli(broker, "bench", *args, expect=2)
        assert p.stderr.startswith(b"runnel: ") and b"usage: runnel bench" in p.stderr, args
    assert b"bench produce" in cli(broker, "bench", expect=2).stderr

    p = cli(broker, "bench", "produce", "missing", "--count", "10", expect=1)
    assert b"topic missing does not exist" in p.stderr
    cli(broker, "bench", "consume", "missing", expect=1)

    # records the broker refuses are delivery errors: exit 1, counted in the summary
    cli(broker, "topic", "create", "small", "--partitions", "1", "--config", "max.message.bytes=1000")
    p = cli(broker, "bench", "produce", "small", "--count", "5", "--size", "2000", "--json", expect=1)
    out = json.loads(p.stdout)
    assert out["records"] == 0 and out["errors"] == 5
    assert b"5 of 5 records to small failed" in p.stderr
    # an empty topic: nothing to read, done at once
    assert cli_json(broker, "bench", "consume", "small")["records"] == 0
