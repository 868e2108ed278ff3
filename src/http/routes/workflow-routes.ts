import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RequestRejectedError, validateRequest } from '../../domain/request-validation';
import { reportIdFor, workflowIdFor } from '../../domain/ids';
import { startReport } from '../../temporal/start-report';
import { cancelSignal } from '../../workflows/generate-report-workflow';
import type { ServiceMetrics } from '../../observability/metrics';
import type { ApiDeps } from '../app';
import { ApiError, errorResponses } from '../errors';
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
    metrics: ServiceMetrics,
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
            'Answers at once with the workflow id and where to follow it; never waits for the report. The same Idempotency-Key and body return the same workflow (202 the first time, 200 after); the same key with another body is refused with 409 and starts nothing.',
          tags: ['workflows'],
          headers: z.object({ 'idempotency-key': idempotencyKeyHeader }),
          body: generateReportBody,
          response: {
            200: startedReport.meta({ description: 'The key already had this workflow' }),
            202: startedReport.meta({ description: 'Started' }),
            ...errorResponses(400, 401, 409, 413, 415, 422, 503),
          },
        },
      },
      async (request, reply) => {
        const headerKey = request.headers['idempotency-key'];
        let validated: ReturnType<typeof validateRequest>;
        try {
          validated = validateRequest(
            { ...request.body, idempotencyKey: headerKey ?? 'derived' },
            { promptMaxChars: deps.config.PROMPT_MAX_CHARS },
            'http',
          );
        } catch (error: unknown) {
          if (error instanceof RequestRejectedError) {
            throw error.reason === 'prompt-too-large'
              ? new ApiError(422, 'PROMPT_TOO_LARGE', error.message)
              : new ApiError(400, 'VALIDATION_FAILED', error.message);
          }
          throw error;
        }
        const { payloadHash } = validated;
        // Without a key the body is the key: resending the same request finds the same report.
        const idempotencyKey = headerKey ?? `http-${payloadHash.slice(0, 40)}`;
        const report = { ...validated.request, idempotencyKey };
        const ids = {
          idempotencyKey,
          workflowId: workflowIdFor(idempotencyKey),
          reportId: reportIdFor(idempotencyKey),
        };
        request.log = request.log.child(ids);

        const outcome = await deps.inbox
          .record({ ...ids, payloadHash, source: 'http' })
          .catch((error: unknown) => {
            throw unavailable('PostgreSQL', error);
          });
        if (outcome === 'conflict') {
          throw new ApiError(
            409,
            'IDEMPOTENCY_KEY_CONFLICT',
            `idempotency key ${idempotencyKey} was first used for a different request; nothing was started`,
            { workflowId: ids.workflowId },
          );
        }
        // A duplicate is started too: the first attempt may have been recorded and then failed
        // to reach Temporal. The start policy returns the existing workflow.
        metrics.startsInFlight.inc({ source: 'http' });
        await startReport(deps.temporal, deps.config.TEMPORAL_TASK_QUEUE, report)
          .catch((error: unknown) => {
            throw unavailable('Temporal', error);
          })
          .finally(() => metrics.startsInFlight.dec({ source: 'http' }));
        const created = outcome === 'new';
        metrics.workflowStarts.inc({ source: 'http', result: created ? 'created' : 'existing' });
        request.log.info({ outcome }, created ? 'report started' : 'existing report returned');
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
