import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { REVIEW_REFUSALS } from '../../domain/review';
import { decideReview, type DecisionOutcome } from '../../temporal/review-decisions';
import type { ApiDeps } from '../app';
import { ApiError, errorResponses } from '../errors';
import {
  linksFor,
  pendingReviewsQuery,
  pendingReviewsView,
  reviewDecided,
  reviewDecisionBody,
  reviewSubmitted,
  workflowIdParams,
} from '../schemas';

/** The review gate: what waits for a decision, and deciding. */
export const reviewRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/reviews',
      {
        schema: {
          operationId: 'listPendingReviews',
          summary: 'Reports waiting for a review decision, longest-waiting first',
          tags: ['reviews'],
          querystring: pendingReviewsQuery,
          response: { 200: pendingReviewsView, ...errorResponses(400, 401) },
        },
      },
      async (request) => deps.reader.pendingReviews(request.query.limit),
    );

    app.post(
      '/api/workflows/:id/review',
      {
        schema: {
          operationId: 'reviewReport',
          summary: 'Approve or reject a report waiting for review',
          description:
            'Answers 200 with the decision as recorded. The same reviewer sending the same decision again gets the same answer. While no worker runs, Temporal holds the decision and the answer is 202 SUBMITTED: it is applied when a worker runs again. A report not waiting for review, or already decided, is 409 REVIEW_NOT_PENDING; a reviewer the request did not name is 403 REVIEWER_NOT_ALLOWED. Nothing is recorded for a refused decision.',
          tags: ['reviews'],
          params: workflowIdParams,
          body: reviewDecisionBody,
          response: {
            200: reviewDecided.meta({ description: 'Decided' }),
            202: reviewSubmitted.meta({
              description: 'Held by Temporal until a worker applies it',
            }),
            ...errorResponses(400, 401, 403, 404, 409, 503),
          },
        },
      },
      async (request, reply) => {
        const workflowId = request.params.id;
        const { reportId } = await deps.reader.requireRunning(workflowId);
        const outcome = await decideReview(
          deps.temporal,
          workflowId,
          request.body,
          deps.config.REVIEW_DECISION_WAIT_MS,
        ).catch((error: unknown) => {
          const unavailable = new ApiError(
            503,
            'DEPENDENCY_UNAVAILABLE',
            'Temporal is unavailable; send the decision again',
            undefined,
            { 'retry-after': '5' },
          );
          unavailable.cause = error;
          throw unavailable;
        });
        request.log.info(
          { workflowId, reviewer: request.body.reviewer, outcome: outcome.outcome },
          'review decision',
        );
        const links = linksFor(workflowId, reportId);
        switch (outcome.outcome) {
          case 'decided':
            return reply
              .code(200)
              .send({ workflowId, status: 'DECIDED', review: outcome.decision, links });
          case 'submitted':
            return reply
              .code(202)
              .header('location', links.status)
              .send({ workflowId, status: 'SUBMITTED', links });
          default:
            throw refusal(workflowId, outcome);
        }
      },
    );
  };

function refusal(
  workflowId: string,
  outcome: Exclude<DecisionOutcome, { outcome: 'decided' | 'submitted' }>,
): ApiError {
  switch (outcome.outcome) {
    case 'not-found':
      return new ApiError(404, 'WORKFLOW_NOT_FOUND', `no report workflow with id ${workflowId}`);
    case 'ended':
      return new ApiError(
        409,
        'REPORT_ALREADY_ENDED',
        'the report already ended; nothing to review',
      );
    case 'refused':
      if (outcome.refusal === REVIEW_REFUSALS.reviewerNotAllowed)
        return new ApiError(403, 'REVIEWER_NOT_ALLOWED', outcome.message);
      if (outcome.refusal === REVIEW_REFUSALS.invalidDecision)
        return new ApiError(400, 'VALIDATION_FAILED', outcome.message);
      return new ApiError(409, 'REVIEW_NOT_PENDING', outcome.message);
  }
}
