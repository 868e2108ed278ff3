import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Client } from '@temporalio/client';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
} from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import type { ReportRequest } from '../domain/report';
import { reportIdFor, workflowIdFor } from '../domain/ids';
import {
  RequestRejectedError,
  validateRequest,
  type RejectionReason,
} from '../domain/request-validation';
import type { ServiceMetrics } from '../observability/metrics';
import type { Inbox, InboxVerdict } from '../storage/inbox';
import { startReport } from '../temporal/start-report';

const REQUEST_SCHEMA_NAME = 'reportpipeline.events.ReportRequested';
/** What the registry client parses a schema into; its Avro schemas are avsc types. */
type RegistrySchema = Awaited<ReturnType<SchemaRegistry['getSchema']>>;
type AvroType = Parameters<
  Extract<RegistrySchema, { createResolver: unknown }>['createResolver']
>[0];
export const reportRequestedSchema = readFileSync(
  join(__dirname, '..', '..', 'avro', 'report-requested.avsc'),
  'utf8',
);

export interface RequestConsumerDeps {
  kafka: Kafka;
  registry: SchemaRegistry;
  inbox: Inbox;
  temporal: Client;
  logger: Logger;
  /** Counters to move, and the registry the lag gauge reports to; absent in most tests. */
  metrics?: { service: ServiceMetrics; registry: Registry };
  config: Pick<
    Config,
    | 'KAFKA_CONSUMER_GROUP'
    | 'KAFKA_CONSUMER_CONCURRENCY'
    | 'KAFKA_CONSUMER_MAX_IN_FLIGHT'
    | 'KAFKA_CONSUMER_SESSION_TIMEOUT_MS'
    | 'TOPIC_REPORTS_REQUESTED'
    | 'TOPIC_REPORTS_REQUESTED_DLQ'
    | 'TEMPORAL_TASK_QUEUE'
    | 'PROMPT_MAX_CHARS'
  >;
}

const idsOf = (request: { idempotencyKey: string }) => ({
  idempotencyKey: request.idempotencyKey,
  workflowId: workflowIdFor(request.idempotencyKey),
  reportId: reportIdFor(request.idempotencyKey),
});

/** What the consumer has done since it started; logged at shutdown, read by tests. */
export interface ConsumerStats {
  started: number;
  duplicates: number;
  conflicts: number;
  deadLettered: Partial<Record<RejectionReason, number>>;
  retries: number;
}

/**
 * Reads report requests and turns each into exactly one workflow. A partition's fetched batch
 * is taken in slices of KAFKA_CONSUMER_MAX_IN_FLIGHT records: one inbox round trip for the
 * slice, then its starts in parallel, beside its dead letters in a request or few. Offsets move only up to the highest record below which
 * every start (or "already started") is acknowledged or every record dead-lettered, so a crash
 * re-reads rather than loses. Outages of PostgreSQL, Temporal or the registry hold the
 * partition and retry with backoff; nothing is skipped. At most KAFKA_CONSUMER_CONCURRENCY
 * partitions run at once.
 */
export class ReportRequestConsumer {
  readonly stats: ConsumerStats = {
    started: 0,
    duplicates: 0,
    conflicts: 0,
    deadLettered: {},
    retries: 0,
  };
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private stopping = false;
  private started = false;

  /** True from a successful start until stop: what the readiness probe reports. */
  get running(): boolean {
    return this.started && !this.stopping;
  }
  /** The current ReportRequested, as registered at start. */
  private readerSchema: AvroType | undefined;
  private readonly readers = new Map<number, (body: Buffer) => unknown>();

  constructor(private readonly deps: RequestConsumerDeps) {}

  async start(): Promise<void> {
    const { kafka, config } = this.deps;
    // The service owns this contract: registering it is a no-op when unchanged, and an
    // incompatible edit stops start-up here instead of surprising producers.
    const { id } = await this.deps.registry.register(
      { type: SchemaType.AVRO, schema: reportRequestedSchema },
      { subject: `${config.TOPIC_REPORTS_REQUESTED}-value` },
    );
    this.readerSchema = (await this.deps.registry.getSchema(id)) as unknown as AvroType;
    if (this.deps.metrics) await this.registerLagGauge(this.deps.metrics.registry);
    this.producer = kafka.producer({ idempotent: true });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: config.KAFKA_CONSUMER_GROUP,
      allowAutoTopicCreation: false,
      sessionTimeout: config.KAFKA_CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.floor(config.KAFKA_CONSUMER_SESSION_TIMEOUT_MS / 3),
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.TOPIC_REPORTS_REQUESTED, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: config.KAFKA_CONSUMER_CONCURRENCY,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    this.started = true;
  }

