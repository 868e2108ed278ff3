import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SchemaType, type DecodeOptions } from '@kafkajs/confluent-schema-registry';
import type { Admin, Consumer, KafkaMessage, Producer } from 'kafkajs';
import pino from 'pino';
import type { Config } from '../../src/config/config';
import { createSchemaRegistry, reportRequestedSchema } from '../../src/contracts';
import { ReportRequestConsumer } from '../../src/consumers/report-request-consumer';
import { workflowIdFor } from '../../src/domain/ids';
import { REJECTION_REASONS, type RejectionReason } from '../../src/domain/request-validation';
import { Inbox } from '../../src/storage/inbox';
import { TokenLedger } from '../../src/storage/token-ledger';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { generateFuzzRecords, MAX_VALUE_BYTES, type FuzzRecord } from '../support/request-fuzz';
import { registerSchemaRaw } from '../support/schema-registry';
import { createTopics } from '../../testing/service-processes';
import { config as stackConfig, uniqueName } from '../../testing/stack-env';

/**
 * Generated Kafka records, good and bad, through the real consumer: each is started once or
 * dead-lettered once with a reason, and the group's offsets reach the end of every partition.
 * FUZZ_SEED and FUZZ_RECORDS replay a run or make it bigger.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20261122);
const count = Number(process.env.FUZZ_RECORDS ?? 10_000);
/** No committed offset moving for this long, short of the end, is a stalled partition. */
const STALL_MS = 60_000;
type RawAvroSchema = NonNullable<DecodeOptions[SchemaType.AVRO]>['readerSchema'];
const replay = `FUZZ_SEED=${seed} FUZZ_RECORDS=${count}`;

interface DeadLetter {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

const headerText = (headers: KafkaMessage['headers']): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
  );
const sameBytes = (a: Buffer | null, b: Buffer | null): boolean =>
  a === null || b === null ? a === b : a.equals(b);
const describeRecord = (r: FuzzRecord, offset?: string): string =>
  `#${r.id} ${r.kind} at ${r.partition}:${offset ?? '?'} (expected ${JSON.stringify(r.expect)}; ` +
  `value ${r.value === null ? 'null' : `${r.value.length} bytes ${r.value.subarray(0, 48).toString('hex')}`})`;

/**
 * Produces each partition's records in order, in sends of at most ~512 KiB (a record batch must
 * stay under Kafka's limit), and returns where each landed.
 */
async function produceInOrder(
  producer: Producer,
  topic: string,
  records: FuzzRecord[],
  partitions: number,
): Promise<{ offsetOf: Map<number, string>; recordAt: Map<string, FuzzRecord>; bytes: number }> {
  const offsetOf = new Map<number, string>();
  const recordAt = new Map<string, FuzzRecord>();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: partitions }, async (_, partition) => {
      const mine = records.filter((r) => r.partition === partition);
      for (let from = 0; from < mine.length;) {
        let to = from;
        let size = 0;
        while (
          to < mine.length &&
          (to === from || size + (mine[to]!.value?.length ?? 0) < 512 * 1024)
        )
          size += mine[to++]!.value?.length ?? 0;
        const chunk = mine.slice(from, to);
        const [meta] = await producer.send({
          topic,
          acks: -1,
          messages: chunk.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers,
            partition,
          })),
        });
        const base = BigInt(meta!.baseOffset!);
        chunk.forEach((r, i) => {
          const offset = String(base + BigInt(i));
          offsetOf.set(r.id, offset);
          recordAt.set(`${partition}:${offset}`, r);
        });
        bytes += size;
        from = to;
      }
    }),
  );
  return { offsetOf, recordAt, bytes };
}

/**
 * Waits until the consumer group's committed offsets reach `ends`, and returns them. When none
 * has moved for STALL_MS, a partition has stalled: fails with what `stalled` says about it.
 */
