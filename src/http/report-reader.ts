import {
  WorkflowNotFoundError,
  defaultPayloadConverter,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { In, type DataSource } from 'typeorm';
import { reportIdFor } from '../domain/ids';
import { STAGES, type ReportProgress, type ReportResult } from '../domain/report';
import { Report } from '../entities/report';
import { progressQuery, type GenerateReportWorkflow } from '../workflows/generate-report-workflow';
import { reportStageKey } from '../workflows/search-attributes';
import { ApiError } from './errors';
import { decodeCursor, encodeCursor } from './page-cursor';
import {
  linksFor,
  type ReportListQuery,
  type ReportListView,
  type ReportResultView,
  type ReportStatusView,
} from './schemas';

const WORKFLOW_PREFIX = 'report-';
const QUERY_DEADLINE_MS = 3_000;

/** The report status names Temporal's own execution states map to when the workflow did not say. */
const executionOutcome: Record<string, ReportStatusView['status']> = {
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  CANCELLED: 'CANCELLED',
  FAILED: 'FAILED',
  TERMINATED: 'FAILED',
  TIMED_OUT: 'FAILED',
};

interface Snapshot {
  description: WorkflowExecutionDescription;
  view: ReportStatusView;
  result?: ReportResult;
}

/**
 * Reads reports through Temporal (describe, the progress query, the result in history) and the
 * database; it keeps no state, so any number of API replicas answer alike.
 */
export class ReportReader {
  constructor(
    private readonly temporal: Client,
    private readonly dataSource: DataSource,
  ) {}

  async status(workflowId: string): Promise<ReportStatusView> {
    return (await this.snapshot(workflowId)).view;
  }

  async result(workflowId: string): Promise<ReportResultView> {
    const { view, result } = await this.snapshot(workflowId);
    if (view.status === 'RUNNING') {
      throw new ApiError(
        409,
        'REPORT_NOT_READY',
        `the report is still running (stage ${view.stage}); follow ${linksFor(workflowId, view.reportId).events} or retry later`,
        { stage: view.stage, progress: view.progress },
        { 'retry-after': '2' },
      );
    }
    const row = await this.dataSource.getRepository(Report).findOneBy({ id: view.reportId });
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

  /**
   * Raises 404 unless the workflow exists, 409 unless it is still running; used before a
   * cancel, so it needs only describe (no progress query, no history).
   */
  async requireRunning(workflowId: string): Promise<{ workflowId: string; reportId: string }> {
    const description = await this.describe(workflowId);
    if (description.status.name !== 'RUNNING') {
      // The workflow writes its final status into ReportStage as it ends.
      const stage = description.typedSearchAttributes.get(reportStageKey);
      const status = isReportStatus(stage)
        ? stage
        : (executionOutcome[description.status.name] ?? 'FAILED');
      throw new ApiError(
        409,
        'REPORT_ALREADY_ENDED',
        `the report already ended as ${status}; nothing to cancel`,
        { status },
      );
    }
    return { workflowId, reportId: reportIdOf(workflowId) };
  }

  async list(query: ReportListQuery): Promise<ReportListView> {
    const filters = ["WorkflowType = 'GenerateReportWorkflow'"];
    if (query.requesterId) filters.push(`RequesterId = ${quote(query.requesterId)}`);
    if (query.status === 'RUNNING') filters.push("ExecutionStatus = 'Running'");
    else if (query.status) filters.push(`ReportStage = ${quote(query.status)}`);
    const listing = filters.join(' AND ');
    const response = await this.temporal.workflowService.listWorkflowExecutions({
      namespace: this.temporal.options.namespace,
      query: listing,
      pageSize: query.limit,
      nextPageToken: query.cursor ? decodeCursor(query.cursor, listing) : undefined,
    });
    const executions = response.executions ?? [];
    const reportIds = executions.map((e) => reportIdOf(e.execution?.workflowId ?? ''));
    const rows = reportIds.length
      ? await this.dataSource.getRepository(Report).findBy({ id: In(reportIds) })
      : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const reports = executions.map((execution) => {
      const workflowId = execution.execution?.workflowId ?? '';
      const reportId = reportIdOf(workflowId);
      const fields = execution.searchAttributes?.indexedFields ?? {};
      // Running: the stage it is in; ended: the final status, which reads as done, as in /status.
      const stage = decodeKeyword(fields.ReportStage);
      const executionStatus = statusName(execution.status);
      const status =
        executionStatus === 'COMPLETED' && isReportStatus(stage)
          ? stage
          : (executionOutcome[executionStatus] ?? 'FAILED');
      const row = byId.get(reportId);
      return {
        workflowId,
        reportId,
        status,
        stage: isStage(stage) ? stage : stage ? ('done' as const) : undefined,
        requesterId: decodeKeyword(fields.RequesterId),
        title: row?.title ?? undefined,
        pages: row?.pdfPages ?? undefined,
        startedAt: (optionalTsToDate(execution.startTime) ?? new Date(0)).toISOString(),
        closedAt: optionalTsToDate(execution.closeTime)?.toISOString(),
        links: linksFor(workflowId, reportId),
      };
    });
    const token = response.nextPageToken;
    return {
      reports,
      nextCursor: token && token.length > 0 ? encodeCursor(token, listing) : undefined,
    };
  }

  private async describe(workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(workflowId).describe();
    } catch (error: unknown) {
      if (error instanceof WorkflowNotFoundError) {
        throw new ApiError(404, 'WORKFLOW_NOT_FOUND', `no report workflow with id ${workflowId}`);
      }
      throw error;
    }
  }

  private async snapshot(workflowId: string): Promise<Snapshot> {
    const handle = this.temporal.workflow.getHandle<typeof GenerateReportWorkflow>(workflowId);
    const description = await this.describe(workflowId);
    const reportId = reportIdOf(workflowId);
    const base = {
      workflowId,
      reportId,
      startedAt: description.startTime.toISOString(),
      closedAt: description.closeTime?.toISOString(),
    };
    const executionStatus = description.status.name;

    if (executionStatus === 'RUNNING') {
      const progress = await this.temporal
        .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(progressQuery))
        .catch(() => undefined);
      const pending = description.raw.pendingActivities?.[0];
      const current = pending
        ? {
            activity: pending.activityType?.name ?? 'unknown',
            attempt: pending.attempt ?? 1,
            lastFailure: pending.lastFailure?.message ?? undefined,
          }
        : undefined;
      // The workflow marks itself FAILED or CANCELLED before its compensations and its
      // announcement run: until the execution closes, the report is still RUNNING, so status,
      // result, cancel and the event stream agree on when it ended.
      if (progress)
        return {
          description,
          view: { ...base, ...viewOf(progress), status: 'RUNNING', current },
        };
      // No worker answered the query: what the search attributes know is still worth showing.
      const stage = description.typedSearchAttributes.get(reportStageKey);
      return {
        description,
        view: {
          ...base,
          status: 'RUNNING',
          stage: isStage(stage) ? stage : 'callLlm',
          progress: 0,
          stagesCompleted: [],
          timings: {},
          compensated: [],
          current,
        },
      };
    }

    if (executionStatus === 'COMPLETED') {
      const result = await handle.result();
      return { description, result, view: { ...base, ...viewOf(result) } };
    }

    // Terminated, timed out or failed as a workflow: the report never said how it ended.
    const stage = description.typedSearchAttributes.get(reportStageKey);
    return {
      description,
      view: {
        ...base,
        status: executionOutcome[executionStatus] ?? 'FAILED',
        stage: 'done',
        progress: 0,
        stagesCompleted: [],
        timings: {},
        compensated: [],
        failure: {
          stage: isStage(stage) ? stage : 'callLlm',
          errorType: `Workflow${executionStatus.charAt(0)}${executionStatus.slice(1).toLowerCase()}`,
          message: `the workflow execution ended as ${executionStatus}`,
        },
      },
    };
  }
}

