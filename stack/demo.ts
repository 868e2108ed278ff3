import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { createActivities } from '../src/activities';
import { loadConfig } from '../src/config/config';
import type { ReportResult } from '../src/domain/report';
import { createDataSource } from '../src/entities/data-source';
import { ReportFileStore } from '../src/storage/report-file-store';
import { startReport } from '../src/temporal/start-report';
import { progressQuery } from '../src/workflows/generate-report-workflow';
import { createActivityDeps } from '../src/worker/activity-deps';
import { createReportWorker } from '../src/worker/create-worker';

/**
 * The README's first command ends here: the schema registry and Kafka are exercised with a
 * ReportRequested record, then one real report runs through GenerateReportWorkflow (LLM, PDF,
 * PostgreSQL, email) on a worker in this process, and the places to see the results are printed.
 */
const config = loadConfig();
const runId = Date.now().toString(36);
const prompt = 'The state of solid-state batteries';

async function step<T>(
  name: string,
  work: () => Promise<T>,
  describe: (value: T) => string,
): Promise<T> {
  const started = Date.now();
  try {
    const value = await work();
    process.stdout.write(
      `  ok   ${name.padEnd(10)} ${String(Date.now() - started).padStart(5)} ms  ${describe(value)}\n`,
    );
    return value;
  } catch (error: unknown) {
    process.stdout.write(
      `  FAIL ${name.padEnd(10)} ${error instanceof Error ? error.message : String(error)}\n`,
    );
    throw error;
  }
}

async function main(): Promise<void> {
  process.stdout.write(`sample request ${runId} through the local stack:\n`);

  const registry = new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL });
  const schema = readFileSync(join(__dirname, '..', 'avro', 'report-requested.avsc'), 'utf8');
  const encoded = await step(
    'registry',
    async () => {
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema },
        { subject: `${config.TOPIC_REPORTS_REQUESTED}-value` },
      );
      return registry.encode(id, {
        idempotencyKey: `demo-${runId}`,
        prompt,
        requester: { id: 'smoke', email: 'smoke@example.com' },
        options: { model: null, maxTokens: null, language: 'en' },
        requestedAt: Date.now(),
        correlationId: null,
      });
    },
    (bytes) => `ReportRequested encoded, ${bytes.length} bytes, schema id ${bytes.readInt32BE(1)}`,
  );

  const kafka = new Kafka({
    clientId: 'smoke',
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  await step(
    'kafka',
    async () => {
      const topic = `stack.demo.${runId}`;
      const admin = kafka.admin();
      await admin.connect();
      const producer = kafka.producer();
      const consumer = kafka.consumer({ groupId: `demo-${runId}` });
      try {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
        await producer.connect();
        await producer.send({
          topic,
          acks: -1,
          messages: [{ key: `demo-${runId}`, value: encoded }],
        });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        const back = await new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error('record did not come back within 20 s')),
            20_000,
          );
          consumer
            .run({
              eachMessage: async ({ message }) => {
                clearTimeout(timer);
                if (message.value) resolve(message.value);
              },
            })
            .catch(reject);
        });
        const decoded = (await registry.decode(back)) as { idempotencyKey: string };
        return decoded.idempotencyKey;
      } finally {
        await consumer.disconnect();
        await producer.disconnect();
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        await admin.disconnect();
      }
    },
    (key) => `produced, consumed and decoded ${key}`,
  );

  const dataSource = createDataSource(config);
  await dataSource.initialize();
  await step(
    'migrate',
    () => dataSource.runMigrations({ transaction: 'each' }),
    (applied) =>
      applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'schema up to date',
  );

  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const deps = createActivityDeps(config, dataSource);
  try {
    const worker = await createReportWorker({
      connection: nativeConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      activities: createActivities(deps),
    });
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const result = await worker.runUntil(
      step(
        'report',
        async (): Promise<ReportResult> => {
          const { handle } = await startReport(client, config.TEMPORAL_TASK_QUEUE, {
            idempotencyKey: `demo-${runId}`,
            prompt,
            requester: { id: 'demo', email: 'demo@example.com' },
            options: { language: 'en' },
            requestedAt: new Date().toISOString(),
            source: 'test',
          });
          let last = '';
          const watch = setInterval(() => {
            handle.query(progressQuery).then(
              (p) => {
                if (p.stage !== last) process.stdout.write(`         ${(last = p.stage)}\n`);
              },
              () => undefined,
            );
          }, 100);
          try {
            return await handle.result();
          } finally {
            clearInterval(watch);
          }
        },
        (r) =>
          `${r.status} in ${Object.values(r.timings).reduce((sum, t) => sum + (t?.durationMs ?? 0), 0)} ms of steps`,
      ),
    );
    if (result.status !== 'COMPLETED')
      throw new Error(`the report ended ${result.status}: ${result.failure?.message}`);

    const pdf = await new ReportFileStore(dataSource).find(result.reportId, 'pdf');
    const dir = join(__dirname, '..', '.stack', 'demo');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `report-${result.reportId}.pdf`);
    if (pdf) writeFileSync(file, pdf.data);
    process.stdout.write(
      [
        '',
        `report ${result.reportId}: "${result.title}"`,
        `  PDF        ${file} (${result.pdf?.pages} pages, ${pdf?.data.length} bytes)`,
        `  tokens     ${result.usage?.promptTokens} prompt, ${result.usage?.completionTokens} completion (${result.model})`,
        `  email      ${result.notification}; read it at ${process.env.MAILDEV_API_URL ?? 'your mail server'}`,
        `  workflow   http://127.0.0.1:8233/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/report-demo-${runId}`,
        '',
      ].join('\n'),
    );
  } finally {
    deps.mailer.close();
    await connection.close();
    await nativeConnection.close();
    await dataSource.destroy();
  }

  process.stdout.write('every service answered.\n');
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
