import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import {
  endedAs,
  listedStatus,
  ReportNotFoundError,
  statusView,
  type ReportStatusView,
} from '../domain/report-status';
import { estimateCost, LIST_PRICES_PER_MILLION, type PriceList } from '../domain/llm-cost';
import { isFinalStatus } from '../domain/report';
import { ReportStore } from '../storage/report-store';
import { ReportExecutions, reportsQuery } from '../temporal/report-executions';
import { ApiError } from './errors';
import { decodeCursor, encodeCursor } from './page-cursor';
import {
  linksFor,
  reviewLinkFor,
  type PendingReviewsView,
  type ReportListQuery,
  type ReportListView,
  type ReportResultView,
} from './schemas';

/**
 * What the report routes answer: reports read through Temporal and the database, shown with
 * their links, and a report in the wrong state for the request refused as an ApiError.
 */
export class ReportReader {
  private readonly executions: ReportExecutions;
  private readonly reports: ReportStore;

  /** `prices`: what the cost estimates beside the token usage are taken from. */
  constructor(
    temporal: Client,
    dataSource: DataSource,
    private readonly prices: PriceList = LIST_PRICES_PER_MILLION,
  ) {
    this.executions = new ReportExecutions(temporal);
    this.reports = new ReportStore(dataSource);
  }

  async status(workflowId: string): Promise<ReportStatusView> {
    return this.withCost(statusView(await this.executions.read(workflowId).catch(answerNotFound)));
  }

  async result(workflowId: string): Promise<ReportResultView> {
    const execution = await this.executions.read(workflowId).catch(answerNotFound);
    const view = this.withCost(statusView(execution));
    if (!isFinalStatus(view.status)) {
      throw new ApiError(
        409,
        'REPORT_NOT_READY',
        `the report is still ${view.status === 'RUNNING' ? 'running' : 'waiting for review'} (stage ${view.stage}); follow ${linksFor(workflowId, view.reportId).events} or retry later`,
        { stage: view.stage, progress: view.progress },
        { 'retry-after': '2' },
      );
    }
    const result = execution.state === 'returned' ? execution.result : undefined;
    const row = await this.reports.find(view.reportId);
    const pdf =
      view.status === 'COMPLETED' && result?.pdf
        ? {
            url: linksFor(workflowId, view.reportId).pdf,
            bytes: result.pdf.ref.bytes,
            pages: result.pdf.pages,
            sha256: result.pdf.ref.sha256,
          }
        : undefined;
    return {
      ...view,
      status: view.status,
      title: result?.title ?? row?.title ?? undefined,
      model: result?.model ?? row?.model,
      pdf,
    };
  }

  /** The view with what its tokens would cost, once the LLM has answered. */
  private withCost(view: ReportStatusView): ReportStatusView {
    if (!view.usage || !view.model) return view;
    return { ...view, estimatedCost: estimateCost(view.model, view.usage, this.prices) };
  }

  /**
   * Raises 404 unless the workflow exists, 409 unless it is still running; used before a
   * cancel, so it needs only describe (no progress query, no history).
   */
  async requireRunning(workflowId: string): Promise<{ workflowId: string; reportId: string }> {
    const standing = await this.executions.standing(workflowId).catch(answerNotFound);
    const ended = endedAs(standing.executionStatus, standing.stage);
    if (ended) {
      throw new ApiError(
        409,
        'REPORT_ALREADY_ENDED',
        `the report already ended as ${ended}; nothing to cancel`,
        { status: ended },
      );
    }
    return { workflowId, reportId: standing.reportId };
  }

  /** Reports waiting for a decision, longest-waiting first, from their rows. */
  async pendingReviews(limit: number): Promise<PendingReviewsView> {
    const rows = await this.reports.pendingReviews(limit);
    return {
      reviews: rows.map((row) => ({
        workflowId: row.workflowId,
        reportId: row.id,
        title: row.title ?? undefined,
        requesterId: row.requesterId,
        pages: row.pdfPages ?? undefined,
        reviewers: row.reviewers ?? [],
        onTimeout: row.reviewOnTimeout ?? 'REJECT',
        waitingSince: (row.reviewWaitingSince ?? row.createdAt).toISOString(),
        deadline: (row.reviewDeadline ?? row.createdAt).toISOString(),
        links: { ...linksFor(row.workflowId, row.id), review: reviewLinkFor(row.workflowId) },
      })),
    };
  }

  async list(query: ReportListQuery): Promise<ReportListView> {
    const listing = reportsQuery(query);
    const page = await this.executions.list(
      listing,
      query.limit,
      query.cursor ? decodeCursor(query.cursor, listing) : undefined,
    );
    const rows = await this.reports.findMany(page.executions.map((e) => e.reportId));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return {
      reports: page.executions.map((execution) => {
        const { workflowId, reportId } = execution;
        const row = byId.get(reportId);
        return {
          workflowId,
          reportId,
          ...listedStatus(execution.executionStatus, execution.stage),
          requesterId: execution.requesterId,
          title: row?.title ?? undefined,
          pages: row?.pdfPages ?? undefined,
          startedAt: execution.startedAt.toISOString(),
          closedAt: execution.closedAt?.toISOString(),
          links: linksFor(workflowId, reportId),
        };
      }),
      nextCursor: page.nextPageToken ? encodeCursor(page.nextPageToken, listing) : undefined,
    };
  }
}

function answerNotFound(error: unknown): never {
  if (error instanceof ReportNotFoundError) {
    throw new ApiError(404, 'WORKFLOW_NOT_FOUND', `no report workflow with id ${error.workflowId}`);
  }
  throw error;
}