async function untilConsumed(
  admin: Admin,
  config: Config,
  ends: Map<number, number>,
  stalled: (committed: Map<number, number>) => string,
): Promise<Map<number, number>> {
  let last = new Map<number, number>();
  let movedAt = Date.now();
  for (;;) {
    const [topic] = await admin.fetchOffsets({
      groupId: config.KAFKA_CONSUMER_GROUP,
      topics: [config.TOPIC_REPORTS_REQUESTED],
    });
    const now = new Map((topic?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    if ([...ends].every(([p, end]) => now.get(p) === end)) return now;
    if ([...ends.keys()].some((p) => now.get(p) !== last.get(p))) movedAt = Date.now();
    last = now;
    if (Date.now() - movedAt > STALL_MS) assert.fail(stalled(now));
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('fuzzed report requests on Kafka', () => {
  let h: ReportHarness;
  let config: Config;
  let made: Awaited<ReturnType<typeof createTopics>>;
  let producer: Producer;
  let dlqReader: Consumer;
  let consumer: ReportRequestConsumer | undefined;
  const deadLetters: DeadLetter[] = [];
  const schemaIds = { request: 0, requestV2: 0, wrong: [] as { name: string; id: number }[] };

  before(async () => {
    made = await createTopics(stackConfig);
    // No worker: the task queue is nobody's, so each start stays a single running workflow
    // to count, and nothing is spent on running reports.
    h = await createReportHarness(made.config);
    config = h.config;
    producer = made.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();

    const v1 = JSON.parse(reportRequestedSchema) as { fields: unknown[] };
    const v2 = {
      ...v1,
      fields: [...v1.fields, { name: 'region', type: ['null', 'string'], default: null }],
    };
    schemaIds.request = made.requestSchemaId;
    schemaIds.requestV2 = (
      await made.registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(v2) },
        { subject: `${config.TOPIC_REPORTS_REQUESTED}-value` },
      )
    ).id;
    const other = (what: string) => `${uniqueName(`fuzz-${what}`)}-value`;
    const avro = (schema: unknown) => ({ schema: JSON.stringify(schema) });
    const wrong: [string, Parameters<typeof registerSchemaRaw>[2]][] = [
      [
        'unrelated-record',
        avro({ type: 'record', name: 'Unrelated', fields: [{ name: 'x', type: 'string' }] }),
      ],
      [
        // The consumer's own record name, but nothing it could read as its record.
        'same-name-incompatible',
        avro({
          type: 'record',
          name: 'ReportRequested',
          namespace: 'reportpipeline.events',
          fields: [{ name: 'idempotencyKey', type: 'long' }],
        }),
      ],
      ['avro-primitive', avro('string')],
      // The registry keeps it; the consumer's Avro library cannot parse it.
      ['unparseable-avro', avro({ type: 'enum', name: 'Empty', symbols: [] })],
      [
        'json-schema',
        {
          schemaType: 'JSON',
          schema: JSON.stringify({
            $schema: 'http://json-schema.org/draft-07/schema#',
            type: 'object',
          }),
        },
      ],
      [
        'protobuf',
        { schemaType: 'PROTOBUF', schema: 'syntax = "proto3"; message Other { string a = 1; }' },
      ],
    ];
    for (const [name, body] of wrong)
      schemaIds.wrong.push({
        name,
        id: await registerSchemaRaw(config.SCHEMA_REGISTRY_URL, other(name), body),
      });

    dlqReader = made.kafka.consumer({ groupId: `${made.prefix}-dlq-reader` });
    await dlqReader.connect();
    await dlqReader.subscribe({ topic: config.TOPIC_REPORTS_REQUESTED_DLQ, fromBeginning: true });
    await dlqReader.run({
      eachMessage: async ({ partition, message }) => {
        deadLetters.push({
          partition,
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers: headerText(message.headers),
        });
      },
    });
  });

  after(async () => {
    await consumer?.stop();
    await dlqReader?.disconnect();
    await producer?.disconnect();
    if (h) {
      // The workflows were never meant to run: one batch job terminates them all.
      await h.client.workflowService
        .startBatchOperation({
          namespace: config.TEMPORAL_NAMESPACE,
          jobId: uniqueName('fuzz-cleanup'),
          reason: 'fuzz test cleanup',
          visibilityQuery: `TaskQueue = '${h.taskQueue}' AND ExecutionStatus = 'Running'`,
          terminationOperation: {},
        })
        .catch(() => undefined);
    }
    const admin = made?.kafka.admin();
    if (admin) {
      await admin.connect();
      await admin
        .deleteTopics({
          topics: [config.TOPIC_REPORTS_REQUESTED, ...made.outputTopics],
        })
        .catch(() => undefined);
      await admin.disconnect();
    }
    await h?.close();
  });

  it(`${count} generated records (seed ${seed}): each started once or dead-lettered once with a reason, and no partition stalls`, async (t) => {
    const say = (line: string) => t.diagnostic(line);
    say(`seed ${seed}, ${count} records; replay with ${replay}`);
    const runId = uniqueName('fz');
    const partitions = 3;
    const records = generateFuzzRecords(
      {
        runId,
        partitions,
        promptMaxChars: config.PROMPT_MAX_CHARS,
        now: Date.now(),
        schemaIds,
      },
      seed,
      count,
    );
    assert.equal(records.length, count);

    const producedAt = performance.now();
    const { offsetOf, recordAt, bytes } = await produceInOrder(
      producer,
      config.TOPIC_REPORTS_REQUESTED,
      records,
      partitions,
    );
    const produceSeconds = (performance.now() - producedAt) / 1000;

    const admin = made.kafka.admin();
    await admin.connect();
    t.after(() => admin.disconnect());
    const ends = new Map(
      (await admin.fetchTopicOffsets(config.TOPIC_REPORTS_REQUESTED)).map((p) => [
        p.partition,
        Number(p.high),
      ]),
    );
    for (let p = 0; p < partitions; p++)
      assert.equal(ends.get(p), records.filter((r) => r.partition === p).length, `partition ${p}`);

    // The consumer's warnings: a stalled partition's retries say what they wait for.
    const warnings: string[] = [];
    // A registry client of its own, cold like a freshly started consumer's.
    const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
    consumer = new ReportRequestConsumer({
      kafka: made.kafka,
      registry,
      inbox: new Inbox(h.dataSource),
      tokenLedger: new TokenLedger(h.dataSource),
      temporal: h.client,
      logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }),
      config,
    });
    const consumedFrom = performance.now();
    await consumer.start();

    const committed = await untilConsumed(admin, config, ends, (now) => {
      const stuck = [...ends]
        .filter(([p, end]) => (now.get(p) ?? -1) < end)
        .map(([p, end]) => {
          const at = Math.max(0, now.get(p) ?? 0);
          const record = recordAt.get(`${p}:${at}`);
          return `partition ${p} stalled at offset ${at} of ${end}: ${record ? describeRecord(record, String(at)) : 'no record known there'}`;
        });
      const retrying = new Set(
        warnings
          .map((line) => JSON.parse(line) as { msg?: string; error?: string })
          .filter((w) => w.msg?.includes('retrying'))
          .map((w) => `${w.msg}: ${w.error}`),
      );
      return (
        `${stuck.join('\n')}\nconsumer stats: ${JSON.stringify(consumer?.stats)}\n` +
        `retrying: ${[...retrying].slice(0, 10).join('\n')}\nreplay with ${replay}`
      );
    });
    const consumeSeconds = (performance.now() - consumedFrom) / 1000;

    // Dead letters are acknowledged by Kafka before the offset behind them is committed.
    const dlqEnd = (await admin.fetchTopicOffsets(config.TOPIC_REPORTS_REQUESTED_DLQ)).reduce(
      (sum, p) => sum + Number(p.high),
      0,
    );
    const deadline = Date.now() + 60_000;
    while (deadLetters.length < dlqEnd && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(deadLetters.length, dlqEnd, 'every dead letter read back');

    const problems: string[] = [];
    const problem = (r: FuzzRecord | undefined, what: string) =>
      problems.push(r ? `${describeRecord(r, offsetOf.get(r.id))}: ${what}` : what);

    // Dead letters: each names a produced record, says why in the consumer's words, keeps the
    // record's bytes, and comes after the earlier dead letters of its partition.
    const dlqById = new Map<number, DeadLetter[]>();
    const lastOffset = new Map<number, bigint>();
    let omitted = 0;
    const reasonCounts = new Map<string, number>();
    for (const d of deadLetters) {
      // Where it came from names the record; its own headers, when kept, must agree.
      const source = `${d.headers['dlq-source-partition']}:${d.headers['dlq-source-offset']}`;
      const r = recordAt.get(source);
      if (!r || d.headers['dlq-source-topic'] !== config.TOPIC_REPORTS_REQUESTED) {
        problem(undefined, `a dead letter from nothing produced: ${JSON.stringify(d.headers)}`);
        continue;
      }
      dlqById.set(r.id, [...(dlqById.get(r.id) ?? []), d]);
      const offset = BigInt(offsetOf.get(r.id)!);
      if (offset <= (lastOffset.get(r.partition) ?? -1n))
        problem(r, "dead-lettered out of its partition's order");
      lastOffset.set(r.partition, offset);
      const reason = d.headers['dlq-reason'] ?? '';
      reasonCounts.set(reason, (reasonCounts.get(reason) ?? 0) + 1);
      if (!(REJECTION_REASONS as readonly string[]).includes(reason))
        problem(r, `dead-lettered with reason '${reason}', which the consumer does not define`);
      if (!d.headers['dlq-error-message']) problem(r, 'dead-lettered without a message');
      if (d.headers['fuzz-id'] !== undefined && d.headers['fuzz-id'] !== String(r.id))
        problem(r, `its dead letter carries the headers of #${d.headers['fuzz-id']}`);
      if (d.headers['dlq-value-omitted'] !== undefined) {
        // Only a record that no dead letter can carry, headers added, may leave its bytes behind.
        const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
        if (size < MAX_VALUE_BYTES - 4096)
          problem(r, `${size} bytes, yet dead-lettered without them`);
        else omitted += 1;
      } else {
        if (!sameBytes(d.value, r.value))
          problem(r, 'the dead letter does not keep the original bytes');
        if (!sameBytes(d.key, r.key)) problem(r, 'the dead letter does not keep the original key');
      }
    }

    // What must have started: the valid requests' keys, and whatever mangled records decoded to.
    const expectedStarts = new Set<string>();
    const copies = new Map<string, number>();
    const conflicts = new Map<string, number>();
    let eitherStarted = 0;
    const reader = {
      [SchemaType.AVRO]: { readerSchema: JSON.parse(reportRequestedSchema) as RawAvroSchema },
    };
    for (const r of records) {
      const letters = dlqById.get(r.id) ?? [];
      if (letters.length > 1) problem(r, `dead-lettered ${letters.length} times`);
      const reason = letters[0]?.headers['dlq-reason'] as RejectionReason | undefined;
      if (r.expect.outcome === 'start') {
        if (reason)
          problem(r, `dead-lettered as ${reason}: ${letters[0]?.headers['dlq-error-message']}`);
        expectedStarts.add(r.expect.idempotencyKey);
        copies.set(r.expect.idempotencyKey, (copies.get(r.expect.idempotencyKey) ?? 0) + 1);
      } else if (r.expect.outcome === 'dead-letter') {
        if (!reason || !r.expect.reasons.includes(reason))
          problem(r, `${reason ? `dead-lettered as ${reason}` : 'not dead-lettered'}`);
        if (r.expect.idempotencyKey)
          conflicts.set(r.expect.idempotencyKey, (conflicts.get(r.expect.idempotencyKey) ?? 0) + 1);
      } else if (!reason) {
        // Mangled, yet it decoded to a valid request: then that request was started.
        const decoded = (await registry.decode(r.value!, reader)) as { idempotencyKey: string };
        expectedStarts.add(decoded.idempotencyKey);
        eitherStarted += 1;
      }
    }

    const inboxRows = await h.dataSource.query<
      { key: string; duplicates: number; conflicts: number; started: boolean }[]
    >(
      `SELECT idempotency_key AS key, duplicates, conflicts, started_at IS NOT NULL AS started
       FROM inbox WHERE idempotency_key = ANY($1) OR idempotency_key LIKE $2`,
      [[...expectedStarts], `${runId}.%`],
    );
    const inbox = new Map(inboxRows.map((row) => [row.key, row]));
    for (const key of expectedStarts) {
      const row = inbox.get(key);
      if (!row) problem(undefined, `${key}: no inbox row`);
      else if (!row.started) problem(undefined, `${key}: its start was never acknowledged`);
    }
    for (const key of inbox.keys())
      if (!expectedStarts.has(key)) problem(undefined, `${key}: in the inbox, but refused`);
    for (const [key, n] of copies) {
      const row = inbox.get(key);
      if (row && (row.duplicates !== n - 1 || row.conflicts !== (conflicts.get(key) ?? 0)))
        problem(
          undefined,
          `${key}: ${n} copies and ${conflicts.get(key) ?? 0} conflicts sent, the inbox counted ${row.duplicates} duplicates and ${row.conflicts} conflicts`,
        );
    }

    // Temporal's view: one workflow per started key, and none for anything refused.
    const query = `TaskQueue = '${h.taskQueue}'`;
    const visibleBy = Date.now() + 60_000;
    while (
      Number((await h.client.workflow.count(query)).count) < expectedStarts.size &&
      Date.now() < visibleBy
    )
      await new Promise((r) => setTimeout(r, 500));
    const runs = new Map<string, number>();
    for await (const w of h.client.workflow.list({ query }))
      runs.set(w.workflowId, (runs.get(w.workflowId) ?? 0) + 1);
    for (const key of expectedStarts) {
      const n = runs.get(workflowIdFor(key)) ?? 0;
      if (n !== 1) problem(undefined, `${key}: ${n} workflow runs`);
    }
    const expectedIds = new Set([...expectedStarts].map(workflowIdFor));
    for (const id of runs.keys())
      if (!expectedIds.has(id)) problem(undefined, `${id}: a workflow nothing should have started`);

    const stats = consumer.stats;
    const startCopies = [...copies.values()].reduce((a, b) => a + b, 0);
    if (stats.started !== expectedStarts.size)
      problem(
        undefined,
        `consumer counted ${stats.started} starts, expected ${expectedStarts.size}`,
      );
    if (stats.duplicates !== startCopies - copies.size)
      problem(
        undefined,
        `consumer counted ${stats.duplicates} duplicates, expected ${startCopies - copies.size}`,
      );
    for (const [reason, n] of reasonCounts)
      if ((stats.deadLettered[reason as RejectionReason] ?? 0) !== n)
        problem(
          undefined,
          `consumer counted ${stats.deadLettered[reason as RejectionReason]} ${reason}, the DLQ holds ${n}`,
        );

    const byKind = new Map<string, number>();
    for (const r of records) {
      const family = r.kind.split(':')[0]!;
      byKind.set(family, (byKind.get(family) ?? 0) + 1);
    }
    say(
      `produced ${count} records (${(bytes / 1e6).toFixed(1)} MB) in ${produceSeconds.toFixed(1)} s: ` +
        [...byKind].map(([k, n]) => `${k} ${n}`).join(', '),
    );
    say(
      `consumed in ${consumeSeconds.toFixed(1)} s (${Math.round(count / consumeSeconds)} records/s): ` +
        `${expectedStarts.size} workflows started (${eitherStarted} of them from mangled bytes), ` +
        `${startCopies - copies.size} duplicates acknowledged, ${deadLetters.length} dead-lettered ` +
        `(${[...reasonCounts]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(
            ', ',
          )}), ${omitted} of them without their bytes (too large for the DLQ), consumer retries ${stats.retries}`,
    );
    say(
      `committed/end offsets: ${[...ends].map(([p, end]) => `p${p} ${committed.get(p)}/${end}`).join(', ')}`,
    );
    assert.equal(
      problems.length,
      0,
      `${problems.length} problems (first 30 shown); replay with ${replay}\n${problems.slice(0, 30).join('\n')}`,
    );
    assert.equal(
      deadLetters.length + startCopies + eitherStarted,
      count,
      'every record accounted for',
    );
  });
});
