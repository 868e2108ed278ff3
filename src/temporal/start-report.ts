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

export interface StartedReport {
  workflowId: string;
  reportId: string;
  handle: WorkflowHandle<typeof GenerateReportWorkflow>;
}

/**
 * Starts the one workflow for an idempotency key, or finds the one that already exists: a
 * running workflow is returned as it is, and a completed key is never run a second time.
 */
export async function startReport(
  client: Client,
  taskQueue: string,
  request: Omit<ReportRequest, 'reportId'>,
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
