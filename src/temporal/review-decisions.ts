import { createHash } from 'node:crypto';
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  REVIEW_REFUSALS,
  type ReviewDecision,
  type ReviewDecisionInput,
  type ReviewRefusal,
} from '../domain/review';
import { reviewUpdate } from '../workflows/generate-report-workflow';

/** What became of a decision sent to a report's workflow. */
export type DecisionOutcome =
  | { outcome: 'decided'; decision: ReviewDecision }
  /** The workflow's validator refused it; nothing was recorded. */
  | { outcome: 'refused'; refusal: ReviewRefusal; message: string }
  /**
   * Temporal holds it, but no worker took it within the wait (every worker is down or busy):
   * it is applied when one does.
   */
  | { outcome: 'submitted' }
  | { outcome: 'not-found' }
  /** The report's workflow has ended. */
  | { outcome: 'ended' };

const REFUSALS: readonly string[] = Object.values(REVIEW_REFUSALS);

/**
 * The update id of a decision: the same reviewer sending the same decision again (a retried
 * POST, a redelivered Kafka record) reaches the update Temporal already has, and gets its
 * outcome, instead of being refused as a second decision.
 */
export function decisionIdOf(input: ReviewDecisionInput): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([input.reviewer, input.decision, input.comment ?? '']))
    .digest('hex');
  return `review-${digest.slice(0, 40)}`;
}

/**
 * Sends a decision to the report's workflow as its `review` update and waits up to `waitMs` for
 * the outcome. Anything other than the outcomes above (Temporal unreachable, say) is thrown.
 */
export async function decideReview(
  client: Client,
  workflowId: string,
  input: ReviewDecisionInput,
  waitMs: number,
): Promise<DecisionOutcome> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const decision = await client.withDeadline(Date.now() + waitMs, () =>
      handle.executeUpdate(reviewUpdate, { args: [input], updateId: decisionIdOf(input) }),
    );
    return { outcome: 'decided', decision };
  } catch (error: unknown) {
    if (error instanceof WorkflowUpdateFailedError) {
      const cause = error.cause;
      if (cause instanceof ApplicationFailure && cause.type && REFUSALS.includes(cause.type))
        return { outcome: 'refused', refusal: cause.type as ReviewRefusal, message: cause.message };
      throw error;
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return { outcome: 'submitted' };
    if (error instanceof WorkflowNotFoundError) {
      // Temporal answers the same for a workflow that never was and one that has ended.
      const exists = await handle.describe().then(
        () => true,
        (describeError: unknown) => {
          if (describeError instanceof WorkflowNotFoundError) return false;
          throw describeError;
        },
      );
      return exists ? { outcome: 'ended' } : { outcome: 'not-found' };
    }
    throw error;
  }
}
