import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { reportRequestedSchema } from '../../src/contracts';
import { redriveDlq } from '../../src/consumers/redrive-dlq';
import { Inbox, type InboxEntryInput, type InboxVerdict } from '../../src/storage/inbox';
import { createKafkaHarness, type KafkaHarness } from '../../testing/kafka-harness';
import { mailTo } from '../../testing/maildev';
import { registerSchemaRaw } from '../support/schema-registry';
import { testEndpoints, uniqueName } from '../../testing/stack-env';

describe('report requests from Kafka', () => {
  let k: KafkaHarness;
  before(async () => {
    k = await createKafkaHarness();
    await k.startConsumer();
  });
  after(() => k.close());

  const dlq = () => k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ);

  it('turns a registry-encoded request into a ReportCompleted event whose PDF reference resolves', async () => {
    const request = k.sampleRequest();
    await k.produceRequest(request);
    const reportId = reportIdFor(request.idempotencyKey);
    await k.waitCompleted(reportId);

    const event = (await k.registry.decode(k.completed(reportId)[0]!.value)) as {
      eventId: string;
      workflowId: string;
      pdf: { url: string; bytes: number; pages: number };
    };
    assert.equal(event.workflowId, workflowIdFor(request.idempotencyKey));
    assert.match(event.pdf.url, new RegExp(`/api/reports/${reportId}/pdf$`));
    const stored = await k.h.dataSource.query<{ size_bytes: number }[]>(
      `SELECT size_bytes FROM report_files WHERE report_id = $1 AND kind = 'pdf'`,
      [reportId],
    );
    assert.equal(stored[0]?.size_bytes, event.pdf.bytes);
    // No priority asked for: NORMAL, in the requester's turn.
    const { priority } = await k.h.client.workflow
      .getHandle(workflowIdFor(request.idempotencyKey))
      .describe();
    assert.deepEqual(priority, { priorityKey: 3, fairnessKey: 'team-kafka', fairnessWeight: 1 });
  });

  it('starts a request that asks for HIGH priority at HIGH, and one asking LOW at LOW', async () => {
    const high = k.sampleRequest({ priority: 'HIGH' });
    const low = k.sampleRequest({
      priority: 'LOW',
      requester: { id: 'team-batch', email: 'b@example.com' },
    });
    await k.produceRequest(high);
    await k.produceRequest(low);
    for (const [request, key, fairnessKey] of [
      [high, 2, 'team-kafka'],
      [low, 4, 'team-batch'],
    ] as const) {
      await k.waitCompleted(reportIdFor(request.idempotencyKey));
      const { priority } = await k.h.client.workflow
        .getHandle(workflowIdFor(request.idempotencyKey))
        .describe();
      assert.deepEqual(priority, { priorityKey: key, fairnessKey, fairnessWeight: 1 });
    }
  });

  it('runs a flood of 300 copies of one request exactly once', async () => {
    const request = k.sampleRequest();
    const reportId = reportIdFor(request.idempotencyKey);
    // Two thirds keyed by the idempotency key, the rest under other keys so they land on
    // other partitions and are handled concurrently.
    const sends = Array.from({ length: 300 }, (_, i) =>
      k.produceRequest(request, { key: i % 3 === 2 ? `other-${i}` : request.idempotencyKey }),
    );
    await Promise.all(sends);
    await k.waitCompleted(reportId);
    await k.waitFor('all 300 copies consumed', async () => {
      const rows = await k.h.dataSource.query<{ duplicates: number }[]>(
        `SELECT duplicates FROM inbox WHERE idempotency_key = $1`,
        [request.idempotencyKey],
      );
      return rows[0]?.duplicates === 299;
    });

    const runs = [];
    for await (const run of k.h.client.workflow.list({
      query: `WorkflowId = '${workflowIdFor(request.idempotencyKey)}'`,
    }))
      runs.push(run);
    assert.equal(runs.length, 1, 'one workflow');
    const rows = await k.h.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM reports WHERE id = $1`,
      [reportId],
    );
    assert.equal(rows[0]?.n, '1', 'one report row');
    assert.equal(
      (
        await mailTo(
          testEndpoints.maildevApi,
          String((request.requester as { email: string }).email),
        )
      ).length,
      1,
      'one email',
    );
    await new Promise((r) => setTimeout(r, 500));
    const eventIds = new Set(
      await Promise.all(
        k
          .completed(reportId)
          .map(async (r) => ((await k.registry.decode(r.value)) as { eventId: string }).eventId),
      ),
    );
    assert.equal(eventIds.size, 1, 'one ReportCompleted event id');
    assert.equal(
      await k.h.llm.countFor(`${workflowIdFor(request.idempotencyKey)}:callLlm`),
      1,
      'one LLM call',
    );
  });

  it('dead-letters a second request under a used key with a different payload, and leaves the first alone', async () => {
    const first = k.sampleRequest();
    await k.produceRequest(first);
    const reportId = reportIdFor(first.idempotencyKey);
    await k.waitCompleted(reportId);
    await k.produceRequest({ ...first, prompt: 'Something else entirely' });
    await k.waitFor('the conflict in the DLQ', () =>
      dlq().some((r) => r.key === first.idempotencyKey),
    );

    const record = dlq().find((r) => r.key === first.idempotencyKey)!;
    assert.equal(record.headers['dlq-reason'], 'idempotency-key-conflict');
    assert.equal(record.headers['dlq-source-topic'], k.config.TOPIC_REPORTS_REQUESTED);
    const original = (await k.registry.decode(record.value)) as { prompt: string };
    assert.equal(original.prompt, 'Something else entirely', 'the DLQ keeps the original bytes');
    const report = await k.h.dataSource.query<{ prompt: string; status: string }[]>(
      `SELECT prompt, status FROM reports WHERE id = $1`,
      [reportId],
    );
    assert.deepEqual(report[0], { prompt: first.prompt, status: 'COMPLETED' });
  });

  it('dead-letters each kind of poison record with its reason, and the good record behind them completes', async () => {
    const otherSubject = `${uniqueName('other')}-value`;
    const otherSchema = JSON.stringify({
      type: 'record',
      name: 'Unrelated',
      namespace: 'elsewhere',
      fields: [{ name: 'x', type: 'string' }],
    });
    const otherId = (
      await k.registry.register(
        { type: SchemaType.AVRO, schema: otherSchema },
        { subject: otherSubject },
      )
    ).id;
    const unknownId = Buffer.concat([
      Buffer.from([0]),
      Buffer.from([0x7f, 0xff, 0xff, 0xf0]),
      Buffer.from('junk'),
    ]);
    const encode = (request: Record<string, unknown>) =>
      k.registry.encode(k.requestSchemaId, request);
    const poison: { key: string; value: Buffer; reason: string }[] = [
      { key: 'p-json', value: Buffer.from(JSON.stringify(k.sampleRequest())), reason: 'not-avro' },
      { key: 'p-unknown', value: unknownId, reason: 'unknown-schema-id' },
      {
        key: 'p-wrong',
        value: await k.registry.encode(otherId, { x: 'y' }),
        reason: 'wrong-schema',
      },
      {
        key: 'p-email',
        value: await encode(k.sampleRequest({ requester: { id: 'r', email: 'not-an-email' } })),
        reason: 'invalid-record',
      },
      {
        key: 'p-big',
        value: await encode(k.sampleRequest({ prompt: 'x'.repeat(k.config.PROMPT_MAX_CHARS + 1) })),
        reason: 'prompt-too-large',
      },
    ];
    await k.producer.send({
      topic: k.config.TOPIC_REPORTS_REQUESTED,
      acks: -1,
      messages: poison.map((p) => ({ key: p.key, value: p.value, partition: 0 })),
    });
    const good = k.sampleRequest();
    await k.produceRequest(good, { partition: 0 });

    await k.waitCompleted(reportIdFor(good.idempotencyKey));
    await k.waitFor('every poison record in the DLQ', () =>
      poison.every((p) => dlq().some((r) => r.key === p.key)),
    );
    for (const p of poison) {
      const record = dlq().find((r) => r.key === p.key)!;
      assert.equal(record.headers['dlq-reason'], p.reason, p.key);
      assert.ok(record.value.equals(p.value), `${p.key}: original bytes`);
      assert.equal(record.headers['dlq-source-partition'], '0');
      assert.match(record.headers['dlq-source-offset'] ?? '', /^\d+$/);
      assert.ok(record.headers['dlq-error-message'], `${p.key}: says why`);
    }
  });

  it('dead-letters a record whose schema the registry holds but cannot be parsed here (it used to be retried for ever, stalling the partition)', async () => {
    const unparseable = await registerSchemaRaw(
      k.config.SCHEMA_REGISTRY_URL,
      `${uniqueName('unparseable')}-value`,
      { schema: JSON.stringify({ type: 'enum', name: 'Empty', symbols: [] }) },
    );
    const sameName = await registerSchemaRaw(
      k.config.SCHEMA_REGISTRY_URL,
      `${uniqueName('same-name')}-value`,
      {
        schema: JSON.stringify({
          type: 'record',
          name: 'ReportRequested',
          namespace: 'reportpipeline.events',
          fields: [{ name: 'idempotencyKey', type: 'long' }],
        }),
      },
    );
    const framed = (id: number) => {
      const value = Buffer.alloc(9);
      value.writeInt32BE(id, 1);
      return value;
    };
    const poison = [
      { key: 'p-unparseable', value: framed(unparseable) },
      { key: 'p-same-name', value: framed(sameName) },
    ];
    await k.producer.send({
      topic: k.config.TOPIC_REPORTS_REQUESTED,
      acks: -1,
      messages: poison.map((p) => ({ ...p, partition: 1 })),
    });
    const good = k.sampleRequest();
    await k.produceRequest(good, { partition: 1 });

    await k.waitCompleted(reportIdFor(good.idempotencyKey));
    await k.waitFor('both in the DLQ', () =>
      poison.every((p) => dlq().some((r) => r.key === p.key)),
    );
    const unparseableLetter = dlq().find((r) => r.key === 'p-unparseable')!;
    assert.equal(unparseableLetter.headers['dlq-reason'], 'wrong-schema');
    assert.match(unparseableLetter.headers['dlq-error-message'] ?? '', /cannot be parsed/);
    const sameNameLetter = dlq().find((r) => r.key === 'p-same-name')!;
    assert.equal(sameNameLetter.headers['dlq-reason'], 'wrong-schema');
    assert.match(
      sameNameLetter.headers['dlq-error-message'] ?? '',
      /cannot be read as the current one/,
    );
  });

  it('dead-letters records too large for the DLQ once headers are added, with fewer headers or without their bytes (they used to stall the partition)', async () => {
    // Kafka's default limit on a record batch; a one-record batch spends ~100 bytes on itself.
    const limit = 1_048_588;
    const frameOfSize = async (size: number) => {
      const request = k.sampleRequest({ prompt: '' });
      const empty = await k.registry.encode(k.requestSchemaId, request);
      // From 16,384 characters on, the prompt's length takes 3 bytes instead of 1.
      request.prompt = 'x'.repeat(size - empty.length - 2);
      const value = await k.registry.encode(k.requestSchemaId, request);
      assert.equal(value.length, size);
      return value;
    };
    const trace = 't'.repeat(4_000);
    const bigLetters = [
      // Fits with its own 4 kB header, not with the DLQ's headers too; fits without its own.
      {
        key: 'p-at-limit-with-headers',
        value: await frameOfSize(limit - 4_200),
        headers: { trace },
      },
      // Fits only as it is.
      { key: 'p-at-limit', value: await frameOfSize(limit - 200), headers: {} },
    ];
    for (const letter of bigLetters)
      await k.producer.send({
        topic: k.config.TOPIC_REPORTS_REQUESTED,
        acks: -1,
        messages: [{ ...letter, partition: 2 }],
      });
    const good = k.sampleRequest();
    await k.produceRequest(good, { partition: 2 });

    await k.waitCompleted(reportIdFor(good.idempotencyKey));
    await k.waitFor(
      'both in the DLQ',
      () =>
        dlq().filter(
          (r) =>
            r.headers['dlq-reason'] === 'prompt-too-large' &&
            r.headers['dlq-source-partition'] === '2',
        ).length >= 2,
    );
    const [withHeaders, atLimit] = bigLetters;
    const smaller = dlq().find((r) => r.key === withHeaders!.key)!;
    assert.ok(smaller.value.equals(withHeaders!.value), 'the original bytes');
    assert.equal(smaller.headers.trace, undefined, "the record's own headers left behind");
    assert.ok(smaller.headers['dlq-error-message']);
    const omitted = dlq().find(
      (r) =>
        r.headers['dlq-value-omitted'] !== undefined && r.headers['dlq-source-partition'] === '2',
    )!;
    assert.equal(omitted.headers['dlq-reason'], 'prompt-too-large');
    assert.equal(omitted.value.length, 0);
    assert.match(
      omitted.headers['dlq-value-omitted'] ?? '',
      new RegExp(`^${atLimit!.value.length} bytes`),
    );
    assert.match(omitted.headers['dlq-source-offset'] ?? '', /^\d+$/);
  });

  it('reads a request written with a BACKWARD-compatible v2 schema; the registry refuses an incompatible one', async () => {
    const subject = `${k.config.TOPIC_REPORTS_REQUESTED}-value`;
    const v1 = JSON.parse(reportRequestedSchema) as { fields: unknown[] };
    const v2 = {
      ...v1,
      fields: [...v1.fields, { name: 'region', type: ['null', 'string'], default: null }],
    };
    const { id } = await k.registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(v2) },
      { subject },
    );
    assert.notEqual(id, k.requestSchemaId);
    const request = k.sampleRequest({ region: 'eu-west' });
    await k.producer.send({
      topic: k.config.TOPIC_REPORTS_REQUESTED,
      acks: -1,
      messages: [{ key: request.idempotencyKey, value: await k.registry.encode(id, request) }],
    });
    await k.waitCompleted(reportIdFor(request.idempotencyKey));

    const incompatible = { ...v1, fields: [...v1.fields, { name: 'costCentre', type: 'string' }] };
    await assert.rejects(
      k.registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(incompatible) },
        { subject },
      ),
      (error: unknown) => {
        assert.equal((error as { status?: number }).status, 409);
        return true;
      },
    );
  });
});

describe('re-driving the DLQ after a fix', () => {
  let k: KafkaHarness;
  before(async () => {
    k = await createKafkaHarness();
  });
  after(() => k.close());

  it('republishes the chosen dead letters, which then complete', async () => {
    // Too strict a limit sends a good request to the DLQ...
    const strict = await k.startConsumer({ PROMPT_MAX_CHARS: 20 });
    const request = k.sampleRequest();
    const other = k.sampleRequest({ requester: { id: 'r', email: 'broken' } });
    await k.produceRequest(request, { partition: 0 });
    await k.produceRequest(other, { partition: 0 });
    const dlq = () => k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ);
    await k.waitFor('both in the DLQ', () => dlq().length === 2);
    await strict.stop();

    // ...the limit is fixed, and only the records refused for it are re-driven.
    await k.startConsumer();
    const dry = await redriveDlq(k.config, { reason: 'prompt-too-large', dryRun: true });
    assert.deepEqual(
      dry.republished.map((r) => r.key),
      [request.idempotencyKey],
    );
    const report = await redriveDlq(k.config, { reason: 'prompt-too-large' });
    assert.equal(report.scanned, 2);
    assert.deepEqual(
      report.republished.map((r) => [r.key, r.reason]),
      [[request.idempotencyKey, 'prompt-too-large']],
    );
    await k.waitCompleted(reportIdFor(request.idempotencyKey));
    assert.equal(dlq().length, 2, 'the invalid one was left where it was');

    // A dead letter stored without its bytes (too large for the DLQ) is not re-sent as an
    // empty record: it is listed with where its original is.
    await k.producer.send({
      topic: k.config.TOPIC_REPORTS_REQUESTED_DLQ,
      messages: [
        {
          key: null,
          value: null,
          headers: {
            'dlq-reason': 'prompt-too-large',
            'dlq-value-omitted': '1048000 bytes, key 40 bytes',
            'dlq-source-topic': k.config.TOPIC_REPORTS_REQUESTED,
            'dlq-source-partition': '0',
            'dlq-source-offset': '7',
          },
        },
      ],
    });
    const again = await redriveDlq(k.config, { reason: 'prompt-too-large' });
    assert.equal(again.scanned, 3);
    assert.equal(again.republished.length, 1, 'only the one with its bytes');
    assert.deepEqual(
      again.withoutBytes.map((r) => [r.reason, r.source]),
      [['prompt-too-large', `${k.config.TOPIC_REPORTS_REQUESTED}/0/7`]],
    );
  });
});

/** An inbox whose database is unreachable for its first few calls. */
class UnreachableForAWhile extends Inbox {
  failuresLeft = 3;
  override async recordAll(entries: readonly InboxEntryInput[]): Promise<InboxVerdict[]> {
    if (this.failuresLeft-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return super.recordAll(entries);
  }
}

describe('the request consumer while PostgreSQL is unreachable', () => {
  let k: KafkaHarness;
  before(async () => {
    k = await createKafkaHarness();
  });
  after(() => k.close());

  it('holds the record, retries with backoff, and starts it once the database answers; nothing is dead-lettered', async () => {
    const inbox = new UnreachableForAWhile(k.h.dataSource);
    const consumer = await k.startConsumer({}, inbox);
    const request = k.sampleRequest();
    await k.produceRequest(request);
    await k.waitCompleted(reportIdFor(request.idempotencyKey));
    assert.equal(consumer.stats.retries, 3);
    assert.equal(consumer.stats.started, 1);
    assert.deepEqual(consumer.stats.deadLettered, {});
    assert.equal(
      k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ).length,
      0,
    );
  });
});
