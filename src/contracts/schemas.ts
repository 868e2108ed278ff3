import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutboxEventType } from '../entities/outbox-event';

// avro/ sits beside src/ in the repository and beside dist/ in the image.
const avroDir = join(__dirname, '..', '..', 'avro');
const avsc = (file: string): string => readFileSync(join(avroDir, file), 'utf8');

/** ReportRequested: what producers write to the request topic. */
export const reportRequestedSchema = avsc('report-requested.avsc');

/** ReviewDecision: what upstream systems write to the review-decisions topic. */
export const reviewDecisionSchema = avsc('review-decision.avsc');

/** The schema each outbox event type is encoded with. */
export const eventSchemas: Record<OutboxEventType, string> = {
  ReportCompleted: avsc('report-completed.avsc'),
  ReportFailed: avsc('report-failed.avsc'),
  EmailNotification: avsc('email-notification.avsc'),
};
