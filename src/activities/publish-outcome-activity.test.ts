import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventIdFor } from '../domain/ids';
import type { ReportFailure, ReportResult } from '../domain/report';
import type { PublishOutcomeInput } from './publish-outcome-activity';
import {
  activityEnvironment,
  eventTopics,
  fakeActivities,
  type InMemoryReportStore,
  workflowExecution,
} from './testing/fakes';

const { workflowId, runId } = workflowExecution;
const eventId = (type: string): string => eventIdFor(workflowId, runId, type);

const completed: ReportResult = {
  reportId: 'r-1',
  status: 'COMPLETED',
  stage: 'done',
  stagesCompleted: ['callLlm', 'createPdf', 'storeReportMetadata', 'sendNotification'],
  timings: {
    callLlm: { startedAt: '2026-03-01T09:00:01.000Z', durationMs: 900, attempts: 1 },
    createPdf: { startedAt: '2026-03-01T09:00:02.000Z', durationMs: 120, attempts: 1 },
    publish: { startedAt: '2026-03-01T09:00:03.000Z', attempts: 1 },
  },
  usage: { promptTokens: 12, completionTokens: 34 },
  model: 'test-model-2026-01-01',
  notification: 'SENT',
  compensated: [],
  pdf: { ref: { reportId: 'r-1', kind: 'pdf', bytes: 2048, sha256: '0'.repeat(64) }, pages: 3 },
  title: 'Grid storage',
};

const failure: ReportFailure = {
  stage: 'storeReportMetadata',
  errorType: 'Error',
  message: 'permission denied',
};

const failed: ReportResult = {
  reportId: 'r-1',
  status: 'FAILED',
  stage: 'storeReportMetadata',
  stagesCompleted: ['callLlm', 'createPdf'],
  timings: {},
  failure,
  compensated: ['markReportRolledBack', 'deletePdf'],
};

const sent: PublishOutcomeInput['notification'] = {
  status: 'SENT',
  to: 'ada@example.test',
  messageId: '<report-r-1@example.test>',
  subject: 'Your report is ready: Grid storage',
};

async function storeReport(reports: InMemoryReportStore): Promise<void> {
  await reports.upsertStored({
    id: 'r-1',
    workflowId,
    idempotencyKey: 'key-1',
    title: 'Grid storage',
    prompt: 'Grid storage',
    requesterId: 'team-energy',
    requesterEmail: 'ada@example.test',
    model: 'test-model-2026-01-01',
    language: null,
    promptTokens: 12,
    completionTokens: 34,
    pdfBytes: 2048,
    pdfPages: 3,
    requestedAt: new Date(),
    timings: {},
  });
}

