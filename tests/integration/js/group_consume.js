// tests/integration/js/group_consume.js: a kafkajs 2.2.4 group consumer against runnel.
//   node group_consume.js BOOTSTRAP TOPIC GROUP_ID EXPECTED_COUNT [TIMEOUT_MS] [LINGER_MS]
// Subscribes (fromBeginning), consumes with eachMessage until EXPECTED_COUNT messages were
// seen, keeps consuming LINGER_MS more (so extra messages would show), waits until the
// broker acknowledged a commit covering every message seen, disconnects (LeaveGroup), then
// reads the group back with the admin client. Prints one JSON object on stdout:
//   {received: [{partition, offset, key, value}], commits: [...], committed: [...],
//    group: {...}, assignment: [...]}
// Exits 2 (printing what it has on stderr) if EXPECTED_COUNT is not reached in TIMEOUT_MS.
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, groupId, expectedArg, timeoutArg, lingerArg] = process.argv.slice(2);
const expected = parseInt(expectedArg, 10);
const timeoutMs = parseInt(timeoutArg || '20000', 10);
const lingerMs = parseInt(lingerArg || '1000', 10);
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'runnel-group-test', logLevel: logLevel.ERROR });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

(async () => {
  const out = { received: [], commits: [], assignment: null };
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 });
  const commitErrors = [];
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    out.assignment = e.payload.memberAssignment[topic] || [];
  });
  // Highest committed offset per partition, from the broker-acknowledged OffsetCommits.
  const committedNext = {};
  consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
    for (const t of e.payload.topics) {
      for (const p of t.partitions) {
        out.commits.push({ topic: t.topic, partition: p.partition, offset: p.offset });
        const o = BigInt(p.offset);
        if (committedNext[p.partition] === undefined || o > committedNext[p.partition]) {
          committedNext[p.partition] = o;
        }
      }
    }
  });
  consumer.on(consumer.events.CRASH, (e) => commitErrors.push(String(e.payload.error)));

  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: true,
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => {
      out.received.push({
        partition,
        offset: message.offset,
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? null : message.value.toString(),
      });
    },
  });

  try {
    await waitFor(() => out.received.length >= expected, timeoutMs, `${expected} messages`);
  } catch (e) {
    console.error(`${e.message}: got ${out.received.length}; crashes: ${commitErrors.join('; ')}`);
    console.error(JSON.stringify(out));
    process.exit(2);
  }
  await sleep(lingerMs);

  // Every partition we read from has a commit at (last offset seen + 1).
  const wantNext = {};
  for (const r of out.received) {
    const next = BigInt(r.offset) + 1n;
    if (wantNext[r.partition] === undefined || next > wantNext[r.partition]) wantNext[r.partition] = next;
  }
  await waitFor(
    () => Object.keys(wantNext).every((p) => committedNext[p] !== undefined && committedNext[p] >= wantNext[p]),
    10000, 'offset commits covering every message');
  await consumer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  const fetched = await admin.fetchOffsets({ groupId, topics: [topic] });
  out.committed = fetched[0].partitions.map((p) => ({ partition: p.partition, offset: p.offset }));
  const described = await admin.describeGroups([groupId]);
  const g = described.groups[0];
  out.group = { groupId: g.groupId, state: g.state, protocolType: g.protocolType, protocol: g.protocol,
                members: g.members.length, errorCode: g.errorCode };
  out.listed = (await admin.listGroups()).groups;
  await admin.disconnect();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error('kafkajs failed:', e);
  process.exit(1);
});
