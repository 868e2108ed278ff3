import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReportFailure } from '../domain/report';
import { activityEnvironment, fakeActivities } from './testing/fakes';

const failure: ReportFailure = {
  stage: 'storeReportMetadata',
  errorType: 'Error',
  message: 'permission denied for table reports',
};

describe('compensation activities', () => {
  it('deletePdf deletes the PDF only, and says so once', async () => {
    const { activities, files } = fakeActivities();
    await files.save('r-1', 'content', Buffer.from('# Grid storage'), 'text/markdown');
    await files.save('r-1', 'pdf', Buffer.from('%PDF'), 'application/pdf');

    const deletePdf = () =>
      activityEnvironment().run(() => activities.deletePdf({ reportId: 'r-1' }));
    const first = await deletePdf();
    const again = await deletePdf();

    assert.deepEqual(first, { deleted: true });
    assert.deepEqual(again, { deleted: false }, 'a retried compensation is harmless');
    assert.equal(await files.find('r-1', 'pdf'), undefined);
    assert.ok(await files.find('r-1', 'content'), 'the LLM content is kept');
  });

  it('markReportRolledBack keeps the report, marked ROLLED_BACK with its failure', async () => {
    const { activities, reports } = fakeActivities();
    await reports.upsertStored({
      id: 'r-1',
      workflowId: 'report-key-1',
      idempotencyKey: 'key-1',
      title: 'Grid storage',
      prompt: 'Grid storage',
      requesterId: 'team-energy',
      requesterEmail: 'ada@example.test',
      model: 'test-model',
      language: null,
      promptTokens: 1,
      completionTokens: 1,
      pdfBytes: 4,
      pdfPages: 1,
      requestedAt: new Date(),
      timings: {},
    });

    const markRolledBack = () =>
      activityEnvironment().run(() =>
        activities.markReportRolledBack({ reportId: 'r-1', failure }),
      );
    const result = await markRolledBack();
    const again = await markRolledBack();

    assert.deepEqual(result, { marked: true });
    assert.deepEqual(again, { marked: true });
    const row = reports.reports.get('r-1');
    assert.equal(row?.status, 'ROLLED_BACK');
    assert.deepEqual(row.failure, failure);
  });

  it('markReportRolledBack of a report never stored marks nothing', async () => {
    const { activities, reports } = fakeActivities();

    const result = await activityEnvironment().run(() =>
      activities.markReportRolledBack({ reportId: 'r-1', failure: null }),
    );

    assert.deepEqual(result, { marked: false });
    assert.equal(reports.reports.size, 0);
  });
});
