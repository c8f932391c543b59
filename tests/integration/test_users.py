"""SCRAM users managed with the runnel CLI (`runnel user`, over the broker's HTTP admin
path): a user set from the CLI logs in over SASL with librdkafka, a changed password takes
over, a deleted user is refused; without http.console.actions.enable changes are refused
and nothing is stored in the clear."""
import json
import os
import subprocess
import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from conftest import BUILD, run
from test_sasl import rk_conf, sasl_broker


def cli(broker, *args, check=True, input=None):
    return run([os.path.join(BUILD, "runnel")] + list(args) +
               ["--http", "127.0.0.1:%d" % broker.http_port], check=check, input=input)


def can_login(broker, user, password, mech="SCRAM-SHA-512"):
    """Whether librdkafka gets Metadata as this user; False as soon as it reports the
    authentication failed (not after a whole timeout)."""
    refused = []
    a = AdminClient(rk_conf(broker, mech, user=user, password=password,
                            error_cb=lambda e: refused.append(e.code() == KafkaError._AUTHENTICATION)))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            a.list_topics(timeout=0.5)
            return True
        except KafkaException:
            a.poll(0)  # serves error_cb
            if any(refused):
                return False
    return False


def test_user_set_list_delete(broker_factory):
    b = sasl_broker(broker_factory, http_console_actions_enable=True)
    assert not can_login(b, "carol", "c4rol-pw")
    cli(b, "user", "set", "carol", "--password", "c4rol-pw")
    assert can_login(b, "carol", "c4rol-pw") and can_login(b, "carol", "c4rol-pw", "SCRAM-SHA-256")
    assert not can_login(b, "carol", "wrong")
    listed = json.loads(cli(b, "user", "list", "--json").stdout)
    carol = [u for u in listed["users"] if u["name"] == "carol"][0]
    assert [m["mechanism"] for m in carol["mechanisms"]] == ["SCRAM-SHA-256", "SCRAM-SHA-512"]
    table = cli(b, "user", "list").stdout.decode()
    assert "carol" in table and "SCRAM-SHA-512" in table and "4096" in table, table
    # a new password (from stdin, more iterations) replaces the old one
    cli(b, "user", "set", "carol", "--password-stdin", "--iterations", "8192", input=b"n3w-pw\n")
    assert can_login(b, "carol", "n3w-pw") and not can_login(b, "carol", "c4rol-pw")
    # one mechanism, then the user
    cli(b, "user", "delete", "carol", "--mechanism", "SCRAM-SHA-256")
    assert not can_login(b, "carol", "n3w-pw", "SCRAM-SHA-256") and can_login(b, "carol", "n3w-pw")
    cli(b, "user", "delete", "carol")
    assert not can_login(b, "carol", "n3w-pw")
    p = cli(b, "user", "delete", "carol", check=False)
    assert p.returncode == 1 and b"no such user" in p.stderr, p.stderr
    p = cli(b, "user", "set", "dave", "--password", "x", "--iterations", "10", check=False)
    assert p.returncode == 1 and b"iterations" in p.stderr, p.stderr
    b.stop()
    out = subprocess.run(["grep", "-r", "-l", "n3w-pw", b.data_dir], capture_output=True)
    assert out.stdout == b"", "a password is stored in the clear: %s" % out.stdout


def test_changes_need_the_actions_switch(broker_factory):
    b = sasl_broker(broker_factory)
    p = cli(b, "user", "set", "eve", "--password", "x", check=False)
    assert p.returncode == 1 and b"http.console.actions.enable" in p.stderr, p.stderr
    assert not can_login(b, "eve", "x")
    assert [u["name"] for u in json.loads(cli(b, "user", "list", "--json").stdout)["users"]] == ["alice", "bob"]
