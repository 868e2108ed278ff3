import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { EntityManager } from 'typeorm';
import { createSchemaRegistry, outboxEventTopics, registerEventSchemas } from '../../src/contracts';
import { OutboxRelay, type OutboxRelayDeps } from '../../src/producers/outbox-relay';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { uniqueName } from '../../testing/stack-env';

/** A relay that dies (once) after Kafka acknowledged the batch but before marking it sent. */
class CrashingRelay extends OutboxRelay {
  crashes = 1;
  protected override async markPublished(manager: EntityManager, ids: string[]): Promise<void> {
    if (this.crashes-- > 0) throw new Error('relay killed between publish and mark-sent');
    return super.markPublished(manager, ids);
  }
}

interface Received {
  topic: string;
  key: string;
  eventIdHeader: string;
  value: Record<string, unknown>;
}

describe('outbox relay to Kafka', () => {
  let h: ReportHarness;
  let producer: Producer;
  let consumer: Consumer;
  let deps: OutboxRelayDeps;
  const received: Received[] = [];

  before(async () => {
    h = await createReportHarness();
    await h.startWorker();
    const kafka = new Kafka({
      clientId: 'relay-test',
      brokers: h.config.KAFKA_BROKERS,
      logLevel: logLevel.NOTHING,
    });
    const registry = createSchemaRegistry(h.config.SCHEMA_REGISTRY_URL);
    const topics = outboxEventTopics(h.config);
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
    deps = {
      dataSource: h.dataSource,
      producer,
      registry,
      topics,
      schemaIds: await registerEventSchemas(registry, topics),
    };

    consumer = kafka.consumer({ groupId: uniqueName('relay-test') });
    await consumer.connect();
    await consumer.subscribe({
      topics: Object.values(topics).map((t) => t.topic),
      fromBeginning: false,
    });
    let assigned = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (assigned = true));
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        received.push({
          topic,
          key: message.key?.toString() ?? '',
          eventIdHeader: message.headers?.['event-id']?.toString() ?? '',
          value: (await registry.decode(message.value!)) as Record<string, unknown>,
        });
      },
    });
    while (!assigned) await new Promise((r) => setTimeout(r, 100));
  });
  after(async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await h.close();
  });

  async function eventsFor(reportId: string, count: number): Promise<Received[]> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const mine = received.filter((r) => r.key === reportId);
      if (mine.length >= count) return mine;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `expected ${count} events for ${reportId}, got ${received.filter((r) => r.key === reportId).length}`,
    );
  }

  it('publishes ReportCompleted and EmailNotification, registry-encoded and keyed by reportId', async () => {
    const { handle, reportId, workflowId } = await h.start(h.request());
    assert.equal((await handle.result()).status, 'COMPLETED');
    while ((await new OutboxRelay(deps).publishBatch()) > 0);

    const events = await eventsFor(reportId, 2);
    const completed = events.find((e) => e.topic === h.config.TOPIC_REPORTS_COMPLETED)!;
    assert.equal(completed.value.workflowId, workflowId);
    assert.equal(completed.value.eventId, completed.eventIdHeader);
    assert.match(
      String((completed.value.pdf as { url: string }).url),
      new RegExp(`/api/reports/${reportId}/pdf$`),
    );
    const email = events.find((e) => e.topic === h.config.TOPIC_NOTIFICATIONS_EMAIL)!;
    assert.equal(email.value.status, 'SENT');
    const unpublished = await h.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM outbox WHERE message_key = $1 AND published_at IS NULL`,
      [reportId],
    );
    assert.equal(unpublished[0]?.n, '0');
  });

  it("sends a report's events as soon as its worker commits them, not at the relay's next poll", async () => {
    const relay = new OutboxRelay(deps);
    await relay.start(600_000); // one drain now, then no poll for ten minutes
    const own = await createReportHarness();
    try {
      await own.startWorker((d) => ({ ...d, onEventsQueued: () => relay.wake() }));
      const { handle, reportId } = await own.start(own.request());
      assert.equal((await handle.result()).status, 'COMPLETED');
      const events = await eventsFor(reportId, 2);
      assert.deepEqual(
        events.map((e) => e.topic).sort(),
        [own.config.TOPIC_NOTIFICATIONS_EMAIL, own.config.TOPIC_REPORTS_COMPLETED].sort(),
      );
    } finally {
      await relay.stop();
      await own.close();
    }
  });

  it('publishes each row to the topic its worker wrote into it, whichever relay picks it up', async () => {
    // Another deployment's relay on the same database, configured with topics of its own (as a
    // './dev start' app was beside the tests): it must still send these rows where they say.
    const kafka = new Kafka({ brokers: h.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const elsewhere = outboxEventTopics({
      TOPIC_REPORTS_COMPLETED: uniqueName('elsewhere-completed'),
      TOPIC_REPORTS_FAILED: uniqueName('elsewhere-failed'),
      TOPIC_NOTIFICATIONS_EMAIL: uniqueName('elsewhere-email'),
    });
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: Object.values(elsewhere).map(({ topic }) => ({ topic, numPartitions: 1 })),
      });
      const otherRelay = new OutboxRelay({
        ...deps,
        topics: elsewhere,
        schemaIds: await registerEventSchemas(deps.registry, elsewhere),
      });
      const { handle, reportId } = await h.start(h.request());
      assert.equal((await handle.result()).status, 'COMPLETED');
      const rows = await h.dataSource.query<{ event_type: string; topic: string }[]>(
        `SELECT event_type, topic FROM outbox WHERE message_key = $1 ORDER BY event_type`,
        [reportId],
      );
      assert.deepEqual(rows, [
        { event_type: 'EmailNotification', topic: h.config.TOPIC_NOTIFICATIONS_EMAIL },
        { event_type: 'ReportCompleted', topic: h.config.TOPIC_REPORTS_COMPLETED },
      ]);
      while ((await otherRelay.publishBatch()) > 0);

      const events = await eventsFor(reportId, 2);
      assert.deepEqual(
        events.map((e) => e.topic).sort(),
        [h.config.TOPIC_NOTIFICATIONS_EMAIL, h.config.TOPIC_REPORTS_COMPLETED].sort(),
      );
      for (const { topic } of Object.values(elsewhere)) {
        const offsets = await admin.fetchTopicOffsets(topic);
        assert.deepEqual(
          offsets.map((o) => o.high),
          ['0'],
          `nothing went to the other relay's ${topic}`,
        );
      }
    } finally {
      await admin.deleteTopics({ topics: Object.values(elsewhere).map((t) => t.topic) });
      await admin.disconnect();
    }
  });

  it('re-sends with the same eventId when it dies between publish and mark-sent', async () => {
    const { handle, reportId } = await h.start(h.request());
    await handle.result();
    const crashing = new CrashingRelay(deps);
    await assert.rejects(crashing.publishBatch(), /between publish and mark-sent/);
    while ((await crashing.publishBatch()) > 0);

    const completed = (await eventsFor(reportId, 4)).filter(
      (e) => e.topic === h.config.TOPIC_REPORTS_COMPLETED,
    );
    assert.equal(completed.length, 2, 'sent twice');
    assert.equal(completed[0]?.value.eventId, completed[1]?.value.eventId, 'with one eventId');
  });

  it('sets aside an event its schema rejects, with the reason, and publishes the rest', async () => {
    const poisonId = uniqueName('poison');
    await h.dataSource.query(
      `INSERT INTO outbox (event_id, event_type, message_key, payload) VALUES (gen_random_uuid(), 'ReportCompleted', $1, '{"eventId": "x"}')`,
      [poisonId],
    );
    const { handle, reportId } = await h.start(h.request());
    await handle.result();
    while ((await new OutboxRelay(deps).publishBatch()) > 0);

    await eventsFor(reportId, 2);
    const poison = await h.dataSource.query<
      { published_at: Date | null; publish_error: string | null }[]
    >(`SELECT published_at, publish_error FROM outbox WHERE message_key = $1`, [poisonId]);
    assert.equal(poison[0]?.published_at, null);
    assert.match(poison[0]?.publish_error ?? '', /invalid/);
  });
});
