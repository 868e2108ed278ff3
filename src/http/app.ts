import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
  type FastifyRequest,
} from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/config';
import { createServiceMetrics } from '../observability/metrics';
import { Intake } from '../intake/intake';
import type { Inbox } from '../storage/inbox';
import type { ReportFileStore } from '../storage/report-file-store';
import type { TokenLedger } from '../storage/token-ledger';
import { startReport } from '../temporal/start-report';
import { ApiError, handleError } from './errors';
import { openApiOptions } from './openapi';
import { pageRoutes } from './page';
import { OpenStreams } from './progress-stream';
import type { ReportReader } from './report-reader';
import { operationsRoutes } from './routes/operations-routes';
import { reportRoutes } from './routes/report-routes';
import { reviewRoutes } from './routes/review-routes';
import { workflowRoutes } from './routes/workflow-routes';
import { UnmatchedRequests } from './unmatched-requests';

export interface ApiDeps {
  temporal: Client;
  dataSource: DataSource;
  inbox: Pick<Inbox, 'recordAll' | 'markStarted'>;
  /** The tokens each requester's reports used today, for its budget. */
  tokenLedger: Pick<TokenLedger, 'usedBetween'>;
  /** The clock that says which UTC day a budget is for; the real one unless a test moves it. */
  now?: () => Date;
  files: Pick<ReportFileStore, 'find'>;
  reader: Pick<ReportReader, 'status' | 'result' | 'requireRunning' | 'list' | 'pendingReviews'>;
  metrics: Registry;
  logger: Logger;
  config: Pick<
    Config,
    | 'TEMPORAL_TASK_QUEUE'
    | 'FAIRNESS_WEIGHTS'
    | 'PROMPT_MAX_CHARS'
    | 'HTTP_BODY_LIMIT_BYTES'
    | 'HTTP_RATE_LIMIT_PER_MINUTE'
    | 'HTTP_EVENT_STREAMS_PER_CLIENT'
    | 'API_KEYS'
    | 'REVIEW_DECISION_WAIT_MS'
    | 'TOKEN_BUDGET_PER_DAY'
    | 'TOKEN_BUDGETS'
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
    // The router's default (100 characters) is shorter than the longest workflow id a valid key
    // gives, and past it the router answers 414 in its own format. Ids of any sane length reach
    // the routes' schemas, which refuse a wrong one with a 400 in the API's format.
    routerOptions: { maxParamLength: 4096 },
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
  // Before any route, so that every route's path and methods are known to the 404/405 answer.
  const unmatched = new UnmatchedRequests();
  app.addHook('onRoute', (route) => unmatched.add(route.url, route.method));
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
  // A request no route takes is a 404 or 405 even when Fastify refused it before routing
  // (a QUERY without Content-Type, say).
  app.setErrorHandler((error: FastifyError, request, reply) =>
    request.is404 ? unmatched.answer(request, reply) : handleError(error, request, reply),
  );
  app.setNotFoundHandler((request, reply) => unmatched.answer(request, reply));

  // Per API key (per client address without keys); only /api, never probes and scrapes. After
  // the authorization hook, so that a bad key is a 401 and does not use up anyone's budget.
  await app.register(rateLimit, {
    max: deps.config.HTTP_RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    allowList: (request) => !request.url.startsWith('/api/'),
    keyGenerator: (request) => clientOf(request, deps.config.API_KEYS),
    errorResponseBuilder: (_request, context) =>
      new ApiError(
        429,
        'RATE_LIMITED',
        `more than ${context.max} requests in a minute from this client; retry in ${Math.ceil(context.ttl / 1000)} s`,
        { limitPerMinute: context.max, retryAfterSeconds: Math.ceil(context.ttl / 1000) },
        { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
      ),
  });

  await app.register(swagger, openApiOptions(deps.config.API_KEYS.length > 0));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(operationsRoutes(deps));
  const streams = new OpenStreams(deps.config.HTTP_EVENT_STREAMS_PER_CLIENT);
  // Before the server waits for open connections: event streams would hold it for minutes.
  app.addHook('preClose', async () => streams.closeAll());
  const intake = new Intake({
    inbox: deps.inbox,
    startReport: (request) =>
      startReport(
        deps.temporal,
        deps.config.TEMPORAL_TASK_QUEUE,
        request,
        deps.config.FAIRNESS_WEIGHTS,
      ),
    promptMaxChars: deps.config.PROMPT_MAX_CHARS,
    budgets: { perDay: deps.config.TOKEN_BUDGET_PER_DAY, byRequester: deps.config.TOKEN_BUDGETS },
    tokenLedger: deps.tokenLedger,
    now: deps.now,
    logger: deps.logger,
    metrics: service,
  });
  await app.register(
    workflowRoutes(deps, intake, streams, (request) => clientOf(request, deps.config.API_KEYS)),
  );
  await app.register(reportRoutes(deps));
  await app.register(reviewRoutes(deps));
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
      : isKnownKey(keys, match[1].trim())
        ? undefined
        : 'the API key is not valid';
  if (problem) {
    throw new ApiError(401, 'UNAUTHORIZED', problem, undefined, {
      'www-authenticate': 'Bearer realm="report-pipeline"',
    });
  }
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Compares the given key with every configured key in constant time: digests have one length
 * whatever the key's, and no comparison stops early, so timing tells neither a key's length nor
 * how many of its characters, nor which key, matched.
 */
export function isKnownKey(keys: string[], given: string): boolean {
  const candidate = digest(given);
  let found = false;
  for (const key of keys) found = timingSafeEqual(digest(key), candidate) || found;
  return found;
}

/**
 * Who a request counts against for the rate limit and the event-stream cap: its API key (by
 * digest, never the key itself) where keys are required, otherwise its address.
 */
function clientOf(request: FastifyRequest, keys: string[]): string {
  const token = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  return keys.length > 0 && token
    ? `key:${digest(token).toString('hex').slice(0, 16)}`
    : `ip:${request.ip}`;
}