  /** Stops fetching, lets in-flight records finish, commits, and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.deps.logger.info({ stats: this.stats }, 'request consumer stopped');
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const heartbeat = () => payload.heartbeat();
    const resolveOffset = (offset: string) => payload.resolveOffset(offset);
    const size = this.deps.config.KAFKA_CONSUMER_MAX_IN_FLIGHT;
    for (let from = 0; from < batch.messages.length; from += size) {
      if (!payload.isRunning() || payload.isStale() || this.stopping) break;
      const slice = batch.messages.slice(from, from + size);
      try {
        await this.handleSlice(batch.topic, batch.partition, slice, heartbeat, resolveOffset);
      } finally {
        // What was acknowledged is committed even when the slice stopped half-way.
        await payload.commitOffsetsIfNecessary();
      }
      await heartbeat();
    }
  }

  /**
   * Decodes and validates a slice, records it in the inbox in one go, then starts, acknowledges
   * or dead-letters each record; each offset is resolved once it and every one before it is done.
   */
  private async handleSlice(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
    heartbeat: () => Promise<void>,
    resolveOffset: (offset: string) => void,
  ): Promise<void> {
    const done = messages.map(() => false);
    let next = 0;
    const acknowledge = (index: number): void => {
      done[index] = true;
      while (next < messages.length && done[next]) resolveOffset(messages[next++]!.offset);
    };

    const admitted = await Promise.all(
      messages.map(async (message) => {
        try {
          const decoded = await this.withRetry('decode', heartbeat, () =>
            this.decode(message.value),
          );
          return validateRequest(
            decoded,
            { promptMaxChars: this.deps.config.PROMPT_MAX_CHARS },
            'kafka',
          );
        } catch (error: unknown) {
          if (error instanceof RequestRejectedError) return error;
          throw error;
        }
      }),
    );
    const valid = admitted.flatMap((a, index) =>
      a instanceof RequestRejectedError ? [] : [index],
    );
    const verdictList = await this.withRetry('inbox', heartbeat, () =>
      this.deps.inbox.recordAll(
        valid.map((index) => {
          const { request, payloadHash } = admitted[index] as Exclude<
            (typeof admitted)[number],
            RequestRejectedError
          >;
          return { ...idsOf(request), payloadHash, source: 'kafka' };
        }),
      ),
    );
    const verdicts = new Map<number, InboxVerdict>(
      valid.map((index, i) => [index, verdictList[i]!]),
    );

    // One start per key in the slice; later copies of a key wait for it.
    const starts = new Map<string, Promise<void>>();
    const started: string[] = [];
    const startOnce = (request: Omit<ReportRequest, 'reportId'>): Promise<void> => {
      let start = starts.get(request.idempotencyKey);
      if (!start) {
        start = this.startWorkflow(request, heartbeat).then(() => {
          started.push(request.idempotencyKey);
        });
        starts.set(request.idempotencyKey, start);
      }
      return start;
    };

    // Refused records, conflicts included, go to the DLQ together, while the rest start.
    const refused: { index: number; error: RequestRejectedError }[] = [];
    admitted.forEach((item, index) => {
      if (item instanceof RequestRejectedError) {
        refused.push({ index, error: item });
      } else if (verdicts.get(index)?.outcome === 'conflict') {
        this.stats.conflicts += 1;
        this.deps.metrics?.service.requestsConsumed.inc({ outcome: 'conflict' });
        const conflict = new RequestRejectedError(
          'idempotency-key-conflict',
          `idempotency key ${item.request.idempotencyKey} was first used for a different request`,
        );
        refused.push({ index, error: conflict });
      }
    });
    const refusedIndexes = new Set(refused.map((r) => r.index));

    await Promise.all([
      this.reject(
        topic,
        partition,
        refused.map(({ index, error }) => ({ message: messages[index]!, error })),
        heartbeat,
        (i) => acknowledge(refused[i]!.index),
      ),
      ...messages.map(async (message, index) => {
        if (refusedIndexes.has(index)) return;
        const where = { topic, partition, offset: message.offset };
        const { request } = admitted[index] as Exclude<
          (typeof admitted)[number],
          RequestRejectedError
        >;
        const verdict = verdicts.get(index)!;
        const ids = idsOf(request);
        // A copy of a request whose start Temporal acknowledged needs nothing more. Any other
        // copy is started too: the first may have been recorded and then lost to a crash before
        // its start; the start policy makes a second start return the first.
        if (verdict.outcome === 'new' || !verdict.started) await startOnce(request);
        const metrics = this.deps.metrics?.service;
        metrics?.workflowStarts.inc({
          source: 'kafka',
          result: verdict.outcome === 'new' ? 'created' : 'existing',
        });
        metrics?.requestsConsumed.inc({
          outcome: verdict.outcome === 'new' ? 'started' : 'duplicate',
        });
        if (verdict.outcome === 'duplicate') this.stats.duplicates += 1;
        else this.stats.started += 1;
        this.deps.logger.info(
          { ...where, ...ids, outcome: verdict.outcome },
          verdict.outcome === 'new' ? 'report started' : 'duplicate request acknowledged',
        );
        acknowledge(index);
      }),
    ]);
    // Only saves later copies a round trip to Temporal, so a failure here costs nothing.
    await this.deps.inbox.markStarted(started).catch((error: unknown) => {
      this.deps.logger.warn({ error: String(error) }, 'could not note acknowledged starts');
    });
  }

