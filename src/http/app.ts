import { randomUUID, timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import Fastify, {
  LogController,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
  type FastifyRequest,
} from 'fastify';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/config';
import { createServiceMetrics } from '../observability/metrics';
import type { Inbox } from '../storage/inbox';
import type { ReportFileStore } from '../storage/report-file-store';
import { ApiError, handleError, sendError } from './errors';
import { pageRoutes } from './page';
import { OpenStreams } from './progress-stream';
import type { ReportReader } from './report-reader';
import { operationsRoutes } from './routes/operations-routes';
import { reportRoutes } from './routes/report-routes';
import { workflowRoutes } from './routes/workflow-routes';

export interface ApiDeps {
  temporal: Client;
  dataSource: DataSource;
  inbox: Inbox;
  files: ReportFileStore;
  reader: ReportReader;
  metrics: Registry;
  logger: Logger;
  config: Pick<
    Config,
    'TEMPORAL_TASK_QUEUE' | 'PROMPT_MAX_CHARS' | 'HTTP_BODY_LIMIT_BYTES' | 'API_KEYS'
  >;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The HTTP facade, built from its dependencies and not yet listening: `main.ts` binds it to a
 * port, and tests drive it with `inject` or on port 0.
 */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  ZodTypeProvider
>;

export async function buildApp(deps: ApiDeps): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.config.HTTP_BODY_LIMIT_BYTES,
    // A caller's request id is kept so that one id follows a request across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Probes and scrapes would drown the log; API requests are logged with their request id.
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      disableRequestLogging: (request) => !request.url.startsWith('/api'),
    }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Only JSON bodies: anything else is a 415 rather than a guess.
  app.removeContentTypeParser('text/plain');

  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [deps.metrics],
  });
  const service = createServiceMetrics(deps.metrics);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (deps.config.API_KEYS.length > 0 && request.url.startsWith('/api/')) {
      authorize(request, deps.config.API_KEYS);
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      {
        method: request.method,
        // The template, never the raw URL: ids in paths would make the label unbounded.
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new ApiError(404, 'NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`),
    ),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Report pipeline API',
        version: '1.0.0',
        description:
          'Start AI reports, follow their progress, fetch results and PDFs. Every error is JSON with a stable `error.code`; every response carries `x-request-id`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      ...(deps.config.API_KEYS.length > 0 ? { security: [{ bearer: [] }] } : {}),
      tags: [
        { name: 'workflows', description: 'Start, follow and cancel reports' },
        { name: 'reports', description: 'List reports and download PDFs' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(operationsRoutes(deps));
  const streams = new OpenStreams();
  // Before the server waits for open connections: event streams would hold it for minutes.
  app.addHook('preClose', async () => streams.closeAll());
  await app.register(workflowRoutes(deps, service, streams));
  await app.register(reportRoutes(deps));
  await app.register(pageRoutes());
  return app;
}

function authorize(request: FastifyRequest, keys: string[]): void {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  const problem = !header
    ? 'missing Authorization: Bearer <api key>'
    : !match?.[1]
      ? 'the Authorization header must be "Bearer <api key>"'
      : keys.some((key) => safeEqual(key, match[1]!.trim()))
        ? undefined
        : 'the API key is not valid';
  if (problem) {
    throw new ApiError(401, 'UNAUTHORIZED', problem, undefined, {
      'www-authenticate': 'Bearer realm="report-pipeline"',
    });
  }
}

function safeEqual(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
