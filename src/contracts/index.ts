/**
 * The service's Avro contracts: the request it reads and the events it publishes. The schemas
 * themselves are the files in avro/; this module loads them, types them and registers them.
 */
export { eventSchemas, reportRequestedName, reportRequestedSchema } from './schemas';
export type {
  EmailNotification,
  EventPayloads,
  ReportCompleted,
  ReportFailed,
  ReportRequested,
} from './types';
export {
  outboxEventTopics,
  registerEventSchema,
  registerEventSchemas,
  registerRequestSchema,
  type EventTopics,
} from './registration';
