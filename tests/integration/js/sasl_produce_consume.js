// tests/integration/js/sasl_produce_consume.js: kafkajs 2.2.4 with SASL (SCRAM or PLAIN),
// optionally over TLS: produce COUNT records, read them back in a group, print JSON.
//   node sasl_produce_consume.js BOOTSTRAP TOPIC COUNT MECHANISM USER PASSWORD [CA_PEM]
// A failed authentication prints {"error": name, "message": ...} and exits 0, so the
// pytest side can check what kafkajs reported.
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, countArg, mechanism, username, password, ca] = process.argv.slice(2);
const count = parseInt(countArg, 10);
const kafka = new Kafka({
  brokers: bootstrap.split(','),
  clientId: 'runnel-sasl-test',
  logLevel: logLevel.NOTHING,
  ssl: ca ? { ca: [fs.readFileSync(ca, 'utf-8')], servername: 'localhost' } : false,
  sasl: { mechanism, username, password },
  retry: { retries: 2 },
  connectionTimeout: 5000,
  authenticationTimeout: 5000,
});

(async () => {
  const out = {};
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  try {
    await producer.connect();
  } catch (e) {
    console.log(JSON.stringify({ error: e.name, message: e.message, type: e.type }));
    return;
  }
  const messages = [];
  for (let i = 0; i < count; i++) messages.push({ key: `k${i}`, value: `v${i}` });
  out.sent = await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}-group`, sessionTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} records`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value.toString());
        if (got.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  out.received = got;
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
