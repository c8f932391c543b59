"""The shop demo end to end (issue 7): examples/shop's services, built here with ASan and
UBSan, against the real runnel-server with the topics of examples/shop/setup.sh.

1,000 generated orders (20 malformed on purpose) flow through inventory-service, two
payment-service instances in group `payments` (one is killed with SIGKILL mid-run) and
notification-service; fraud-check reads the view orders.high-value. Delivery is at least
once (runnel has no transactions): the killed instance's uncommitted records go to the
survivor. The test asserts the effects happen exactly once all the same: every valid
order reserved or rejected once, paid or failed once, notified once; every duplicate
event in the log identical to its original; malformed orders nowhere past the broker's
produce filter. It prints how many records were delivered again (pytest -rP shows it).

The broker's stream processors (created by setup.sh) run beside the services, exactly
once and untouched by the kill: rekey-orders (router.lua) re-keys orders by item into
orders-by-item, stock (stock.lua) keeps the stock per item and emits one result per
order to stock-levels, revenue (revenue_per_minute.lua) sums each minute of event time
per partition of orders to revenue-per-minute. The test recomputes their outputs in
Python from their inputs as stored and compares them byte for byte."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import BUILD, ROOT, SANITIZER_MARKS
from test_lua_hooks import java_murmur2

SHOP = os.path.join(ROOT, "examples", "shop")
ORDERS = 1000
RATE = 100  # orders/s: the run lasts ~10 s, long enough to kill a payment-service in it
MINUTES = 10  # the orders' timestamps (event time) span the last 10 minutes: ~11 windows of revenue
KILL_AFTER_CHARGES = 200  # one payment-service is killed once the two have charged this many orders
MALFORMED = {i for i in range(1, ORDERS + 1) if i % 50 == 25}  # order-service's 2%
VALID = set(range(1, ORDERS + 1)) - MALFORMED
STOCK = {"mouse": 400, "keyboard": 300, "headphones": 250, "monitor": 150, "laptop": 60}  # inventory-service's
PROCESSORS = ("rekey-orders", "stock", "revenue")  # setup.sh's
STOCK_DEFAULT = 100  # stock.lua's stock.initial when not set (setup.sh sets each item's)
WINDOW_MS, GRACE_MS = 60000, 5000  # setup.sh's options of the processor revenue
SERVICE_CFLAGS = "-Wall -Wextra -Werror -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer"


def wait_until(cond, timeout, what, logs=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s%s" % (timeout, what, logs() if logs else ""))


def payment_outcome(order_id, amount):
    """payment-service's rule: over the card limit, or a deterministic ~5% declined."""
    return "payment-failed" if amount > 900 or (order_id * 2654435761) % 2**64 % 100 < 5 else "payment-completed"


class Services:
    """The shop's processes, each with its stdout and stderr in a file; stop_all leaves none."""

    def __init__(self, bindir, bootstrap, logdir):
        self.bindir, self.bootstrap, self.logdir = bindir, bootstrap, logdir
        self.procs = {}
        self.env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")

    def start(self, name, program, *args):
        with open(self._path(name, "out"), "wb") as out, open(self._path(name, "err"), "wb") as err:
            self.procs[name] = subprocess.Popen([os.path.join(self.bindir, program), "--bootstrap", self.bootstrap]
                                                + list(args), stdout=out, stderr=err, env=self.env)

    def _path(self, name, kind):
        return os.path.join(self.logdir, "%s.%s" % (name, kind))

    def read(self, name, kind):
        with open(self._path(name, kind), encoding="utf-8", errors="replace") as f:
            return f.read()

    def json_lines(self, name):
        """The complete lines of name's stdout, each a JSON object."""
        return [json.loads(line) for line in self.read(name, "out").split("\n")[:-1] if line.strip()]

    def assignment(self, name):
        """The partitions a consumer holds now, from its assigned:/revoked: log lines."""
        held = set()
        for line in self.read(name, "err").splitlines():
            if "] assigned: " in line:
                held = {p for p in line.split("assigned: ")[1].split() if p != "(nothing)"}
            elif "] revoked: " in line:
                held = set()
        return held

    def running(self, name):
        return self.procs[name].poll() is None

    def kill9(self, name):
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop(self, name, timeout=30):
        """SIGTERM; returns the exit code (a service that hangs is killed and fails)."""
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("%s did not stop within %ss on SIGTERM" % (name, timeout))

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def tails(self):
        out = []
        for name in self.procs:
            for kind in ("err", "out"):
                out.append("\n--- %s.%s (tail)\n%s" % (name, kind, self.read(name, kind)[-1500:]))
        return "".join(out)


