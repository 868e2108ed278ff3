import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../src/config/config';
import { createSchemaRegistry, registerRequestSchema } from '../src/contracts';
import { reportIdFor, workflowIdFor } from '../src/domain/ids';

/**
 * The README's first command ends here, with the service already running from its image in
 * Docker Compose. A sample ReportRequested is produced to the request topic; the
 * ReportCompleted that comes back on the completion topic is printed, with where to see the
 * report on the page, its PDF, the email and the workflow.
 */
const config = loadConfig();
const runId = Date.now().toString(36);
const started = Date.now();
const say = (line: string): void => {
  process.stdout.write(`${String(Date.now() - started).padStart(6)} ms  ${line}\n`);
};

async function main(): Promise<void> {
  const apiBase = config.PUBLIC_BASE_URL;
  const kafka = new Kafka({
    clientId: `demo-${runId}`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  const listener = kafka.consumer({ groupId: `demo-listener-${runId}` });
  const producer = kafka.producer();
  try {
    const idempotencyKey = `demo-${runId}`;
    const reportId = reportIdFor(idempotencyKey);
    await listener.connect();
    await listener.subscribe({ topic: config.TOPIC_REPORTS_COMPLETED, fromBeginning: false });
    const joined = new Promise<void>((resolve) =>
      listener.on(listener.events.GROUP_JOIN, () => resolve()),
    );
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
    await joined;

    const schemaId = await registerRequestSchema(registry, config.TOPIC_REPORTS_REQUESTED);
    await producer.connect();
    await producer.send({
      topic: config.TOPIC_REPORTS_REQUESTED,
      acks: -1,
      messages: [
        {
          key: idempotencyKey,
          value: await registry.encode(schemaId, {
            idempotencyKey,
            prompt:
              'Compare heat pumps for cold climates: efficiency, running cost, and carbon emissions',
            requester: { id: 'demo', email: 'demo@example.com' },
            // About 10 s of the local model's writing; a real API writes this much in a few seconds.
            options: { model: null, maxTokens: 320, language: 'en' },
            requestedAt: Date.now(),
            correlationId: null,
          }),
        },
      ],
    });
    say(
      `produced ReportRequested ${idempotencyKey} to ${config.TOPIC_REPORTS_REQUESTED} (schema id ${schemaId})`,
    );
    say('waiting for the report (the local model writes it in about 10-40 s on 2 cores)');

    const event = await Promise.race([
      completed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no ReportCompleted within 5 min')), 300_000).unref(),
      ),
    ]);
    say(`consumed ReportCompleted from ${config.TOPIC_REPORTS_COMPLETED}:`);
    process.stdout.write(
      `${JSON.stringify(event, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    );
    const workflowId = workflowIdFor(idempotencyKey);
    process.stdout.write(
      [
        '',
        `  page       ${apiBase}/   (submit a prompt, watch it run, download PDFs)`,
        `  status     ${apiBase}/api/workflows/${workflowId}/status`,
        `  PDF        ${apiBase}/api/reports/${reportId}/pdf`,
        `  API docs   ${apiBase}/docs`,
        `  email      ${process.env.MAILDEV_API_URL ?? 'your mail server'} (to demo@example.com)`,
        `  workflow   ${process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233'}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${workflowId}`,
        '',
        "  The service keeps running in Docker Compose; './dev stop' stops it (the data is kept).",
        '',
      ].join('\n'),
    );
  } finally {
    await listener.disconnect();
    await producer.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