  private async startWorkflow(
    request: Omit<ReportRequest, 'reportId'>,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const metrics = this.deps.metrics?.service;
    metrics?.startsInFlight.inc({ source: 'kafka' });
    try {
      await this.withRetry('temporal', heartbeat, () =>
        startReport(this.deps.temporal, this.deps.config.TEMPORAL_TASK_QUEUE, request),
      );
    } finally {
      metrics?.startsInFlight.dec({ source: 'kafka' });
    }
  }

  /**
   * Dead-letters a slice's refused records in offset order, many to a produce request: the
   * producer sends one request at a time, so a letter each made a flood of bad records crawl.
   * `sent(i)` is told as each is acknowledged by Kafka.
   */
  private async reject(
    topic: string,
    partition: number,
    refused: { message: KafkaMessage; error: RequestRejectedError }[],
    heartbeat: () => Promise<void>,
    sent: (i: number) => void,
  ): Promise<void> {
    for (const chunk of chunksOf(refused, ({ message }) => sizeOf(message), DLQ_SEND_BYTES)) {
      // Retried a chunk at a time, so that a retry sends again only what may not have arrived.
      await this.withRetry('dlq', heartbeat, () =>
        this.deadLetter(
          topic,
          partition,
          chunk.map((i) => refused[i]!),
        ),
      );
      for (const i of chunk) {
        const { message, error } = refused[i]!;
        this.stats.deadLettered[error.reason] = (this.stats.deadLettered[error.reason] ?? 0) + 1;
        this.deps.metrics?.service.requestsDeadLettered.inc({ reason: error.reason });
        if (error.reason !== 'idempotency-key-conflict')
          this.deps.metrics?.service.requestsConsumed.inc({ outcome: 'dead_lettered' });
        this.deps.logger.warn(
          { topic, partition, offset: message.offset, reason: error.reason, error: error.message },
          'request dead-lettered',
        );
        sent(i);
      }
    }
  }

