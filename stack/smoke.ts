import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Client, Connection } from '@temporalio/client';
import type { GreetingWorkflow } from '../integration-tests/support/workflows/greeting-workflow';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import nodemailer from 'nodemailer';
import OpenAI from 'openai';
import { Client as PgClient } from 'pg';
import { loadConfig } from '../src/config/config';
import { createGreetingActivities } from '../integration-tests/support/greeting-activities';

/**
 * The README's first command ends here: one sample request goes through every service of the
 * local stack (LLM, registry + Kafka, Temporal, PostgreSQL, SMTP) and each hop is reported.
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
  process.stdout.write(`smoke request ${runId} through the local stack:\n`);

  const openai = new OpenAI({
    apiKey: config.OPENAI_API_KEY,
    baseURL: config.OPENAI_BASE_URL,
    maxRetries: 0,
  });
  const content = await step(
    'llm',
    async () => {
      const completion = await openai.chat.completions.create({
        model: config.OPENAI_MODEL,
        messages: [{ role: 'user', content: prompt }],
      });
      return completion.choices[0]?.message.content ?? '';
    },
    (text) => `${text.length} characters from ${config.OPENAI_BASE_URL ?? 'api.openai.com'}`,
  );

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
        idempotencyKey: `smoke-${runId}`,
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
      const topic = `stack.smoke.${runId}`;
      const admin = kafka.admin();
      await admin.connect();
      const producer = kafka.producer();
      const consumer = kafka.consumer({ groupId: `smoke-${runId}` });
      try {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
        await producer.connect();
        await producer.send({
          topic,
          acks: -1,
          messages: [{ key: `smoke-${runId}`, value: encoded }],
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

  await step(
    'temporal',
    async () => {
      Runtime.install({ logger: new DefaultLogger('WARN') });
      const taskQueue = `smoke-${runId}`;
      const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
      const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
      try {
        const worker = await Worker.create({
          connection: nativeConnection,
          namespace: config.TEMPORAL_NAMESPACE,
          taskQueue,
          workflowsPath:
            require.resolve('../integration-tests/support/workflows/greeting-workflow'),
          activities: createGreetingActivities({ greeting: 'Hello' }),
        });
        const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
        return await worker.runUntil(
          client.workflow.execute<typeof GreetingWorkflow>('GreetingWorkflow', {
            taskQueue,
            workflowId: `smoke-${runId}`,
            args: ['stack'],
          }),
        );
      } finally {
        await connection.close();
        await nativeConnection.close();
      }
    },
    (result) =>
      `workflow smoke-${runId} returned "${result}" (namespace ${config.TEMPORAL_NAMESPACE})`,
  );

  await step(
    'postgres',
    async () => {
      const pg = new PgClient({ connectionString: config.DATABASE_URL });
      await pg.connect();
      try {
        const result = await pg.query<{ version: string }>('SELECT version()');
        return result.rows[0]?.version.split(' ').slice(0, 2).join(' ') ?? '?';
      } finally {
        await pg.end();
      }
    },
    (version) => `${version} at ${new URL(config.DATABASE_URL).host}`,
  );

  await step(
    'smtp',
    async () => {
      const transport = nodemailer.createTransport(config.SMTP_URL);
      try {
        return await transport.sendMail({
          from: config.MAIL_FROM,
          to: 'smoke@example.com',
          subject: `Smoke report ${runId}`,
          text: content,
        });
      } finally {
        transport.close();
      }
    },
    (info) =>
      `mail ${info.messageId} accepted; read it at ${process.env.MAILDEV_API_URL ?? 'your mail server'}`,
  );

  process.stdout.write('every service answered.\n');
}

main().catch(() => {
  process.exitCode = 1;
});
