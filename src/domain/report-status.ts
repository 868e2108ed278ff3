/**
 * How a report's status is shown: from what the workflow said of itself (its progress query,
 * its result) and, where it never said, from Temporal's execution status and the ReportStage
 * search attribute. Pure: src/temporal/report-executions.ts does the reading.
 */
import type { CostEstimate } from './llm-cost';
import { priorityView, type PriorityView } from './priority';
import {
  REPORT_STATUSES,
  STAGES,
  stagesOf,
  startedTimings,
  type ReportProgress,
  type ReportResult,
  type ReportStatus,
  type Stage,
  type StageTiming,
} from './report';

/** The activity a running report is in now, as Temporal's pending activities show it. */
export interface CurrentActivity {
  activity: string;
  attempt: number;
  lastFailure?: string;
}

/**
 * Where a report is: what /status answers and /events streams (the ReportStatus schema). What
 * the workflow says of itself, plus what only Temporal knows.
 */
export interface ReportStatusView extends Omit<ReportProgress, 'timings'> {
  workflowId: string;
  /** Share of the stages finished, 0 to 1. */
  progress: number;
  timings: Record<string, StageTiming>;
  current?: CurrentActivity;
  /** What `usage` would cost at list prices, once the LLM has answered: an estimate. */
  estimatedCost?: CostEstimate;
  /** What Temporal orders the report's tasks by. */
  priority: PriorityView;
  /** ISO-8601 */
  startedAt: string;
  /** ISO-8601 */
  closedAt?: string;
}

/**
 * What Temporal holds of one report's workflow execution. `stage` is the ReportStage search
 * attribute: the stage the workflow is in, or the status it wrote as it ended.
 */
export type ReportExecution = {
  workflowId: string;
  reportId: string;
  startedAt: Date;
  closedAt?: Date;
  stage?: string;
  /** As Temporal holds it; absent for workflows started before priorities. */
  priority?: { priorityKey?: number; fairnessKey?: string; fairnessWeight?: number };
} & (
  | {
      state: 'running';
      /** What the progress query answered; absent when no worker answered in time. */
      progress?: ReportProgress;
      current?: CurrentActivity;
    }
  | { state: 'returned'; result: ReportResult }
  /** Ended without a result (terminated, timed out, failed or cancelled as a workflow). */
  | { state: 'ended'; executionStatus: string }
);

/** Thrown when no report workflow has the id: none was started under it, or no key gives it. */
export class ReportNotFoundError extends Error {
  readonly code = 'REPORT_NOT_FOUND';

  constructor(
    readonly workflowId: string,
    options?: ErrorOptions,
  ) {
    super(`no report workflow with id ${workflowId}`, options);
    this.name = 'ReportNotFoundError';
  }
}

/**
 * The report status Temporal's execution status (the SDK's WorkflowExecutionStatusName) stands
 * for when the workflow did not say: any end other than completing or being cancelled failed it.
 */
export function statusOfExecution(executionStatus: string): ReportStatus {
  return executionStatus === 'RUNNING' ||
    executionStatus === 'COMPLETED' ||
    executionStatus === 'CANCELLED'
    ? executionStatus
    : 'FAILED';
}

/** What /status shows of one report's execution. */
export function statusView(execution: ReportExecution): ReportStatusView {
  const base = {
    workflowId: execution.workflowId,
    reportId: execution.reportId,
    startedAt: execution.startedAt.toISOString(),
    closedAt: execution.closedAt?.toISOString(),
    priority: priorityView(execution.priority),
  };
  switch (execution.state) {
    case 'running':
      // The workflow marks itself FAILED or CANCELLED before its compensations and its
      // announcement run: until the execution closes, the report is still RUNNING, so status,
      // result, cancel and the event stream agree on when it ended.
      if (execution.progress)
        return {
          ...base,
          ...toldView(execution.progress),
          status: execution.progress.status === 'AWAITING_REVIEW' ? 'AWAITING_REVIEW' : 'RUNNING',
          current: execution.current,
        };
      // No worker answered the query: what the search attributes know is still worth showing.
      return {
        ...base,
        status: execution.stage === 'review' ? 'AWAITING_REVIEW' : 'RUNNING',
        stage: isStage(execution.stage) ? execution.stage : 'callLlm',
        progress: 0,
        stagesCompleted: [],
        timings: {},
        compensated: [],
        current: execution.current,
      };
    case 'returned':
      return { ...base, ...toldView(execution.result) };
    case 'ended': {
      const { executionStatus } = execution;
      return {
        ...base,
        status: statusOfExecution(executionStatus),
        stage: 'done',
        progress: 0,
        stagesCompleted: [],
        timings: {},
        compensated: [],
        failure: {
          stage: isStage(execution.stage) ? execution.stage : 'callLlm',
          errorType: `Workflow${executionStatus.charAt(0)}${executionStatus.slice(1).toLowerCase()}`,
          message: `the workflow execution ended as ${executionStatus}`,
        },
      };
    }
  }
}

/**
 * How a report that can no longer be cancelled ended, or undefined while its execution runs:
 * the status the workflow wrote into ReportStage as it ended, else what Temporal says.
 */
export function endedAs(
  executionStatus: string,
  stage: string | undefined,
): ReportStatus | undefined {
  if (executionStatus === 'RUNNING') return undefined;
  return isReportStatus(stage) ? stage : statusOfExecution(executionStatus);
}

/**
 * A listed report's status and stage from visibility alone (no query per entry). ReportStage
 * holds the running stage, or the final status once ended, which reads as done, as in /status.
 */
export function listedStatus(
  executionStatus: string,
  stage: string | undefined,
): { status: ReportStatus; stage?: Stage | 'done' } {
  if (executionStatus === 'RUNNING' && stage === 'review')
    return { status: 'AWAITING_REVIEW', stage };
  return {
    status:
      executionStatus === 'COMPLETED' && isReportStatus(stage)
        ? stage
        : statusOfExecution(executionStatus),
    stage: isStage(stage) ? stage : stage ? 'done' : undefined,
  };
}

/** The view of what the workflow itself said, by its progress query or its result. */
function toldView(
  told: ReportProgress,
): Omit<ReportStatusView, 'workflowId' | 'reportId' | 'startedAt' | 'closedAt' | 'priority'> {
  return {
    status: told.status,
    stage: told.stage,
    progress:
      told.status === 'COMPLETED'
        ? 1
        : told.stagesCompleted.length / stagesOf(told.review !== undefined).length,
    stagesCompleted: told.stagesCompleted,
    timings: startedTimings(told.timings),
    usage: told.usage,
    model: told.model,
    modelNote: told.modelNote,
    notification: told.notification,
    failure: told.failure,
    compensated: told.compensated,
    ...(told.review ? { review: told.review } : {}),
  };
}

const isStage = (value: unknown): value is Stage =>
  typeof value === 'string' && (STAGES as readonly string[]).includes(value);

const isReportStatus = (value: unknown): value is ReportStatus =>
  typeof value === 'string' && (REPORT_STATUSES as readonly string[]).includes(value);
