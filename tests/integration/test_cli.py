"""runnel-server's command line and config file errors."""
import os
import subprocess
import tempfile

from conftest import ROOT, SERVER


def server(*args):
    return subprocess.run([SERVER] + list(args), capture_output=True, timeout=30)


def test_version_and_help():
    p = server("--version")
    assert p.returncode == 0 and p.stdout.startswith(b"runnel-server ")
    p = server("--help")
    assert p.returncode == 0
    for key in (b"listeners", b"data.dir", b"num.partitions", b"log.flush.sync", b"message.max.bytes"):
        assert key in p.stdout


def test_unknown_key_names_file_line_and_key():
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("# comment\nnode.id=1\n\nnum.partiton=3\n")
    try:
        p = server("-c", f.name)
        assert p.returncode != 0
        err = p.stderr.decode()
        assert "%s:4" % f.name in err and "num.partiton" in err and "num.partitions" in err
    finally:
        os.unlink(f.name)


def test_bad_values_are_refused():
    for setting, words in [("num.partitions=0", ["num.partitions", "minimum"]),
                           ("log.flush.sync=maybe", ["log.flush.sync", "true or false"]),
                           ("listeners=SSL://x:1", ["SSL", "ssl.certificate.location"]),
                           ("listeners=FOO://x:1", ["FOO", "not one of"]),
                           ("message.max.bytes=12abc", ["message.max.bytes", "whole number"])]:
        p = server("-c", os.path.join(ROOT, "conf", "runnel.conf"), "--set", setting)
        assert p.returncode != 0, setting
        err = p.stderr.decode()
        assert all(w in err for w in words), err
        assert "opened" not in err, "the data dir was opened before the config was checked: " + err


def test_missing_config_file():
    p = server("-c", "/nonexistent/runnel.conf")
    assert p.returncode != 0 and b"/nonexistent/runnel.conf" in p.stderr


def test_port_in_use_is_a_clear_error(broker):
    p = server("-c", os.path.join(ROOT, "conf", "runnel.conf"), "--set",
               "listeners=PLAINTEXT://127.0.0.1:%d" % broker.port, "--set",
               "data.dir=%s" % tempfile.mkdtemp(prefix="runnel-test-"))
    assert p.returncode != 0 and b"Address already in use" in p.stderr
