import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { SendMailOptions, SentMessageInfo } from 'nodemailer';
import OpenAI from 'openai';
import type { DataSource } from 'typeorm';
import type { FileRef, ReportFailure } from '../../domain/report';
import type { EmailLedgerEntry } from '../../entities/email-ledger-entry';
import type { Report } from '../../entities/report';
import type { ReviewDecision, ReviewState } from '../../domain/review';
import type { NewOutboxEvent } from '../../storage/outbox';
import {
  unclaimable,
  type Claim,
  type EmailClaim,
  type EmailLedger,
  type Settlement,
} from '../../storage/email-ledger';
import type { ReportFileStore, StoredFile } from '../../storage/report-file-store';
import { ReportStore, type ReportOutcome, type ReportRecord } from '../../storage/report-store';
import { MemoryTokenLedger } from '../../storage/testing/memory-token-ledger';
import { createActivities, type ActivityDeps } from '..';
import type { LlmSettings } from '../call-llm-activity';
import { LlmAdmission } from '../llm-admission';
import type { PdfRenderer } from '../pdf/pdf-render-pool';
import type { RenderedPdf, ReportPdfInput } from '../pdf/render-report-pdf';
import type { MailSettings } from '../send-notification-activity';

/**
 * In-memory stand-ins for the activities' dependencies, faithful to what the real ones promise
 * (upserts overwrite, outbox event ids are unique, the ledger claims at most one send), so the
 * activities' own guarantees can be tested with no server.
 */

/** The workflow run the activities work for, unless a test names another. */
export const workflowExecution = {
  workflowId: 'report-key-1',
  runId: '5b0d1e0c-7c1a-4c57-9a39-0f4f1b2c3d4e',
};

/** MockActivityEnvironment whose `run` keeps the activity's result type (the SDK's cannot infer it). */
export class ActivityEnvironment extends MockActivityEnvironment {
  override run<P extends unknown[], R>(fn: (...args: P) => Promise<R>, ...args: P): Promise<R> {
    return super.run<P, R, typeof fn>(fn, ...args);
  }
}

/** An activity context for one test; a cancelled environment stays cancelled, so make one each. */
export const activityEnvironment = (info: Partial<Info> = {}): ActivityEnvironment =>
  new ActivityEnvironment(
    { workflowExecution, ...info },
    { logger: new DefaultLogger('WARN', () => undefined) },
  );

/** The failure a promise rejects with; fails the test if it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error: unknown) {
    return error;
  }
  throw new Error('expected the activity to fail, and it succeeded');
}

/** A failure Temporal will not retry, of the given type. */
export function assertNonRetryable(
  error: unknown,
  type: string,
): asserts error is ApplicationFailure {
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, type);
  assert.equal(error.nonRetryable, true);
}

/** What Temporal does with a thrown error: retry it unless it is marked non-retryable. */
export const isRetryable = (error: unknown): boolean =>
  !(error instanceof CancelledFailure) &&
  !(error instanceof ApplicationFailure && error.nonRetryable === true);

type SaveArgs = Parameters<ReportFileStore['save']>;

export class InMemoryFileStore implements Pick<ReportFileStore, 'find' | 'save' | 'delete'> {
  readonly files = new Map<string, StoredFile>();
  saves = 0;
  private readFailure: Error | undefined;

  /** The next `find` throws, as a read from a database that dropped the connection. */
  failNextRead(error: Error): void {
    this.readFailure = error;
  }

  async save(...[reportId, kind, data, contentType, meta = {}]: SaveArgs): Promise<FileRef> {
    this.saves += 1;
    const ref = {
      reportId,
      kind,
      bytes: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    };
    this.files.set(`${reportId}/${kind}`, { ref, contentType, data, meta });
    return ref;
  }

  async find(reportId: string, kind: FileRef['kind']): Promise<StoredFile | undefined> {
    const failure = this.readFailure;
    this.readFailure = undefined;
    if (failure) throw failure;
    return this.files.get(`${reportId}/${kind}`);
  }

  async delete(reportId: string, kind: FileRef['kind']): Promise<boolean> {
    return this.files.delete(`${reportId}/${kind}`);
  }
}

/**
 * The reports table and the outbox. It extends ReportStore only because publishOutcome's deps
 * name that class, whose private DataSource makes it nominal; every method is overridden, so
 * the DataSource is never used.
 */
/** A row's review columns before any review began. */
const noReview = {
  reviewers: null,
  reviewOnTimeout: null,
  reviewWaitingSince: null,
  reviewDeadline: null,
  reviewDecision: null,
  reviewedBy: null,
  reviewAutomatic: null,
  reviewComment: null,
  reviewedAt: null,
} satisfies Partial<Report>;

export class InMemoryReportStore extends ReportStore {
  readonly reports = new Map<string, Report>();
  readonly outbox: NewOutboxEvent[] = [];

  constructor() {
    super(null as unknown as DataSource);
  }

