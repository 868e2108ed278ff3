import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReportProgress, ReportResult } from './report';
import {
  endedAs,
  listedStatus,
  statusOfExecution,
  statusView,
  type ReportExecution,
} from './report-status';

const known = {
  workflowId: 'report-order-1',
  reportId: '3b1f0c2e-7d4a-5e6b-8c9d-0a1b2c3d4e5f',
  startedAt: new Date('2026-11-22T10:00:00.000Z'),
  priority: { priorityKey: 2, fairnessKey: 'team-a', fairnessWeight: 2 },
};
const shown = {
  workflowId: known.workflowId,
  reportId: known.reportId,
  startedAt: '2026-11-22T10:00:00.000Z',
  closedAt: undefined,
  priority: { level: 'HIGH', key: 2, fairnessKey: 'team-a', fairnessWeight: 2 },
};
const timing = { startedAt: '2026-11-22T10:00:01.000Z', attempts: 1 };

const failing: ReportProgress = {
  reportId: known.reportId,
  status: 'FAILED',
  stage: 'sendNotification',
  stagesCompleted: ['callLlm', 'createPdf'],
  timings: { callLlm: timing, createPdf: undefined },
  usage: { promptTokens: 10, completionTokens: 20 },
  model: 'stand-in',
  failure: { stage: 'sendNotification', errorType: 'SmtpDown', message: 'no route' },
  compensated: ['deletePdf'],
};

