import { proxyActivities } from '@temporalio/workflow';
import type { ReportActivities } from '../../../src/activities';
import type { ReportRequest } from '../../../src/domain/report';

const { createPdf, callLlm } = proxyActivities<ReportActivities>({
  startToCloseTimeout: '1 minute',
});

/** A deliberately incompatible edit (steps swapped) under the real workflow's name, for the replay test. */
export async function GenerateReportWorkflow(request: ReportRequest): Promise<void> {
  await createPdf({ request, title: 'x', model: 'x' });
  await callLlm({ reportId: request.reportId, prompt: request.prompt, options: request.options });
}
