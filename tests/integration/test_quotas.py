"""Client quotas (client.quotas, static config): a producer or consumer over its byte rate
is answered with throttle_time_ms and its connection muted for that long (KIP-219), so it
runs at about its quota; clients without a quota, running at the same time, are not
slowed. Measured with confluent-kafka (librdkafka), which reports throttling through
throttle_cb."""
import threading
import time

from confluent_kafka import Consumer, Producer

QUOTA = 100 * 1024  # bytes/s
VALUE = b"x" * 10000


def run_producer(broker, client_id, seconds, out):
    throttles = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is None:
            delivered[0] += len(msg.value())

    p = Producer({"bootstrap.servers": broker.bootstrap, "client.id": client_id,
                  "queue.buffering.max.kbytes": 128, "linger.ms": 5,
                  "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
    start = time.time()
    warm = None  # (time, bytes) after the first 2 s: the quota's one second of burst is spent
    while time.time() - start < seconds:
        if warm is None and time.time() - start >= 2:
            warm = (time.time(), delivered[0])
        try:
            p.produce("q-" + client_id, VALUE, on_delivery=on_delivery)
        except BufferError:
            p.poll(0.05)
        p.poll(0)
    end, sent = time.time(), delivered[0]
    p.flush(60)
    out[client_id] = {"rate": (sent - warm[1]) / (end - warm[0]), "throttles": throttles}


def test_producer_over_its_quota_is_slowed_others_are_not(broker_factory):
    b = broker_factory(client_quotas="clients/slow:producer_byte_rate=%d" % QUOTA)
    assert "client quotas on" in b.read_log()
    out = {}
    threads = [threading.Thread(target=run_producer, args=(b, cid, 6, out)) for cid in ("slow", "fast")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    slow, fast = out["slow"], out["fast"]
    print("produce: slow %.0f B/s (quota %d), fast %.0f B/s, slow's largest throttle %d ms" % (
        slow["rate"], QUOTA, fast["rate"], max(slow["throttles"] or [0])))
    # about the quota, measured after the burst (one throttled batch either side allowed for)
    assert 0.4 * QUOTA < slow["rate"] < 2.0 * QUOTA, slow["rate"]
    assert slow["throttles"] and max(slow["throttles"]) > 0, slow["throttles"]
    assert fast["rate"] > 5 * QUOTA, (fast["rate"], slow["rate"])
    assert not [t for t in fast["throttles"] if t > 0]


def test_consumer_over_its_quota_is_slowed(broker_factory):
    b = broker_factory(client_quotas="clients/slowc:consumer_byte_rate=%d" % QUOTA)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for _ in range(150):  # 1.5 MB
        p.produce("q-fetch", VALUE)
    assert p.flush(60) == 0

    def consume(client_id):
        """Read all 1.5 MB; the time counts from the subscription, so what librdkafka
        prefetched before the application polled cannot make the rate look higher."""
        throttles = []
        c = Consumer({"bootstrap.servers": b.bootstrap, "client.id": client_id,
                      "group.id": "g-" + client_id, "auto.offset.reset": "earliest",
                      "fetch.max.bytes": 65536, "max.partition.fetch.bytes": 65536,
                      "message.max.bytes": 65536,
                      "throttle_cb": lambda ev: throttles.append(ev.throttle_time)})
        start = time.time()
        c.subscribe(["q-fetch"])
        got = 0
        deadline = start + 60
        while time.time() < deadline and got < 150 * len(VALUE):
            m = c.poll(0.1)
            if m is not None and not m.error():
                got += len(m.value())
        elapsed = time.time() - start
        c.close()
        return got, elapsed, throttles

    got, fast_elapsed, throttles = consume("fastc")
    assert got == 150 * len(VALUE), got
    got, elapsed, throttles = consume("slowc")
    print("fetch: slowc %.0f B/s (quota %d) over %.1f s from subscribing, fastc took %.1f s, "
          "largest throttle %d ms" % (got / elapsed, QUOTA, elapsed, fast_elapsed, max(throttles or [0])))
    # 1.5 MB at 100 KiB/s after a second of burst would take about 14 s. The fetch quota is
    # known to be loose (1.2x to 1.7x its rate in runs so far: the mute after a response
    # does not hold a consumer that has fetches in flight; see the closing note), so this
    # checks that it slows the consumer well below an unthrottled one and near its quota.
    assert got == 150 * len(VALUE), got
    assert 0.3 * QUOTA < got / elapsed < 2.5 * QUOTA, (got, elapsed)
    assert elapsed > 2 * fast_elapsed, (elapsed, fast_elapsed)
    assert throttles and max(throttles) > 0
