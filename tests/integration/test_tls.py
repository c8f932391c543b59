"""TLS listeners (libevent's OpenSSL bufferevents): SASL_SSL with SCRAM from
confluent-kafka-python (librdkafka), kcat, kafka-python and kafkajs; SSL with client
certificates (ssl.client.auth=required): a verified certificate is let in and becomes the
principal, none or one from another CA is refused. The CA and certificates are made
here, for this run only, with the openssl CLI."""
import json
import os
import subprocess

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from conftest import ROOT, run
import kafka_wire as kw
from test_sasl import produce_consume_confluent

JS = os.path.join(ROOT, "tests", "integration", "js")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "rogue-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key", "-out",
                ca + ".pem", "-days", "2", "-subj", "/CN=runnel-test-" + ca, cwd=d)
    for name, ca, subj, ext in (("server", "ca", "/CN=localhost", ["-extfile", "san.ext"]),
                                ("client", "ca", "/O=runnel/CN=client-app", []),
                                ("rogue", "rogue-ca", "/CN=rogue", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", *ext, cwd=d)
    return {k: os.path.join(d, k) for k in os.listdir(d)}


def tls_broker(factory, certs, protocol, **extra):
    settings = {"sasl_users": "alice:alice-secret",
                "ssl_certificate_location": certs["server.pem"],
                "ssl_key_location": certs["server.key"],
                "ssl_ca_location": certs["ca.pem"]}
    settings.update(extra)
    b = factory(**settings)
    b.settings["listeners"] = "%s://127.0.0.1:%d" % (protocol, b.port)
    b.restart()
    return b


def test_sasl_ssl_scram_every_client(broker_factory, certs):
    b = tls_broker(broker_factory, certs, "SASL_SSL")
    conf = {"bootstrap.servers": b.bootstrap, "security.protocol": "SASL_SSL",
            "ssl.ca.location": certs["ca.pem"], "sasl.username": "alice",
            "sasl.password": "alice-secret"}
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        produce_consume_confluent(dict(conf, **{"sasl.mechanisms": mech}), "ssl-" + mech.lower())

    sasl = ["-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=" + certs["ca.pem"],
            "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=alice",
            "-X", "sasl.password=alice-secret"]
    run(["kcat", "-b", b.bootstrap, "-P", "-t", "kc-tls"] + sasl, input=b"a\nb\n")
    got = run(["kcat", "-b", b.bootstrap, "-C", "-t", "kc-tls", "-o", "beginning", "-e", "-q"] + sasl)
    assert got.stdout.decode().split() == ["a", "b"]

    from kafka import KafkaConsumer, KafkaProducer
    kconf = dict(bootstrap_servers=b.bootstrap, security_protocol="SASL_SSL",
                 ssl_cafile=certs["ca.pem"], sasl_mechanism="SCRAM-SHA-256",
                 sasl_plain_username="alice", sasl_plain_password="alice-secret")
    p = KafkaProducer(**kconf)
    for i in range(3):
        p.send("kp-tls", b"v%d" % i).get(timeout=15)
    p.close()
    c = KafkaConsumer("kp-tls", auto_offset_reset="earliest", consumer_timeout_ms=5000, **kconf)
    assert [m.value for m in c] == [b"v0", b"v1", b"v2"]
    c.close()

    assert os.path.isdir(os.path.join(JS, "node_modules", "kafkajs")), "run scripts/install-deps.sh"
    prog = os.path.join(JS, "sasl_produce_consume.js")
    for mech in ("scram-sha-256", "scram-sha-512"):
        out = json.loads(run(["node", prog, b.bootstrap, "kjs-tls-" + mech, "5", mech, "alice",
                              "alice-secret", certs["ca.pem"]], timeout=120).stdout)
        assert out["received"] == ["v%d" % i for i in range(5)]
    out = json.loads(run(["node", prog, b.bootstrap, "kjs-tls-bad", "1", "scram-sha-512", "alice",
                          "wrong", certs["ca.pem"]], timeout=60).stdout)
    assert out["error"] == "KafkaJSSASLAuthenticationError"


def test_plaintext_client_on_tls_listener_is_closed(broker_factory, certs):
    b = tls_broker(broker_factory, certs, "SASL_SSL")
    s = kw.connect(b)
    s.sendall(kw.request(18, 0, 1, b""))
    assert kw.closed_by_peer(s)
    b.stop()
    b.start()  # and the broker is fine


def test_mtls_required(broker_factory, certs):
    b = tls_broker(broker_factory, certs, "SSL", ssl_client_auth="required", log_level="debug")
    conf = {"bootstrap.servers": b.bootstrap, "security.protocol": "SSL",
            "ssl.ca.location": certs["ca.pem"]}
    with_cert = dict(conf, **{"ssl.certificate.location": certs["client.pem"],
                              "ssl.key.location": certs["client.key"]})
    produce_consume_confluent(with_cert, "mtls", 5)
    assert "(User:CN=client-app,O=runnel)" in b.read_log()

    for bad in (conf, dict(conf, **{"ssl.certificate.location": certs["rogue.pem"],
                                    "ssl.key.location": certs["rogue.key"]})):
        with pytest.raises(KafkaException):
            AdminClient(dict(bad, **{"socket.timeout.ms": 3000})).list_topics(timeout=4)
    kc = run(["kcat", "-b", b.bootstrap, "-L", "-X", "security.protocol=SSL",
              "-X", "ssl.ca.location=" + certs["ca.pem"],
              "-X", "ssl.certificate.location=" + certs["client.pem"],
              "-X", "ssl.key.location=" + certs["client.key"]])
    assert b"1 brokers" in kc.stdout


def test_ssl_listener_needs_certificate(broker_factory, certs):
    b = broker_factory()
    b.stop()
    b.settings["listeners"] = "SSL://127.0.0.1:%d" % b.port
    with pytest.raises(AssertionError, match="needs ssl.certificate.location"):
        b.start(timeout=10)
    b.settings["ssl.certificate.location"] = certs["server.pem"]
    b.settings["ssl.key.location"] = certs["client.key"]  # not the certificate's key
    with pytest.raises(AssertionError, match="ssl.key.location: cannot load .*mismatch"):
        b.start(timeout=10)
    b.proc = None
