import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { ReportActivities } from '../activities';
import {
  NON_RETRYABLE,
  type NotificationResult,
  type PdfResult,
  type LlmResult,
  type ReportFailure,
  type ReportProgress,
  type ReportRequest,
  type ReportResult,
  type Stage,
} from '../domain/report';
import {
  describeDecision,
  refuseDecision,
  REVIEW_REJECTED,
  type ReviewDecision,
  type ReviewDecisionInput,
  type ReviewPolicy,
  type ReviewState,
} from '../domain/review';
import { llmTaskQueueFor } from '../domain/task-queues';
import { reportStageKey } from './search-attributes';

export const progressQuery = defineQuery<ReportProgress>('progress');
/** Cancels the report; compensations run and it ends CANCELLED. Same effect as cancelling the workflow. */
export const cancelSignal = defineSignal<[reason?: string]>('cancel');
/**
 * A reviewer's decision on a report waiting for review. Its validator refuses, and nothing is
 * recorded, when the report is not waiting, was already decided, or the reviewer is not one of
 * the request's; it answers with the decision as recorded.
 */
export const reviewUpdate = defineUpdate<ReviewDecision, [ReviewDecisionInput]>('review');

// Retry policies and timeouts per step (the design's workflow table). The LLM call runs on the
// LLM task queue (its own slots, sized to the provider); the start-to-close covers waiting for
// the provider's quota too, while each HTTP call is bounded by OPENAI_TIMEOUT_MS.
const llmOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '15 seconds',
  retry: {
    maximumAttempts: 3,
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    nonRetryableErrorTypes: [NON_RETRYABLE.invalidPrompt, NON_RETRYABLE.llmRejected],
  },
};
const { createPdf } = proxyActivities<ReportActivities>({
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: '10 seconds',
  retry: {
    maximumAttempts: 3,
    initialInterval: '1 second',
    nonRetryableErrorTypes: [NON_RETRYABLE.missingArtefact],
  },
  // Wait for a cancelled render to stop before compensating, so it cannot store a PDF afterwards.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
const { sendNotification } = proxyActivities<ReportActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    maximumAttempts: 3,
    initialInterval: '1 second',
    nonRetryableErrorTypes: ['SmtpRejected'],
  },
});
// The database steps are short: as local activities they run in the worker that runs the
// workflow, without a round trip through the server's task queues.
const storeOptions: LocalActivityOptions = {
  startToCloseTimeout: '15 seconds',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
// Bookkeeping that must happen however the report ends: retried until it does.
const bookkeepingOptions: LocalActivityOptions = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
};

/**
 * Histories recorded before the LLM queue and local database steps replay as they ran: the LLM
 * call on the report's task queue, the database steps as ordinary activities.
 */
const CAPACITY_PATCH = 'llm-task-queue-and-local-database-steps';
/**
 * The COMPLETED announcement is an ordinary activity. As a local activity it ran inside the
 * workflow task that also completed the workflow; a cancel signal arriving meanwhile made the
 * server refuse that task, and its replay applied the signal before the end of sendNotification:
 * the report, already announced COMPLETED, was rolled back and announced CANCELLED. Scheduling
 * an activity is a command the server accepts whatever arrives, so once the report is done a
 * cancel finds nothing left to cancel.
 */
const COMPLETED_ANNOUNCEMENT_PATCH = 'completed-announcement-as-activity';
const { publishOutcome: announceCompleted } = proxyActivities<ReportActivities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

function reportActivities(taskQueue: string) {
  const legacy = !patched(CAPACITY_PATCH);
  const { callLlm } = proxyActivities<ReportActivities>(
    legacy ? llmOptions : { ...llmOptions, taskQueue: llmTaskQueueFor(taskQueue) },
  );
  const proxy = legacy ? proxyActivities : proxyLocalActivities;
  const { storeReportMetadata } = proxy<ReportActivities>(storeOptions);
  const { publishOutcome, deletePdf, markReportRolledBack } =
    proxy<ReportActivities>(bookkeepingOptions);
  return { callLlm, storeReportMetadata, publishOutcome, deletePdf, markReportRolledBack };
}

// The review's bookkeeping, only in reports that ask for one (so older histories never meet it).
const { openReview } = proxyLocalActivities<ReportActivities>(storeOptions);
const { closeReview } = proxyLocalActivities<ReportActivities>(bookkeepingOptions);

