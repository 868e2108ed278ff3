import { Client, Connection } from '@temporalio/client';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { apiConfigSchema, ConfigError, loadConfig } from '../config/config';
import { priceListWith } from '../domain/llm-cost';
import { createLogger } from '../observability/logger';
import { connectTemporal, openDatabase, stopOnSignal } from '../runtime/process-lifecycle';
import { Inbox } from '../storage/inbox';
import { ReportFileStore } from '../storage/report-file-store';
import { TokenLedger } from '../storage/token-ledger';
import { buildApp } from './app';
import { ReportReader } from './report-reader';

async function main(): Promise<void> {
  const config = loadConfig(process.env, apiConfigSchema);
  const logger = createLogger(config, 'api');
  const dataSource = await openDatabase(config);
  const connection = await connectTemporal(
    config.TEMPORAL_ADDRESS,
    () => Connection.connect({ address: config.TEMPORAL_ADDRESS }),
    dataSource,
  );
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const app = await buildApp({
    temporal,
    dataSource,
    inbox: new Inbox(dataSource),
    tokenLedger: new TokenLedger(dataSource),
    files: new ReportFileStore(dataSource),
    reader: new ReportReader(
      temporal,
      dataSource,
      priceListWith(config.TOKEN_PRICES_USD_PER_MILLION),
    ),
    metrics,
    logger,
    config,
  });

  // Fixed order: stop accepting and finish requests (open event streams end), then the
  // connections they used.
  stopOnSignal(logger, 'stopping: no new requests, finishing those in flight', async () => {
    await app.close();
    await connection.close();
    await dataSource.destroy();
    logger.info('api stopped');
  });

  await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `api failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
  );
  process.exitCode = 1;
});
