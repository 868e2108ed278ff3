import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import type { Config } from '../src/config/config';
import {
  createSchemaRegistry,
  registerRequestSchema,
  registerReviewDecisionSchema,
} from '../src/contracts';
import { freePorts } from '../stack/docker';
import { configEnv, spawnTs, type Child } from './child-process';
import { uniqueName } from './stack-env';

/** Fresh topics for one test file, the request and review-decision schemas registered. */
export async function createTopics(base: Config): Promise<{
  config: Config;
  kafka: Kafka;
  registry: SchemaRegistry;
  requestSchemaId: number;
  reviewDecisionSchemaId: number;
  /** The prefix of the topic and group names. */
  prefix: string;
  /** The DLQs and the event topics, which the service writes. */
  outputTopics: string[];
  /** Every topic made, to delete once done. */
  topics: string[];
}> {
  const prefix = uniqueName('p');
  const config: Config = {
    ...base,
    TOPIC_REPORTS_REQUESTED: `${prefix}.reports.requested`,
    TOPIC_REPORTS_REQUESTED_DLQ: `${prefix}.reports.requested.dlq`,
    TOPIC_REVIEW_DECISIONS: `${prefix}.reports.review-decisions`,
    TOPIC_REVIEW_DECISIONS_DLQ: `${prefix}.reports.review-decisions.dlq`,
    TOPIC_REPORTS_COMPLETED: `${prefix}.reports.completed`,
    TOPIC_REPORTS_FAILED: `${prefix}.reports.failed`,
    TOPIC_NOTIFICATIONS_EMAIL: `${prefix}.notifications.email`,
    KAFKA_CONSUMER_GROUP: `${prefix}-requests`,
    KAFKA_REVIEW_CONSUMER_GROUP: `${prefix}-review-decisions`,
  };
  const kafka = new Kafka({
    clientId: prefix,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const outputTopics = [
    config.TOPIC_REPORTS_REQUESTED_DLQ,
    config.TOPIC_REVIEW_DECISIONS_DLQ,
    config.TOPIC_REPORTS_COMPLETED,
    config.TOPIC_REPORTS_FAILED,
    config.TOPIC_NOTIFICATIONS_EMAIL,
  ];
  const inputTopics = [config.TOPIC_REPORTS_REQUESTED, config.TOPIC_REVIEW_DECISIONS];
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      ...inputTopics.map((topic) => ({ topic, numPartitions: 3 })),
      ...outputTopics.map((topic) => ({ topic, numPartitions: 1 })),
    ],
  });
  await admin.disconnect();
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  const requestSchemaId = await registerRequestSchema(registry, config.TOPIC_REPORTS_REQUESTED);
  const reviewDecisionSchemaId = await registerReviewDecisionSchema(
    registry,
    config.TOPIC_REVIEW_DECISIONS,
  );
  return {
    config,
    kafka,
    registry,
    requestSchemaId,
    reviewDecisionSchemaId,
    prefix,
    outputTopics,
    topics: [...inputTopics, ...outputTopics],
  };
}

export interface ServiceProcess {
  name: 'worker' | 'consumer' | 'api';
  child: Child;
  /** Where its /metrics, /health and /ready answer. */
  opsUrl: string;
}

/** The three production entry points as child processes, on `config`, each on its own ports. */
export async function startServiceProcesses(
  config: Config,
  overrides: Record<string, string> = {},
): Promise<ServiceProcess[]> {
  const entries = {
    worker: 'src/worker/main.ts',
    consumer: 'src/consumers/main.ts',
    api: 'src/http/main.ts',
  } as const;
  const started: ServiceProcess[] = [];
  // Every port is chosen before any process binds one, so no two can be handed the same.
  const ports = await freePorts(6);
  for (const name of ['worker', 'consumer', 'api'] as const) {
    const [port, metricsPort] = ports.splice(0, 2);
    const child = spawnTs(
      entries[name],
      configEnv(config, {
        LOG_LEVEL: 'info',
        OPS_HOST: '127.0.0.1',
        OPS_PORT: String(port),
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        WORKER_METRICS_PORT: String(metricsPort),
        ...overrides,
      }),
    );
    started.push({ name, child, opsUrl: `http://127.0.0.1:${port}` });
  }
  try {
    for (const service of started) await waitReady(service);
  } catch (error) {
    // Nothing is left running to keep the test file alive when one of them never gets ready.
    for (const service of started) service.child.process.kill('SIGKILL');
    throw error;
  }
  return started;
}

async function waitReady(service: ServiceProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void service.child.exited.then(() => (exited = true));
  let last = 'no answer';
  while (Date.now() < deadline && !exited) {
    const status = await fetch(`${service.opsUrl}/ready`)
      .then(async (r) => {
        last = `${r.status} ${await r.text()}`;
        return r.status;
      })
      .catch((error: unknown) => {
        last = String(error);
        return 0;
      });
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${service.name} did not become ready in ${timeoutMs} ms (${exited ? 'it exited' : `/ready: ${last}`}):\n${service.child.output()}`,
  );
}

/** SIGTERM, then how long it took to exit and with what code. */
export async function terminate(
  service: ServiceProcess,
): Promise<{ name: string; ms: number; code: number | null }> {
  const started = Date.now();
  service.child.process.kill('SIGTERM');
  const { code } = await service.child.exited;
  return { name: service.name, ms: Date.now() - started, code };
}
