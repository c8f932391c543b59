"""kafkajs 2.2.4 consumers in a consumer group (js/group_consume.js): subscribe from the
beginning, eachMessage with offsets auto-committed, then after a broker restart the same
group resumes from its committed offsets and sees only the new records."""
import json
import os

from confluent_kafka import Producer
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from conftest import ROOT, run

JS = os.path.join(ROOT, "tests", "integration", "js")
GROUP_SETTINGS = dict(group_initial_rebalance_delay_ms=200, group_min_session_timeout_ms=1000)


def produce(b, topic, partitions, start, count):
    """Records i in [start, start+count): key k<i>, value v<i>, partition i % partitions.
    Returns {value: (partition, offset)} as acknowledged."""
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    acked, errors = {}, []

    def done(err, msg):
        if err:
            errors.append(err)
        else:
            acked[msg.value().decode()] = (msg.partition(), msg.offset())

    for i in range(start, start + count):
        p.produce(topic, key="k%d" % i, value="v%d" % i, partition=i % partitions, on_delivery=done)
    assert p.flush(20) == 0
    assert errors == [] and len(acked) == count
    return acked


def consume(b, topic, group, expected):
    out = run(["node", os.path.join(JS, "group_consume.js"), b.bootstrap, topic, group,
               str(expected), "20000", "1000"], timeout=60)
    return json.loads(out.stdout)


def check_exactly(out, acked):
    got = out["received"]
    values = [r["value"] for r in got]
    assert len(values) == len(set(values)), "duplicates: %d received, %d distinct" % (
        len(values), len(set(values)))
    assert set(values) == set(acked), "missing %s, unexpected %s" % (
        sorted(set(acked) - set(values))[:10], sorted(set(values) - set(acked))[:10])
    for r in got:
        assert r["key"] == "k" + r["value"][1:]
        assert (r["partition"], int(r["offset"])) == acked[r["value"]]


def test_kafkajs_group_consume_commit_restart_resume(broker_factory):
    assert os.path.isdir(os.path.join(JS, "node_modules", "kafkajs")), "run scripts/install-deps.sh"
    b = broker_factory(**GROUP_SETTINGS)
    topic, group, parts = "kjg", "kjg-group", 3
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    assert a.create_topics([NewTopic(topic, parts, 1)]).topic_errors[0][1] == 0
    a.close()
    acked = produce(b, topic, parts, 0, 200)

    out = consume(b, topic, group, 200)
    assert sorted(out["assignment"]) == list(range(parts))
    check_exactly(out, acked)
    for p in range(parts):
        offs = sorted(int(r["offset"]) for r in out["received"] if r["partition"] == p)
        assert offs == list(range(len(offs))) and len(offs) in (66, 67)
    ends = {0: "67", 1: "67", 2: "66"}  # 200 records by i % 3
    assert {c["partition"]: c["offset"] for c in out["committed"]} == ends
    # The consumer left: Empty, and (as in Kafka) no protocol is reported outside Stable.
    assert out["group"] == {"groupId": group, "state": "Empty", "protocolType": "consumer",
                            "protocol": "", "members": 0, "errorCode": 0}
    assert {"groupId": group, "protocolType": "consumer"} in out["listed"]

    b.restart()

    # The committed offsets survived the restart (read by kafka-python's admin): lag 0.
    tps = [TopicPartition(topic, p) for p in range(parts)]
    a = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    committed = a.list_consumer_group_offsets(group)
    a.close()
    probe = KafkaConsumer(bootstrap_servers=b.bootstrap)
    end_offsets = probe.end_offsets(tps)
    probe.close()
    assert {tp: end_offsets[tp] - committed[tp].offset for tp in tps} == {tp: 0 for tp in tps}

    acked2 = produce(b, topic, parts, 200, 50)
    out = consume(b, topic, group, 50)
    check_exactly(out, acked2)  # only the 50 new ones, none of the first 200
    assert min(int(r["offset"]) for r in out["received"]) >= 66
    # 200..249 by i % 3: partitions 0, 1, 2 get 17, 16, 17 more.
    assert {c["partition"]: c["offset"] for c in out["committed"]} == {0: "84", 1: "83", 2: "83"}
