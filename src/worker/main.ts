import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { ConfigError, loadConfig, workerConfigSchema, type WorkerConfig } from '../config/config';
import { createActivities } from '../activities';
import { priceListWith } from '../domain/llm-cost';
import { connectTemporal, openDatabase } from '../runtime/process-lifecycle';
import { kafkaLogCreator } from '../observability/kafka-log';
import { createLogger } from '../observability/logger';
import { createServiceMetrics } from '../observability/metrics';
import { startOpsServer, type OpsServer } from '../observability/ops-server';
import { activityMetricsInterceptor } from './activity-metrics';
import { createSchemaRegistry, outboxEventTopics, registerEventSchemas } from '../contracts';
import { OutboxRelay } from '../producers/outbox-relay';
import { Outbox } from '../storage/outbox';
import { closeActivityDeps, createActivityDeps } from './activity-deps';
import { ReportWorker } from './create-worker';
import { producerConfig } from '../producers/producer-config';

const sdkLevels: Record<WorkerConfig['LOG_LEVEL'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

async function main(): Promise<void> {
  const config = loadConfig(process.env, workerConfigSchema);
  const logger = createLogger(config, 'worker');

  Runtime.install({
    // The SDK's own log lines, including those of workflows and activities, go through pino.
    logger: new DefaultLogger(sdkLevels[config.LOG_LEVEL], (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[level]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions:
      config.WORKER_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.WORKER_METRICS_PORT}` } } }
        : undefined,
  });

  const dataSource = await openDatabase(config);
  const connection = await connectTemporal(
    config.TEMPORAL_ADDRESS,
    () => NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }),
    dataSource,
  );

  const deps = createActivityDeps(config, dataSource);
  // The worker also relays the outbox: events its activities queued go out to Kafka.
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  const topics = outboxEventTopics(config);
  const producer = new Kafka({
    clientId: `${config.KAFKA_CLIENT_ID}-outbox`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  }).producer(producerConfig);
  let relay: OutboxRelay | undefined;
  let ops: OpsServer | undefined;
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const service = createServiceMetrics(metrics);
  new Gauge({
    name: 'report_llm_admission_waiting_calls',
    help: "LLM calls waiting for the provider's quota (held after a 429 or a spent x-ratelimit quota)",
    registers: [metrics],
    collect() {
      this.set(deps.admission.state.waiting);
    },
  });
  let rateLimitedSeen = 0;
  new Counter({
    name: 'report_llm_rate_limited_total',
    help: 'LLM calls the provider answered with 429; each waited and went again',
    registers: [metrics],
    collect() {
      const total = deps.admission.state.rateLimitedCalls;
      this.inc(total - rateLimitedSeen);
      rateLimitedSeen = total;
    },
  });
  new Gauge({
    name: 'report_outbox_backlog_events',
    help: 'Outbox events not yet published (set-aside events excluded)',
    registers: [metrics],
    async collect() {
      this.set(await new Outbox(dataSource).backlog());
    },
  });
  try {
    const schemaIds = await registerEventSchemas(registry, topics);
    await producer.connect();
    relay = new OutboxRelay({
      dataSource,
      producer,
      registry,
      topics,
      schemaIds,
      logger,
      metrics: service,
    });
    const worker = await ReportWorker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      // A report's events go out as soon as they are committed, not at the relay's next poll.
      activities: createActivities({ ...deps, onEventsQueued: () => relay?.wake() }),
      shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SECONDS} seconds`,
      workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
      activityConcurrency: config.WORKER_ACTIVITY_CONCURRENCY,
      workflowTaskConcurrency: config.WORKER_WORKFLOW_TASK_CONCURRENCY,
      llmConcurrency: config.LLM_MAX_CONCURRENCY,
      activityInterceptors: [
        activityMetricsInterceptor(
          service,
          config.OPENAI_MODEL,
          priceListWith(config.TOKEN_PRICES_USD_PER_MILLION),
        ),
      ],
    });
    void relay.start();
    ops = await startOpsServer({
      host: config.OPS_HOST,
      port: config.OPS_PORT,
      registry: metrics,
      checks: {
        worker: async () => {
          if (worker.getState() !== 'RUNNING') throw new Error(`worker is ${worker.getState()}`);
        },
        postgres: () => dataSource.query('SELECT 1'),
      },
      extraMetrics: async () =>
        config.WORKER_METRICS_PORT > 0
          ? (await fetch(`http://127.0.0.1:${config.WORKER_METRICS_PORT}/metrics`)).text()
          : '',
    });
    logger.info(
      { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE },
      'worker started',
    );
    // Resolves once SIGTERM/SIGINT (handled by the SDK's runtime) has drained the worker.
    await worker.run();
  } finally {
    // Fixed order: the worker has stopped polling and drained; the relay sends what it holds;
    // then the connections.
    await relay?.stop();
    await ops?.close();
    await producer.disconnect();
    await connection.close();
    await closeActivityDeps(deps);
    await dataSource.destroy();
    logger.info('worker stopped');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `worker failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
  );
  process.exitCode = 1;
});
