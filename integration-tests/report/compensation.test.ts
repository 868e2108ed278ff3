import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import type { ActivityDeps } from '../../src/activities';
import { ReportFileStore } from '../../src/storage/report-file-store';
import { ReportStore, type ReportRecord } from '../../src/storage/report-store';
import { listMail } from '../../testing/maildev';
import { leftovers, outboxEvents } from '../support/report-assertions';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { testEndpoints } from '../../testing/stack-env';

/** A metadata store whose writes always fail, as a database that rejects them would. */
class RejectingReportStore extends ReportStore {
  override async upsertStored(_record: ReportRecord): Promise<void> {
    throw new Error('permission denied for table reports');
  }
}

/** A file store whose PDF writes wait until the test lets them go. */
class GatedFileStore extends ReportFileStore {
  readonly pdfSaveStarted = Promise.withResolvers<void>();
  readonly releasePdfSave = Promise.withResolvers<void>();
  override async save(
    ...args: Parameters<ReportFileStore['save']>
  ): ReturnType<ReportFileStore['save']> {
    if (args[1] === 'pdf') {
      this.pdfSaveStarted.resolve();
      await this.releasePdfSave.promise;
    }
    return super.save(...args);
  }
}

describe('saga compensation', () => {
  describe('storeReportMetadata fails for good', () => {
    let h: ReportHarness;
    before(async () => {
      h = await createReportHarness();
      await h.startWorker((deps): ActivityDeps => ({
        ...deps,
        reports: new RejectingReportStore(h.dataSource),
      }));
    });
    after(() => h.close());

    it('deletes the PDF, sends no email, and ends FAILED naming the stage and the compensations', async () => {
      const request = h.request();
      const { handle, reportId } = await h.start(request);
      const result = await handle.result();

      assert.equal(result.status, 'FAILED');
      assert.equal(result.failure?.stage, 'storeReportMetadata');
      assert.match(result.failure?.message ?? '', /permission denied/);
      assert.deepEqual(result.compensated, ['markReportRolledBack', 'deletePdf']);
      const left = await leftovers(h.dataSource, reportId);
      assert.equal(left.pdf, 0, 'the PDF was deleted');
      assert.equal(left.reports, 0);
      assert.equal(left.emails, 0);
      const failed = (await outboxEvents(h.dataSource, reportId)).find(
        (e) => e.event_type === 'ReportFailed',
      );
      assert.deepEqual(failed?.payload.compensated, ['markReportRolledBack', 'deletePdf']);
    });
  });

  describe('cancelled while the PDF is being stored', () => {
    let h: ReportHarness;
    let files: GatedFileStore;
    before(async () => {
      h = await createReportHarness();
      files = new GatedFileStore(h.dataSource);
      await h.startWorker((deps) => ({ ...deps, files }));
    });
    after(() => h.close());

    it('waits for the render to stop, deletes its PDF, and ends CANCELLED', async () => {
      const request = h.request();
      const { handle, reportId } = await h.start(request);
      await files.pdfSaveStarted.promise;
      await handle.cancel();
      // Let the in-flight write land after the cancel: compensation must still remove it.
      setTimeout(() => files.releasePdfSave.resolve(), 1_500);
      const result = await handle.result();

      assert.equal(result.status, 'CANCELLED');
      assert.equal(result.failure?.stage, 'createPdf');
      assert.deepEqual(result.compensated, ['deletePdf']);
      assert.equal((await leftovers(h.dataSource, reportId)).pdf, 0);
      assert.equal(
        (await listMail(testEndpoints.maildevApi)).filter(
          (m) => m.to[0]?.address === request.requester.email,
        ).length,
        0,
      );
    });
  });

  describe('SMTP is down', () => {
    let h: ReportHarness;
    before(async () => {
      h = await createReportHarness();
      await h.startWorker((deps) => ({ ...deps, mailer: deadMailer() }));
    });
    after(() => h.close());

    it('still completes the report and records the notification as failed', async () => {
      const { handle, reportId } = await h.start(h.request());
      const result = await handle.result();

      assert.equal(result.status, 'COMPLETED');
      assert.equal(result.notification, 'FAILED');
      const ledger = await h.dataSource.query<
        { status: string; attempts: number; last_error: string }[]
      >(`SELECT status, attempts, last_error FROM email_ledger WHERE report_id = $1`, [reportId]);
      assert.equal(ledger[0]?.status, 'FAILED');
      assert.equal(ledger[0]?.attempts, 3);
      assert.match(ledger[0]?.last_error ?? '', /ECONNREFUSED|connect/i);
      const row = await h.dataSource.query<{ status: string; notification_status: string }[]>(
        `SELECT status, notification_status FROM reports WHERE id = $1`,
        [reportId],
      );
      assert.deepEqual(row[0], { status: 'COMPLETED', notification_status: 'FAILED' });
      const email = (await outboxEvents(h.dataSource, reportId)).find(
        (e) => e.event_type === 'EmailNotification',
      );
      assert.equal(email?.payload.status, 'FAILED');
    });
  });
});

function deadMailer(): ActivityDeps['mailer'] {
  // Nothing listens on port 9 (discard) on the test machine; the connection is refused at once.
  return nodemailer.createTransport({ url: 'smtp://127.0.0.1:9', connectionTimeout: 2_000 });
}
