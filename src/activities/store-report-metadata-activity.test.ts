import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreReportMetadataInput } from './store-report-metadata-activity';
import { activityEnvironment, fakeActivities, workflowExecution } from './testing/fakes';

const input = (title: string): StoreReportMetadataInput => ({
  request: {
    reportId: 'r-1',
    idempotencyKey: 'key-1',
    prompt: 'Grid storage',
    requester: { id: 'team-energy', email: 'ada@example.test' },
    options: {},
    requestedAt: '2026-03-01T09:00:00.000Z',
    source: 'test',
  },
  title,
  model: 'test-model-2026-01-01',
  usage: { promptTokens: 12, completionTokens: 34 },
  pdf: { bytes: 2048, pages: 3 },
  timings: {
    callLlm: { startedAt: '2026-03-01T09:00:01.000Z', durationMs: 900, attempts: 1 },
    createPdf: undefined,
  },
});

describe('storeReportMetadata', () => {
  it('stores the report under its id and its workflow, as STORED', async () => {
    const { activities, reports } = fakeActivities();

    const result = await activityEnvironment({ attempt: 3 }).run(
      activities.storeReportMetadata,
      input('Grid storage'),
    );

    assert.deepEqual(result, { attempt: 3 });
    const row = reports.reports.get('r-1');
    assert.equal(row?.status, 'STORED');
    assert.equal(row.workflowId, workflowExecution.workflowId);
    assert.equal(row.idempotencyKey, 'key-1');
    assert.equal(row.requesterEmail, 'ada@example.test');
    assert.equal(row.language, null);
    assert.equal(row.pdfPages, 3);
    assert.deepEqual(row.requestedAt, new Date('2026-03-01T09:00:00.000Z'));
    assert.deepEqual(Object.keys(row.timings), ['callLlm'], 'stages not started are left out');
  });

  it('run again, overwrites the row rather than adding one', async () => {
    const { activities, reports } = fakeActivities();

    await activityEnvironment().run(activities.storeReportMetadata, input('First title'));
    await activityEnvironment({ attempt: 2 }).run(
      activities.storeReportMetadata,
      input('Second title'),
    );

    assert.equal(reports.reports.size, 1);
    assert.equal(reports.reports.get('r-1')?.title, 'Second title');
  });
});
