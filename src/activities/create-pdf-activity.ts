import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { modelCredit, type PdfResult, type ReportRequest, type TokenUsage } from '../domain/report';
import type { ReportFileStore } from '../storage/report-file-store';
import { MissingArtefactError, permanent } from './errors';
import { withHeartbeats } from './context';
import type { PdfRenderer } from './pdf/pdf-render-pool';

export interface CreatePdfInput {
  request: Pick<ReportRequest, 'reportId' | 'requester' | 'requestedAt' | 'options'>;
  title: string;
  /** The model that wrote it, as the provider reported it, and what to know about it. */
  model: string;
  modelNote?: string;
  /** Tokens as the provider reported them; absent in histories from before they were shown. */
  usage?: TokenUsage;
}

export function createCreatePdfActivity(deps: {
  files: Pick<ReportFileStore, 'find' | 'save'>;
  pdfRenderer: PdfRenderer;
}) {
  return async function createPdf(input: CreatePdfInput): Promise<PdfResult & { attempt: number }> {
    const { info, log } = Context.current();
    const { reportId } = input.request;
    return withHeartbeats(async (signal) => {
      const content = await deps.files.find(reportId, 'content');
      if (!content)
        throw permanent(new MissingArtefactError(`no LLM content stored for report ${reportId}`));

      const started = performance.now();
      const rendered = await deps.pdfRenderer.render({
        title: input.title,
        content: content.data.toString('utf8'),
        createdAt: new Date(input.request.requestedAt),
        metadata: [
          ['Report', reportId],
          ['Requested by', `${input.request.requester.id} <${input.request.requester.email}>`],
          ['Requested at', new Date(input.request.requestedAt).toUTCString()],
          ['Written by', modelCredit(input.model, input.modelNote)],
          ...(input.usage
            ? [
                [
                  'Tokens',
                  `${input.usage.promptTokens} prompt + ${input.usage.completionTokens} completion, as the model reported them`,
                ] as [string, string],
              ]
            : []),
          ...(input.request.options.language
            ? [['Language', input.request.options.language] as [string, string]]
            : []),
        ],
      });
      const renderMs = Math.round(performance.now() - started);
      if (signal.aborted) throw new CancelledFailure('createPdf cancelled');

      const ref = await deps.files.save(reportId, 'pdf', rendered.data, 'application/pdf', {
        pages: rendered.pages,
        unrenderableChars: rendered.unrenderableChars,
      });
      if (rendered.unrenderableChars > 0) {
        log.warn('characters outside the font were printed as "?"', {
          reportId,
          count: rendered.unrenderableChars,
        });
      }
      return {
        pdf: ref,
        pages: rendered.pages,
        renderMs,
        unrenderableChars: rendered.unrenderableChars,
        attempt: info.attempt,
      };
    });
  };
}
