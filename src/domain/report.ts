import type { PriorityLevel } from './priority';
import type { ReviewPolicy, ReviewState } from './review';

/**
 * The report's vocabulary, shared by the workflow, its activities, the consumer and the API.
 * Pure types and constants only: workflow code imports this file.
 */

export interface Requester {
  id: string;
  email: string;
}

export interface ReportOptions {
  model?: string;
  maxTokens?: number;
  language?: string;
}

/** A validated request, as the workflow receives it. */
export interface ReportRequest {
  reportId: string;
  idempotencyKey: string;
  prompt: string;
  requester: Requester;
  options: ReportOptions;
  /** ISO-8601 */
  requestedAt: string;
  correlationId?: string;
  source: 'kafka' | 'http' | 'demo' | 'test';
  /** Absent: no review, the report is mailed as soon as its PDF is stored. */
  review?: ReviewPolicy;
  /**
   * How its tasks are ordered on the task queues (domain/priority.ts). Absent only in requests
   * admitted before priorities: those ran at Temporal's default, NORMAL.
   */
  priority?: PriorityLevel;
}

export const STAGES = [
  'callLlm',
  'createPdf',
  'storeReportMetadata',
  'review',
  'sendNotification',
  'publish',
] as const;
export type Stage = (typeof STAGES)[number];

export const REPORT_STATUSES = [
  'RUNNING',
  'AWAITING_REVIEW',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'REJECTED',
] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];
export type FinalStatus = Exclude<ReportStatus, 'RUNNING' | 'AWAITING_REVIEW'>;

/** Whether a report has ended: waiting for review is not an end. */
export const isFinalStatus = (status: ReportStatus): status is FinalStatus =>
  status !== 'RUNNING' && status !== 'AWAITING_REVIEW';

/** The stages a report goes through: `review` only when its request asked for one. */
export const stagesOf = (reviewed: boolean): readonly Stage[] =>
  reviewed ? STAGES : STAGES.filter((stage) => stage !== 'review');

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** Where a stored artefact lives: fetched by reference, never carried through workflow history. */
export interface FileRef {
  reportId: string;
  kind: 'content' | 'pdf';
  bytes: number;
  sha256: string;
}

export interface LlmResult {
  content: FileRef;
  /** The model the provider said answered (which may differ from the one asked for). */
  model: string;
  /** What readers should know about that model, from LLM_MODEL_NOTE (shown beside its name). */
  modelNote?: string;
  usage: TokenUsage;
  /** The title the report will carry, taken from the content's first heading. */
  title: string;
  /** False when an earlier attempt's stored answer was reused instead of calling the LLM again. */
  called: boolean;
}

/** The model that wrote a report, with what readers should know about it: "name (note)". */
export const modelCredit = (model: string, note?: string): string =>
  note ? `${model} (${note})` : model;

export interface PdfResult {
  pdf: FileRef;
  pages: number;
  renderMs: number;
  /** Characters the font has no glyph for, replaced by '?'. */
  unrenderableChars: number;
}

export type NotificationStatus = 'SENT' | 'FAILED' | 'SKIPPED';

export interface NotificationResult {
  status: NotificationStatus;
  /** Absent when no attempt got as far as composing the message. */
  messageId?: string;
  to: string;
  subject?: string;
  /** True when the ledger showed an earlier attempt had already sent it. */
  alreadySent: boolean;
  error?: string;
}

export interface StageTiming {
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  attempts: number;
}

export interface ReportFailure {
  stage: Stage;
  errorType: string;
  message: string;
}

/** What the `progress` query answers while the workflow runs, and what it ends with. */
export interface ReportProgress {
  reportId: string;
  status: ReportStatus;
  stage: Stage | 'done';
  stagesCompleted: Stage[];
  timings: Partial<Record<Stage, StageTiming>>;
  usage?: TokenUsage;
  /** The model that wrote the report, as the provider reported it, once the LLM has answered. */
  model?: string;
  modelNote?: string;
  notification?: NotificationStatus;
  failure?: ReportFailure;
  compensated: string[];
  /** Present when the request asked for review: who may decide, until when, and the decision. */
  review?: ReviewState;
}

export interface ReportResult extends ReportProgress {
  status: FinalStatus;
  pdf?: { ref: FileRef; pages: number };
  title?: string;
}

/** Failure types that no retry can fix; the workflow stops at once when an activity throws one. */
export const NON_RETRYABLE = {
  invalidPrompt: 'InvalidPrompt',
  llmRejected: 'LlmRequestRejected',
  missingArtefact: 'MissingArtefact',
} as const;

/** The timings of the stages that have started, without the gaps of those that have not. */
export function startedTimings(
  timings: Partial<Record<Stage, StageTiming>>,
): Record<string, StageTiming> {
  const out: Record<string, StageTiming> = {};
  for (const [stage, timing] of Object.entries(timings)) if (timing) out[stage] = timing;
  return out;
}
