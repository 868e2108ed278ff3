import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * The service's configuration: each entry point reads the environment once at start-up with its
 * own schema, validated and typed from it. Nothing else in src/ reads process.env.
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

/**
 * `id=number` pairs, comma-separated (`svc-a=2, svc-b=0.5`): a value per requester id, for the
 * requesters that differ from the default. An id may hold any character but `,` and `=`.
 */
const numbersById = (value: z.ZodNumber) =>
  z
    .string()
    .default('')
    .transform((text, ctx) => {
      const byId = new Map<string, number>();
      for (const entry of text.split(',').map((e) => e.trim())) {
        if (entry === '') continue;
        const [id, raw, extra] = entry.split('=').map((part) => part.trim());
        const parsed = value.safeParse(raw === undefined || raw === '' ? NaN : Number(raw));
        if (!id || extra !== undefined || !parsed.success) {
          ctx.addIssue({
            code: 'custom',
            message: `expected id=number pairs separated by commas, e.g. svc-a=2,svc-b=0.5; "${entry}" is not one${parsed.success || !id ? '' : ` (${parsed.error.issues[0]?.message})`}`,
          });
          return z.NEVER;
        }
        if (byId.has(id)) {
          ctx.addIssue({ code: 'custom', message: `${id} is given twice` });
          return z.NEVER;
        }
        byId.set(id, parsed.data);
      }
      return byId;
    });

/*
 * Settings by what they configure. Each entry point composes the sections it uses (below), so a
 * process neither needs nor holds a setting, or a secret, that it never reads.
 */

const logging = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Characters of a prompt a log line may show; 0 logs only its length. */
  LOG_PROMPT_CHARS: z.coerce.number().int().min(0).max(10_000).default(0),
});

const database = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: positiveInt(10),
});

const temporal = z.object({
  TEMPORAL_ADDRESS: hostPort,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('report-generation'),
});

/** What a report request may be: checked where it is admitted (API, consumer) and by the worker. */
const requests = z.object({
  PROMPT_MAX_CHARS: positiveInt(20_000),
});

/**
 * How long to wait for a worker to apply a review decision: then the API answers 202, and the
 * decision consumer holds the record and sends it again. Temporal holds the decision meanwhile
 * and a worker applies it when one runs again.
 */
const reviews = z.object({
  REVIEW_DECISION_WAIT_MS: positiveInt(10_000),
});

/**
 * How the report task queues share the workers between requesters (Temporal's task queue
 * fairness): each requester's tasks form a queue of their own, served in weighted turns. A
 * requester not listed has weight 1; one with 2 is served twice as often. Every process that
 * starts reports (the API, the consumer) must be given the same weights.
 */
const scheduling = z.object({
  FAIRNESS_WEIGHTS: numbersById(z.number().positive().max(1000)),
});

/**
 * Daily LLM token budgets per requester (a UTC day), checked where requests are admitted (the
 * API, the consumer): a requester whose reports have used its budget today gets no new report
 * until the next UTC midnight. 0 is no budget, for the default and for a requester alike, so
 * `svc-b=0` exempts svc-b from a default budget.
 */
const budgets = z.object({
  TOKEN_BUDGET_PER_DAY: z.coerce.number().int().min(0).default(0),
  TOKEN_BUDGETS: numbersById(z.number().int().min(0)),
});

/**
 * US dollars per million tokens, `model=prompt/completion` pairs (`my-model=0.2/0.8`), over the
 * list prices in src/domain/llm-cost.ts: the cost estimates of the metrics (worker) and of the
 * status and result (API). A model may hold any character but `,` and `=`.
 */
const costs = z.object({
  TOKEN_PRICES_USD_PER_MILLION: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const prices = new Map<string, { prompt: number; completion: number }>();
      for (const entry of text.split(',').map((e) => e.trim())) {
        if (entry === '') continue;
        const match = /^([^=]+)=\s*([0-9.]+)\s*\/\s*([0-9.]+)$/.exec(entry);
        const [prompt, completion] = [Number(match?.[2]), Number(match?.[3])];
        if (!match || !Number.isFinite(prompt) || !Number.isFinite(completion)) {
          ctx.addIssue({
            code: 'custom',
            message: `expected model=prompt/completion pairs in US dollars per million tokens, separated by commas, e.g. my-model=0.2/0.8; "${entry}" is not one`,
          });
          return z.NEVER;
        }
        const model = match[1]!.trim();
        if (prices.has(model)) {
          ctx.addIssue({ code: 'custom', message: `${model} is given twice` });
          return z.NEVER;
        }
        prices.set(model, { prompt, completion });
      }
      return prices;
    }),
});