  override async upsertStored(record: ReportRecord): Promise<void> {
    const existing = this.reports.get(record.id);
    const now = new Date();
    this.reports.set(record.id, {
      notificationStatus: null,
      createdAt: now,
      ...noReview,
      ...existing,
      ...record,
      status: 'STORED',
      failure: null,
      completedAt: null,
      updatedAt: now,
    });
  }

  override async find(reportId: string): Promise<Report | null> {
    return this.reports.get(reportId) ?? null;
  }

  override async openReview(reportId: string, review: ReviewState): Promise<void> {
    const report = this.reports.get(reportId);
    if (!report || report.reviewDecision) return;
    this.reports.set(reportId, {
      ...report,
      reviewers: review.reviewers,
      reviewOnTimeout: review.onTimeout,
      reviewWaitingSince: new Date(review.waitingSince),
      reviewDeadline: new Date(review.deadline),
    });
  }

  override async closeReview(reportId: string, decision: ReviewDecision): Promise<boolean> {
    const report = this.reports.get(reportId);
    if (!report || report.reviewDecision) return false;
    this.reports.set(reportId, {
      ...report,
      reviewDecision: decision.decision,
      reviewedBy: decision.reviewer ?? null,
      reviewAutomatic: decision.automatic,
      reviewComment: decision.comment ?? null,
      reviewedAt: new Date(decision.decidedAt),
    });
    return true;
  }

  override async findMany(reportIds: readonly string[]): Promise<Report[]> {
    return reportIds.flatMap((id) => this.reports.get(id) ?? []);
  }

  override async markRolledBack(reportId: string, failure: ReportFailure | null): Promise<boolean> {
    const report = this.reports.get(reportId);
    if (!report) return false;
    this.reports.set(reportId, { ...report, status: 'ROLLED_BACK', failure });
    return true;
  }

  override async finish(outcome: ReportOutcome): Promise<{ eventsQueued: number }> {
    const report = this.reports.get(outcome.reportId);
    if (report) {
      this.reports.set(outcome.reportId, {
        ...report,
        status: report.status === 'ROLLED_BACK' ? report.status : outcome.status,
        timings: outcome.timings,
        notificationStatus: outcome.notificationStatus,
        failure: outcome.failure,
        completedAt: outcome.status === 'COMPLETED' ? (report.completedAt ?? new Date()) : null,
      });
    }
    const fresh = outcome.events.filter((e) => !this.outbox.some((q) => q.eventId === e.eventId));
    this.outbox.push(...fresh);
    return { eventsQueued: fresh.length };
  }
}

/** The email_ledger table's rules: claim inserts SENDING, or re-claims a FAILED row. */
export class InMemoryEmailLedger implements Pick<EmailLedger, 'claim' | 'settle'> {
  readonly entries = new Map<string, EmailLedgerEntry>();

  async claim(entry: EmailClaim): Promise<Claim> {
    const existing = this.entries.get(entry.reportId);
    if (!existing || existing.status === 'FAILED') {
      const claimed: EmailLedgerEntry = existing
        ? { ...existing, status: 'SENDING', attempts: existing.attempts + 1, updatedAt: new Date() }
        : {
            ...entry,
            status: 'SENDING',
            attempts: 1,
            lastError: null,
            sentAt: null,
            updatedAt: new Date(),
          };
      this.entries.set(entry.reportId, claimed);
      return { outcome: 'claimed', attempts: claimed.attempts };
    }
    return unclaimable(existing);
  }

  async settle(reportId: string, result: Settlement): Promise<void> {
    const entry = this.entries.get(reportId);
    if (!entry) return;
    this.entries.set(reportId, {
      ...entry,
      ...(result.sent
        ? { status: 'SENT', sentAt: new Date(), lastError: null }
        : { status: 'FAILED', lastError: result.error }),
      updatedAt: new Date(),
    });
  }
}

/** An SMTP error as nodemailer reports it; `responseCode` is the server's reply code. */
export const smtpError = (message: string, responseCode?: number): Error =>
  Object.assign(new Error(message), responseCode === undefined ? {} : { responseCode });

/** Records every message; `failNext` makes the next sends throw, one error each. */
export class FakeMailer {
  readonly sent: SendMailOptions[] = [];
  private readonly failures: Error[] = [];

  failNext(...errors: Error[]): void {
    this.failures.push(...errors);
  }

  async sendMail(options: SendMailOptions): Promise<SentMessageInfo> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.sent.push(options);
    const to = typeof options.to === 'string' ? [options.to] : [];
    return {
      envelope: { from: typeof options.from === 'string' ? options.from : false, to },
      messageId: options.messageId ?? '',
      accepted: to,
    };
  }

  close(): void {}
}

/** Renders nothing: answers with bytes naming the title; `hold` keeps renders waiting. */
export class FakePdfRenderer implements PdfRenderer {
  readonly inputs: ReportPdfInput[] = [];
  /** Resolves when a render has started. */
  readonly started = Promise.withResolvers<void>();
  private release: Promise<void> | undefined;

  /** Holds every render until the returned function is called. */
  hold(): () => void {
    const gate = Promise.withResolvers<void>();
    this.release = gate.promise;
    return () => gate.resolve();
  }

