import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/config';
import type { OutboxEventType } from '../entities/outbox-event';

const avroDir = join(__dirname, '..', '..', 'avro');

/** Which topic and schema each outbox event type is published with. */
export const outboxEventTopics = (
  config: Pick<
    Config,
    'TOPIC_REPORTS_COMPLETED' | 'TOPIC_REPORTS_FAILED' | 'TOPIC_NOTIFICATIONS_EMAIL'
  >,
): Record<OutboxEventType, { topic: string; schemaFile: string }> => ({
  ReportCompleted: { topic: config.TOPIC_REPORTS_COMPLETED, schemaFile: 'report-completed.avsc' },
  ReportFailed: { topic: config.TOPIC_REPORTS_FAILED, schemaFile: 'report-failed.avsc' },
  EmailNotification: {
    topic: config.TOPIC_NOTIFICATIONS_EMAIL,
    schemaFile: 'email-notification.avsc',
  },
});

/**
 * Registers each event schema under `<topic>-value` (BACKWARD compatible) and returns the
 * schema id to encode with. Registering an unchanged schema returns its existing id, so every
 * process can do this at start-up; an incompatible schema fails start-up instead of publishing.
 */
export async function registerEventSchemas(
  registry: SchemaRegistry,
  topics: ReturnType<typeof outboxEventTopics>,
): Promise<Record<OutboxEventType, number>> {
  const ids = {} as Record<OutboxEventType, number>;
  for (const [type, { topic, schemaFile }] of Object.entries(topics) as [
    OutboxEventType,
    { topic: string; schemaFile: string },
  ][]) {
    const schema = readFileSync(join(avroDir, schemaFile), 'utf8');
    ids[type] = (
      await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` })
    ).id;
  }
  return ids;
}
