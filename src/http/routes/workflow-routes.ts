import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BudgetExceededError, secondsUntil } from '../../domain/budget';
import type { ReportIds } from '../../domain/ids';
import type { RequestRejectedError } from '../../domain/request-validation';
import { cancelSignal } from '../../workflows/generate-report-workflow';
import type { Intake } from '../../intake/intake';
import type { ApiDeps } from '../app';
import { ApiError, errorResponses, startRefusedResponse } from '../errors';
import { streamProgress, type OpenStreams } from '../progress-stream';
import {
  generateReportBody,
  progressEvent,
  idempotencyKeyHeader,
  linksFor,
  reportResultView,
  reportStatusView,
  startedReport,
  workflowIdParams,
} from '../schemas';

/** Starting, reading and cancelling report workflows. */
export const workflowRoutes =
  (
    deps: ApiDeps,
    intake: Intake,
    streams: OpenStreams,
    clientOf: (request: FastifyRequest) => string,
  ): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/api/workflows/generate-report',
      {
        schema: {
          operationId: 'startReport',
          summary: 'Start a report',
          description:
            'Answers at once with the workflow id and where to follow it; never waits for the report. The same Idempotency-Key and body return the same workflow (202 the first time, 200 after); the same key with another body is refused with 409 and starts nothing. A requester whose daily token budget is spent is refused with 429 BUDGET_EXCEEDED until the next 00:00 UTC, and nothing is started; a report admitted under its budget runs to the end.',
          tags: ['workflows'],
          headers: z.object({ 'idempotency-key': idempotencyKeyHeader }),
          body: generateReportBody,
          response: {
            200: startedReport.meta({ description: 'The key already had this workflow' }),
            202: startedReport.meta({ description: 'Started' }),
            ...errorResponses(400, 401, 409, 413, 415, 422, 503),
            429: startRefusedResponse,
          },
        },
      },
      async (request, reply) => {
        const { admissions } = await intake.admit(
          [{ ...request.body, idempotencyKey: request.headers['idempotency-key'] }],
          'http',
          (dependency, operation) =>
            operation().catch((error: unknown) => {
              throw unavailable(dependency, error);
            }),
        );
        const admission = admissions[0]!;
        if (admission.outcome === 'refused')
          throw refusal(admission.error, admission.ids, deps.now?.() ?? new Date());
        const { ids } = admission;
        request.log = request.log.child(ids);
        await admission.started;
        const created = admission.outcome === 'new';
        request.log.info(
          { outcome: admission.outcome },
          created ? 'report started' : 'existing report returned',
        );
        const links = linksFor(ids.workflowId, ids.reportId);
        return reply
          .code(created ? 202 : 200)
          .header('location', links.status)
          .send({ ...ids, created, links });
      },
    );

    app.get(
      '/api/workflows/:id/status',
      {
        schema: {
          operationId: 'getReportStatus',
          summary: 'Where a report is: stage, progress, attempts, timings, final state',
          tags: ['workflows'],
          params: workflowIdParams,
          response: { 200: reportStatusView, ...errorResponses(400, 401, 404) },
        },
      },
      async (request) => deps.reader.status(request.params.id),
    );

    app.get(
      '/api/workflows/:id/result',
      {
        schema: {
          operationId: 'getReportResult',
          summary: 'How a report ended, with its PDF link when it completed',
          description:
            'Answers 409 REPORT_NOT_READY with Retry-After while the report runs. A report that failed or was cancelled answers 200 with its status and failure.',
          tags: ['workflows'],
          params: workflowIdParams,
          response: { 200: reportResultView, ...errorResponses(400, 401, 404, 409) },
        },
      },
      async (request) => deps.reader.result(request.params.id),
    );

    app.get(
      '/api/workflows/:id/events',
      {
        schema: {
          operationId: 'streamReportEvents',
          summary: 'Progress as server-sent events until the report ends',
          description:
            'Each `progress` event carries a ReportStatus whenever it changes; a final `end` event carries the last one, then the stream closes.',
          tags: ['workflows'],
          params: workflowIdParams,
          response: {
            200: {
              description: 'The report’s progress, one event per change, until it ends',
              content: { 'text/event-stream': { schema: progressEvent } },
            },
            ...errorResponses(400, 401, 404),
          },
        },
      },
      async (request, reply) => {
        const first = await deps.reader.status(request.params.id);
        const slot = streams.reserve(clientOf(request));
        await streamProgress(
          request,
          reply,
          first,
          () => deps.reader.status(request.params.id),
          streams,
          slot,
        );
      },
    );

    app.post(
      '/api/workflows/:id/cancel',
      {
        schema: {
          operationId: 'cancelReport',
          summary: 'Cancel a running report; its compensations run',
          tags: ['workflows'],
          params: workflowIdParams,
          response: {
            202: z
              .object({
                workflowId: z.string(),
                status: z.literal('CANCELLING'),
                links: startedReport.shape.links,
              })
              .meta({ description: 'Cancel requested; follow the status until CANCELLED' }),
            ...errorResponses(400, 401, 404, 409),
          },
        },
      },
      async (request, reply) => {
        const view = await deps.reader.requireRunning(request.params.id);
        await deps.temporal.workflow
          .getHandle(view.workflowId)
          .signal(cancelSignal, `cancelled through the API (request ${request.id})`);
        request.log.info({ workflowId: view.workflowId }, 'cancel requested');
        return reply.code(202).send({
          workflowId: view.workflowId,
          status: 'CANCELLING' as const,
          links: linksFor(view.workflowId, view.reportId),
        });
      },
    );
  };

/** The answer to a request the intake refused. */
function refusal(error: RequestRejectedError, ids: ReportIds | undefined, now: Date): ApiError {
  if (error instanceof BudgetExceededError) {
    const { requesterId, used, budget, resetsAt } = error;
    return new ApiError(
      429,
      'BUDGET_EXCEEDED',
      error.message,
      { requesterId, used, budget, resetsAt: resetsAt.toISOString() },
      { 'retry-after': String(secondsUntil(resetsAt, now)) },
    );
  }
  switch (error.reason) {
    case 'prompt-too-large':
      return new ApiError(422, 'PROMPT_TOO_LARGE', error.message);
    case 'idempotency-key-conflict':
      return new ApiError(
        409,
        'IDEMPOTENCY_KEY_CONFLICT',
        `idempotency key ${ids?.idempotencyKey} was first used for a different request; nothing was started`,
        { workflowId: ids?.workflowId },
      );
    default:
      return new ApiError(400, 'VALIDATION_FAILED', error.message);
  }
}

function unavailable(dependency: string, cause: unknown): ApiError {
  const error = new ApiError(
    503,
    'DEPENDENCY_UNAVAILABLE',
    `${dependency} is unavailable; retry with the same Idempotency-Key`,
    undefined,
    { 'retry-after': '5' },
  );
  error.cause = cause;
  return error;
}
