import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * The service's whole configuration: read from the environment once at start-up, validated,
 * and typed from this schema. Nothing else in src/ reads process.env.
 */

const hostPort = z
  .string()
  .regex(/^[^\s:/]+:\d{1,5}$/, 'expected host:port, e.g. temporal.internal:7233');

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    {
      message: `expected a URL with scheme ${protocols.map((p) => p.replace(':', '://')).join(' or ')}`,
    },
  );

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const topicName = (fallback: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name (letters, digits, . _ -)')
    .default(fallback);

const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: "expected 'true' or 'false'" })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Characters of a prompt a log line may show; 0 logs only its length. */
  LOG_PROMPT_CHARS: z.coerce.number().int().min(0).max(10_000).default(0),

  TEMPORAL_ADDRESS: hostPort,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('report-generation'),
  WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt(20),
  /** Activities of the report task queue running at once per worker (the PDF, the email). */
  WORKER_ACTIVITY_CONCURRENCY: positiveInt(20),
  /** LLM calls in flight at once per worker: the LLM task queue's slots. Follow the provider's limits. */
  LLM_MAX_CONCURRENCY: positiveInt(200),
  /** Worker threads that render PDFs; one per core by default. */
  PDF_RENDER_THREADS: positiveInt(availableParallelism()),
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  /** The Temporal SDK's own Prometheus exporter, on loopback; /metrics of the ops port re-exports it. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  /** /metrics, /health and /ready of the worker and the consumer (the API serves its own). */
  OPS_HOST: z.string().min(1).default('0.0.0.0'),
  OPS_PORT: z.coerce.number().int().min(0).max(65535).default(9090),

  KAFKA_BROKERS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(z.array(hostPort).min(1, 'expected a comma-separated list of host:port')),
  KAFKA_CLIENT_ID: z.string().min(1).default('report-pipeline'),
  KAFKA_CONSUMER_GROUP: z.string().min(1).default('report-pipeline-requests'),
  KAFKA_CONSUMER_CONCURRENCY: positiveInt(3),
  /** Records of one partition admitted at once: one inbox round trip, then their starts in parallel. */
  KAFKA_CONSUMER_MAX_IN_FLIGHT: positiveInt(50),
  /**
   * How long the group waits for a silent consumer before its partitions move to the others:
   * the time a crashed consumer's records wait. Heartbeats go every third of it.
   */
  KAFKA_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300000).default(30000),
  TOPIC_REPORTS_REQUESTED: topicName('reports.requested'),
  TOPIC_REPORTS_REQUESTED_DLQ: topicName('reports.requested.dlq'),
  TOPIC_REPORTS_COMPLETED: topicName('reports.completed'),
  TOPIC_REPORTS_FAILED: topicName('reports.failed'),
  TOPIC_NOTIFICATIONS_EMAIL: topicName('notifications.email'),
  SCHEMA_REGISTRY_URL: url(['http:', 'https:']),

  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: positiveInt(10),

  SMTP_URL: url(['smtp:', 'smtps:']),
  MAIL_FROM: z
    .email({ message: 'expected an email address' })
    .default('reports@report-pipeline.local'),
  MAIL_ATTACH_PDF: booleanFlag(true),

  OPENAI_API_KEY: z.string().min(1, 'must not be empty'),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_MAX_TOKENS: positiveInt(2048),
  OPENAI_TIMEOUT_MS: positiveInt(50_000),
  /** Shown beside the model's name in the PDF, the email and the page; say what to trust. */
  LLM_MODEL_NOTE: z.string().trim().max(300).default(''),
  PROMPT_MAX_CHARS: positiveInt(20_000),

  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_BASE_URL: url(['http:', 'https:']).default('http://127.0.0.1:3000'),
  HTTP_BODY_LIMIT_BYTES: positiveInt(256 * 1024),
  /** Requests to /api per minute for one API key (or, without keys, one client address). */
  HTTP_RATE_LIMIT_PER_MINUTE: positiveInt(600),
  /** Event streams one API key (or client address) may hold open at once. */
  HTTP_EVENT_STREAMS_PER_CLIENT: positiveInt(20),
  /** Comma-separated bearer keys; when set, every /api route needs one of them. */
  API_KEYS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().min(16, 'each API key needs at least 16 characters'))),
});

export type Config = z.infer<typeof configSchema>;

/** Thrown at start-up when a setting is missing or malformed; names every offending variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable is treated as unset, so `FOO=` falls back to the default or is "missing".
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = configSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(root)');
      const missing = issue.code === 'invalid_type' && present[variable] === undefined;
      return { variable, message: missing ? 'is required but not set' : issue.message };
    }),
  );
}
