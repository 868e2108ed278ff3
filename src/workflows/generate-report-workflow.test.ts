import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { temporalCli } from '../../stack/provision';
import type { ReportActivities } from '../activities';
import { reportIdsFor } from '../domain/ids';
import { NON_RETRYABLE, stagesOf, STAGES, type FileRef, type Stage } from '../domain/report';
import { REVIEW_REFUSALS, type ReviewPolicy } from '../domain/review';
import { llmTaskQueueFor } from '../domain/task-queues';
import { decideReview } from '../temporal/review-decisions';
import { startReport } from '../temporal/start-report';
import { ReportWorker } from '../worker/create-worker';
import {
  cancelSignal,
  progressQuery,
  type GenerateReportWorkflow,
} from './generate-report-workflow';
import { idempotencyKeyKey, reportStageKey, requesterIdKey } from './search-attributes';

/**
 * GenerateReportWorkflow on Temporal's dev server with the service's own workers and mocked
 * activities: every saga path, quickly, without Docker. The server and the workers are shared
 * by the file's tests; each test scripts the activities of its own report by reportId.
 */

type ActivityName = keyof ReportActivities;
type InputOf<K extends ActivityName> = Parameters<ReportActivities[K]>[0];
type Script = Partial<ReportActivities>;

interface Call {
  name: ActivityName;
  input: unknown;
  taskQueue: string;
  isLocal: boolean;
  attempt: number;
  /** performance.now() when it started. */
  at: number;
}

const namespace = 'report-pipeline-test';
const taskQueue = `generate-report-workflow-test-${randomUUID()}`;
const scripts = new Map<string, Script>();
const calls = new Map<string, Call[]>();

const fileRef = (reportId: string, kind: FileRef['kind']): FileRef => ({
  reportId,
  kind,
  bytes: 2048,
  sha256: '0'.repeat(64),
});

/** What each activity does unless a test scripts it otherwise: the report succeeds. */
const succeeding: ReportActivities = {
  callLlm: async (input) => ({
    content: fileRef(input.reportId, 'content'),
    model: 'test-model',
    usage: { promptTokens: 12, completionTokens: 340 },
    title: 'Quarterly revenue',
    called: true,
    attempt: Context.current().info.attempt,
  }),
  createPdf: async (input) => ({
    pdf: fileRef(input.request.reportId, 'pdf'),
    pages: 3,
    renderMs: 40,
    unrenderableChars: 0,
    attempt: Context.current().info.attempt,
  }),
  storeReportMetadata: async () => ({ attempt: Context.current().info.attempt }),
  sendNotification: async (input) => ({
    status: 'SENT',
    messageId: `<report-${input.reportId}@example.test>`,
    to: input.to,
    subject: `Your report is ready: ${input.title}`,
    alreadySent: false,
    attempt: Context.current().info.attempt,
  }),
  publishOutcome: async () => ({
    eventsQueued: 2,
    eventIds: [],
    attempt: Context.current().info.attempt,
  }),
  deletePdf: async () => ({ deleted: true }),
  markReportRolledBack: async () => ({ marked: true }),
  openReview: async () => undefined,
  closeReview: async () => ({ recorded: true }),
};

/** Records the call, then runs the test's script for the report, or the succeeding activity. */
function run<K extends ActivityName>(
  name: K,
  reportId: string,
  input: InputOf<K>,
): ReturnType<ReportActivities[K]> {
  const { taskQueue, isLocal, attempt } = Context.current().info;
  calls.get(reportId)?.push({ name, input, taskQueue, isLocal, attempt, at: performance.now() });
  const activity = (scripts.get(reportId)?.[name] ?? succeeding[name]) as (
    input: InputOf<K>,
  ) => ReturnType<ReportActivities[K]>;
  return activity(input);
}

const activities: ReportActivities = {
  callLlm: (input) => run('callLlm', input.reportId, input),
  createPdf: (input) => run('createPdf', input.request.reportId, input),
  storeReportMetadata: (input) => run('storeReportMetadata', input.request.reportId, input),
  sendNotification: (input) => run('sendNotification', input.reportId, input),
  publishOutcome: (input) => run('publishOutcome', input.result.reportId, input),
  deletePdf: (input) => run('deletePdf', input.reportId, input),
  markReportRolledBack: (input) => run('markReportRolledBack', input.reportId, input),
  openReview: (input) => run('openReview', input.reportId, input),
  closeReview: (input) => run('closeReview', input.reportId, input),
};

