import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { createActivities } from '../activities';
import { createDataSource } from '../entities/data-source';
import { createLogger } from '../observability/logger';
import { createActivityDeps } from './activity-deps';
import { createReportWorker } from './create-worker';

const sdkLevels: Record<Config['LOG_LEVEL'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'worker');

  Runtime.install({
    // The SDK's own log lines, including those of workflows and activities, go through pino.
    logger: new DefaultLogger(sdkLevels[config.LOG_LEVEL], (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[level]({ ...entry.meta }, entry.message);
    }),
    telemetryOptions:
      config.WORKER_METRICS_PORT > 0
        ? { metrics: { prometheus: { bindAddress: `0.0.0.0:${config.WORKER_METRICS_PORT}` } } }
        : undefined,
  });

  const dataSource = createDataSource(config);
  try {
    await dataSource.initialize();
  } catch (error: unknown) {
    throw new Error(
      `cannot reach PostgreSQL at ${new URL(config.DATABASE_URL).host}: ${String(error)}`,
      { cause: error },
    );
  }

  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  } catch (error: unknown) {
    await dataSource.destroy();
    throw new Error(`cannot reach Temporal at ${config.TEMPORAL_ADDRESS}: ${String(error)}`, {
      cause: error,
    });
  }

  const deps = createActivityDeps(config, dataSource);
  try {
    const worker = await createReportWorker({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      activities: createActivities(deps),
      shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SECONDS} seconds`,
      workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
    });
    logger.info(
      { taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE },
      'worker started',
    );
    // Resolves once SIGTERM/SIGINT (handled by the SDK's runtime) has drained the worker.
    await worker.run();
  } finally {
    // Fixed order: the worker has stopped polling and drained; now its connections.
    await connection.close();
    deps.mailer.close();
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
