import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LlmResult, PdfResult } from '../domain/report';
import type { PublishOutcomeInput } from '../activities/publish-outcome-activity';
import type { ReviewDecision } from '../domain/review';
import { estimateCost, type PriceList } from '../domain/llm-cost';
import { modelLabel, type ServiceMetrics } from '../observability/metrics';

/**
 * Times every activity attempt and reads the business figures off what the activities return,
 * so the activities themselves stay free of metrics code.
 */
export function activityMetricsInterceptor(
  metrics: ServiceMetrics,
  defaultModel: string,
  prices?: PriceList,
): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        const stop = metrics.activityDuration.startTimer({ activity });
        let result: unknown;
        try {
          result = await next(input);
        } catch (error: unknown) {
          stop({ outcome: 'failure' });
          throw error;
        }
        stop({ outcome: 'success' });
        record(metrics, { defaultModel, prices }, activity, input.args[0], result);
        return result;
      },
    },
  });
}

function record(
  metrics: ServiceMetrics,
  { defaultModel, prices }: { defaultModel: string; prices: PriceList | undefined },
  activity: string,
  arg: unknown,
  result: unknown,
): void {
  switch (activity) {
    case 'callLlm': {
      const llm = result as LlmResult;
      // A reused answer from an earlier attempt was already counted (and paid) then.
      if (!llm.called) return;
      const model = modelLabel(llm.model, defaultModel, prices);
      metrics.llmTokens.inc({ model, kind: 'prompt' }, llm.usage.promptTokens);
      metrics.llmTokens.inc({ model, kind: 'completion' }, llm.usage.completionTokens);
      // An unpriced model adds nothing to the estimate (its tokens are still counted above).
      metrics.llmCost.inc({ model }, estimateCost(llm.model, llm.usage, prices).usd ?? 0);
      return;
    }
    case 'createPdf': {
      const pdf = result as PdfResult;
      metrics.pdfSize.observe(pdf.pdf.bytes);
      metrics.pdfRender.observe(pdf.renderMs / 1000);
      return;
    }
    case 'closeReview': {
      // Counted when first recorded: a retried bookkeeping step counts nothing twice.
      if (!(result as { recorded: boolean }).recorded) return;
      const { decision } = arg as { decision: ReviewDecision };
      const by = decision.automatic ? 'timeout' : 'reviewer';
      metrics.reviewDecisions.inc({ decision: decision.decision.toLowerCase(), by });
      metrics.reviewWait.observe({ by }, decision.waitedMs / 1000);
      return;
    }
    case 'publishOutcome': {
      const { result: report, notification } = arg as PublishOutcomeInput;
      // A retry that found its events already queued counts nothing a second time.
      if ((result as { eventsQueued: number }).eventsQueued === 0) return;
      metrics.reportsFinished.inc({
        status: report.status,
        stage: report.status === 'COMPLETED' ? 'none' : (report.failure?.stage ?? 'unknown'),
      });
      // The email's final outcome, once per report, whatever its attempts were.
      if (notification) metrics.emails.inc({ status: notification.status.toLowerCase() });
      return;
    }
  }
}