/**
 * Holds an activity in progress until the test opens it or the activity is cancelled
 * (heartbeating, as the long activities do, so that a cancel can reach it).
 */
class Gate {
  readonly entered = Promise.withResolvers<void>();
  /** How and when the held activity ended. */
  readonly left = Promise.withResolvers<{ how: 'opened' | 'cancelled'; at: number }>();
  private readonly opened = Promise.withResolvers<void>();

  open(): void {
    this.opened.resolve();
  }

  async pass(): Promise<void> {
    const context = Context.current();
    this.entered.resolve();
    const beat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(), 200);
    try {
      await Promise.race([this.opened.promise, context.cancelled]);
      this.left.resolve({ how: 'opened', at: performance.now() });
    } catch (error: unknown) {
      // It takes a moment to stop, as a render or a transaction does, so a workflow that
      // compensated without waiting for it would be caught.
      await sleep(300);
      this.left.resolve({ how: 'cancelled', at: performance.now() });
      throw error;
    } finally {
      clearInterval(beat);
    }
  }

  /** A script that holds `name` at this gate, then lets it succeed. */
  holding<K extends ActivityName>(name: K): Script {
    const activity = succeeding[name] as (input: InputOf<K>) => ReturnType<ReportActivities[K]>;
    const held = async (input: InputOf<K>) => {
      await this.pass();
      return activity(input);
    };
    return { [name]: held };
  }
}

let env: TestWorkflowEnvironment;
let worker: ReportWorker;
let running: Promise<void>;

before(async () => {
  // Tests fail activities on purpose, which the SDK logs as warnings.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: await temporalCli() },
      namespace,
      searchAttributes: [reportStageKey, requesterIdKey, idempotencyKeyKey],
      log: { format: 'json', level: 'error' },
    },
  });
  worker = await ReportWorker.create({
    connection: env.nativeConnection,
    namespace,
    taskQueue,
    activities,
    shutdownGraceTime: '1 second',
  });
  running = worker.run();
});

after(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

async function startWith(
  script: Script = {},
  review?: ReviewPolicy,
): Promise<{
  reportId: string;
  handle: WorkflowHandle<typeof GenerateReportWorkflow>;
}> {
  const idempotencyKey = `workflow-test-${randomUUID()}`;
  const { reportId } = reportIdsFor(idempotencyKey);
  scripts.set(reportId, script);
  calls.set(reportId, []);
  const { handle } = await startReport(env.client, taskQueue, {
    idempotencyKey,
    prompt: 'Summarise the quarter in two pages.',
    requester: { id: 'requester-7', email: 'ada@example.test' },
    options: {},
    requestedAt: new Date().toISOString(),
    source: 'test',
    ...(review ? { review } : {}),
  });
  return { reportId, handle };
}

const callsOf = (reportId: string): Call[] => calls.get(reportId) ?? [];
const namesOf = (reportId: string): ActivityName[] => callsOf(reportId).map((c) => c.name);
const inputsOf = <K extends ActivityName>(reportId: string, name: K): InputOf<K>[] =>
  callsOf(reportId)
    .filter((c) => c.name === name)
    .map((c) => c.input as InputOf<K>);

async function reportStage(handle: WorkflowHandle): Promise<string | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(reportStageKey);
}

/**
 * The steps a cancel can stop, the undo steps registered by the time each runs, and whether
 * the workflow waits for a cancelled step to stop before undoing (WAIT_CANCELLATION_COMPLETED).
 */
const steps: {
  stage: Exclude<Stage, 'publish' | 'review'>;
  before: Stage[];
  compensated: string[];
  waitsForStop: boolean;
}[] = [
  { stage: 'callLlm', before: [], compensated: [], waitsForStop: false },
  { stage: 'createPdf', before: ['callLlm'], compensated: ['deletePdf'], waitsForStop: true },
  {
    stage: 'storeReportMetadata',
    before: ['callLlm', 'createPdf'],
    compensated: ['markReportRolledBack', 'deletePdf'],
    waitsForStop: true,
  },
  {
    stage: 'sendNotification',
    before: ['callLlm', 'createPdf', 'storeReportMetadata'],
    compensated: ['markReportRolledBack', 'deletePdf'],
    waitsForStop: false,
  },
];

const cancels = [
  {
    how: 'the cancel signal',
    cancel: (handle: WorkflowHandle) => handle.signal(cancelSignal, 'requester changed their mind'),
  },
  { how: 'cancelling the workflow', cancel: (handle: WorkflowHandle) => handle.cancel() },
];

