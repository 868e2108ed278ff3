import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/config';
import type { OutboxEventType } from '../entities/outbox-event';

const avroDir = join(__dirname, '..', '..', 'avro');

/** The Avro schema (in avro/) each outbox event type is encoded with. */
export const eventSchemaFiles: Record<OutboxEventType, string> = {
  ReportCompleted: 'report-completed.avsc',
  ReportFailed: 'report-failed.avsc',
  EmailNotification: 'email-notification.avsc',
};

/** Which topic each outbox event type is published to (its schema: `eventSchemaFiles`). */
export const outboxEventTopics = (
  config: Pick<
    Config,
    'TOPIC_REPORTS_COMPLETED' | 'TOPIC_REPORTS_FAILED' | 'TOPIC_NOTIFICATIONS_EMAIL'
  >,
): Record<OutboxEventType, { topic: string }> => ({
  ReportCompleted: { topic: config.TOPIC_REPORTS_COMPLETED },
  ReportFailed: { topic: config.TOPIC_REPORTS_FAILED },
  EmailNotification: { topic: config.TOPIC_NOTIFICATIONS_EMAIL },
});

/** Registers one event type's schema under `<topic>-value`; an unchanged schema keeps its id. */
export async function registerEventSchema(
  registry: SchemaRegistry,
  eventType: OutboxEventType,
  topic: string,
): Promise<number> {
  const schema = readFileSync(join(avroDir, eventSchemaFiles[eventType]), 'utf8');
  return (await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` }))
    .id;
}

/**
 * Registers each event schema under `<topic>-value` (BACKWARD compatible) and returns the
 * schema id to encode with. Registering an unchanged schema returns its existing id, so every
 * process can do this at start-up; an incompatible schema fails start-up instead of publishing.
 */
export async function registerEventSchemas(
  registry: SchemaRegistry,
  topics: Record<OutboxEventType, { topic: string }>,
): Promise<Record<OutboxEventType, number>> {
  const ids = {} as Record<OutboxEventType, number>;
  for (const [type, { topic }] of Object.entries(topics) as [OutboxEventType, { topic: string }][])
    ids[type] = await registerEventSchema(registry, type, topic);
  return ids;
}