describe('report status', () => {
  it('maps how an execution ended to a report status when the workflow did not say', () => {
    assert.equal(statusOfExecution('RUNNING'), 'RUNNING');
    assert.equal(statusOfExecution('COMPLETED'), 'COMPLETED');
    assert.equal(statusOfExecution('CANCELLED'), 'CANCELLED');
    for (const ended of ['FAILED', 'TERMINATED', 'TIMED_OUT', 'CONTINUED_AS_NEW', 'UNKNOWN'])
      assert.equal(statusOfExecution(ended), 'FAILED', ended);
  });

  it('shows a running report as RUNNING even once it has marked itself failed', () => {
    const current = { activity: 'sendNotification', attempt: 3, lastFailure: 'no route' };
    const view = statusView({ ...known, state: 'running', progress: failing, current });
    assert.deepEqual(view, {
      ...shown,
      status: 'RUNNING',
      stage: 'sendNotification',
      progress: 2 / 5,
      stagesCompleted: ['callLlm', 'createPdf'],
      timings: { callLlm: timing },
      usage: { promptTokens: 10, completionTokens: 20 },
      model: 'stand-in',
      modelNote: undefined,
      notification: undefined,
      failure: failing.failure,
      compensated: ['deletePdf'],
      current,
    });
  });

  it('shows a report waiting for review as AWAITING_REVIEW, with its deadline, out of six stages', () => {
    const review = {
      reviewers: ['rita'],
      onTimeout: 'REJECT' as const,
      waitingSince: '2026-11-22T10:00:05.000Z',
      deadline: '2026-11-22T11:00:05.000Z',
    };
    const waiting: ReportProgress = {
      reportId: known.reportId,
      status: 'AWAITING_REVIEW',
      stage: 'review',
      stagesCompleted: ['callLlm', 'createPdf', 'storeReportMetadata'],
      timings: {},
      compensated: [],
      review,
    };
    const view = statusView({ ...known, state: 'running', progress: waiting });
    assert.equal(view.status, 'AWAITING_REVIEW');
    assert.equal(view.progress, 3 / 6);
    assert.deepEqual(view.review, review);
    const unanswered = statusView({ ...known, state: 'running', stage: 'review' });
    assert.equal(unanswered.status, 'AWAITING_REVIEW', 'from ReportStage alone');
    assert.deepEqual(listedStatus('RUNNING', 'review'), {
      status: 'AWAITING_REVIEW',
      stage: 'review',
    });
    assert.equal(endedAs('COMPLETED', 'REJECTED'), 'REJECTED');
    assert.deepEqual(listedStatus('COMPLETED', 'REJECTED'), { status: 'REJECTED', stage: 'done' });
  });

  it('shows a running report no worker answered for from its ReportStage alone', () => {
    const running = (stage?: string): ReportExecution => ({ ...known, stage, state: 'running' });
    assert.deepEqual(statusView(running('createPdf')), {
      ...shown,
      status: 'RUNNING',
      stage: 'createPdf',
      progress: 0,
      stagesCompleted: [],
      timings: {},
      compensated: [],
      current: undefined,
    });
    assert.equal(statusView(running('FAILED')).stage, 'callLlm', 'a final status is no stage');
    assert.equal(statusView(running()).stage, 'callLlm');
  });

  it('shows a returned report as its result says, completed at 1', () => {
    const closedAt = new Date('2026-11-22T10:01:00.000Z');
    const result: ReportResult = {
      ...failing,
      status: 'COMPLETED',
      stage: 'done',
      stagesCompleted: ['callLlm', 'createPdf', 'storeReportMetadata', 'sendNotification'],
      notification: 'SENT',
      failure: undefined,
      compensated: [],
      title: 'Quarterly',
    };
    const view = statusView({ ...known, closedAt, state: 'returned', result });
    assert.equal(view.status, 'COMPLETED');
    assert.equal(view.stage, 'done');
    assert.equal(view.progress, 1, 'completed is 1 whether or not publish was counted');
    assert.equal(view.closedAt, '2026-11-22T10:01:00.000Z');
    assert.equal(view.notification, 'SENT');
    assert.ok(!('title' in view), 'the result’s own fields are for /result');

    const cancelled = statusView({
      ...known,
      state: 'returned',
      result: { ...failing, status: 'CANCELLED', stage: 'done' },
    });
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.progress, 2 / 5);
  });

  it('shows a report that ended without a result as failed where ReportStage left it', () => {
    const closedAt = new Date('2026-11-22T10:05:00.000Z');
    assert.deepEqual(
      statusView({
        ...known,
        closedAt,
        stage: 'createPdf',
        state: 'ended',
        executionStatus: 'TERMINATED',
      }),
      {
        ...shown,
        closedAt: '2026-11-22T10:05:00.000Z',
        status: 'FAILED',
        stage: 'done',
        progress: 0,
        stagesCompleted: [],
        timings: {},
        compensated: [],
        failure: {
          stage: 'createPdf',
          errorType: 'WorkflowTerminated',
          message: 'the workflow execution ended as TERMINATED',
        },
      },
    );
    const timedOut = statusView({ ...known, state: 'ended', executionStatus: 'TIMED_OUT' });
    assert.equal(timedOut.status, 'FAILED');
    assert.deepEqual(timedOut.failure, {
      stage: 'callLlm',
      errorType: 'WorkflowTimed_out',
      message: 'the workflow execution ended as TIMED_OUT',
    });
    const cancelled = statusView({
      ...known,
      stage: 'CANCELLED',
      state: 'ended',
      executionStatus: 'CANCELLED',
    });
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.failure?.stage, 'callLlm', 'a final status is no stage');
  });

  it('says how a report that can no longer be cancelled ended, and nothing while it runs', () => {
    assert.equal(endedAs('RUNNING', 'FAILED'), undefined, 'compensating is still running');
    assert.equal(endedAs('COMPLETED', 'CANCELLED'), 'CANCELLED', 'what the workflow wrote');
    assert.equal(endedAs('TERMINATED', 'FAILED'), 'FAILED');
    assert.equal(endedAs('TERMINATED', 'createPdf'), 'FAILED', 'a stage is no status');
    assert.equal(endedAs('CANCELLED', undefined), 'CANCELLED');
    assert.equal(endedAs('COMPLETED', undefined), 'COMPLETED');
  });

  it('lists a report by visibility alone: its stage while running, done once ended', () => {
    assert.deepEqual(listedStatus('RUNNING', 'createPdf'), {
      status: 'RUNNING',
      stage: 'createPdf',
    });
    assert.deepEqual(listedStatus('RUNNING', 'FAILED'), { status: 'RUNNING', stage: 'done' });
    assert.deepEqual(listedStatus('RUNNING', undefined), { status: 'RUNNING', stage: undefined });
    assert.deepEqual(listedStatus('COMPLETED', 'CANCELLED'), {
      status: 'CANCELLED',
      stage: 'done',
    });
    assert.deepEqual(listedStatus('COMPLETED', 'publish'), {
      status: 'COMPLETED',
      stage: 'publish',
    });
    assert.deepEqual(listedStatus('TERMINATED', 'CANCELLED'), { status: 'FAILED', stage: 'done' });
    assert.deepEqual(listedStatus('CANCELLED', undefined), {
      status: 'CANCELLED',
      stage: undefined,
    });
  });
});
