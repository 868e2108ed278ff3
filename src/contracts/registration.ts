import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/config';
import type { OutboxEventType } from '../entities/outbox-event';
import { eventSchemas, reportRequestedSchema, reviewDecisionSchema } from './schemas';

/** Where each outbox event type is published. */
export type EventTopics = Record<OutboxEventType, { topic: string }>;

/** The topic each outbox event type is published to, from configuration. */
export const outboxEventTopics = (
  config: Pick<
    Config,
    'TOPIC_REPORTS_COMPLETED' | 'TOPIC_REPORTS_FAILED' | 'TOPIC_NOTIFICATIONS_EMAIL'
  >,
): EventTopics => ({
  ReportCompleted: { topic: config.TOPIC_REPORTS_COMPLETED },
  ReportFailed: { topic: config.TOPIC_REPORTS_FAILED },
  EmailNotification: { topic: config.TOPIC_NOTIFICATIONS_EMAIL },
});

/**
 * Registers an Avro schema under `<topic>-value` (BACKWARD compatible) and returns its id.
 * Registering an unchanged schema returns its existing id, so every process can do this at
 * start-up; the registry refuses an incompatible one, and that error is thrown.
 */
async function register(registry: SchemaRegistry, schema: string, topic: string): Promise<number> {
  return (await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` }))
    .id;
}

/** Registers ReportRequested for the request topic; returns the id to read it with. */
export const registerRequestSchema = (registry: SchemaRegistry, topic: string): Promise<number> =>
  register(registry, reportRequestedSchema, topic);

/** Registers ReviewDecision for the review-decisions topic; returns its id. */
export const registerReviewDecisionSchema = (
  registry: SchemaRegistry,
  topic: string,
): Promise<number> => register(registry, reviewDecisionSchema, topic);

/** Registers one event type's schema under `<topic>-value`; returns the id to encode with. */
export const registerEventSchema = (
  registry: SchemaRegistry,
  eventType: OutboxEventType,
  topic: string,
): Promise<number> => register(registry, eventSchemas[eventType], topic);

/** Registers every event type's schema under its topic; returns the ids to encode with. */
export async function registerEventSchemas(
  registry: SchemaRegistry,
  topics: EventTopics,
): Promise<Record<OutboxEventType, number>> {
  const ids = {} as Record<OutboxEventType, number>;
  for (const [type, { topic }] of Object.entries(topics) as [OutboxEventType, { topic: string }][])
    ids[type] = await registerEventSchema(registry, type, topic);
  return ids;
}
