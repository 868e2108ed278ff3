import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Client } from '@temporalio/client';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { registerRequestSchema } from '../contracts';
import { RequestRejectedError, type RejectionReason } from '../domain/request-validation';
import { Intake, type Admission } from '../intake/intake';
import type { ServiceMetrics } from '../observability/metrics';
import type { Inbox } from '../storage/inbox';
import type { TokenLedger } from '../storage/token-ledger';
import { startReport } from '../temporal/start-report';
import { registerConsumerLagGauge } from './consumer-lag-gauge';
import { DeadLetters, type RefusedRecord } from './dead-letters';
import { holdAndRetry } from './hold-and-retry';
import { RequestDecoder } from './request-decoder';
import { producerConfig } from '../producers/producer-config';

export interface RequestConsumerDeps {
  kafka: Kafka;
  registry: SchemaRegistry;
  inbox: Inbox;
  /** The tokens each requester's reports used today, for its budget. */
  tokenLedger: Pick<TokenLedger, 'usedBetween'>;
  /** The clock that says which UTC day a budget is for; the real one unless a test moves it. */
  now?: () => Date;
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
    | 'FAIRNESS_WEIGHTS'
    | 'PROMPT_MAX_CHARS'
    | 'TOKEN_BUDGET_PER_DAY'
    | 'TOKEN_BUDGETS'
  >;
}

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
 * slice (`Intake`), then its starts in parallel, beside its dead letters in a request or few
 * (`DeadLetters`). Offsets move only up to the highest record below which every start (or
 * "already started") is acknowledged or every record dead-lettered, so a crash re-reads rather
 * than loses. Outages of PostgreSQL, Temporal or the registry hold the partition and retry
 * with backoff (`holdAndRetry`); nothing is skipped. At most KAFKA_CONSUMER_CONCURRENCY
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
  private decoder: RequestDecoder | undefined;
  private intake: Intake | undefined;
  private deadLetters: DeadLetters | undefined;

  constructor(private readonly deps: RequestConsumerDeps) {}

  async start(): Promise<void> {
    const { kafka, config, logger } = this.deps;
    // The service owns this contract: registering it is a no-op when unchanged, and an
    // incompatible edit stops start-up here instead of surprising producers.
    const id = await registerRequestSchema(this.deps.registry, config.TOPIC_REPORTS_REQUESTED);
    this.decoder = await RequestDecoder.create(this.deps.registry, id);
    this.intake = new Intake({
      inbox: this.deps.inbox,
      startReport: (request) =>
        startReport(
          this.deps.temporal,
          config.TEMPORAL_TASK_QUEUE,
          request,
          config.FAIRNESS_WEIGHTS,
        ),
      promptMaxChars: config.PROMPT_MAX_CHARS,
      budgets: { perDay: config.TOKEN_BUDGET_PER_DAY, byRequester: config.TOKEN_BUDGETS },
      tokenLedger: this.deps.tokenLedger,
      now: this.deps.now,
      logger,
      metrics: this.deps.metrics?.service,
    });
    if (this.deps.metrics) {
      this.admin = kafka.admin();
      await this.admin.connect();
      registerConsumerLagGauge(
        this.deps.metrics.registry,
        this.admin,
        config.KAFKA_CONSUMER_GROUP,
        config.TOPIC_REPORTS_REQUESTED,
      );
    }
    this.producer = kafka.producer(producerConfig);
    await this.producer.connect();
    this.deadLetters = new DeadLetters(this.producer, config.TOPIC_REPORTS_REQUESTED_DLQ, logger);
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
   * Decodes a slice, admits it through the intake in one go, then acknowledges each started or
   * duplicate record as its start is acknowledged and dead-letters the refused ones meanwhile;
   * each offset is resolved once it and every one before it is done.
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
    const hold = <T>(dependency: string, operation: () => Promise<T>): Promise<T> =>
      holdAndRetry(operation, {
        heartbeat,
        stopping: () => this.stopping,
        onRetry: (attempt, delayMs, error) => {
          this.stats.retries += 1;
          this.deps.logger.warn(
            { what: dependency, attempt, delayMs, error: String(error) },
            `${dependency} unavailable; holding the partition and retrying`,
          );
        },
      });

    const decoded = await Promise.all(
      messages.map((message) =>
        hold('schema registry', () => this.decoder!.decode(message.value)).catch(
          (error: unknown) => {
            if (error instanceof RequestRejectedError) return error;
            throw error;
          },
        ),
      ),
    );
    const readable = decoded.flatMap((d, index) =>
      d instanceof RequestRejectedError ? [] : [index],
    );
    const { admissions, settled } = await this.intake!.admit(
      readable.map((index) => decoded[index]),
      'kafka',
      hold,
    );
    const admissionAt = new Map<number, Admission>(
      readable.map((index, i) => [index, admissions[i]!]),
    );

    // Refused records, conflicts included, go to the DLQ together, while the rest start.
    const refused: (RefusedRecord & { index: number })[] = [];
    const accepted: { index: number; admission: Exclude<Admission, { outcome: 'refused' }> }[] = [];
    messages.forEach((message, index) => {
      const admission = admissionAt.get(index);
      const unreadable = decoded[index];
      if (unreadable instanceof RequestRejectedError) {
        refused.push({ index, message, error: unreadable });
      } else if (admission?.outcome === 'refused') {
        if (admission.error.reason === 'idempotency-key-conflict') {
          this.stats.conflicts += 1;
          this.deps.metrics?.service.requestsConsumed.inc({ outcome: 'conflict' });
        }
        refused.push({ index, message, error: admission.error });
      } else if (admission) {
        accepted.push({ index, admission });
      }
    });

    await Promise.all([
      this.deadLetters!.send(
        topic,
        partition,
        refused,
        (operation) => hold('DLQ', operation),
        (i) => {
          const { index, message, error } = refused[i]!;
          this.stats.deadLettered[error.reason] = (this.stats.deadLettered[error.reason] ?? 0) + 1;
          this.deps.metrics?.service.requestsDeadLettered.inc({ reason: error.reason });
          if (error.reason !== 'idempotency-key-conflict')
            this.deps.metrics?.service.requestsConsumed.inc({ outcome: 'dead_lettered' });
          this.deps.logger.warn(
            {
              topic,
              partition,
              offset: message.offset,
              reason: error.reason,
              error: error.message,
            },
            'request dead-lettered',
          );
          acknowledge(index);
        },
      ),
      ...accepted.map(async ({ index, admission }) => {
        await admission.started;
        const created = admission.outcome === 'new';
        this.deps.metrics?.service.requestsConsumed.inc({
          outcome: created ? 'started' : 'duplicate',
        });
        if (created) this.stats.started += 1;
        else this.stats.duplicates += 1;
        this.deps.logger.info(
          {
            topic,
            partition,
            offset: messages[index]!.offset,
            ...admission.ids,
            outcome: admission.outcome,
          },
          created ? 'report started' : 'duplicate request acknowledged',
        );
        acknowledge(index);
      }),
    ]);
    await settled;
  }
}
