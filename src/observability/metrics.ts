import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LIST_PRICES_PER_MILLION, pricedModel, type PriceList } from '../domain/llm-cost';

/**
 * The service's own metrics, one definition for all three processes (each fills the ones its
 * work touches). Names follow Prometheus conventions (`_total` counters, base units); every
 * label has a bounded set of values: no ids, prompts or free-form model names.
 */
export function createServiceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requestsConsumed: new Counter({
      name: 'report_requests_consumed_total',
      help: 'Report requests read from Kafka, by outcome (started, duplicate, conflict, dead_lettered)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    requestsDeadLettered: new Counter({
      name: 'report_requests_dead_lettered_total',
      help: 'Report requests sent to the DLQ, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    budgetRefusals: new Counter({
      name: 'report_budget_refusals_total',
      help: "Report requests refused at admission because the requester's daily token budget was spent, by source (kafka, http)",
      labelNames: ['source'] as const,
      registers,
    }),
    workflowStarts: new Counter({
      name: 'report_workflow_starts_total',
      help: 'Workflow starts acknowledged by Temporal, by source (kafka, http) and result (created, existing)',
      labelNames: ['source', 'result'] as const,
      registers,
    }),
    startsInFlight: new Gauge({
      name: 'report_workflow_starts_in_flight',
      help: 'Workflow starts sent to Temporal and not yet acknowledged',
      labelNames: ['source'] as const,
      registers,
    }),
    outboxPublished: new Counter({
      name: 'report_outbox_events_published_total',
      help: 'Outbox events published to Kafka, by event type',
      labelNames: ['event_type'] as const,
      registers,
    }),
    outboxPublishDelay: new Histogram({
      name: 'report_outbox_publish_delay_seconds',
      help: 'From an event being queued in the outbox to its publication on Kafka',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    reportsFinished: new Counter({
      name: 'reports_finished_total',
      help: 'Reports that ended, by status (COMPLETED, FAILED, CANCELLED) and the stage a failure happened in (none when completed)',
      labelNames: ['status', 'stage'] as const,
      registers,
    }),
    activityDuration: new Histogram({
      name: 'report_activity_duration_seconds',
      help: 'Activity attempts, by activity and outcome (success, failure)',
      labelNames: ['activity', 'outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    llmTokens: new Counter({
      name: 'report_llm_tokens_total',
      help: 'LLM tokens paid for, by model and kind (prompt, completion)',
      labelNames: ['model', 'kind'] as const,
      registers,
    }),
    llmCost: new Counter({
      name: 'report_llm_estimated_cost_usd_total',
      help: 'Estimated LLM spend in US dollars, from list prices (or TOKEN_PRICES_USD_PER_MILLION), by model; unpriced models add 0',
      labelNames: ['model'] as const,
      registers,
    }),
    pdfSize: new Histogram({
      name: 'report_pdf_size_bytes',
      help: 'Size of rendered PDFs',
      buckets: [16e3, 32e3, 64e3, 128e3, 256e3, 512e3, 1e6, 2e6, 5e6],
      registers,
    }),
    pdfRender: new Histogram({
      name: 'report_pdf_render_seconds',
      help: 'Time to render a PDF',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    emails: new Counter({
      name: 'report_emails_total',
      help: 'Notification emails by result (sent, failed, skipped)',
      labelNames: ['status'] as const,
      registers,
    }),
    reviewDecisions: new Counter({
      name: 'report_review_decisions_total',
      help: 'Review decisions, by decision (approve, reject) and who made it (reviewer, timeout)',
      labelNames: ['decision', 'by'] as const,
      registers,
    }),
    reviewWait: new Histogram({
      name: 'report_review_wait_seconds',
      help: 'How long reports waited for their review decision, by who made it (reviewer, timeout)',
      labelNames: ['by'] as const,
      buckets: [10, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
      registers,
    }),
    reviewDecisionsConsumed: new Counter({
      name: 'report_review_decisions_consumed_total',
      help: 'Review decisions read from Kafka, by outcome: decided, or why it was dead-lettered (invalid-decision, report-not-found, review-not-pending, reviewer-not-allowed, report-ended, update-failed, not-avro, unknown-schema-id, wrong-schema)',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

/**
 * A model name as a label: models the price list knows (by family), the configured default,
 * anything else `other`, so that free-form model names cannot make the label unbounded.
 */
export function modelLabel(
  model: string,
  defaultModel: string,
  prices: PriceList = LIST_PRICES_PER_MILLION,
): string {
  return pricedModel(model, prices) ?? (model === defaultModel ? model : 'other');
}
