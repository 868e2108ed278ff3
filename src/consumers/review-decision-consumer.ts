import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Consumer, EachMessagePayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/config';
import { registerReviewDecisionSchema } from '../contracts';
import { reportIdsFor, type ReportIds } from '../domain/ids';
import {
  idempotencyKeyField,
  reviewCommentField,
  reviewerField,
  reviewVerdictField,
} from '../domain/request-fields';
import {
  REVIEW_REFUSALS,
  type ReviewDecisionInput,
  type ReviewRefusal,
  type ReviewVerdict,
} from '../domain/review';
import type { ServiceMetrics } from '../observability/metrics';
import { decideReview, type DecisionOutcome } from '../temporal/review-decisions';
import { AvroRecordReader, UnreadableRecordError } from './avro-record-reader';
import { isTooLarge } from './dead-letters';
import { holdAndRetry } from './hold-and-retry';
import { producerConfig } from '../producers/producer-config';

/** Why a decision record was dead-lettered; the DLQ's `dlq-reason` header carries it. */
export const DECISION_DEAD_LETTER_REASONS = [
  'not-avro',
  'unknown-schema-id',
  'wrong-schema',
  'invalid-decision',
  'report-not-found',
  'review-not-pending',
  'reviewer-not-allowed',
  'report-ended',
  'update-failed',
] as const;
export type DecisionDeadLetterReason = (typeof DECISION_DEAD_LETTER_REASONS)[number];

/** A record that can never be applied as it is, and why. */
interface Refusal {
  reason: DecisionDeadLetterReason;
  message: string;
}

const REFUSAL_REASONS: Record<ReviewRefusal, DecisionDeadLetterReason> = {
  [REVIEW_REFUSALS.notPending]: 'review-not-pending',
  [REVIEW_REFUSALS.reviewerNotAllowed]: 'reviewer-not-allowed',
  [REVIEW_REFUSALS.invalidDecision]: 'invalid-decision',
};

/** The API's rules for a decision, so that both ways in accept the same ones. */
const decisionRecord = z.object({
  idempotencyKey: idempotencyKeyField,
  reviewer: reviewerField,
  decision: reviewVerdictField,
  comment: reviewCommentField.nullable(),
});

/**
 * Thrown when Temporal holds a decision but no worker applied it within REVIEW_DECISION_WAIT_MS:
 * every worker is down or busy. Sent again it reaches the same update, so the record is held and
 * retried rather than committed without knowing whether the report accepts it.
 */
export class DecisionNotAppliedError extends Error {
  readonly code = 'DECISION_NOT_APPLIED';
  constructor(workflowId: string, waitMs: number) {
    super(`no worker applied the decision for ${workflowId} within ${waitMs} ms`);
    this.name = 'DecisionNotAppliedError';
  }
}

export interface ReviewDecisionConsumerDeps {
  kafka: Kafka;
  registry: SchemaRegistry;
  temporal: Client;
  logger: Logger;
  metrics?: ServiceMetrics;
  config: Pick<
    Config,
    | 'KAFKA_REVIEW_CONSUMER_GROUP'
    | 'KAFKA_CONSUMER_CONCURRENCY'
    | 'KAFKA_CONSUMER_SESSION_TIMEOUT_MS'
    | 'TOPIC_REVIEW_DECISIONS'
    | 'TOPIC_REVIEW_DECISIONS_DLQ'
    | 'REVIEW_DECISION_WAIT_MS'
  >;
}

/** What the consumer has done since it started; logged at shutdown, read by tests. */
export interface DecisionConsumerStats {
  decided: number;
  deadLettered: Partial<Record<DecisionDeadLetterReason, number>>;
  retries: number;
}

/**
 * Applies the review decisions upstream systems publish, each as the `review` update of its
 * report's workflow. A partition is taken one record at a time, in order, so two decisions on
 * one report are judged as they were sent, and each offset is committed once its record is
 * decided or dead-lettered. A decision no worker took in time, and outages of Temporal, the
 * registry or the DLQ, hold the partition and retry with backoff: sending a decision again is
 * safe, since its update id comes from its content.
 */