  /**
   * Lag per partition of the request topic: the newest offset minus the group's committed one,
   * read from the brokers when Prometheus scrapes, so it is right even while nothing is consumed.
   */
  private async registerLagGauge(registry: Registry): Promise<void> {
    const admin = this.deps.kafka.admin();
    await admin.connect();
    this.admin = admin;
    const { KAFKA_CONSUMER_GROUP: groupId, TOPIC_REPORTS_REQUESTED: topic } = this.deps.config;
    new Gauge({
      name: 'report_consumer_lag_messages',
      help: 'Records on the request topic not yet committed by the consumer group, per partition',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      async collect() {
        const [latest, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        const done = new Map(
          (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
        );
        for (const p of latest) {
          const high = Number(p.high);
          const at = done.get(p.partition) ?? -1;
          // No commit yet: everything from the earliest offset is waiting.
          const lag = at < 0 ? high - Number(p.low) : Math.max(0, high - at);
          this.set({ topic, partition: String(p.partition) }, lag);
        }
      },
    });
  }

  /** Decodes a Confluent-framed Avro record into the current ReportRequested shape. */
  private async decode(value: Buffer | null): Promise<unknown> {
    if (!value || value.length < 6 || value.readUInt8(0) !== 0) {
      throw new RequestRejectedError(
        'not-avro',
        'the record is not in the Confluent Avro wire format (magic byte 0, schema id)',
      );
    }
    const schemaId = value.readInt32BE(1);
    const read = await this.readerFor(schemaId);
    try {
      return read(value.subarray(5));
    } catch (error: unknown) {
      throw new RequestRejectedError(
        'not-avro',
        `the record does not decode with schema id ${schemaId}: ${String(error)}`,
        { cause: error },
      );
    }
  }

  /**
   * How to read a body written with a schema id: Avro schema resolution from the writer's version
   * to ours, so BACKWARD-compatible versions read cleanly. Kept per id, since a registered
   * schema never changes; only the registry being unreachable is worth retrying.
   */
  private async readerFor(schemaId: number): Promise<(body: Buffer) => unknown> {
    const known = this.readers.get(schemaId);
    if (known) return known;
    let writer: RegistrySchema;
    try {
      writer = await this.deps.registry.getSchema(schemaId);
    } catch (error: unknown) {
      const status = (error as { status?: unknown }).status;
      if (status === 404) {
        throw new RequestRejectedError(
          'unknown-schema-id',
          `schema id ${schemaId} is not in the registry`,
          { cause: error },
        );
      }
      // The registry client reports every failed exchange, the network's included, with an
      // HTTP status. Without one, the registry answered with a schema that cannot be parsed
      // here, and asking again will not change it.
      if (typeof status === 'number') throw error;
      throw new RequestRejectedError(
        'wrong-schema',
        `schema id ${schemaId} cannot be parsed as a schema: ${String(error)}`,
        { cause: error },
      );
    }
    const name = 'createResolver' in writer ? writer.name : undefined;
    if (name !== REQUEST_SCHEMA_NAME) {
      throw new RequestRejectedError(
        'wrong-schema',
        `schema id ${schemaId} is ${name ?? 'not an Avro record'}, not ${REQUEST_SCHEMA_NAME}`,
      );
    }
    const reader = this.readerSchema!;
    const writerType = writer as unknown as AvroType;
    let read: (body: Buffer) => unknown;
    if (reader.equals(writerType)) {
      read = (body) => reader.fromBuffer(body) as unknown;
    } else {
      let resolver: ReturnType<typeof reader.createResolver>;
      try {
        resolver = reader.createResolver(writerType);
      } catch (error: unknown) {
        throw new RequestRejectedError(
          'wrong-schema',
          `schema id ${schemaId} is a version of ${REQUEST_SCHEMA_NAME} that cannot be read as the current one: ${String(error)}`,
          { cause: error },
        );
      }
      read = (body) => reader.fromBuffer(body, resolver) as unknown;
    }
    this.readers.set(schemaId, read);
    return read;
  }

  /**
   * Sends dead letters, several in one request: the original key and bytes, with headers
   * saying why and where from. The DLQ has the request topic's size limit, so a record that
   * only just fitted there does not fit once headers are added, and refusing it for ever would
   * stall the partition: it is sent again with the fewest headers that say why, and failing
   * that without its key and bytes, which stay at the source offset the headers name.
   */
  private async deadLetter(
    topic: string,
    partition: number,
    refused: { message: KafkaMessage; error: RequestRejectedError }[],
  ): Promise<void> {
    if (refused.length > 1) {
      try {
        await this.producer!.send({
          topic: this.deps.config.TOPIC_REPORTS_REQUESTED_DLQ,
          acks: -1,
          messages: refused.map(({ message, error }) => whole(topic, partition, message, error)),
        });
        return;
      } catch (sendError: unknown) {
        // A DLQ whose limit is below a chunk's size: one at a time, each as it fits.
        if (!isTooLarge(sendError)) throw sendError;
      }
      for (const one of refused) await this.deadLetter(topic, partition, [one]);
      return;
    }
    const { message, error } = refused[0]!;
    const why = headersWhy(topic, partition, message, error);
    const letters: { shape: string; message: Message }[] = [
      { shape: 'whole', message: whole(topic, partition, message, error) },
      {
        shape: 'fewer headers',
        message: {
          key: message.key,
          value: message.value,
          headers: { ...why, 'dlq-error-message': error.message.slice(0, 200) },
        },
      },
      {
        shape: 'without its key and bytes',
        message: {
          key: null,
          value: null,
          headers: {
            ...why,
            'dlq-error-message': error.message.slice(0, 200),
            'dlq-value-omitted': `${message.value?.length ?? 0} bytes, key ${message.key?.length ?? 0} bytes`,
          },
        },
      },
    ];
    for (const [i, letter] of letters.entries()) {
      try {
        await this.producer!.send({
          topic: this.deps.config.TOPIC_REPORTS_REQUESTED_DLQ,
          acks: -1,
          messages: [letter.message],
        });
        if (i > 0)
          this.deps.logger.warn(
            { topic, partition, offset: message.offset, reason: error.reason, sent: letter.shape },
            'dead letter too large for the DLQ as it was; sent smaller',
          );
        return;
      } catch (sendError: unknown) {
        if (i === letters.length - 1 || !isTooLarge(sendError)) throw sendError;
      }
    }
  }

  /**
   * Retries an operation on infrastructure that is down, with capped exponential backoff,
   * heartbeating so the group keeps the partition. A rejection is not retried.
   */
  private async withRetry<T>(
    what: string,
    heartbeat: () => Promise<void>,
    operation: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error: unknown) {
        if (error instanceof RequestRejectedError || this.stopping) throw error;
        const delayMs = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
        this.stats.retries += 1;
        this.deps.logger.warn(
          { what, attempt, delayMs, error: String(error) },
          `${what} unavailable; holding the partition and retrying`,
        );
        const until = Date.now() + delayMs;
        while (Date.now() < until && !this.stopping) {
          await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
          await heartbeat().catch(() => undefined);
        }
      }
    }
  }
}

