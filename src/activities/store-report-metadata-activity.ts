import { Context } from '@temporalio/activity';
import {
  startedTimings,
  type ReportRequest,
  type Stage,
  type StageTiming,
  type TokenUsage,
} from '../domain/report';
import type { ReportStore } from '../storage/report-store';
import { currentWorkflow } from './context';

export interface StoreReportMetadataInput {
  request: ReportRequest;
  title: string;
  model: string;
  usage: TokenUsage;
  pdf: { bytes: number; pages: number };
  timings: Partial<Record<Stage, StageTiming>>;
}

export function createStoreReportMetadataActivity(deps: {
  reports: Pick<ReportStore, 'upsertStored'>;
}) {
  return async function storeReportMetadata(
    input: StoreReportMetadataInput,
  ): Promise<{ attempt: number }> {
    const { info } = Context.current();
    const { request } = input;
    await deps.reports.upsertStored({
      id: request.reportId,
      workflowId: currentWorkflow().workflowId,
      idempotencyKey: request.idempotencyKey,
      title: input.title,
      prompt: request.prompt,
      requesterId: request.requester.id,
      requesterEmail: request.requester.email,
      model: input.model,
      language: request.options.language ?? null,
      promptTokens: input.usage.promptTokens,
      completionTokens: input.usage.completionTokens,
      pdfBytes: input.pdf.bytes,
      pdfPages: input.pdf.pages,
      requestedAt: new Date(request.requestedAt),
      timings: startedTimings(input.timings),
    });
    return { attempt: info.attempt };
  };
}
