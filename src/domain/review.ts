/**
 * The human review gate's vocabulary: what a request asks for, what a reviewer decides, and
 * what the report records. Pure types and rules only: workflow code imports this file.
 */

export type ReviewVerdict = 'APPROVE' | 'REJECT';
export const REVIEW_VERDICTS: readonly ReviewVerdict[] = ['APPROVE', 'REJECT'];

/** What a request asks for: who may decide, how long to wait, and what happens then. */
export interface ReviewPolicy {
  /** The reviewers' ids; only they may decide. */
  reviewers: string[];
  timeoutSeconds: number;
  /** Applied, and recorded as automatic, when nobody decides in time. */
  onTimeout: ReviewVerdict;
}

/** Bounds of a review policy, shared by the request's rules and its documentation. */
export const REVIEW_LIMITS = {
  maxReviewers: 20,
  minTimeoutSeconds: 1,
  /** Thirty days. */
  maxTimeoutSeconds: 30 * 24 * 60 * 60,
  maxCommentChars: 2000,
} as const;

/** A reviewer's decision, as the `review` update carries it. */
export interface ReviewDecisionInput {
  reviewer: string;
  decision: ReviewVerdict;
  comment?: string;
}

/** A decision as the report records it: in its result, its event and its row. */
export interface ReviewDecision {
  decision: ReviewVerdict;
  /** Who decided; absent for an automatic decision. */
  reviewer?: string;
  /** True when the timeout decided. */
  automatic: boolean;
  comment?: string;
  /** ISO-8601 */
  decidedAt: string;
  /** How long the report waited for it. */
  waitedMs: number;
}

/** A report's review while it waits and once decided: what the status and progress show. */
export interface ReviewState {
  reviewers: string[];
  onTimeout: ReviewVerdict;
  /** ISO-8601: when the PDF was stored and the wait began. */
  waitingSince: string;
  /** ISO-8601: when onTimeout applies. */
  deadline: string;
  decision?: ReviewDecision;
}

/** Why a decision was refused; the update's failure type and the API's error code follow it. */
export const REVIEW_REFUSALS = {
  /** The report is not waiting for a decision: not yet, not any more, or never asked for one. */
  notPending: 'ReviewNotPending',
  /** Someone not among the request's reviewers. */
  reviewerNotAllowed: 'ReviewerNotAllowed',
  /** Not a decision: an unknown verdict, or a comment past the limit. */
  invalidDecision: 'InvalidReviewDecision',
} as const;
export type ReviewRefusal = (typeof REVIEW_REFUSALS)[keyof typeof REVIEW_REFUSALS];

/** The failure type a rejected report ends with. */
export const REVIEW_REJECTED = 'ReviewRejected';

/**
 * Why a decision cannot be applied to this review, or undefined when it can: `awaiting` says
 * whether the report is waiting for it now. The workflow's update validator calls it, so a
 * refused decision is never recorded.
 */
export function refuseDecision(
  review: ReviewState | undefined,
  awaiting: boolean,
  input: ReviewDecisionInput,
): { type: ReviewRefusal; message: string } | undefined {
  if (!REVIEW_VERDICTS.includes(input.decision))
    return {
      type: REVIEW_REFUSALS.invalidDecision,
      message: `decision must be APPROVE or REJECT, not ${String(input.decision).slice(0, 40)}`,
    };
  // UTF-16 units, as the API's and the consumer's rule (zod's max) counts them.
  if (input.comment !== undefined && input.comment.length > REVIEW_LIMITS.maxCommentChars)
    return {
      type: REVIEW_REFUSALS.invalidDecision,
      message: `comment: at most ${REVIEW_LIMITS.maxCommentChars} characters`,
    };
  if (review?.decision)
    return {
      type: REVIEW_REFUSALS.notPending,
      message: `the report was already decided: ${describeDecision(review.decision)}`,
    };
  if (!review || !awaiting)
    return { type: REVIEW_REFUSALS.notPending, message: 'the report is not waiting for review' };
  if (!review.reviewers.includes(input.reviewer))
    return {
      type: REVIEW_REFUSALS.reviewerNotAllowed,
      message: `${String(input.reviewer).slice(0, 200)} is not among this report's reviewers`,
    };
  return undefined;
}

/** "REJECT by alice at 2026-…: comment", or "APPROVE automatically at …". */
export function describeDecision(decision: ReviewDecision): string {
  const who = decision.automatic
    ? 'automatically, as nobody decided in time'
    : `by ${decision.reviewer}`;
  const why = decision.comment ? `: ${decision.comment}` : '';
  return `${decision.decision} ${who} at ${decision.decidedAt}${why}`;
}
