import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { config, uniqueName } from '../../testing/stack-env';

describe('Kafka broker', () => {
  const kafka = new Kafka({
    clientId: 'stack-test',
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.ERROR,
  });
  let admin: Admin;

  before(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  after(async () => {
    await admin.disconnect();
  });

  it('has the service topics', async () => {
    const topics = await admin.listTopics();
    for (const topic of [
      config.TOPIC_REPORTS_REQUESTED,
      config.TOPIC_REPORTS_REQUESTED_DLQ,
      config.TOPIC_REPORTS_COMPLETED,
      config.TOPIC_REPORTS_FAILED,
      config.TOPIC_NOTIFICATIONS_EMAIL,
      config.TOPIC_REVIEW_DECISIONS,
      config.TOPIC_REVIEW_DECISIONS_DLQ,
    ]) {
      assert.ok(topics.includes(topic), `topic ${topic} exists`);
    }
  });

  it('creates a topic, produces and consumes keyed records in order', async (t) => {
    const topic = uniqueName('smoke-topic');
    assert.equal(
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] }),
      true,
    );
    t.after(() => admin.deleteTopics({ topics: [topic] }));

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    t.after(() => producer.disconnect());
    const sent = Array.from({ length: 10 }, (_, i) => ({
      key: `key-${i % 2}`,
      value: `value-${i}`,
    }));
    await producer.send({ topic, acks: -1, messages: sent });

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    t.after(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: { key: string; value: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${received.length} of ${sent.length} records arrived`)),
        30_000,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
            });
            if (received.length === sent.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.stop();

    assert.deepEqual(received.map((r) => r.value).sort(), sent.map((r) => r.value).sort());
    for (const key of ['key-0', 'key-1']) {
      // One key lands on one partition, so its records keep the order they were sent in.
      assert.deepEqual(
        received.filter((r) => r.key === key).map((r) => r.value),
        sent.filter((r) => r.key === key).map((r) => r.value),
      );
    }
  });
});
