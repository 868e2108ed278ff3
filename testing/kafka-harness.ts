import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Consumer, Kafka, Producer, RecordMetadata } from 'kafkajs';
import pino from 'pino';
import type { Config } from '../src/config/config';
import { ReportRequestConsumer } from '../src/consumers/report-request-consumer';
import { ReviewDecisionConsumer } from '../src/consumers/review-decision-consumer';
import {
  outboxEventTopics,
  registerEventSchemas,
  type ReviewDecisionRecord,
} from '../src/contracts';
import { OutboxRelay } from '../src/producers/outbox-relay';
import { Inbox } from '../src/storage/inbox';
import { TokenLedger } from '../src/storage/token-ledger';
import { createReportHarness, type ReportHarness } from './report-harness';
import { createTopics } from './service-processes';
import { config as stackConfig, uniqueName } from './stack-env';

export interface ReceivedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  headers: Record<string, string>;
  value: Buffer;
  /** performance.now() when the recorder got it. */
  receivedAt: number;
}

/**
 * A report harness whose Kafka topics are its own (fresh request, review-decision, DLQ and event
 * topics), with a worker, an outbox relay, and a recorder of everything that lands on the output
 * topics.
 */
export interface KafkaHarness {
  h: ReportHarness;
  config: Config;
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistry;
  producer: Producer;
  requestSchemaId: number;
  reviewDecisionSchemaId: number;
  received: ReceivedRecord[];
  /** Encodes and produces one ReportRequested; `partition` pins it. */
  produceRequest(
    request: Record<string, unknown>,
    options?: { key?: string; partition?: number },
  ): Promise<void>;
  /**
   * Encodes and produces ReviewDecisions, in order, each keyed by its idempotency key; answers
   * where they landed.
   */
  produceDecisions(...decisions: ReviewDecisionRecord[]): Promise<RecordMetadata[]>;
  sampleRequest(
    overrides?: Record<string, unknown>,
  ): Record<string, unknown> & { idempotencyKey: string };
  /** `now`: the clock the consumer's budget check reads (a test may move it to tomorrow). */
  startConsumer(
    overrides?: Partial<Config>,
    inbox?: Inbox,
    now?: () => Date,
  ): Promise<ReportRequestConsumer>;
  startDecisionConsumer(overrides?: Partial<Config>): Promise<ReviewDecisionConsumer>;
  waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs?: number): Promise<void>;
  /** ReportCompleted records received for a report. */
  completed(reportId: string): ReceivedRecord[];
  waitCompleted(reportId: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A ReportRequested record (as the Avro schema has it) under a fresh idempotency key. */
export function sampleRequestRecord(
  prefix: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> & { idempotencyKey: string } {
  const key = uniqueName(prefix);
  return {
    idempotencyKey: key,
    prompt: `Heat pumps in cold climates (${key})`,
    requester: { id: 'team-kafka', email: `${key}@example.com` },
    options: { model: null, maxTokens: null, language: 'en' },
    requestedAt: Date.now(),
    correlationId: null,
    ...overrides,
  };
}

export async function createKafkaHarness(settings: Partial<Config> = {}): Promise<KafkaHarness> {
  const made = await createTopics(stackConfig);
  const { kafka, registry, requestSchemaId, reviewDecisionSchemaId, prefix, outputTopics } = made;
  // The worker is configured with the file's topics, which it writes into the outbox rows.
  const h = await createReportHarness({ ...made.config, ...settings });
  const { config } = h;
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();

  const topics = outboxEventTopics(config);
  const relayProducer = kafka.producer({ idempotent: true });
  await relayProducer.connect();
  const relay = new OutboxRelay({
    dataSource: h.dataSource,
    producer: relayProducer,
    registry,
    topics,
    schemaIds: await registerEventSchemas(registry, topics),
  });
  await relay.start(100);
  // As the worker process does: a report's events go out as soon as they are committed.
  await h.startWorker((deps) => ({ ...deps, onEventsQueued: () => relay.wake() }));

  const received: ReceivedRecord[] = [];
  const recorder: Consumer = kafka.consumer({ groupId: `${prefix}-recorder` });
  await recorder.connect();
  await recorder.subscribe({ topics: outputTopics, fromBeginning: true });
  await recorder.run({
    eachMessage: async ({ topic, partition, message }) => {
      received.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        headers: Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? '']),
        ),
        value: message.value ?? Buffer.alloc(0),
        receivedAt: performance.now(),
      });
    },
  });

  const consumers: (ReportRequestConsumer | ReviewDecisionConsumer)[] = [];
  const logger = pino({ level: 'silent' });

  const waitFor = async (
    what: string,
    probe: () => boolean | Promise<boolean>,
    timeoutMs = 30_000,
  ): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  };
  const completed = (reportId: string): ReceivedRecord[] =>
    received.filter((r) => r.topic === config.TOPIC_REPORTS_COMPLETED && r.key === reportId);

  return {
    h,
    config,
    kafka,
    admin,
    registry,
    producer,
    requestSchemaId,
    reviewDecisionSchemaId,
    received,
    async produceRequest(request, options = {}) {
      const value = await registry.encode(requestSchemaId, request);
      await producer.send({
        topic: config.TOPIC_REPORTS_REQUESTED,
        acks: -1,
        messages: [
          {
            key: options.key ?? String(request.idempotencyKey),
            value,
            partition: options.partition,
          },
        ],
      });
    },
    async produceDecisions(...decisions) {
      const messages = await Promise.all(
        decisions.map(async (decision) => ({
          key: decision.idempotencyKey,
          value: await registry.encode(reviewDecisionSchemaId, decision),
        })),
      );
      return producer.send({ topic: config.TOPIC_REVIEW_DECISIONS, acks: -1, messages });
    },
    sampleRequest: (overrides = {}) => sampleRequestRecord('kreq', overrides),
    async startConsumer(overrides = {}, inbox = new Inbox(h.dataSource), now?: () => Date) {
      const consumer = new ReportRequestConsumer({
        kafka,
        registry,
        inbox,
        tokenLedger: new TokenLedger(h.dataSource),
        now,
        temporal: h.client,
        logger,
        config: { ...config, ...overrides },
      });
      await consumer.start();
      consumers.push(consumer);
      return consumer;
    },
    async startDecisionConsumer(overrides = {}) {
      const consumer = new ReviewDecisionConsumer({
        kafka,
        registry,
        temporal: h.client,
        logger,
        config: { ...config, ...overrides },
      });
      await consumer.start();
      consumers.push(consumer);
      return consumer;
    },
    waitFor,
    completed,
    waitCompleted: (reportId, timeoutMs = 60_000) =>
      waitFor(`ReportCompleted for ${reportId}`, () => completed(reportId).length > 0, timeoutMs),
    async close() {
      for (const c of consumers) await c.stop();
      await recorder.disconnect();
      await relay.stop();
      await relayProducer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: made.topics }).catch(() => undefined);
      await admin.disconnect();
      await h.close();
    },
  };
}
