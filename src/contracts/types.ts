import type { RequestablePriority } from '../domain/priority';
import type { Stage, TokenUsage } from '../domain/report';
import type { ReviewVerdict } from '../domain/review';

// The registry's codec reads timestamp-millis as a plain number, and an unset ["null", T] as null.
// contracts.test.ts encodes a sample of each type with its .avsc, so the two cannot drift apart.

/** A report request as it is on the wire (avro/report-requested.avsc). */
export interface ReportRequested {
  idempotencyKey: string;
  prompt: string;
  requester: { id: string; email: string };
  options: { model: string | null; maxTokens: number | null; language: string | null };
  /** Milliseconds since the epoch. */
  requestedAt: number;
  correlationId: string | null;
  review: { reviewers: string[]; timeoutSeconds: number; onTimeout: ReviewVerdict } | null;
  /** Null: NORMAL. */
  priority: RequestablePriority | null;
}

/** A review decision as the events carry it. */
export interface ReviewOutcome {
  decision: ReviewVerdict;
  /** Null for an automatic decision. */
  reviewer: string | null;
  automatic: boolean;
  comment: string | null;
  decidedAt: number;
}

/** A decision from an upstream system (avro/review-decision.avsc). */
export interface ReviewDecisionRecord {
  idempotencyKey: string;
  reviewer: string;
  decision: ReviewVerdict;
  comment: string | null;
}

/** avro/report-completed.avsc */
export interface ReportCompleted {
  eventId: string;
  reportId: string;
  workflowId: string;
  idempotencyKey: string;
  pdf: { url: string; bytes: number; pages: number };
  usage: TokenUsage;
  model: string | null;
  /** Milliseconds per finished stage. */
  timings: Record<string, number | null>;
  completedAt: number;
  /** The decision that let it through, when it was reviewed. */
  review: ReviewOutcome | null;
}

/** avro/report-failed.avsc */
export interface ReportFailed {
  eventId: string;
  reportId: string;
  idempotencyKey: string;
  stage: Stage;
  /** `Cancelled` for a cancelled report. */
  errorType: string;
  message: string;
  compensated: string[];
  failedAt: number;
  /** Who rejected it and why, for a report rejected in review. */
  review: ReviewOutcome | null;
}

/** avro/email-notification.avsc */
export interface EmailNotification {
  eventId: string;
  reportId: string;
  to: string;
  subject: string;
  messageId: string;
  status: 'SENT' | 'FAILED';
  at: number;
}

/** The payload each outbox event type carries. */
export interface EventPayloads {
  ReportCompleted: ReportCompleted;
  ReportFailed: ReportFailed;
  EmailNotification: EmailNotification;
}
