import { Context } from '@temporalio/activity';
import type { ReportFailure } from '../domain/report';
import type { ReportFileStore } from '../storage/report-file-store';
import type { ReportStore } from '../storage/report-store';

/** Undo steps for the saga; each is idempotent, so a retried compensation is harmless. */
export function createCompensationActivities(deps: {
  files: Pick<ReportFileStore, 'delete'>;
  reports: Pick<ReportStore, 'markRolledBack'>;
}) {
  return {
    async deletePdf(input: { reportId: string }): Promise<{ deleted: boolean }> {
      const deleted = await deps.files.delete(input.reportId, 'pdf');
      Context.current().log.info('compensation: PDF deleted', {
        reportId: input.reportId,
        deleted,
      });
      return { deleted };
    },

    async markReportRolledBack(input: {
      reportId: string;
      failure: ReportFailure | null;
    }): Promise<{ marked: boolean }> {
      const marked = await deps.reports.markRolledBack(input.reportId, input.failure);
      Context.current().log.info('compensation: report marked rolled back', {
        reportId: input.reportId,
        marked,
      });
      return { marked };
    },
  };
}
