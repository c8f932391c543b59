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
                ["group", "delete"]):
        p = run(*cmd, "--help")
        assert p.returncode == 0 and p.stdout.startswith(b"usage: runnel " + " ".join(cmd).encode()), cmd
        assert b"--json" in p.stdout and b"--bootstrap" in p.stdout
