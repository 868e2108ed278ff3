import type { ReviewDecision, ReviewState } from '../domain/review';
import type { ReportStore } from '../storage/report-store';

/**
 * The review's bookkeeping in the report's row: the wait as it begins (what the list of pending
 * reviews reads), then the decision. Both are idempotent.
 */
export function createReviewActivities(deps: {
  reports: Pick<ReportStore, 'openReview' | 'closeReview'>;
}) {
  return {
    async openReview(input: { reportId: string; review: ReviewState }): Promise<void> {
      await deps.reports.openReview(input.reportId, input.review);
    },

    /** `recorded` is false for a retry that found the decision already there. */
    async closeReview(input: {
      reportId: string;
      decision: ReviewDecision;
    }): Promise<{ recorded: boolean }> {
      return { recorded: await deps.reports.closeReview(input.reportId, input.decision) };
    },
  };
}
