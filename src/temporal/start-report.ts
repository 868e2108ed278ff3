import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { reportIdsFor } from '../domain/ids';
import type { ReportRequest } from '../domain/report';
import type { GenerateReportWorkflow } from '../workflows/generate-report-workflow';
import { idempotencyKeyKey, requesterIdKey } from '../workflows/search-attributes';
import { taskPriorityOf } from './task-priority';

export interface StartedReport {
  workflowId: string;
  reportId: string;
  handle: WorkflowHandle<typeof GenerateReportWorkflow>;
}

/**
 * Starts the one workflow for an idempotency key, or finds the one that already exists: a
 * running workflow is returned as it is, and a completed key is never run a second time. The
 * workflow, and every activity it schedules, carries the request's priority and its
 * requester's fairness key and weight (`fairnessWeights`, by requester id; 1 when absent).
 */
export async function startReport(
  client: Client,
  taskQueue: string,
  request: Omit<ReportRequest, 'reportId'>,
  fairnessWeights: ReadonlyMap<string, number> = new Map(),
): Promise<StartedReport> {
  const { workflowId, reportId } = reportIdsFor(request.idempotencyKey);
  try {
    const handle = await client.workflow.start<typeof GenerateReportWorkflow>(
      'GenerateReportWorkflow',
      {
        taskQueue,
        workflowId,
        args: [{ ...request, reportId }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        priority: taskPriorityOf(request, fairnessWeights),
        typedSearchAttributes: [
          { key: requesterIdKey, value: request.requester.id },
          { key: idempotencyKeyKey, value: request.idempotencyKey },
        ],
      },
    );
    return { workflowId, reportId, handle };
  } catch (error: unknown) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        workflowId,
        reportId,
        handle: client.workflow.getHandle<typeof GenerateReportWorkflow>(workflowId),
      };
    }
    throw error;
  }
}