describe('publishOutcome', () => {
  it('COMPLETED: records the outcome and queues ReportCompleted and EmailNotification, keyed by report', async () => {
    const { activities, reports } = fakeActivities();
    await storeReport(reports);

    const result = await activityEnvironment().run(activities.publishOutcome, {
      result: completed,
      idempotencyKey: 'key-1',
      notification: sent,
    });

    assert.deepEqual(result, {
      eventsQueued: 2,
      eventIds: [eventId('ReportCompleted'), eventId('EmailNotification')],
      attempt: 1,
    });
    assert.deepEqual(
      reports.outbox.map((e) => [e.eventType, e.topic, e.messageKey, e.eventId]),
      [
        ['ReportCompleted', eventTopics.ReportCompleted.topic, 'r-1', eventId('ReportCompleted')],
        [
          'EmailNotification',
          eventTopics.EmailNotification.topic,
          'r-1',
          eventId('EmailNotification'),
        ],
      ],
    );
    const [done, email] = reports.outbox;
    assert.deepEqual(
      { ...done?.payload, completedAt: 0 },
      {
        eventId: eventId('ReportCompleted'),
        reportId: 'r-1',
        workflowId,
        idempotencyKey: 'key-1',
        pdf: { url: 'https://reports.example.test/api/reports/r-1/pdf', bytes: 2048, pages: 3 },
        usage: { promptTokens: 12, completionTokens: 34 },
        model: 'test-model-2026-01-01',
        timings: { callLlm: 900, createPdf: 120 },
        completedAt: 0,
        review: null,
      },
    );
    assert.deepEqual(
      { ...email?.payload, at: 0 },
      {
        eventId: eventId('EmailNotification'),
        reportId: 'r-1',
        to: 'ada@example.test',
        subject: 'Your report is ready: Grid storage',
        messageId: '<report-r-1@example.test>',
        status: 'SENT',
        at: 0,
      },
    );
    const row = reports.reports.get('r-1');
    assert.equal(row?.status, 'COMPLETED');
    assert.equal(row.notificationStatus, 'SENT');
    assert.deepEqual(Object.keys(row.timings), ['callLlm', 'createPdf', 'publish']);
  });

  it('FAILED: queues ReportFailed naming the stage and the compensations, and no email event', async () => {
    const { activities, reports } = fakeActivities();

    const result = await activityEnvironment().run(activities.publishOutcome, {
      result: failed,
      idempotencyKey: 'key-1',
    });

    assert.deepEqual(result.eventIds, [eventId('ReportFailed')]);
    const [event] = reports.outbox;
    assert.equal(reports.outbox.length, 1);
    assert.deepEqual(
      [event?.eventType, event?.topic, event?.messageKey],
      ['ReportFailed', eventTopics.ReportFailed.topic, 'r-1'],
    );
    assert.deepEqual(
      { ...event?.payload, failedAt: 0 },
      {
        eventId: eventId('ReportFailed'),
        reportId: 'r-1',
        idempotencyKey: 'key-1',
        stage: 'storeReportMetadata',
        errorType: 'Error',
        message: 'permission denied',
        compensated: ['markReportRolledBack', 'deletePdf'],
        failedAt: 0,
        review: null,
      },
    );
  });

  it('FAILED after a notification was tried: EmailNotification is queued with its outcome', async () => {
    const { activities, reports } = fakeActivities();

    await activityEnvironment().run(activities.publishOutcome, {
      result: { ...failed, stage: 'publish', failure: { ...failure, stage: 'publish' } },
      idempotencyKey: 'key-1',
      notification: { status: 'FAILED', to: 'ada@example.test' },
    });

    const email = reports.outbox.find((e) => e.eventType === 'EmailNotification');
    assert.equal(email?.topic, eventTopics.EmailNotification.topic);
    assert.deepEqual(
      { ...email.payload, at: 0 },
      {
        eventId: eventId('EmailNotification'),
        reportId: 'r-1',
        to: 'ada@example.test',
        subject: 'Your report is ready: r-1',
        messageId: '<report-r-1@example.test>',
        status: 'FAILED',
        at: 0,
      },
    );
  });

  it('CANCELLED: queues ReportFailed with errorType Cancelled', async () => {
    const { activities, reports } = fakeActivities();
    await storeReport(reports);

    await activityEnvironment().run(activities.publishOutcome, {
      result: { ...failed, status: 'CANCELLED', failure: undefined, stage: 'createPdf' },
      idempotencyKey: 'key-1',
    });

    const [event] = reports.outbox;
    assert.equal(event?.eventType, 'ReportFailed');
    assert.equal(event.topic, eventTopics.ReportFailed.topic);
    assert.deepEqual(
      { ...event.payload, failedAt: 0 },
      {
        eventId: eventId('ReportFailed'),
        reportId: 'r-1',
        idempotencyKey: 'key-1',
        stage: 'callLlm',
        errorType: 'Cancelled',
        message: 'CANCELLED',
        compensated: ['markReportRolledBack', 'deletePdf'],
        failedAt: 0,
        review: null,
      },
    );
    assert.equal(reports.reports.get('r-1')?.status, 'CANCELLED');
  });

  it('REJECTED in review: ReportFailed says who rejected it and why, and the row keeps REJECTED', async () => {
    const { activities, reports } = fakeActivities();
    const decidedAt = '2026-11-23T10:00:00.000Z';
    await activityEnvironment().run(activities.publishOutcome, {
      result: {
        ...failed,
        status: 'REJECTED',
        failure: { stage: 'review', errorType: 'ReviewRejected', message: 'rejected in review' },
        review: {
          reviewers: ['rita'],
          onTimeout: 'APPROVE',
          waitingSince: '2026-11-23T09:00:00.000Z',
          deadline: '2026-11-23T11:00:00.000Z',
          decision: {
            decision: 'REJECT',
            reviewer: 'rita',
            automatic: false,
            comment: 'made-up sources',
            decidedAt,
            waitedMs: 3_600_000,
          },
        },
      },
      idempotencyKey: 'key-1',
    });

    const [event] = reports.outbox;
    assert.equal(event?.eventType, 'ReportFailed');
    assert.deepEqual(
      { ...event.payload, failedAt: 0 },
      {
        eventId: eventId('ReportFailed'),
        reportId: 'r-1',
        idempotencyKey: 'key-1',
        stage: 'review',
        errorType: 'ReviewRejected',
        message: 'rejected in review',
        compensated: failed.compensated,
        failedAt: 0,
        review: {
          decision: 'REJECT',
          reviewer: 'rita',
          automatic: false,
          comment: 'made-up sources',
          decidedAt: Date.parse(decidedAt),
        },
      },
    );
  });

  it('run again, queues nothing new: the event ids come from the workflow run', async () => {
    const { activities, reports } = fakeActivities();
    await storeReport(reports);
    const input = { result: completed, idempotencyKey: 'key-1', notification: sent };

    const first = await activityEnvironment().run(activities.publishOutcome, input);
    const again = await activityEnvironment({ attempt: 2 }).run(activities.publishOutcome, input);

    assert.equal(first.eventsQueued, 2);
    assert.equal(again.eventsQueued, 0);
    assert.deepEqual(again.eventIds, first.eventIds);
    assert.equal(reports.outbox.length, 2);
  });

  it('a new run of the workflow announces its own outcome', async () => {
    const { activities, reports } = fakeActivities();
    const input = { result: failed, idempotencyKey: 'key-1' };

    await activityEnvironment().run(activities.publishOutcome, input);
    await activityEnvironment({
      workflowExecution: { workflowId, runId: '0f5e8a4c-2b1d-4e6f-8a9b-7c3d2e1f0a5b' },
    }).run(activities.publishOutcome, input);

    assert.equal(new Set(reports.outbox.map((e) => e.eventId)).size, 2);
  });
});