describe('GenerateReportWorkflow', { concurrency: true }, () => {
  it('completes every stage, routes each activity to its queue, and publishes the notification', async () => {
    const { reportId, handle } = await startWith();
    const result = await handle.result();

    assert.equal(result.status, 'COMPLETED');
    assert.equal(result.stage, 'done');
    assert.deepEqual(result.stagesCompleted, [...stagesOf(false)]);
    assert.deepEqual(result.compensated, []);
    assert.equal(result.failure, undefined);
    assert.equal(result.notification, 'SENT');
    assert.equal(result.title, 'Quarterly revenue');
    assert.deepEqual(result.pdf, { ref: fileRef(reportId, 'pdf'), pages: 3 });
    assert.deepEqual(namesOf(reportId), [...stagesOf(false).slice(0, -1), 'publishOutcome']);
    assert.deepEqual(
      callsOf(reportId).map(({ name, taskQueue, isLocal }) => ({ name, taskQueue, isLocal })),
      [
        { name: 'callLlm', taskQueue: llmTaskQueueFor(taskQueue), isLocal: false },
        { name: 'createPdf', taskQueue, isLocal: false },
        { name: 'storeReportMetadata', taskQueue, isLocal: true },
        { name: 'sendNotification', taskQueue, isLocal: false },
        // Announcing COMPLETED is an ordinary activity: see COMPLETED_ANNOUNCEMENT_PATCH.
        { name: 'publishOutcome', taskQueue, isLocal: false },
      ],
    );
    const [published] = inputsOf(reportId, 'publishOutcome');
    assert.equal(published?.result.status, 'COMPLETED');
    assert.equal(published?.notification?.status, 'SENT');
    assert.equal(published?.notification?.to, 'ada@example.test');
    assert.equal(await reportStage(handle), 'COMPLETED');
  });

  describe('a step that fails for good', { concurrency: true }, () => {
    it('callLlm refused by the provider: FAILED at once, nothing to compensate', async () => {
      const { reportId, handle } = await startWith({
        callLlm: async () => {
          throw ApplicationFailure.create({
            type: NON_RETRYABLE.llmRejected,
            message: 'LLM refused the request (400): context length exceeded',
          });
        },
      });
      const result = await handle.result();

      assert.equal(result.status, 'FAILED');
      assert.deepEqual(result.failure, {
        stage: 'callLlm',
        errorType: NON_RETRYABLE.llmRejected,
        message: 'LLM refused the request (400): context length exceeded',
      });
      assert.deepEqual(result.compensated, []);
      // Its type alone stops the retries: the workflow's policy lists it.
      assert.deepEqual(namesOf(reportId), ['callLlm', 'publishOutcome']);
      const [published] = inputsOf(reportId, 'publishOutcome');
      assert.equal(published?.result.status, 'FAILED');
      assert.deepEqual(published?.result.failure, result.failure);
      assert.equal(await reportStage(handle), 'FAILED');
    });

    it('createPdf without its content: FAILED, and the PDF it may have stored is deleted', async () => {
      const { reportId, handle } = await startWith({
        createPdf: async (input) => {
          throw ApplicationFailure.create({
            type: NON_RETRYABLE.missingArtefact,
            message: `no LLM content stored for report ${input.request.reportId}`,
          });
        },
      });
      const result = await handle.result();

      assert.equal(result.status, 'FAILED');
      assert.deepEqual(result.failure, {
        stage: 'createPdf',
        errorType: NON_RETRYABLE.missingArtefact,
        message: `no LLM content stored for report ${reportId}`,
      });
      assert.deepEqual(result.compensated, ['deletePdf']);
      assert.deepEqual(namesOf(reportId), ['callLlm', 'createPdf', 'deletePdf', 'publishOutcome']);
      assert.deepEqual(inputsOf(reportId, 'publishOutcome')[0]?.result.compensated, ['deletePdf']);
      assert.equal(await reportStage(handle), 'FAILED');
    });

    it('storeReportMetadata failing every attempt: FAILED after 3, both undone in reverse order, no email', async () => {
      const { reportId, handle } = await startWith({
        storeReportMetadata: async () => {
          throw new Error('permission denied for table reports');
        },
      });
      const result = await handle.result();

      assert.equal(result.status, 'FAILED');
      assert.deepEqual(result.failure, {
        stage: 'storeReportMetadata',
        errorType: 'Error',
        message: 'permission denied for table reports',
      });
      assert.deepEqual(result.compensated, ['markReportRolledBack', 'deletePdf']);
      assert.deepEqual(namesOf(reportId), [
        'callLlm',
        'createPdf',
        'storeReportMetadata',
        'storeReportMetadata',
        'storeReportMetadata',
        'markReportRolledBack',
        'deletePdf',
        'publishOutcome',
      ]);
      assert.deepEqual(
        callsOf(reportId)
          .filter((c) => c.name === 'storeReportMetadata')
          .map((c) => c.attempt),
        [1, 2, 3],
      );
      assert.deepEqual(inputsOf(reportId, 'markReportRolledBack'), [
        { reportId, failure: result.failure },
      ]);
      const [published] = inputsOf(reportId, 'publishOutcome');
      assert.equal(published?.result.status, 'FAILED');
      assert.deepEqual(published?.result.compensated, ['markReportRolledBack', 'deletePdf']);
      assert.equal(await reportStage(handle), 'FAILED');
    });

    it('sendNotification rejected by the mail server: the report still completes, its notification FAILED', async () => {
      const { reportId, handle } = await startWith({
        sendNotification: async () => {
          throw ApplicationFailure.create({
            type: 'SmtpRejected',
            message: '550 mailbox unavailable',
          });
        },
      });
      const result = await handle.result();

      assert.equal(result.status, 'COMPLETED');
      assert.equal(result.notification, 'FAILED');
      assert.equal(result.failure, undefined);
      assert.deepEqual(result.compensated, []);
      assert.deepEqual(result.stagesCompleted, [
        'callLlm',
        'createPdf',
        'storeReportMetadata',
        'publish',
      ]);
      assert.deepEqual(namesOf(reportId), [...stagesOf(false).slice(0, -1), 'publishOutcome']);
      const [published] = inputsOf(reportId, 'publishOutcome');
      assert.equal(published?.result.status, 'COMPLETED');
      assert.deepEqual(published?.notification, {
        status: 'FAILED',
        to: 'ada@example.test',
        alreadySent: false,
        error: '550 mailbox unavailable',
      });
      assert.equal(await reportStage(handle), 'COMPLETED');
    });

    it('publishOutcome failing once is retried, and the report completes', async () => {
      let failures = 0;
      const { reportId, handle } = await startWith({
        publishOutcome: async (input) => {
          if (failures++ === 0) throw new Error('connection terminated unexpectedly');
          return succeeding.publishOutcome(input);
        },
      });
      const result = await handle.result();

      assert.equal(result.status, 'COMPLETED');
      assert.deepEqual(result.stagesCompleted, [...stagesOf(false)]);
      const publishes = callsOf(reportId).filter((c) => c.name === 'publishOutcome');
      assert.deepEqual(
        publishes.map((c) => c.attempt),
        [1, 2],
      );
      assert.equal(result.timings.publish?.attempts, 2);
      assert.equal(await reportStage(handle), 'COMPLETED');
    });
  });

  for (const { how, cancel } of cancels) {
    describe(`cancelled by ${how}`, { concurrency: true }, () => {
      for (const step of steps) {
        it(`during ${step.stage}: CANCELLED, undoing ${step.compensated.join(' then ') || 'nothing'}`, async () => {
          const gate = new Gate();
          const { reportId, handle } = await startWith(gate.holding(step.stage));
          try {
            await gate.entered.promise;
            // A local activity runs inside the workflow task that records its stage, so the
            // server sees the stage only once it ends. For the same reason a cancel reaches it
            // only at that task's heartbeat, some 8 s later.
            if (step.stage !== 'storeReportMetadata') {
              assert.equal(await reportStage(handle), step.stage);
            }
            await cancel(handle);
            const result = await handle.result();

            assert.equal(result.status, 'CANCELLED');
            assert.deepEqual(result.failure, {
              stage: step.stage,
              errorType: 'Cancelled',
              message: 'the report was cancelled',
            });
            assert.deepEqual(result.stagesCompleted, step.before);
            assert.deepEqual(result.compensated, step.compensated);
            assert.deepEqual(namesOf(reportId), [
              ...step.before,
              step.stage,
              ...step.compensated,
              'publishOutcome',
            ]);
            const [published] = inputsOf(reportId, 'publishOutcome');
            assert.equal(published?.result.status, 'CANCELLED');
            assert.deepEqual(published?.result.compensated, step.compensated);
            assert.equal(await reportStage(handle), 'CANCELLED');
            if (step.waitsForStop) {
              const stopped = await gate.left.promise;
              assert.equal(stopped.how, 'cancelled');
              const undo = callsOf(reportId).find((c) => c.name === step.compensated[0]);
              assert.ok(undo && undo.at >= stopped.at, 'nothing is undone before the step stops');
            }
          } finally {
            gate.open();
          }
        });
      }
    });
  }

  describe('cancelled while the completed report is published', { concurrency: true }, () => {
    const ways = [
      { how: 'by cancelling the workflow', cancel: (h: WorkflowHandle) => h.cancel() },
      // Regression: announced by a local activity, COMPLETED was then rolled back and announced
      // CANCELLED (the server refused the workflow task the signal arrived in, and its replay
      // applied the signal first).
      {
        how: 'by the cancel signal',
        cancel: (h: WorkflowHandle) => h.signal(cancelSignal, 'too late'),
      },
    ];
    for (const { how, cancel } of ways) {
      it(`${how}: still COMPLETED, and announced COMPLETED once`, async () => {
        const gate = new Gate();
        const { reportId, handle } = await startWith(gate.holding('publishOutcome'));
        try {
          await gate.entered.promise;
          await cancel(handle);
          await sleep(300);
          gate.open();
          const result = await handle.result();

          assert.equal(result.status, 'COMPLETED');
          assert.deepEqual(result.stagesCompleted, [...stagesOf(false)]);
          assert.deepEqual(result.compensated, []);
          assert.equal((await gate.left.promise).how, 'opened');
          assert.deepEqual(
            inputsOf(reportId, 'publishOutcome').map((p) => p.result.status),
            ['COMPLETED'],
          );
          assert.deepEqual(
            namesOf(reportId).filter((name) => name !== 'publishOutcome'),
            stagesOf(false).slice(0, -1),
          );
          assert.equal(await reportStage(handle), 'COMPLETED');
        } finally {
          gate.open();
        }
      });
    }
  });
  describe('held for review', { concurrency: true }, () => {
    const policy = (overrides: Partial<ReviewPolicy> = {}): ReviewPolicy => ({
      reviewers: ['rita', 'omar'],
      timeoutSeconds: 600,
      onTimeout: 'REJECT',
      ...overrides,
    });
    const decide = (
      handle: WorkflowHandle,
      reviewer: string,
      decision: 'APPROVE' | 'REJECT',
      comment?: string,
    ) => decideReview(env.client, handle.workflowId, { reviewer, decision, comment }, 10_000);

    /** Polls the progress query until the report waits for its decision. */
    async function awaitingReview(handle: WorkflowHandle): Promise<void> {
      for (let i = 0; i < 200; i++) {
        if ((await handle.query(progressQuery)).status === 'AWAITING_REVIEW') return;
        await sleep(50);
      }
      assert.fail('the report never waited for review');
    }

    it('approved by a reviewer: waits after the PDF is stored, then mails and completes with the decision recorded', async () => {
      const gate = new Gate();
      const { reportId, handle } = await startWith(gate.holding('createPdf'), policy());
      try {
        await gate.entered.promise;
        const early = await decide(handle, 'rita', 'APPROVE');
        assert.equal(early.outcome, 'refused', 'no decision before the report waits for one');
        assert.equal(early.outcome === 'refused' && early.refusal, REVIEW_REFUSALS.notPending);
      } finally {
        gate.open();
      }
      await awaitingReview(handle);
      const waiting = await handle.query(progressQuery);
      assert.equal(waiting.stage, 'review');
      assert.deepEqual(waiting.stagesCompleted, ['callLlm', 'createPdf', 'storeReportMetadata']);
      assert.deepEqual(waiting.review?.reviewers, ['rita', 'omar']);
      assert.equal(
        Date.parse(waiting.review.deadline) - Date.parse(waiting.review.waitingSince),
        600_000,
      );
      assert.equal(await reportStage(handle), 'review');
      assert.ok(!namesOf(reportId).includes('sendNotification'), 'nothing is mailed while waiting');

      const stranger = await decide(handle, 'mallory', 'APPROVE');
      assert.equal(
        stranger.outcome === 'refused' && stranger.refusal,
        REVIEW_REFUSALS.reviewerNotAllowed,
      );
      assert.equal(
        (await handle.query(progressQuery)).review?.decision,
        undefined,
        'nothing recorded',
      );

      const approved = await decide(handle, 'omar', 'APPROVE', 'figures checked');
      assert.equal(approved.outcome, 'decided');
      const second = await decide(handle, 'rita', 'REJECT', 'too late');
      assert.equal(second.outcome === 'refused' && second.refusal, REVIEW_REFUSALS.notPending);
      assert.match(
        second.outcome === 'refused' ? second.message : '',
        /already decided: APPROVE by omar/,
      );
      const again = await decide(handle, 'omar', 'APPROVE', 'figures checked');
      assert.deepEqual(again, approved, 'the same decision sent again gets the same answer');

      const result = await handle.result();
      assert.equal(result.status, 'COMPLETED');
      assert.deepEqual(result.stagesCompleted, [...STAGES]);
      const decision = result.review?.decision;
      assert.equal(decision?.decision, 'APPROVE');
      assert.equal(decision?.reviewer, 'omar');
      assert.equal(decision?.automatic, false);
      assert.equal(decision?.comment, 'figures checked');
      assert.deepEqual(namesOf(reportId), [
        'callLlm',
        'createPdf',
        'storeReportMetadata',
        'openReview',
        'closeReview',
        'sendNotification',
        'publishOutcome',
      ]);
      assert.deepEqual(inputsOf(reportId, 'closeReview')[0]?.decision, decision);
      assert.deepEqual(inputsOf(reportId, 'publishOutcome')[0]?.result.review?.decision, decision);
      assert.equal(await reportStage(handle), 'COMPLETED');
    });

    it('rejected by a reviewer: REJECTED, compensated like a failure, never mailed, and says who and why', async () => {
      const { reportId, handle } = await startWith({}, policy({ onTimeout: 'APPROVE' }));
      await awaitingReview(handle);
      assert.equal(
        (await decide(handle, 'rita', 'REJECT', 'the sources are made up')).outcome,
        'decided',
      );
      const result = await handle.result();

      assert.equal(result.status, 'REJECTED');
      assert.equal(result.failure?.stage, 'review');
      assert.equal(result.failure?.errorType, 'ReviewRejected');
      assert.match(result.failure?.message ?? '', /REJECT by rita .*: the sources are made up/);
      assert.deepEqual(result.compensated, ['markReportRolledBack', 'deletePdf']);
      assert.ok(!namesOf(reportId).includes('sendNotification'));
      const [published] = inputsOf(reportId, 'publishOutcome');
      assert.equal(published?.result.status, 'REJECTED');
      assert.equal(published?.result.review?.decision?.reviewer, 'rita');
      assert.equal(published?.notification, undefined);
      assert.equal(await reportStage(handle), 'REJECTED');
    });

    for (const onTimeout of ['APPROVE', 'REJECT'] as const) {
      it(`nobody decides in time: ${onTimeout} is applied, recorded as automatic`, async () => {
        const { reportId, handle } = await startWith({}, policy({ timeoutSeconds: 1, onTimeout }));
        const result = await handle.result();

        assert.equal(result.status, onTimeout === 'APPROVE' ? 'COMPLETED' : 'REJECTED');
        const decision = result.review?.decision;
        assert.equal(decision?.decision, onTimeout);
        assert.equal(decision?.automatic, true);
        assert.equal(decision?.reviewer, undefined);
        assert.ok((decision?.waitedMs ?? 0) >= 1000, `waited ${decision?.waitedMs} ms`);
        assert.equal(namesOf(reportId).includes('sendNotification'), onTimeout === 'APPROVE');
        assert.deepEqual(inputsOf(reportId, 'closeReview')[0]?.decision, decision);
        if (onTimeout === 'REJECT')
          assert.match(result.failure?.message ?? '', /REJECT automatically/);
      });
    }

    it('cancelled while waiting: CANCELLED and compensated; a decision afterwards is refused', async () => {
      const { reportId, handle } = await startWith({}, policy());
      await awaitingReview(handle);
      await handle.signal(cancelSignal, 'no longer needed');
      const result = await handle.result();

      assert.equal(result.status, 'CANCELLED');
      assert.equal(result.failure?.stage, 'review');
      assert.deepEqual(result.compensated, ['markReportRolledBack', 'deletePdf']);
      assert.ok(!namesOf(reportId).includes('closeReview'));
      assert.equal((await decide(handle, 'rita', 'APPROVE')).outcome, 'ended');
    });
  });
});