def build_services(dest):
    """The services from examples/shop, with sanitizers, into dest (a clean checkout has no bin/)."""
    p = subprocess.run(["make", "-s", "-j2", "-C", SHOP, "BIN=" + dest, "CFLAGS=" + SERVICE_CFLAGS],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, "building the shop services failed:\n%s%s" % (
        p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"))
    return dest


def plugins_dir(tmp):
    """What run.sh gives the broker: the repo's lua/ plus examples/shop/lua/ as shop/."""
    d = os.path.join(tmp, "lua")
    shutil.copytree(os.path.join(ROOT, "lua"), d)
    shutil.copytree(os.path.join(SHOP, "lua"), os.path.join(d, "shop"))
    return d


def read_topic(bootstrap, topic, timestamps=False):
    """Every record of topic: [(partition, offset, key, value)] (and the timestamp, with
    timestamps=True), read with assign(), in offset order per partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "shop-test-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    try:
        partitions = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in partitions])
        out, ended = [], set()
        deadline = time.time() + 30
        while len(ended) < len(partitions):
            assert time.time() < deadline, "reading %s: no end of partitions %s" % (topic, set(partitions) - ended)
            m = c.poll(1)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                ended.add(m.partition())
                continue
            out.append((m.partition(), m.offset(), m.key(), m.value()) + ((m.timestamp()[1],) if timestamps else ()))
        return out
    finally:
        c.close()


def lag(bootstrap, group, topics):
    """The group's total lag over the topics (high watermark minus committed offset)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        total = 0
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in c.list_topics(topic, timeout=10).topics[topic].partitions]
            for tp in c.committed(tps, timeout=10):
                high = c.get_watermark_offsets(tp, timeout=10)[1]
                total += high - max(tp.offset, 0)
        return total
    finally:
        c.close()


def processor_status(broker, name):
    """GET /v1/processors/NAME from the broker's HTTP endpoint."""
    with urllib.request.urlopen("http://127.0.0.1:%d/v1/processors/%s" % (broker.http_port, name),
                                timeout=20) as r:
        return json.loads(r.read())


def processors_caught_up(broker, names):
    """Whether each processor is running and has processed every record of its inputs."""
    for name in names:
        s = processor_status(broker, name)
        if s["status"] != "running" or s["lag"] != 0 or any(p["high_watermark"] < 0 for p in s["positions"]):
            return False
    return True


def expected_stock(orders_by_item, initial):
    """stock.lua recomputed: {order_id: (key, value)} of its one result per order, and
    {item: [order_id, ...]} in input order, from orders-by-item as stored (each partition
    in offset order, one stock per item per task)."""
    results, sequence = {}, defaultdict(list)
    for part in sorted({r[0] for r in orders_by_item}):
        left = {}
        for _, _, _, value in sorted(r for r in orders_by_item if r[0] == part):
            o = json.loads(value)
            item, qty = o["item"], o["qty"]
            level = left.get(item, initial.get(item, STOCK_DEFAULT))
            status = "reserved" if qty <= level else "rejected"
            if status == "reserved":
                level -= qty
                left[item] = level
            results[o["order_id"]] = (item.encode(), (
                '{"order_id":%d,"sku":"%s","qty":%d,"left":%d,"status":"%s"}' % (
                    o["order_id"], item, qty, level, status)).encode())
            sequence[item].append(o["order_id"])
    return results, sequence


def expected_revenue(orders_ts):
    """revenue_per_minute.lua recomputed, one task per partition of orders: (the multiset
    of its records as (key, value, timestamp), the orders dropped as late, the windows
    still open). Stream time is the largest timestamp read so far, this record's
    included; a window closes (emits) once stream time >= its end + grace, right after
    the record that moved it; a record whose window is closed already is late."""
    emitted, late, still_open = Counter(), [], {}
    for part in sorted({r[0] for r in orders_ts}):
        stream_time, windows = -1, {}
        for _, _, _, value, ts in sorted(r for r in orders_ts if r[0] == part):
            stream_time = max(stream_time, ts)
            start = ts - ts % WINDOW_MS
            if start + WINDOW_MS + GRACE_MS <= stream_time:
                late.append(json.loads(value)["order_id"])
                continue
            agg = windows.setdefault(start, [0, 0])
            agg[0] += 1
            agg[1] += round(json.loads(value)["amount"] * 100)
            for w in sorted(windows):
                if w + WINDOW_MS + GRACE_MS <= stream_time:
                    n, cents = windows.pop(w)
                    emitted[(str(w).encode(), (
                        '{"window_start":%d,"window_end":%d,"orders":%d,"revenue":%d.%02d,"partition":%d}' % (
                            w, w + WINDOW_MS, n, cents // 100, cents % 100, part)).encode(),
                             w + WINDOW_MS + GRACE_MS)] += 1
        still_open.update({(w, part): agg for w, agg in windows.items()})
    return emitted, late, still_open


def tick_customers(partitions):
    """A customer id per partition of orders, as json_field.lua places them (murmur2)."""
    out, i = {}, 0
    while len(out) < partitions:
        cid = "tick-%d" % i
        out.setdefault((java_murmur2(cid.encode()) & 0x7FFFFFFF) % partitions, cid)
        i += 1
    return out


def by_order(records):
    """{order_id: [(key, value), ...]} for a topic of JSON events keyed by order id."""
    out = defaultdict(list)
    for _, _, key, value in records:
        out[json.loads(value)["order_id"]].append((key, value))
    return out


def test_shop_end_to_end_with_a_payment_service_killed(broker_factory):
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="runnel-shop-test-")
    svc = broker = None
    try:
        bindir = build_services(os.path.join(tmp, "bin"))
        broker = broker_factory(plugins_dir=plugins_dir(tmp), group_initial_rebalance_delay_ms=500)

        # --- the topics, by the demo's own setup.sh ---------------------------------------
        p = subprocess.run([os.path.join(SHOP, "setup.sh"), broker.bootstrap, "127.0.0.1:%d" % broker.http_port],
                           capture_output=True, timeout=60, env=dict(os.environ, RUNNEL=os.path.join(BUILD, "runnel")))
        assert p.returncode == 0, "setup.sh failed:\n%s%s" % (p.stdout.decode(), p.stderr.decode())

        # --- the services; orders only once every group has split its partitions ----------
        logdir = os.path.join(tmp, "logs")
        os.mkdir(logdir)
        svc = Services(bindir, broker.bootstrap, logdir)
        svc.start("inventory", "inventory-service")
        svc.start("payment-1", "payment-service", "--json")
        svc.start("payment-2", "payment-service", "--json")
        svc.start("notifications", "notification-service", "--json")
        svc.start("fraud", "fraud-check", "--json")

        def ready():
            p1, p2 = svc.assignment("payment-1"), svc.assignment("payment-2")
            return (len(svc.assignment("inventory")) == 6 and len(svc.assignment("notifications")) == 6
                    and len(svc.assignment("fraud")) == 6 and p1 and p2 and len(p1 | p2) == 3)
        wait_until(ready, 45, "every consumer to have its partitions", svc.tails)

        svc.start("orders", "order-service", "--generate", str(ORDERS), "--rate", str(RATE),
                  "--minutes", str(MINUTES))

        # --- kill -9 one payment-service while orders flow: the one with more partitions --
        def charges():
            return sum(len(svc.json_lines(n)) for n in ("payment-1", "payment-2"))
        wait_until(lambda: charges() >= KILL_AFTER_CHARGES, 60, "%d orders charged" % KILL_AFTER_CHARGES, svc.tails)
        victim, survivor = sorted(("payment-1", "payment-2"), key=lambda n: -len(svc.assignment(n)))
        partitions_killed = sorted(svc.assignment(victim))
        svc.kill9(victim)
        killed_after = len(svc.json_lines(victim))
        orders_running_at_kill = svc.running("orders")

        wait_until(lambda: not svc.running("orders"), 60, "order-service to send its orders", svc.tails)
        assert svc.procs["orders"].returncode == 0, svc.tails()
        assert svc.read("orders", "out").strip() == "orders sent=%d accepted=%d rejected=%d failed=0" % (
            ORDERS, len(VALID), len(MALFORMED))

        # --- until the survivor has taken over and every group has caught up -------------
        wait_until(lambda: len(svc.assignment(survivor)) == 3, 60,
                   survivor + " to take over the killed instance's partitions", svc.tails)
        wait_until(lambda: {n["order_id"] for n in svc.json_lines("notifications")} >= VALID, 60,
                   "a notification for every valid order", svc.tails)
        wait_until(lambda: (lag(broker.bootstrap, "inventory", ["orders"]) == 0
                            and lag(broker.bootstrap, "payments", ["inventory-events"]) == 0
                            and lag(broker.bootstrap, "notifications", ["inventory-events", "payment-updates"]) == 0),
                   60, "the groups inventory, payments and notifications to commit everything", svc.tails)
        orders = read_topic(broker.bootstrap, "orders")
        high_value = {json.loads(v)["order_id"] for _, _, _, v in orders if json.loads(v)["amount"] > 500}
        wait_until(lambda: {f["flagged"]["order_id"] for f in svc.json_lines("fraud")} >= high_value, 60,
                   "fraud-check to flag every order over 500", svc.tails)

        for name in ("inventory", survivor, "notifications", "fraud"):
            assert svc.stop(name) == 0, "%s exited non-zero:%s" % (name, svc.tails())
        for name in svc.procs:
            err = svc.read(name, "err")
            found = [m for m in SANITIZER_MARKS if m in err]
            assert not found, "sanitizer findings %s in %s's stderr:\n%s" % (found, name, err[-6000:])
            assert "could not deliver" not in err and "delivery to" not in err, "%s: %s" % (name, err[-3000:])

        # --- malformed orders stop at the broker's produce filter -------------------------
        refused = svc.read("orders", "err")
        assert refused.count("rejected by the broker (INVALID_RECORD)") == len(MALFORMED), refused
        reasons = broker.read_log()
        for reason in ("value is not a JSON object", "missing required field 'customer_id'",
                       "missing required field 'amount'"):
            assert reason in reasons, "no produce refused with %r in the broker log" % reason
        placed = {}
        order = {}
        for part, _, _, value in orders:
            o = json.loads(value)  # every record of orders is a JSON object with every field
            assert set(o) == {"order_id", "customer_id", "item", "qty", "amount"}, value
            assert placed.setdefault(o["customer_id"], part) == part, "customer %s on two partitions" % o["customer_id"]
            assert order.setdefault(o["order_id"], o) == o, "order %d twice, different" % o["order_id"]
        assert set(order) == VALID
        assert "unreadable" not in svc.read("inventory", "err")

        # --- every valid order reserved or rejected once ----------------------------------
        inventory = by_order(read_topic(broker.bootstrap, "inventory-events"))
        assert set(inventory) == VALID
        reserved, reserved_qty = set(), Counter()
        stock_seen = defaultdict(list)
        for oid, copies in inventory.items():
            assert len(set(copies)) == 1, "order %d has different inventory events: %s" % (oid, copies)
            key, value = copies[0]
            e, o = json.loads(value), order[oid]
            assert key == str(oid).encode()
            assert (e["customer_id"], e["item"], e["qty"], e["amount"]) == (o["customer_id"], o["item"], o["qty"],
                                                                            o["amount"])
            if e["type"] == "inventory-reserved":
                reserved.add(oid)
                reserved_qty[e["item"]] += e["qty"]
                stock_seen[e["item"]].append((e["stock_left"], e["qty"]))
            else:
                assert e["type"] == "inventory-rejected" and e["reason"].startswith("out of stock"), value
        # The reservations of an item form one serial history from the initial stock.
        for item, history in stock_seen.items():
            left = STOCK[item]
            for stock_left, qty in sorted(history, reverse=True):
                left -= qty
                assert stock_left == left, "%s: stock_left %d, expected %d" % (item, stock_left, left)
            assert left >= 0
        inventory_dups = sum(len(c) - 1 for c in inventory.values())

        # --- every reserved order paid or failed once, by the order's rule ----------------
        updates_log = read_topic(broker.bootstrap, "payment-updates")
        payments = by_order(updates_log)
        assert set(payments) == reserved, "paid/failed %s, reserved %s" % (
            sorted(set(payments) ^ reserved)[:20], len(reserved))
        outcome = {}
        for oid, copies in payments.items():
            assert len(set(copies)) == 1, "order %d has different payment events: %s" % (oid, copies)
            e = json.loads(copies[0][1])
            assert e["type"] == payment_outcome(oid, order[oid]["amount"]), copies[0]
            outcome[oid] = e["type"]
        payment_dups = len(updates_log) - len(payments)

        # What each instance charged: the survivor charged again what the killed one had
        # not committed (same input record, same answer); neither charged a record twice,
        # and between them they charged every reserved order.
        charged = {name: svc.json_lines(name) for name in ("payment-1", "payment-2")}
        for name, lines in charged.items():
            records = [(c["partition"], c["offset"]) for c in lines]
            assert len(records) == len(set(records)), "%s charged a record twice" % name
            for c in lines:
                assert c["order_id"] in reserved and c["paid"] == (outcome[c["order_id"]] == "payment-completed"), c
        by_record = defaultdict(set)
        for name, lines in charged.items():
            for c in lines:
                by_record[(c["partition"], c["offset"])].add(name)
        assert {c["order_id"] for lines in charged.values() for c in lines} == reserved
        redelivered = sum(1 for names in by_record.values() if len(names) > 1)
        # a record delivered again to the instance that handled it is skipped (not charged)
        self_redelivered = int(svc.read(survivor, "err").split("redelivered=")[1].split()[0])

        # --- every valid order notified once, with its outcome ----------------------------
        notes = svc.json_lines("notifications")
        told = Counter(n["order_id"] for n in notes)
        assert set(told) == VALID and max(told.values()) == 1, [o for o, n in told.items() if n > 1][:20]
        for n in notes:
            oid = n["order_id"]
            want = {"payment-completed": "paid", "payment-failed": "payment-failed"}.get(outcome.get(oid),
                                                                                            "out-of-stock")
            assert n["status"] == want, n
        skipped = int(svc.read("notifications", "err").split("duplicates=")[1].split()[0])
        assert skipped >= payment_dups

        # --- fraud-check saw exactly the valid orders over 500, each once -----------------
        flagged = Counter(f["flagged"]["order_id"] for f in svc.json_lines("fraud"))
        assert set(flagged) == high_value and max(flagged.values()) == 1

        # --- the stream processors: each valid order processed once, inside the broker ----
        # They ran all along, beside the services and the kill; exactly once, they owe no
        # duplicate to it. Their outputs are recomputed here from their inputs as stored.
        wait_until(lambda: processors_caught_up(broker, PROCESSORS), 60, "the processors to catch up",
                   lambda: "\n" + "\n".join(json.dumps(processor_status(broker, n)) for n in PROCESSORS))
        for name in PROCESSORS:
            s = processor_status(broker, name)
            assert s["dead_letters"] == 0 and s["last_error"] is None, s
            assert read_topic(broker.bootstrap, name + ".dlq") == [], name + ".dlq is not empty"
        raw = {json.loads(value)["order_id"]: value for _, _, _, value in orders}

        # rekey-orders: every valid order once in orders-by-item, unchanged, keyed by its item,
        # one partition per item (murmur2 of the key)
        by_item = read_topic(broker.bootstrap, "orders-by-item")
        copies = Counter(json.loads(value)["order_id"] for _, _, _, value in by_item)
        assert set(copies) == VALID and max(copies.values()) == 1, (sorted(VALID - set(copies))[:20], [
            o for o, n in copies.items() if n > 1][:20])
        for part, _, key, value in by_item:
            o = json.loads(value)
            assert value == raw[o["order_id"]] and key == o["item"].encode(), (key, value)
            assert part == (java_murmur2(key) & 0x7FFFFFFF) % 3, (part, key)

        # stock: one result per valid order, none lost, none twice; each the decision that
        # orders-by-item's order (per partition, by offset) gives from the initial stock
        levels = read_topic(broker.bootstrap, "stock-levels")
        results = Counter(json.loads(value)["order_id"] for _, _, _, value in levels)
        assert set(results) == VALID, "stock results missing for %s, extra for %s" % (
            sorted(VALID - set(results))[:20], sorted(set(results) - VALID)[:20])
        assert max(results.values()) == 1, [o for o, n in results.items() if n > 1][:20]
        want, sequence = expected_stock(by_item, STOCK)
        in_order = defaultdict(list)
        for part, _, key, value in sorted(levels):
            oid = json.loads(value)["order_id"]
            assert (key, value) == want[oid], "order %d: stock result %s, recomputed %s" % (oid, (key, value),
                                                                                         want[oid])
            in_order[key.decode()].append(oid)
        assert in_order == sequence  # each item's results in its orders' order
        final = {item: json.loads(next(v for _, _, k, v in reversed(sorted(levels)) if k == item.encode()))["left"]
                 for item in sequence}
        decisions = Counter(json.loads(value)["status"] for _, _, _, value in levels)
        # inventory-service decided in its own interleaving of the 6 partitions of orders,
        # the processor in orders-by-item's order: the same final stock unless an item ran out
        inventory_left = {item: STOCK[item] - reserved_qty[item] for item in STOCK}
        ran_out = {json.loads(v)["sku"] for _, _, _, v in levels if b'"rejected"' in v}
        ran_out |= {json.loads(c[0][1])["item"] for c in inventory.values() if b"inventory-rejected" in c[0][1]}
        for item in STOCK:
            if item not in ran_out:
                assert final[item] == inventory_left[item], (item, final[item], inventory_left[item])

        # revenue: windows close by event time per task (partition of orders), so the last
        # minute stays open until each partition sees a later order. One "tick" order per
        # partition, stamped at the end of the last minute + grace (amount 0, item "tick"),
        # closes every minute that holds a valid order. (The services are stopped: the
        # ticks go only to the processors.)
        partitions = len({part for part, _, _, _ in orders})
        assert partitions == 6
        last_end = max(ts - ts % WINDOW_MS for _, _, _, _, ts in read_topic(broker.bootstrap, "orders", True)) \
            + WINDOW_MS
        tick_errors = []
        producer = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random"})
        for part, cid in sorted(tick_customers(partitions).items()):
            producer.produce("orders", key=cid, timestamp=last_end + GRACE_MS,
                             value=json.dumps({"order_id": 1000000 + part, "customer_id": cid, "item": "tick",
                                               "qty": 1, "amount": 0}),
                             on_delivery=lambda err, msg: err and tick_errors.append(err))
        assert producer.flush(30) == 0 and not tick_errors, tick_errors
        wait_until(lambda: processors_caught_up(broker, ["revenue"]), 60, "the processor revenue to catch up")
        orders_ts = read_topic(broker.bootstrap, "orders", True)
        ticks = sorted(part for part, _, _, value, _ in orders_ts if b'"tick"' in value)
        assert ticks == list(range(partitions)), "the ticks landed in partitions %s" % ticks
        revenue = read_topic(broker.bootstrap, "revenue-per-minute", True)
        emitted, late, still_open = expected_revenue(orders_ts)
        assert not late, "orders late for their minute (stamped out of order in a partition): %s" % late
        assert Counter((key, value, ts) for _, _, key, value, ts in revenue) == emitted, (
            sorted(revenue)[:10], sorted(emitted)[:10])
        assert {w for w, _ in still_open} == {last_end}  # only the ticks' minute is open
        # Each minute's records sum to the valid orders stamped in that minute.
        per_minute, valid_minute = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
        for _, _, _, value, _ in revenue:
            r = json.loads(value)
            per_minute[r["window_start"]][0] += r["orders"]
            per_minute[r["window_start"]][1] += round(float(value.split(b'"revenue":')[1].split(b",")[0]) * 100)
        for _, _, _, value, ts in orders_ts:
            o = json.loads(value)
            if o["order_id"] in VALID:
                valid_minute[ts - ts % WINDOW_MS][0] += 1
                valid_minute[ts - ts % WINDOW_MS][1] += round(o["amount"] * 100)
        assert per_minute == valid_minute, (sorted(per_minute.items()), sorted(valid_minute.items()))
        assert sum(n for n, _ in per_minute.values()) == len(VALID)

        print("\nshop: %d orders, %d refused by the broker's filter; %d reserved, %d out of stock; "
              "%d paid, %d payment failed; %d notified, %d flagged by fraud-check" % (
                  ORDERS, len(MALFORMED), len(reserved), len(VALID) - len(reserved),
                  sum(1 for t in outcome.values() if t == "payment-completed"),
                  sum(1 for t in outcome.values() if t == "payment-failed"), len(notes), len(flagged)))
        print("shop: %s (%s) killed after %d charges%s; records delivered again to %s: %d "
              "(and to itself, skipped: %d); "
              "duplicate events in payment-updates: %d, in inventory-events: %d, all identical; "
              "duplicates skipped by notification-service: %d; %.1f s" % (
                  victim, " ".join(partitions_killed), killed_after,
                  " (orders still flowing)" if orders_running_at_kill else "", survivor, redelivered,
                  self_redelivered,
                  payment_dups, inventory_dups, skipped, time.time() - started))
        print("shop: processors: stock: %d results, one per valid order (%d reserved, %d rejected), final stock %s "
              "(inventory-service: %s); revenue: %d minutes, %d records, %.2f in all, equal per minute to the "
              "valid orders' amounts; no dead letters" % (
                  len(levels), decisions["reserved"], decisions["rejected"],
                  " ".join("%s=%d" % (i, final[i]) for i in STOCK),
                  " ".join("%s=%d" % (i, inventory_left[i]) for i in STOCK), len(per_minute), len(revenue),
                  sum(c for _, c in per_minute.values()) / 100))
    finally:
        if svc:
            svc.stop_all()
        if os.environ.get("SHOP_TEST_KEEP"):
            if broker:
                with open(os.path.join(tmp, "server.log"), "w") as f:
                    f.write(broker.read_log())
            print("shop: logs kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
