import { Client, Connection } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ConfigError, consumerConfigSchema, loadConfig } from '../config/config';
import { createSchemaRegistry } from '../contracts';
import { kafkaLogCreator } from '../observability/kafka-log';
import { createLogger } from '../observability/logger';
import { createServiceMetrics } from '../observability/metrics';
import { startOpsServer } from '../observability/ops-server';
import { connectTemporal, openDatabase, stopOnSignal } from '../runtime/process-lifecycle';
import { Inbox } from '../storage/inbox';
import { TokenLedger } from '../storage/token-ledger';
import { ReportRequestConsumer } from './report-request-consumer';
import { ReviewDecisionConsumer } from './review-decision-consumer';

async function main(): Promise<void> {
  const config = loadConfig(process.env, consumerConfigSchema);
  const logger = createLogger(config, 'consumer');
  const dataSource = await openDatabase(config);
  const connection = await connectTemporal(
    config.TEMPORAL_ADDRESS,
    () => Connection.connect({ address: config.TEMPORAL_ADDRESS }),
    dataSource,
  );
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const serviceMetrics = createServiceMetrics(metrics);
  const kafka = new Kafka({
    clientId: config.KAFKA_CLIENT_ID,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogCreator(logger),
  });
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const consumer = new ReportRequestConsumer({
    kafka,
    registry,
    inbox: new Inbox(dataSource),
    tokenLedger: new TokenLedger(dataSource),
    temporal,
    logger,
    metrics: { service: serviceMetrics, registry: metrics },
    config,
  });
  const decisions = new ReviewDecisionConsumer({
    kafka,
    registry,
    temporal,
    logger,
    metrics: serviceMetrics,
    config,
  });

  const ops = await startOpsServer({
    host: config.OPS_HOST,
    port: config.OPS_PORT,
    registry: metrics,
    checks: {
      consumer: async () => {
        if (!consumer.running) throw new Error('not consuming');
      },
      reviewDecisions: async () => {
        if (!decisions.running) throw new Error('not consuming');
      },
      postgres: () => dataSource.query('SELECT 1'),
    },
  });

  // Fixed order: stop consuming (commits and leaves the group), then the connections.
  stopOnSignal(logger, 'stopping: no new records, finishing those in flight', async () => {
    await Promise.all([consumer.stop(), decisions.stop()]);
    await connection.close();
    await ops.close();
    await dataSource.destroy();
    logger.info('consumer stopped');
  });

  await consumer.start();
  logger.info(
    { topic: config.TOPIC_REPORTS_REQUESTED, group: config.KAFKA_CONSUMER_GROUP },
    'consumer started',
  );
  await decisions.start();
  logger.info(
    { topic: config.TOPIC_REVIEW_DECISIONS, group: config.KAFKA_REVIEW_CONSUMER_GROUP },
    'review decision consumer started',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `consumer failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
  );
  process.exitCode = 1;
});
