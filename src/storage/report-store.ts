import { In, IsNull, Not, type DataSource, type EntityManager } from 'typeorm';
import type { ReportFailure, StageTiming } from '../domain/report';
import type { ReviewDecision, ReviewState } from '../domain/review';
import { Report, type StoredReportStatus } from '../entities/report';
import { Outbox, type NewOutboxEvent } from './outbox';

export interface ReportRecord {
  id: string;
  workflowId: string;
  idempotencyKey: string;
  title: string;
  prompt: string;
  requesterId: string;
  requesterEmail: string;
  model: string;
  language: string | null;
  promptTokens: number;
  completionTokens: number;
  pdfBytes: number;
  pdfPages: number;
  requestedAt: Date;
  timings: Record<string, StageTiming>;
}

export interface ReportOutcome {
  reportId: string;
  status: Extract<StoredReportStatus, 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'REJECTED'>;
  timings: Record<string, StageTiming>;
  notificationStatus: string | null;
  failure: ReportFailure | null;
  events: NewOutboxEvent[];
}

/** The reports table and the outbox, which change together. */
export class ReportStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Insert or overwrite the report's metadata by id (status STORED). */
  async upsertStored(record: ReportRecord): Promise<void> {
    await this.dataSource
      .getRepository(Report)
      .upsert({ ...record, status: 'STORED', failure: null, completedAt: null }, ['id']);
  }

  async find(reportId: string): Promise<Report | null> {
    return this.dataSource.getRepository(Report).findOneBy({ id: reportId });
  }

  /** The rows of those reports that have one, in no particular order. */
  async findMany(reportIds: readonly string[]): Promise<Report[]> {
    if (reportIds.length === 0) return [];
    return this.dataSource.getRepository(Report).findBy({ id: In([...reportIds]) });
  }

  /** The review has begun: who may decide and until when. Re-running it changes nothing. */
  async openReview(reportId: string, review: ReviewState): Promise<void> {
    await this.dataSource.getRepository(Report).update(
      { id: reportId, reviewDecision: IsNull() },
      {
        reviewers: review.reviewers,
        reviewOnTimeout: review.onTimeout,
        reviewWaitingSince: new Date(review.waitingSince),
        reviewDeadline: new Date(review.deadline),
      },
    );
  }

  /** Records the decision once; false when it was already recorded (or there is no row). */
  async closeReview(reportId: string, decision: ReviewDecision): Promise<boolean> {
    const result = await this.dataSource.getRepository(Report).update(
      { id: reportId, reviewDecision: IsNull() },
      {
        reviewDecision: decision.decision,
        reviewedBy: decision.reviewer ?? null,
        reviewAutomatic: decision.automatic,
        reviewComment: decision.comment ?? null,
        reviewedAt: new Date(decision.decidedAt),
      },
    );
    return (result.affected ?? 0) > 0;
  }

  /**
   * Reports waiting for a decision, longest-waiting first. A report cancelled while it waited
   * is rolled back, and no longer listed.
   */
  async pendingReviews(limit: number): Promise<Report[]> {
    return this.dataSource.getRepository(Report).find({
      where: { reviewWaitingSince: Not(IsNull()), reviewDecision: IsNull(), status: 'STORED' },
      order: { reviewWaitingSince: 'ASC', id: 'ASC' },
      take: limit,
    });
  }

  /** Compensation: the report is kept for the record but marked as undone. */
  async markRolledBack(reportId: string, failure: ReportFailure | null): Promise<boolean> {
    const result = await this.dataSource
      .getRepository(Report)
      .update({ id: reportId }, { status: 'ROLLED_BACK', failure });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Records how the report ended and queues the events that announce it, in one transaction:
   * either both happen or neither does. Re-running it changes nothing (event ids are unique).
   */
  async finish(outcome: ReportOutcome): Promise<{ eventsQueued: number }> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const report = await manager.getRepository(Report).findOne({
        where: { id: outcome.reportId },
        lock: { mode: 'pessimistic_write' },
      });
      if (report) {
        // A rolled-back report stays rolled back; the failure is recorded next to it.
        if (report.status !== 'ROLLED_BACK') report.status = outcome.status;
        report.timings = outcome.timings;
        report.notificationStatus = outcome.notificationStatus;
        report.failure = outcome.failure;
        report.completedAt =
          outcome.status === 'COMPLETED' ? (report.completedAt ?? new Date()) : null;
        await manager.getRepository(Report).save(report);
      }
      return { eventsQueued: await new Outbox(this.dataSource).queue(manager, outcome.events) };
    });
  }
}
