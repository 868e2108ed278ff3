import { Context } from '@temporalio/activity';
import { currentWorkflow } from './context';
import { messageIdFor, subjectFor } from './send-notification-activity';
import { startedTimings, type NotificationResult, type ReportResult } from '../domain/report';
import { eventIdFor } from '../domain/ids';
import type { EventPayloads, EventTopics, ReviewOutcome } from '../contracts';
import type { ReviewDecision } from '../domain/review';
import type { OutboxEventType } from '../entities/outbox-event';
import type { NewOutboxEvent } from '../storage/outbox';
import type { ReportStore } from '../storage/report-store';

export interface PublishOutcomeInput {
  result: ReportResult;
  idempotencyKey: string;
  notification?: Pick<NotificationResult, 'status' | 'messageId' | 'to' | 'subject'>;
}

/**
 * Step 5: the report's final state and the events that announce it are written together
 * (transactional outbox). Event ids come from the workflow run, so a retry re-queues nothing.
 */
export function createPublishOutcomeActivity(deps: {
  reports: ReportStore;
  /** The topic of each event type, written into its outbox row. */
  topics: EventTopics;
  publicBaseUrl: string;
  mailFrom: string;
  /** Told once the events are committed, so they go out now rather than at the relay's poll. */
  onEventsQueued?: () => void;
}) {
  return async function publishOutcome(
    input: PublishOutcomeInput,
  ): Promise<{ eventsQueued: number; eventIds: string[]; attempt: number }> {
    const { workflowId, runId } = currentWorkflow();
    const { result } = input;
    const now = Date.now();
    const events: NewOutboxEvent[] = [];
    const event = <T extends OutboxEventType>(
      eventType: T,
      payload: Omit<EventPayloads[T], 'eventId'>,
    ): void => {
      const eventId = eventIdFor(workflowId, runId, eventType);
      events.push({
        eventId,
        eventType,
        topic: deps.topics[eventType].topic,
        messageKey: result.reportId,
        // TypeScript cannot see that a generic Omit plus the omitted key is the whole type.
        payload: { eventId, ...payload } as EventPayloads[T],
      });
    };
    // Stages that have finished: this step itself (publish) is still running as it writes them.
    const durations = Object.fromEntries(
      Object.entries(result.timings).flatMap(([stage, timing]) =>
        timing?.durationMs === undefined ? [] : [[stage, timing.durationMs]],
      ),
    );

    if (result.status === 'COMPLETED') {
      event('ReportCompleted', {
        reportId: result.reportId,
        workflowId,
        idempotencyKey: input.idempotencyKey,
        pdf: {
          url: `${deps.publicBaseUrl}/api/reports/${result.reportId}/pdf`,
          bytes: result.pdf?.ref.bytes ?? 0,
          pages: result.pdf?.pages ?? 0,
        },
        usage: result.usage ?? { promptTokens: 0, completionTokens: 0 },
        model: result.model ?? null,
        timings: durations,
        completedAt: now,
        review: reviewOutcome(result.review?.decision),
      });
    } else {
      event('ReportFailed', {
        reportId: result.reportId,
        idempotencyKey: input.idempotencyKey,
        stage: result.failure?.stage ?? 'callLlm',
        errorType:
          result.status === 'CANCELLED' ? 'Cancelled' : (result.failure?.errorType ?? 'Unknown'),
        message: result.failure?.message ?? result.status,
        compensated: result.compensated,
        failedAt: now,
        review: reviewOutcome(result.review?.decision),
      });
    }
    if (input.notification) {
      event('EmailNotification', {
        reportId: result.reportId,
        to: input.notification.to,
        subject: input.notification.subject ?? subjectFor(result.title ?? result.reportId),
        messageId: input.notification.messageId ?? messageIdFor(result.reportId, deps.mailFrom),
        status: input.notification.status === 'SENT' ? 'SENT' : 'FAILED',
        at: now,
      });
    }

    const { eventsQueued } = await deps.reports.finish({
      reportId: result.reportId,
      status: result.status,
      timings: startedTimings(result.timings),
      notificationStatus: result.notification ?? null,
      failure: result.failure ?? null,
      events,
    });
    if (eventsQueued > 0) deps.onEventsQueued?.();
    return {
      eventsQueued,
      eventIds: events.map((e) => e.eventId),
      attempt: Context.current().info.attempt,
    };
  };
}

/** A review decision as the events carry it; null when there was no review (or no decision). */
function reviewOutcome(decision: ReviewDecision | undefined): ReviewOutcome | null {
  if (!decision) return null;
  return {
    decision: decision.decision,
    reviewer: decision.reviewer ?? null,
    automatic: decision.automatic,
    comment: decision.comment ?? null,
    decidedAt: Date.parse(decision.decidedAt),
  };
}