  async render(input: ReportPdfInput): Promise<RenderedPdf> {
    this.inputs.push(input);
    this.started.resolve();
    await this.release;
    return { data: Buffer.from(`%PDF ${input.title}`), pages: 3, unrenderableChars: 0 };
  }

  async close(): Promise<void> {}
}

/** One answer of the fake LLM provider, in the order the calls arrive. */
export type LlmAnswer =
  | { stream: string[]; model?: string; usage?: { prompt: number; completion: number } }
  | { status: number; error?: { message: string; code?: string }; headers?: Record<string, string> }
  /** Never answers; only the request's signal (a timeout or a cancel) ends it. */
  | 'hang';

export interface LlmRequest {
  body: OpenAI.ChatCompletionCreateParamsStreaming;
  headers: Headers;
}

/**
 * A real OpenAI client whose HTTP is scripted: the SDK itself turns each answer into a stream or
 * into its typed errors (BadRequestError, RateLimitError with its headers, timeouts), which is
 * what callLlm's classification reads.
 */
export class ScriptedLlmProvider {
  readonly requests: LlmRequest[] = [];
  readonly client: OpenAI;
  private readonly answers: LlmAnswer[] = [];
  private arrived = Promise.withResolvers<LlmRequest>();

  constructor() {
    // As the worker builds it: retries belong to Temporal, not to the client.
    this.client = new OpenAI({
      apiKey: 'test',
      baseURL: 'http://llm.invalid/v1',
      maxRetries: 0,
      fetch: (_url, init) => this.answer(init),
    });
  }

  script(...answers: LlmAnswer[]): void {
    this.answers.push(...answers);
  }

  /** Resolves when the next request arrives. */
  nextRequest(): Promise<LlmRequest> {
    return this.arrived.promise;
  }

  private async answer(init: RequestInit | undefined): Promise<Response> {
    if (typeof init?.body !== 'string')
      throw new Error('the OpenAI client sent a body that is not JSON');
    const request = {
      body: JSON.parse(init.body) as OpenAI.ChatCompletionCreateParamsStreaming,
      headers: new Headers(init.headers),
    };
    this.requests.push(request);
    this.arrived.resolve(request);
    this.arrived = Promise.withResolvers<LlmRequest>();
    const answer = this.answers.shift();
    if (!answer) throw new Error(`no answer scripted for LLM request ${this.requests.length}`);
    if (answer === 'hang') {
      const signal = init.signal;
      return new Promise((_, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    if ('status' in answer) {
      return Response.json(
        { error: { message: 'refused', type: 'invalid_request_error', ...answer.error } },
        { status: answer.status, headers: answer.headers },
      );
    }
    const model = answer.model ?? 'test-model-2026-01-01';
    const chunk = (
      choices: unknown[],
      usage: OpenAI.CompletionUsage | null = null,
    ): OpenAI.ChatCompletionChunk =>
      ({
        id: 'chatcmpl-1',
        object: 'chat.completion.chunk',
        created: 0,
        model,
        choices,
        usage,
      }) as OpenAI.ChatCompletionChunk;
    const chunks = answer.stream.map((content) =>
      chunk([{ index: 0, delta: { content }, finish_reason: null }]),
    );
    if (answer.usage) {
      const { prompt, completion } = answer.usage;
      chunks.push(
        chunk([], {
          prompt_tokens: prompt,
          completion_tokens: completion,
          total_tokens: prompt + completion,
        }),
      );
    }
    const sse = [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
    return new Response(sse.join(''), { headers: { 'content-type': 'text/event-stream' } });
  }
}

export const llmSettings: LlmSettings = {
  defaultModel: 'test-model',
  defaultMaxTokens: 1000,
  promptMaxChars: 200,
  modelNote: '',
  timeoutMs: 5_000,
};

export const mailSettings: MailSettings = {
  from: 'reports@example.test',
  attachPdf: true,
  publicBaseUrl: 'https://reports.example.test',
};

export const eventTopics: ActivityDeps['eventTopics'] = {
  ReportCompleted: { topic: 'test.report.completed' },
  ReportFailed: { topic: 'test.report.failed' },
  EmailNotification: { topic: 'test.email.notification' },
};

/** The production factory over fakes of every dependency, returned beside them for the asserts. */
export function fakeActivities(
  settings: Partial<Pick<ActivityDeps, 'llmSettings' | 'mailSettings'>> = {},
) {
  const provider = new ScriptedLlmProvider();
  const deps = {
    llm: provider.client,
    admission: new LlmAdmission(),
    pdfRenderer: new FakePdfRenderer(),
    mailer: new FakeMailer(),
    files: new InMemoryFileStore(),
    reports: new InMemoryReportStore(),
    ledger: new InMemoryEmailLedger(),
    tokenLedger: new MemoryTokenLedger(),
    llmSettings,
    mailSettings,
    eventTopics,
    ...settings,
  };
  return { ...deps, provider, activities: createActivities(deps) };
}