export class ReviewDecisionConsumer {
  readonly stats: DecisionConsumerStats = { decided: 0, deadLettered: {}, retries: 0 };
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private reader: AvroRecordReader | undefined;
  private stopping = false;
  private started = false;

  constructor(private readonly deps: ReviewDecisionConsumerDeps) {}

  /** True from a successful start until stop: what the readiness probe reports. */
  get running(): boolean {
    return this.started && !this.stopping;
  }

  async start(): Promise<void> {
    const { kafka, config, registry } = this.deps;
    // As for requests: the service owns this contract, and an incompatible edit stops start-up.
    const id = await registerReviewDecisionSchema(registry, config.TOPIC_REVIEW_DECISIONS);
    this.reader = await AvroRecordReader.create(registry, id);
    this.producer = kafka.producer(producerConfig);
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: config.KAFKA_REVIEW_CONSUMER_GROUP,
      allowAutoTopicCreation: false,
      sessionTimeout: config.KAFKA_CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.floor(config.KAFKA_CONSUMER_SESSION_TIMEOUT_MS / 3),
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: config.TOPIC_REVIEW_DECISIONS, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: config.KAFKA_CONSUMER_CONCURRENCY,
      // Each record's outcome is committed as soon as it is known, so a restart re-sends at
      // most the one in flight.
      autoCommitThreshold: 1,
      eachMessage: (payload) => this.handle(payload),
    });
    this.started = true;
  }

  /** Stops fetching, lets the record in flight finish, commits, and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    this.deps.logger.info({ stats: this.stats }, 'review decision consumer stopped');
  }

  /**
   * Reads, checks and applies one decision, or dead-letters it. Returning commits it; throwing
   * (only once the consumer is stopping) leaves it to be read again.
   */
  private async handle(payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message } = payload;
    const heartbeat = () => payload.heartbeat();
    const { logger } = this.deps;
    const at = { topic, partition, offset: message.offset };
    const hold = <T>(dependency: string, operation: () => Promise<T>): Promise<T> =>
      holdAndRetry(operation, {
        heartbeat,
        stopping: () => this.stopping,
        onRetry: (attempt, delayMs, error) => {
          this.stats.retries += 1;
          logger.warn(
            { ...at, what: dependency, attempt, delayMs, error: String(error) },
            `${dependency} unavailable; holding the partition and retrying`,
          );
        },
      });

    const verdict = await this.apply(message, hold, heartbeat);
    if ('decided' in verdict) {
      this.stats.decided += 1;
      this.deps.metrics?.reviewDecisionsConsumed.inc({ outcome: 'decided' });
      logger.info(
        { ...at, ...verdict.ids, reviewer: verdict.reviewer, decision: verdict.decided },
        'review decision applied',
      );
      return;
    }
    const { reason, message: why } = verdict.refusal;
    await hold('DLQ', () => this.deadLetter(topic, partition, message, verdict.refusal));
    this.stats.deadLettered[reason] = (this.stats.deadLettered[reason] ?? 0) + 1;
    this.deps.metrics?.reviewDecisionsConsumed.inc({ outcome: reason });
    logger.warn({ ...at, ...verdict.ids, reason, error: why }, 'review decision dead-lettered');
  }

  /** Decodes and checks a record, then sends it to its report's workflow until it is judged. */
  private async apply(
    message: KafkaMessage,
    hold: <T>(dependency: string, operation: () => Promise<T>) => Promise<T>,
    heartbeat: () => Promise<void>,
  ): Promise<
    | { decided: ReviewVerdict; reviewer: string; ids: ReportIds }
    | { refusal: Refusal; ids?: ReportIds }
  > {
    const waitMs = this.deps.config.REVIEW_DECISION_WAIT_MS;
    const read = await hold('schema registry', () =>
      this.reader!.read(message.value).then(
        (record) => ({ record }),
        (error: unknown) => {
          if (error instanceof UnreadableRecordError)
            return { refusal: { reason: error.reason, message: error.message } };
          throw error;
        },
      ),
    );
    if ('refusal' in read) return { refusal: read.refusal };
    const parsed = decisionRecord.safeParse(read.record);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'record'}: ${i.message}`)
        .join('; ');
      return { refusal: { reason: 'invalid-decision', message: detail } };
    }
    const { idempotencyKey, reviewer, decision, comment } = parsed.data;
    const ids = reportIdsFor(idempotencyKey);
    const input: ReviewDecisionInput = { reviewer, decision, ...(comment ? { comment } : {}) };
    const outcome = await hold('Temporal', () =>
      whileHeartbeating(heartbeat, async () => {
        try {
          const sent = await decideReview(this.deps.temporal, ids.workflowId, input, waitMs);
          if (sent.outcome === 'submitted')
            throw new DecisionNotAppliedError(ids.workflowId, waitMs);
          return sent;
        } catch (error: unknown) {
          // The workflow failed the update in a way it does not name. Sent again, the same
          // update id gets the same failure, so holding the partition for it would never end.
          if (error instanceof WorkflowUpdateFailedError)
            return { outcome: 'failed' as const, message: String(error.cause ?? error.message) };
          throw error;
        }
      }),
    );
    if (outcome.outcome === 'decided') return { decided: outcome.decision.decision, reviewer, ids };
    return { refusal: refusalOf(outcome), ids };
  }

  /**
   * Sends a record to the DLQ as it came (key, bytes, headers) with headers saying why and
   * where from, so that nothing refused is lost.
   */
  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    refusal: Refusal,
  ): Promise<void> {
    const dlq = this.deps.config.TOPIC_REVIEW_DECISIONS_DLQ;
    const why = {
      'dlq-reason': refusal.reason,
      'dlq-error-message': refusal.message.slice(0, 2000),
      'dlq-source-topic': topic,
      'dlq-source-partition': String(partition),
      'dlq-source-offset': message.offset,
      'dlq-source-timestamp': message.timestamp,
    };
    // A record that only just fitted its topic may not fit with the headers added, and refusing
    // it for ever would stall the partition: it goes again without its own headers, then
    // without its key and bytes, which stay at the source offset the headers name.
    const letters: Message[] = [
      { key: message.key, value: message.value, headers: { ...message.headers, ...why } },
      { key: message.key, value: message.value, headers: why },
      {
        key: null,
        value: null,
        headers: {
          ...why,
          'dlq-value-omitted': `${message.value?.length ?? 0} bytes, key ${message.key?.length ?? 0} bytes`,
        },
      },
    ];
    for (const [i, letter] of letters.entries()) {
      try {
        await this.producer!.send({ topic: dlq, acks: -1, messages: [letter] });
        return;
      } catch (error: unknown) {
        if (i === letters.length - 1 || !isTooLarge(error)) throw error;
      }
    }
  }
}

/** Why an outcome other than `decided` means the decision can never be applied. */
function refusalOf(
  outcome:
    | Exclude<DecisionOutcome, { outcome: 'decided' | 'submitted' }>
    | { outcome: 'failed'; message: string },
): Refusal {
  switch (outcome.outcome) {
    case 'failed':
      return { reason: 'update-failed', message: outcome.message };
    case 'refused':
      return { reason: REFUSAL_REASONS[outcome.refusal], message: outcome.message };
    case 'not-found':
      return { reason: 'report-not-found', message: 'no report has this idempotency key' };
    case 'ended':
      return { reason: 'report-ended', message: 'the report has ended' };
  }
}

/**
 * Runs an operation that may take as long as REVIEW_DECISION_WAIT_MS, heartbeating meanwhile so
 * that a wait longer than the session timeout does not hand the partition to another member.
 */
async function whileHeartbeating<T>(
  heartbeat: () => Promise<void>,
  operation: () => Promise<T>,
): Promise<T> {
  const timer = setInterval(() => void heartbeat().catch(() => undefined), 1000);
  try {
    return await operation();
  } finally {
    clearInterval(timer);
  }
}