/** How much dead letters a produce request carries at most; one bigger than this goes alone. */
const DLQ_SEND_BYTES = 256 * 1024;

/** The headers that say why a record was refused and where it came from. */
function headersWhy(
  topic: string,
  partition: number,
  message: KafkaMessage,
  error: RequestRejectedError,
): IHeaders {
  return {
    'dlq-reason': error.reason,
    'dlq-error-class': error.name,
    'dlq-source-topic': topic,
    'dlq-source-partition': String(partition),
    'dlq-source-offset': message.offset,
  };
}

/** A dead letter as it should be: the record as it came, and every header. */
function whole(
  topic: string,
  partition: number,
  message: KafkaMessage,
  error: RequestRejectedError,
): Message {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...(message.headers ?? {}),
      ...headersWhy(topic, partition, message, error),
      'dlq-error-message': error.message.slice(0, 2000),
      'dlq-source-timestamp': message.timestamp,
    },
  };
}

/** A record's bytes, near enough: key, value, its headers, and room for the DLQ's own. */
function sizeOf(message: KafkaMessage): number {
  let size = (message.key?.length ?? 0) + (message.value?.length ?? 0) + 2_500;
  for (const [name, value] of Object.entries(message.headers ?? {}))
    size += name.length + String(value ?? '').length;
  return size;
}

/** Indexes of `items` in order, in runs whose sizes add up to at most `limit` (or one item). */
function chunksOf<T>(items: T[], size: (item: T) => number, limit: number): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let total = 0;
  items.forEach((item, i) => {
    const n = size(item);
    if (current.length > 0 && total + n > limit) {
      chunks.push(current);
      current = [];
      total = 0;
    }
    current.push(i);
    total += n;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The broker refused a record for its size: sending the same again can never succeed. */
function isTooLarge(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}