const worker = z.object({
  WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt(20),
  /** Activities of the report task queue running at once per worker (the PDF, the email). */
  WORKER_ACTIVITY_CONCURRENCY: positiveInt(20),
  /**
   * Workflow tasks a worker takes at once. They run one at a time on its workflow thread, so
   * many more only wait inside the worker, in arrival order, instead of on Temporal's task queue,
   * where priority and fairness order them. Not fewer than 6 either: one slot always polls the
   * shared queue for new reports, and each brings four more workflow tasks to the worker's
   * sticky queue, where Temporal applies priority but not fairness. With a quarter of the slots
   * taking in new reports, a flood moved from the fair queue to the sticky one (README).
   */
  WORKER_WORKFLOW_TASK_CONCURRENCY: positiveInt(6),
  /** LLM calls in flight at once per worker: the LLM task queue's slots. Follow the provider's limits. */
  LLM_MAX_CONCURRENCY: positiveInt(200),
  /** Worker threads that render PDFs; one per core by default. */
  PDF_RENDER_THREADS: positiveInt(availableParallelism()),
  WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),
  /** The Temporal SDK's own Prometheus exporter, on loopback; /metrics of the ops port re-exports it. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
});

/** /metrics, /health and /ready of the worker and the consumer (the API serves its own). */
const ops = z.object({
  OPS_HOST: z.string().min(1).default('0.0.0.0'),
  OPS_PORT: z.coerce.number().int().min(0).max(65535).default(9090),
});

const kafka = z.object({
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
});

const requestConsumer = z.object({
  KAFKA_CONSUMER_GROUP: z.string().min(1).default('report-pipeline-requests'),
  KAFKA_CONSUMER_CONCURRENCY: positiveInt(3),
  /** Records of one partition admitted at once: one inbox round trip, then their starts in parallel. */
  KAFKA_CONSUMER_MAX_IN_FLIGHT: positiveInt(50),
  /**
   * How long the group waits for a silent consumer before its partitions move to the others:
   * the time a crashed consumer's records wait. Heartbeats go every third of it.
   */
  KAFKA_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300000).default(30000),
});

/** The consumer of the review decisions upstream systems publish: a group of its own. */
const reviewConsumer = z.object({
  KAFKA_REVIEW_CONSUMER_GROUP: z.string().min(1).default('report-pipeline-review-decisions'),
});

const requestTopics = z.object({
  TOPIC_REPORTS_REQUESTED: topicName('reports.requested'),
  TOPIC_REPORTS_REQUESTED_DLQ: topicName('reports.requested.dlq'),
});

const reviewTopics = z.object({
  TOPIC_REVIEW_DECISIONS: topicName('reports.review-decisions'),
  TOPIC_REVIEW_DECISIONS_DLQ: topicName('reports.review-decisions.dlq'),
});

/** Where the outbox publishes (the worker) and whose schemas the release registers. */
const eventTopics = z.object({
  TOPIC_REPORTS_COMPLETED: topicName('reports.completed'),
  TOPIC_REPORTS_FAILED: topicName('reports.failed'),
  TOPIC_NOTIFICATIONS_EMAIL: topicName('notifications.email'),
});

const registry = z.object({
  SCHEMA_REGISTRY_URL: url(['http:', 'https:']),
});

const llm = z.object({
  OPENAI_API_KEY: z.string().min(1, 'must not be empty'),
  OPENAI_BASE_URL: url(['http:', 'https:']).optional(),
  OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  OPENAI_MAX_TOKENS: positiveInt(2048),
  OPENAI_TIMEOUT_MS: positiveInt(50_000),
  /** Shown beside the model's name in the PDF, the email and the page; say what to trust. */
  LLM_MODEL_NOTE: z.string().trim().max(300).default(''),
});

