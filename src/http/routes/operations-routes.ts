import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { runCheck } from '../../observability/ops-server';
import type { ApiDeps } from '../app';

const checkResult = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const readiness = z
  .object({ status: z.enum(['ready', 'unready']), checks: z.record(z.string(), checkResult) })
  .meta({ id: 'Readiness' });

/** Liveness, readiness and metrics: unauthenticated, for the platform rather than for users. */
export const operationsRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health',
      {
        schema: {
          operationId: 'health',
          summary: 'Liveness: the process answers',
          tags: ['operations'],
          security: [],
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/ready',
      {
        schema: {
          operationId: 'ready',
          summary: 'Readiness: Temporal and PostgreSQL answer',
          tags: ['operations'],
          security: [],
          response: { 200: readiness, 503: readiness },
        },
      },
      async (_request, reply) => {
        const [temporal, postgres] = await Promise.all([
          runCheck(() => deps.temporal.workflowService.getSystemInfo({})),
          runCheck(() => deps.dataSource.query('SELECT 1')),
        ]);
        const ok = temporal.ok && postgres.ok;
        return reply
          .code(ok ? 200 : 503)
          .send({ status: ok ? 'ready' : 'unready', checks: { temporal, postgres } });
      },
    );

    app.get(
      '/metrics',
      {
        schema: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          tags: ['operations'],
          security: [],
          produces: ['text/plain'],
          response: { 200: z.string() },
        },
      },
      async (_request, reply) =>
        reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
    );
  };