function viewOf(
  progress: ReportProgress,
): Omit<ReportStatusView, 'workflowId' | 'reportId' | 'startedAt' | 'closedAt'> {
  const timings: ReportStatusView['timings'] = {};
  for (const [stage, timing] of Object.entries(progress.timings))
    if (timing) timings[stage] = timing;
  return {
    status: progress.status,
    stage: progress.stage,
    progress: progress.status === 'COMPLETED' ? 1 : progress.stagesCompleted.length / STAGES.length,
    stagesCompleted: progress.stagesCompleted,
    timings,
    usage: progress.usage,
    model: progress.model,
    modelNote: progress.modelNote,
    notification: progress.notification,
    failure: progress.failure,
    compensated: progress.compensated,
  };
}

export function reportIdOf(workflowId: string): string {
  return reportIdFor(
    workflowId.startsWith(WORKFLOW_PREFIX) ? workflowId.slice(WORKFLOW_PREFIX.length) : workflowId,
  );
}

const isStage = (value: unknown): value is (typeof STAGES)[number] =>
  typeof value === 'string' && (STAGES as readonly string[]).includes(value);

const isReportStatus = (value: unknown): value is ReportStatusView['status'] =>
  value === 'RUNNING' || value === 'COMPLETED' || value === 'FAILED' || value === 'CANCELLED';

/** A visibility-query string literal. */
function quote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function decodeKeyword(
  payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | undefined,
) {
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  return typeof value === 'string' ? value : undefined;
}

function statusName(code: number | null | undefined): string {
  const names = [
    'UNSPECIFIED',
    'RUNNING',
    'COMPLETED',
    'FAILED',
    'CANCELLED',
    'TERMINATED',
    'CONTINUED_AS_NEW',
    'TIMED_OUT',
  ];
  return names[code ?? 0] ?? 'UNSPECIFIED';
}