const mail = z.object({
  SMTP_URL: url(['smtp:', 'smtps:']),
  /** SMTP connections a worker keeps open and reuses; emails beyond them wait for one. */
  SMTP_MAX_CONNECTIONS: positiveInt(5),
  MAIL_FROM: z
    .email({ message: 'expected an email address' })
    .default('reports@report-pipeline.local'),
  MAIL_ATTACH_PDF: booleanFlag(true),
});

/** The API's address as readers reach it: the base of the PDF links in emails and events. */
const links = z.object({
  PUBLIC_BASE_URL: url(['http:', 'https:']).default('http://127.0.0.1:3000'),
});

const http = z.object({
  HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
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

/** `src/http/main.ts`: reads the database and Temporal, starts workflows; no Kafka, LLM or SMTP. */
export const apiConfigSchema = z.object({
  ...logging.shape,
  ...database.shape,
  ...temporal.shape,
  ...requests.shape,
  ...reviews.shape,
  ...scheduling.shape,
  ...budgets.shape,
  ...costs.shape,
  ...http.shape,
});

/** `src/worker/main.ts`: runs the activities (LLM, PDF, email) and relays the outbox to Kafka. */
export const workerConfigSchema = z.object({
  ...logging.shape,
  ...database.shape,
  ...temporal.shape,
  ...requests.shape,
  ...worker.shape,
  ...ops.shape,
  ...kafka.shape,
  ...registry.shape,
  ...eventTopics.shape,
  ...llm.shape,
  ...costs.shape,
  ...mail.shape,
  ...links.shape,
});

/**
 * `src/consumers/main.ts`: admits requests from Kafka and starts their workflows, and applies
 * the review decisions upstream systems publish.
 */
export const consumerConfigSchema = z.object({
  ...logging.shape,
  ...database.shape,
  ...temporal.shape,
  ...requests.shape,
  ...reviews.shape,
  ...scheduling.shape,
  ...budgets.shape,
  ...ops.shape,
  ...kafka.shape,
  ...requestConsumer.shape,
  ...reviewConsumer.shape,
  ...requestTopics.shape,
  ...reviewTopics.shape,
  ...registry.shape,
});

/** `src/release/main.ts`: migrates the database and registers every Avro contract. */
export const releaseConfigSchema = z.object({
  ...logging.shape,
  ...database.shape,
  ...registry.shape,
  ...requestTopics.pick({ TOPIC_REPORTS_REQUESTED: true }).shape,
  ...reviewTopics.pick({ TOPIC_REVIEW_DECISIONS: true }).shape,
  ...eventTopics.shape,
});

/** `src/entities/migrate.ts`: the database only. */
export const migrateConfigSchema = database;

/** `src/consumers/redrive-dlq.ts`: moves dead letters back to the request topic. */
export const redriveConfigSchema = z.object({
  ...kafka.shape,
  ...requestTopics.shape,
});

/** Every setting of every process: for tests and benchmarks that run them all side by side. */
export const configSchema = z.object({
  ...apiConfigSchema.shape,
  ...workerConfigSchema.shape,
  ...consumerConfigSchema.shape,
  ...releaseConfigSchema.shape,
  ...migrateConfigSchema.shape,
  ...redriveConfigSchema.shape,
});

export type Config = z.infer<typeof configSchema>;
export type ApiConfig = z.infer<typeof apiConfigSchema>;
export type WorkerConfig = z.infer<typeof workerConfigSchema>;
export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;
export type ReleaseConfig = z.infer<typeof releaseConfigSchema>;
export type MigrateConfig = z.infer<typeof migrateConfigSchema>;
export type RedriveConfig = z.infer<typeof redriveConfigSchema>;

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

/**
 * Reads `env` with an entry point's schema (`apiConfigSchema`, …): only that process's settings
 * are required, and only they are returned. Without a schema, every setting of every process.
 */
export function loadConfig(env?: NodeJS.ProcessEnv): Config;
export function loadConfig<S extends z.ZodObject>(env: NodeJS.ProcessEnv, schema: S): z.infer<S>;
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  schema: z.ZodObject = configSchema,
): unknown {
  // An empty variable is treated as unset, so `FOO=` falls back to the default or is "missing".
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(root)');
      const missing = issue.code === 'invalid_type' && present[variable] === undefined;
      return { variable, message: missing ? 'is required but not set' : issue.message };
    }),
  );
}
