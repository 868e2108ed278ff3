import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../app';

const checkResult = z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() });
const readiness = z
  .object({ status: z.enum(['ready', 'unready']), checks: z.record(z.string(), checkResult) })
  .meta({ id: 'Readiness' });

const READY_CHECK_TIMEOUT_MS = 2_000;

async function timed(check: () => Promise<unknown>): Promise<z.output<typeof checkResult>> {
  const started = performance.now();
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), READY_CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error: unknown) {
    return {
      ok: false,
      ms: Math.round(performance.now() - started),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/** Liveness, readiness and metrics: unauthenticated, for the platform rather than for users. */
export const operationsRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/health',
      {
        schema: {
          summary: 'Liveness: the process answers',
          tags: ['operations'],
          response: { 200: z.object({ status: z.literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/ready',
      {
        schema: {
          summary: 'Readiness: Temporal and PostgreSQL answer',
          tags: ['operations'],
          response: { 200: readiness, 503: readiness },
        },
      },
      async (_request, reply) => {
        const [temporal, postgres] = await Promise.all([
          timed(() => deps.temporal.workflowService.getSystemInfo({})),
          timed(() => deps.dataSource.query('SELECT 1')),
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
          summary: 'Prometheus metrics',
          tags: ['operations'],
          produces: ['text/plain'],
          response: { 200: z.string() },
        },
      },
      async (_request, reply) =>
        reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
    );
  };
