import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { parse } from 'yaml';
import type { Config } from '../src/config/config';
import { reportIdFor } from '../src/domain/ids';
import { configEnv } from '../testing/child-process';
import { LlmStandIn } from '../testing/llm-control';
import { createTopics } from '../testing/service-processes';
import { freePorts } from '../stack/docker';
import { testEndpoints, uniqueName } from '../testing/stack-env';

/**
 * The built service (`npm run build`) as its own processes on the local stack, for the
 * benchmarks: the worker (with its Deployment's runtime settings), the consumer and, when asked,
 * the API, on fresh topics and a task queue of their own, with a tenant of the LLM stand-in.
 * Every ReportCompleted is timed as it arrives.
 */
const root = join(__dirname, '..');

export const say = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The p-th percentile of ascending values (nearest rank). */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/**
 * A built entry point as its own process, as production runs it. Its log lines (warnings and
 * errors, at the bench's LOG_LEVEL) go to stderr, beside the bench's progress, not into the
 * table on stdout.
 */
function spawnBuilt(entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', join(root, 'dist', entry)],
    { cwd: root, env, stdio: ['ignore', 2, 'inherit'] },
  );
}

/**
 * The release step, as a deployment runs it before its pods: migrates the database and
 * registers the contracts. A fresh stack has no tables, and without it every service would
 * hold its first request, retrying, for good.
 */
async function release(env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawnBuilt('release/main.js', env);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`the release step exited with ${code}`);
}

async function waitReady(name: string, url: string, child: ChildProcess): Promise<void> {
  await waitUntil(
    `${name} to be ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      return (await fetch(`${url}/ready`).catch(() => undefined))?.status === 200;
    },
    60_000,
  );
}

/** The runtime settings the worker Deployment gives its container, so the bench runs it alike. */
function workerDeploymentEnv(): Record<string, string> {
  const deployment = parse(readFileSync(join(root, 'k8s/base/worker-deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = deployment.spec.template.spec.containers[0]?.env ?? [];
  // Only literal values: secrets (valueFrom) come from the bench's own configuration.
  return Object.fromEntries(env.flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

export interface Pipeline {
  config: Config;
  kafka: Kafka;
  admin: Admin;
  registry: SchemaRegistry;
  producer: Producer;
  recorder: Consumer;
  requestSchemaId: number;
  /** performance.now() at which each report's ReportCompleted arrived, by report id. */
  completedAt: Map<string, number>;
  worker: ChildProcess;
  workerOps: string;
  consumer: ChildProcess;
  /** The API's base URL, when started with `api: true`. */
  apiUrl?: string;
  api?: ChildProcess;
  llm: LlmStandIn;
  topics: string[];
}

export async function startPipeline(
  base: Config,
  options: { api?: boolean; settings?: Partial<Config> } = {},
): Promise<Pipeline> {
  const llm = new LlmStandIn(testEndpoints.llmControl);
  const { config, kafka, registry, requestSchemaId, topics } = await createTopics({
    ...base,
    ...options.settings,
    TEMPORAL_TASK_QUEUE: uniqueName('bench-reports'),
    OPENAI_BASE_URL: llm.baseUrl,
  });
  await release(configEnv(config, {}));
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  const completedAt = new Map<string, number>();
  const recorder = kafka.consumer({ groupId: uniqueName('bench-recorder') });
  await recorder.connect();
  await recorder.subscribe({ topic: config.TOPIC_REPORTS_COMPLETED, fromBeginning: true });
  await recorder.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? '';
      if (!completedAt.has(key)) completedAt.set(key, performance.now());
    },
  });

  const [workerPort, consumerPort, apiPort] = await freePorts(3);
  const env = (settings: Record<string, string>) =>
    configEnv(config, {
      WORKFLOW_BUNDLE_PATH: join(root, 'dist', 'workflow-bundle.js'),
      ...settings,
    });
  const worker = spawnBuilt('worker/main.js', {
    ...env({ OPS_PORT: String(workerPort) }),
    ...workerDeploymentEnv(),
  });
  const consumer = spawnBuilt('consumers/main.js', env({ OPS_PORT: String(consumerPort) }));
  const workerOps = `http://127.0.0.1:${workerPort}`;
  const apiUrl = options.api ? `http://127.0.0.1:${apiPort}` : undefined;
  const api = apiUrl
    ? spawnBuilt('http/main.js', env({ HTTP_HOST: '127.0.0.1', HTTP_PORT: String(apiPort) }))
    : undefined;
  try {
    await waitReady('worker', workerOps, worker);
    await waitReady('consumer', `http://127.0.0.1:${consumerPort}`, consumer);
    if (api) await waitReady('api', apiUrl!, api);
  } catch (error: unknown) {
    // Whatever started goes, so that a failed start leaves nothing running.
    for (const child of [worker, consumer, api]) child?.kill('SIGKILL');
    await Promise.allSettled([recorder.disconnect(), producer.disconnect(), admin.disconnect()]);
    throw error;
  }
  return {
    config,
    kafka,
    admin,
    registry,
    producer,
    recorder,
    requestSchemaId,
    completedAt,
    worker,
    workerOps,
    consumer,
    api,
    apiUrl,
    llm,
    topics,
  };
}

export async function stopPipeline(p: Pipeline): Promise<void> {
  for (const child of [p.api, p.consumer, p.worker]) {
    if (!child) continue;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await p.recorder.disconnect();
  await p.producer.disconnect();
  await p.admin.deleteTopics({ topics: p.topics }).catch(() => undefined);
  await p.admin.disconnect();
  await p.llm.close();
}

/** Produces request records to the request topic, keyed by their idempotency keys. */
export async function produce(p: Pipeline, requests: Record<string, unknown>[]): Promise<void> {
  const messages = await Promise.all(
    requests.map(async (r) => ({
      key: String(r.idempotencyKey),
      value: await p.registry.encode(p.requestSchemaId, r),
    })),
  );
  for (let i = 0; i < messages.length; i += 500)
    await p.producer.send({
      topic: p.config.TOPIC_REPORTS_REQUESTED,
      acks: -1,
      messages: messages.slice(i, i + 500),
    });
}

/** Resolves when the consumer group has committed every record on the request topic. */
export async function allCommitted(p: Pipeline, timeoutMs: number): Promise<void> {
  const topic = p.config.TOPIC_REPORTS_REQUESTED;
  await waitUntil(
    'the consumer to commit every request',
    async () => {
      const [latest, committed] = await Promise.all([
        p.admin.fetchTopicOffsets(topic),
        p.admin.fetchOffsets({ groupId: p.config.KAFKA_CONSUMER_GROUP, topics: [topic] }),
      ]);
      const done = new Map(
        (committed[0]?.partitions ?? []).map((c) => [c.partition, Number(c.offset)]),
      );
      return latest.every((l) => done.get(l.partition) === Number(l.high));
    },
    timeoutMs,
  );
}

/** Resolves when every one of `keys` (idempotency keys) has its ReportCompleted. */
export async function allCompleted(
  p: Pipeline,
  keys: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const reportIds = keys.map(reportIdFor);
  await waitUntil(
    `${keys.length} ReportCompleted events`,
    () => reportIds.every((id) => p.completedAt.has(id)),
    timeoutMs,
  );
}

/** When the ReportCompleted of a request (by idempotency key) arrived. */
export const completedAtOf = (p: Pipeline, key: string): number =>
  p.completedAt.get(reportIdFor(key))!;
