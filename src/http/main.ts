import { Client, Connection } from '@temporalio/client';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ConfigError, loadConfig } from '../config/config';
import { createDataSource } from '../entities/data-source';
import { createLogger } from '../observability/logger';
import { Inbox } from '../storage/inbox';
import { ReportFileStore } from '../storage/report-file-store';
import { buildApp } from './app';
import { ReportReader } from './report-reader';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, 'api');
  const dataSource = createDataSource(config);
  try {
    await dataSource.initialize();
  } catch (error: unknown) {
    throw new Error(
      `cannot reach PostgreSQL at ${new URL(config.DATABASE_URL).host}: ${String(error)}`,
      { cause: error },
    );
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  } catch (error: unknown) {
    await dataSource.destroy();
    throw new Error(`cannot reach Temporal at ${config.TEMPORAL_ADDRESS}: ${String(error)}`, {
      cause: error,
    });
  }
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const app = await buildApp({
    temporal,
    dataSource,
    inbox: new Inbox(dataSource),
    files: new ReportFileStore(dataSource),
    reader: new ReportReader(temporal, dataSource),
    metrics,
    logger,
    config,
  });

  let stopping: Promise<void> | undefined;
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping: no new requests, finishing those in flight');
    // Fixed order: stop accepting and finish requests (open event streams end), then the
    // connections they used.
    stopping ??= app
      .close()
      .then(() => connection.close())
      .then(() => dataSource.destroy())
      .then(() => logger.info('api stopped'));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `api failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
  );
  process.exitCode = 1;
});
