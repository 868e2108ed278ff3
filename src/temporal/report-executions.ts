import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { reportIdsOfWorkflow, type ReportIds } from '../domain/ids';
import type { ReportStatus } from '../domain/report';
import {
  ReportNotFoundError,
  type CurrentActivity,
  type ReportExecution,
} from '../domain/report-status';
import { progressQuery, type GenerateReportWorkflow } from '../workflows/generate-report-workflow';
import { reportStageKey, requesterIdKey } from '../workflows/search-attributes';

const REPORT_WORKFLOW_TYPE = 'GenerateReportWorkflow';
const QUERY_DEADLINE_MS = 3_000;

/** Which reports a listing shows. */
export interface ReportFilter {
  status?: ReportStatus;
  requesterId?: string;
}

/** A report workflow as visibility lists it, without asking the workflow anything. */
export interface ListedExecution {
  workflowId: string;
  reportId: string;
  /** The SDK's WorkflowExecutionStatusName. */
  executionStatus: string;
  /** The ReportStage search attribute. */
  stage?: string;
  requesterId?: string;
  startedAt: Date;
  closedAt?: Date;
}

export interface ExecutionPage {
  executions: ListedExecution[];
  /** Absent on the last page. */
  nextPageToken?: Uint8Array;
}

/** Whether a report's workflow still runs, read by describe alone. */
export interface ExecutionStanding extends ReportIds {
  executionStatus: string;
  stage?: string;
}

/**
 * The visibility query listing report workflows. A running report is found by its execution
 * status (one waiting for review also by its stage); an ended one by the status the workflow
 * wrote into ReportStage as it ended.
 */
export function reportsQuery(filter: ReportFilter): string {
  const clauses = [`WorkflowType = ${literal(REPORT_WORKFLOW_TYPE)}`];
  if (filter.requesterId) clauses.push(`${requesterIdKey.name} = ${literal(filter.requesterId)}`);
  if (filter.status === 'RUNNING') clauses.push("ExecutionStatus = 'Running'");
  else if (filter.status === 'AWAITING_REVIEW')
    clauses.push(`ExecutionStatus = 'Running' AND ${reportStageKey.name} = 'review'`);
  else if (filter.status) clauses.push(`${reportStageKey.name} = ${literal(filter.status)}`);
  return clauses.join(' AND ');
}

/** A visibility-query string literal. */
function literal(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * Reads report workflows from Temporal: describe, the progress query, the result in history,
 * and visibility listings. It keeps no state, so any number of API replicas answer alike.
 * A workflow id that names no report raises ReportNotFoundError.
 */
export class ReportExecutions {
  constructor(private readonly client: Client) {}

  /** What the workflow says of itself where it can, and what Temporal knows where it cannot. */
  async read(workflowId: string): Promise<ReportExecution> {
    const { ids, description } = await this.describe(workflowId);
    const known = {
      workflowId,
      reportId: ids.reportId,
      startedAt: description.startTime,
      closedAt: description.closeTime,
      stage: description.typedSearchAttributes.get(reportStageKey),
      priority: description.priority,
    };
    const handle = this.client.workflow.getHandle<typeof GenerateReportWorkflow>(workflowId);
    const executionStatus = description.status.name;
    if (executionStatus === 'RUNNING') {
      const progress = await this.client
        .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query(progressQuery))
        .catch(() => undefined);
      return { ...known, state: 'running', progress, current: currentActivity(description) };
    }
    if (executionStatus === 'COMPLETED') {
      return { ...known, state: 'returned', result: await handle.result() };
    }
    return { ...known, state: 'ended', executionStatus };
  }

  /** Describe only (no progress query, no history), as before a cancel. */
  async standing(workflowId: string): Promise<ExecutionStanding> {
    const { ids, description } = await this.describe(workflowId);
    return {
      ...ids,
      executionStatus: description.status.name,
      stage: description.typedSearchAttributes.get(reportStageKey),
    };
  }

  /** One page of a `reportsQuery` listing, in visibility's order. */
  async list(query: string, pageSize: number, pageToken?: Uint8Array): Promise<ExecutionPage> {
    const { namespace, loadedDataConverter } = this.client.options;
    const response = await this.client.workflowService.listWorkflowExecutions({
      namespace,
      query,
      pageSize,
      nextPageToken: pageToken,
    });
    const infos = await Promise.all(
      (response.executions ?? []).map((raw) =>
        executionInfoFromRaw(raw, loadedDataConverter, raw, namespace),
      ),
    );
    const executions = infos.flatMap((info): ListedExecution[] => {
      const ids = reportIdsOfWorkflow(info.workflowId);
      // Started under an id no key gives, it names no report this API could link to.
      if (!ids) return [];
      return [
        {
          workflowId: info.workflowId,
          reportId: ids.reportId,
          executionStatus: info.status.name,
          stage: info.typedSearchAttributes.get(reportStageKey),
          requesterId: info.typedSearchAttributes.get(requesterIdKey),
          startedAt: info.startTime,
          closedAt: info.closeTime,
        },
      ];
    });
    const token = response.nextPageToken;
    return { executions, nextPageToken: token && token.length > 0 ? token : undefined };
  }

  private async describe(
    workflowId: string,
  ): Promise<{ ids: ReportIds; description: WorkflowExecutionDescription }> {
    const ids = reportIdsOfWorkflow(workflowId);
    if (!ids) throw new ReportNotFoundError(workflowId);
    try {
      return { ids, description: await this.client.workflow.getHandle(workflowId).describe() };
    } catch (error: unknown) {
      if (error instanceof WorkflowNotFoundError)
        throw new ReportNotFoundError(workflowId, { cause: error });
      throw error;
    }
  }
}

function currentActivity(description: WorkflowExecutionDescription): CurrentActivity | undefined {
  const pending = description.raw.pendingActivities?.[0];
  return pending
    ? {
        activity: pending.activityType?.name ?? 'unknown',
        attempt: pending.attempt ?? 1,
        lastFailure: pending.lastFailure?.message ?? undefined,
      }
    : undefined;
}
