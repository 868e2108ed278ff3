import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Client, Connection } from '@temporalio/client';
import {
  DefaultLogger,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
} from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { createActivities } from '../src/activities';
import { loadConfig } from '../src/config/config';
import {
  ReportRequestConsumer,
  reportRequestedSchema,
} from '../src/consumers/report-request-consumer';
import { reportIdFor } from '../src/domain/ids';
import { createDataSource } from '../src/entities/data-source';
import { outboxEventTopics, registerEventSchemas } from '../src/producers/event-schemas';
import { OutboxRelay } from '../src/producers/outbox-relay';
import { Inbox } from '../src/storage/inbox';
import { ReportFileStore } from '../src/storage/report-file-store';
import { createActivityDeps } from '../src/worker/activity-deps';
import { createReportWorker } from '../src/worker/create-worker';

/**
 * The README's first command ends here. The service's consumer, worker and outbox relay run in
 * this process; a sample ReportRequested is produced to the request topic, and the
 * ReportCompleted that comes back on the completion topic is printed with where to see the
 * PDF, the email and the workflow.
 */
const config = loadConfig();
const runId = Date.now().toString(36);
const started = Date.now();
const say = (line: string): void => {
  process.stdout.write(`${String(Date.now() - started).padStart(6)} ms  ${line}\n`);
};

async function main(): Promise<void> {
  const logger = pino({ level: 'warn' });
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  say(
    applied.length
      ? `migrated: ${applied.map((m) => m.name).join(', ')}`
      : 'database schema up to date',
  );

  const kafka = new Kafka({
    clientId: `demo-${runId}`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const registry = new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL });
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const deps = createActivityDeps(config, dataSource);
  const topics = outboxEventTopics(config);
  const relayProducer = kafka.producer({ idempotent: true });
  await relayProducer.connect();
  const relay = new OutboxRelay({
    dataSource,
    producer: relayProducer,
    registry,
    topics,
    schemaIds: await registerEventSchemas(registry, topics),
    logger,
  });
  const consumer = new ReportRequestConsumer({
    kafka,
    registry,
    inbox: new Inbox(dataSource),
    temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
    logger,
    config,
  });
  const listener = kafka.consumer({ groupId: `demo-listener-${runId}` });
  const producer = kafka.producer();
  try {
    const worker = await createReportWorker({
      connection: nativeConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      activities: createActivities(deps),
    });
    await worker.runUntil(async () => {
      relay.start(200);
      await consumer.start();
      say(
        `consumer, worker and outbox relay running (group ${config.KAFKA_CONSUMER_GROUP}, task queue ${config.TEMPORAL_TASK_QUEUE})`,
      );

      const idempotencyKey = `demo-${runId}`;
      const reportId = reportIdFor(idempotencyKey);
      await listener.connect();
      await listener.subscribe({ topic: config.TOPIC_REPORTS_COMPLETED, fromBeginning: false });
      const completed = new Promise<Record<string, unknown>>((resolve, reject) => {
        listener
          .run({
            eachMessage: async ({ message }) => {
              if (message.key?.toString() === reportId && message.value) {
                resolve((await registry.decode(message.value)) as Record<string, unknown>);
              }
            },
          })
          .catch(reject);
      });
      await new Promise((r) => setTimeout(r, 1000)); // let the listener join before producing

      const schemaId = (
        await registry.register(
          { type: SchemaType.AVRO, schema: reportRequestedSchema },
          { subject: `${config.TOPIC_REPORTS_REQUESTED}-value` },
        )
      ).id;
      await producer.connect();
      await producer.send({
        topic: config.TOPIC_REPORTS_REQUESTED,
        acks: -1,
        messages: [
          {
            key: idempotencyKey,
            value: await registry.encode(schemaId, {
              idempotencyKey,
              prompt: 'The state of solid-state batteries',
              requester: { id: 'demo', email: 'demo@example.com' },
              options: { model: null, maxTokens: null, language: 'en' },
              requestedAt: Date.now(),
              correlationId: null,
            }),
          },
        ],
      });
      say(
        `produced ReportRequested ${idempotencyKey} to ${config.TOPIC_REPORTS_REQUESTED} (schema id ${schemaId})`,
      );

      const event = await Promise.race([
        completed,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no ReportCompleted within 60 s')), 60_000),
        ),
      ]);
      say(`consumed ReportCompleted from ${config.TOPIC_REPORTS_COMPLETED}:`);
      process.stdout.write(
        `${JSON.stringify(event, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
      );

      const pdf = await new ReportFileStore(dataSource).find(reportId, 'pdf');
      const dir = join(__dirname, '..', '.stack', 'demo');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `report-${reportId}.pdf`);
      if (pdf) writeFileSync(file, pdf.data);
      process.stdout.write(
        [
          '',
          `  PDF        ${file}`,
          `  email      ${process.env.MAILDEV_API_URL ?? 'your mail server'} (to demo@example.com)`,
          `  workflow   http://127.0.0.1:8233/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/report-${idempotencyKey}`,
          '',
        ].join('\n'),
      );
    });
  } finally {
    await listener.disconnect();
    await producer.disconnect();
    await consumer.stop();
    await relay.stop();
    await relayProducer.disconnect();
    deps.mailer.close();
    await connection.close();
    await nativeConnection.close();
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
