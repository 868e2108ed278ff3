/**
 * The service's Avro contracts: the request it reads and the events it publishes. The schemas
 * themselves are the files in avro/; this module loads them, types them and registers them.
 */
export { eventSchemas, reportRequestedSchema, reviewDecisionSchema } from './schemas';
export type {
  EmailNotification,
  EventPayloads,
  ReportCompleted,
  ReportFailed,
  ReportRequested,
  ReviewDecisionRecord,
  ReviewOutcome,
} from './types';
export {
  outboxEventTopics,
  registerEventSchema,
  registerEventSchemas,
  registerRequestSchema,
  registerReviewDecisionSchema,
  type EventTopics,
} from './registration';
export { createSchemaRegistry, type RegistryClientOptions } from './registry-client';
