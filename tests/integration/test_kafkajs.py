"""kafkajs 2.2.4 (npm, committed package-lock.json): admin and an idempotent produce.
The records kafkajs wrote are read back with kcat here, byte for byte; consumption
through kafkajs (which only consumes in a group) is in test_groups_kafkajs.py."""
import json
import os

from conftest import ROOT, run

JS = os.path.join(ROOT, "tests", "integration", "js")


def test_kafkajs_admin_and_produce(broker):
    assert os.path.isdir(os.path.join(JS, "node_modules", "kafkajs")), "run scripts/install-deps.sh"
    out = json.loads(run(["node", os.path.join(JS, "admin_produce.js"), broker.bootstrap, "kjs", "200"],
                         timeout=90).stdout)
    assert out["created"] is True and out["createdAgain"] is False
    parts = out["metadata"]["topics"][0]["partitions"]
    assert sorted(p["partitionId"] for p in parts) == [0, 1]
    assert all(p["leader"] == 1 and p["isr"] == [1] for p in parts)
    assert "kjs" in out["topics"]
    assert sorted((r["partition"], r["errorCode"], r["baseOffset"]) for r in out["sent"]) == [
        (0, 0, "0"), (1, 0, "0")]
    assert sorted((o["partition"], o["low"], o["high"]) for o in out["offsets"]) == [
        (0, "0", "100"), (1, "0", "100")]
    assert sorted((o["partition"], o["offset"]) for o in out["offsetsByTime"]) == [(0, "0"), (1, "0")]
    assert "kjs-gone" not in out["topicsAfterDelete"]

    for part in (0, 1):
        got = run(["kcat", "-b", broker.bootstrap, "-q", "-C", "-t", "kjs", "-p", str(part), "-o",
                   "beginning", "-e", "-f", "%k=%s;%h\n"]).stdout.decode().splitlines()
        assert got == ["k%d=v%d;seq=%d" % (i, i, i) for i in range(part, 200, 2)]