/** How a report that did not complete ends. */
function endStatus(error: unknown): Exclude<ReportResult['status'], 'COMPLETED'> {
  if (isCancellation(error)) return 'CANCELLED';
  if (error instanceof ApplicationFailure && error.type === REVIEW_REJECTED) return 'REJECTED';
  return 'FAILED';
}

function describeFailure(stage: Stage, error: unknown): ReportFailure {
  if (isCancellation(error))
    return { stage, errorType: 'Cancelled', message: 'the report was cancelled' };
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    return { stage, errorType: cause.type ?? 'ApplicationFailure', message: cause.message };
  }
  if (cause instanceof Error) return { stage, errorType: cause.name, message: cause.message };
  return { stage, errorType: 'Unknown', message: String(cause) };
}

/**
 * One durable report: LLM → PDF → metadata → email → outbox. Steps that leave something behind
 * register their compensation before they run; a permanent failure or a cancel runs those in
 * reverse order, in a scope a cancel cannot interrupt, and the report ends FAILED or CANCELLED.
 */
export async function GenerateReportWorkflow(request: ReportRequest): Promise<ReportResult> {
  const { callLlm, storeReportMetadata, publishOutcome, deletePdf, markReportRolledBack } =
    reportActivities(workflowInfo().taskQueue);
  const state: ReportProgress = {
    reportId: request.reportId,
    status: 'RUNNING',
    stage: 'callLlm',
    stagesCompleted: [],
    timings: {},
    compensated: [],
  };
  setHandler(progressQuery, () => state);

  const main = new CancellationScope();
  setHandler(cancelSignal, (reason) => {
    log.info('cancel requested', { reportId: request.reportId, reason });
    main.cancel();
  });

  setHandler(
    reviewUpdate,
    (input) => {
      const review = state.review!;
      const decidedAt = Date.now();
      review.decision = {
        decision: input.decision,
        reviewer: input.reviewer,
        automatic: false,
        ...(input.comment ? { comment: input.comment } : {}),
        decidedAt: new Date(decidedAt).toISOString(),
        waitedMs: decidedAt - Date.parse(review.waitingSince),
      };
      return review.decision;
    },
    {
      validator: (input: ReviewDecisionInput) => {
        const refusal = refuseDecision(state.review, state.status === 'AWAITING_REVIEW', input);
        if (refusal) throw ApplicationFailure.create({ ...refusal, nonRetryable: true });
      },
    },
  );

  /**
   * Waits for a reviewer, or until the deadline, when the onTimeout decision is applied and
   * recorded as automatic. The wait is a durable timer: it runs out even while no worker runs.
   * A rejection fails the report, which compensates it like any other failure.
   */
  async function awaitReview(policy: ReviewPolicy): Promise<{ attempt: number }> {
    const waitingSince = Date.now();
    const review: ReviewState = {
      reviewers: policy.reviewers,
      onTimeout: policy.onTimeout,
      waitingSince: new Date(waitingSince).toISOString(),
      deadline: new Date(waitingSince + policy.timeoutSeconds * 1000).toISOString(),
    };
    await openReview({ reportId: request.reportId, review });
    state.review = review;
    state.status = 'AWAITING_REVIEW';
    const remainingMs = Math.max(1, Date.parse(review.deadline) - Date.now());
    try {
      await condition(() => review.decision !== undefined, remainingMs);
      // A decision accepted in the same workflow task as the timer's firing stands: its sender
      // was told it was recorded.
      if (review.decision === undefined) {
        const decidedAt = Date.now();
        review.decision = {
          decision: policy.onTimeout,
          automatic: true,
          decidedAt: new Date(decidedAt).toISOString(),
          waitedMs: decidedAt - waitingSince,
        };
      }
    } finally {
      state.status = 'RUNNING';
    }
    const decision = review.decision;
    await closeReview({ reportId: request.reportId, decision });
    if (decision.decision === 'REJECT')
      throw ApplicationFailure.create({
        type: REVIEW_REJECTED,
        message: `rejected in review: ${describeDecision(decision)}`,
        nonRetryable: true,
      });
    return { attempt: 1 };
  }

  async function step<T extends { attempt: number }>(
    stage: Stage,
    run: () => Promise<T>,
  ): Promise<T> {
    state.stage = stage;
    upsertSearchAttributes([{ key: reportStageKey, value: stage }]);
    const startedAt = Date.now();
    state.timings[stage] = { startedAt: new Date(startedAt).toISOString(), attempts: 1 };
    const result = await run();
    // A step that finished after a cancel was requested still counts as cancelled there.
    if (CancellationScope.current().consideredCancelled)
      throw new CancelledFailure(`cancelled during ${stage}`);
    const finishedAt = Date.now();
    state.timings[stage] = {
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - startedAt,
      attempts: result.attempt,
    };
    state.stagesCompleted.push(stage);
    return result;
  }

  const compensations: { name: string; run: () => Promise<unknown> }[] = [];
  let llm: LlmResult | undefined;
  let pdf: PdfResult | undefined;
  let notification: NotificationResult | undefined;

  try {
    await main.run(async () => {
      llm = await step('callLlm', () =>
        callLlm({
          reportId: request.reportId,
          requesterId: request.requester.id,
          prompt: request.prompt,
          options: request.options,
        }),
      );
      state.usage = llm.usage;
      state.model = llm.model;
      if (llm.modelNote) state.modelNote = llm.modelNote;
      const { title, model, modelNote, usage } = llm;

      compensations.unshift({
        name: 'deletePdf',
        run: () => deletePdf({ reportId: request.reportId }),
      });
      pdf = await step('createPdf', () => createPdf({ request, title, model, modelNote, usage }));

      compensations.unshift({
        name: 'markReportRolledBack',
        run: () =>
          markReportRolledBack({ reportId: request.reportId, failure: state.failure ?? null }),
      });
      const stored = pdf;
      await step('storeReportMetadata', () =>
        storeReportMetadata({
          request,
          title,
          model,
          usage,
          pdf: { bytes: stored.pdf.bytes, pages: stored.pages },
          timings: state.timings,
        }),
      );

      if (request.review) {
        const policy = request.review;
        await step('review', () => awaitReview(policy));
      }

      // Lenient: a notification that cannot be sent is recorded, and the report still completes.
      try {
        notification = await step('sendNotification', () =>
          sendNotification({
            reportId: request.reportId,
            to: request.requester.email,
            title,
            pages: stored.pages,
            model,
            modelNote,
          }),
        );
      } catch (error: unknown) {
        if (isCancellation(error)) throw error;
        const failure = describeFailure('sendNotification', error);
        log.warn('notification failed; the report completes without it', {
          reportId: request.reportId,
          ...failure,
        });
        notification = {
          status: 'FAILED',
          to: request.requester.email,
          alreadySent: false,
          error: failure.message,
        };
      }
      state.notification = notification.status;
    });
  } catch (error: unknown) {
    state.status = endStatus(error);
    state.failure = describeFailure(state.stage === 'done' ? 'publish' : state.stage, error);
    log.warn('report did not complete; compensating', {
      reportId: request.reportId,
      ...state.failure,
    });

    const result = await CancellationScope.nonCancellable(async () => {
      for (const compensation of compensations) {
        try {
          await compensation.run();
          state.compensated.push(compensation.name);
        } catch (compensationError: unknown) {
          log.error('compensation failed', {
            reportId: request.reportId,
            compensation: compensation.name,
            error: String(compensationError),
          });
        }
      }
      const ended: ReportResult = { ...state, status: endStatus(error), stage: 'done' };
      await publishOutcome({ result: ended, idempotencyKey: request.idempotencyKey });
      return ended;
    });
    upsertSearchAttributes([{ key: reportStageKey, value: result.status }]);
    return result;
  }

  const completed: ReportResult = {
    ...state,
    status: 'COMPLETED',
    stage: 'done',
    pdf: pdf && { ref: pdf.pdf, pages: pdf.pages },
    title: llm?.title,
  };
  // Past this point the report is done; a late cancel must not stop it being announced.
  const announce = patched(COMPLETED_ANNOUNCEMENT_PATCH) ? announceCompleted : publishOutcome;
  await CancellationScope.nonCancellable(() =>
    step('publish', () =>
      announce({ result: completed, idempotencyKey: request.idempotencyKey, notification }),
    ),
  );
  state.status = 'COMPLETED';
  state.stage = 'done';
  upsertSearchAttributes([{ key: reportStageKey, value: 'COMPLETED' }]);
  return { ...completed, ...state, status: 'COMPLETED' };
}
