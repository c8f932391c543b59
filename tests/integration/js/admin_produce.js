// tests/integration/js/admin_produce.js: kafkajs 2.2.4 against runnel: admin calls and an
// idempotent, gzip-compressed produce; prints one JSON object for the pytest side.
//   node admin_produce.js BOOTSTRAP TOPIC COUNT
const { Kafka, logLevel, CompressionTypes } = require('kafkajs');

const [bootstrap, topic, countArg] = process.argv.slice(2);
const count = parseInt(countArg, 10);
const kafka = new Kafka({ brokers: bootstrap.split(','), clientId: 'runnel-test', logLevel: logLevel.ERROR });

(async () => {
  const out = {};
  const admin = kafka.admin();
  await admin.connect();
  out.created = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  out.createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  out.metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  out.topics = await admin.listTopics();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < count; i++) {
    messages.push({ key: `k${i}`, value: `v${i}`, partition: i % 2, headers: { seq: `${i}` } });
  }
  out.sent = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages });
  await producer.disconnect();

  out.offsets = await admin.fetchTopicOffsets(topic);
  out.offsetsByTime = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 3600 * 1000);
  await admin.createTopics({ topics: [{ topic: `${topic}-gone`, numPartitions: 1 }] });
  await admin.deleteTopics({ topics: [`${topic}-gone`] });
  out.topicsAfterDelete = await admin.listTopics();
  await admin.disconnect();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error('kafkajs failed:', e);
  process.exit(1);
});
