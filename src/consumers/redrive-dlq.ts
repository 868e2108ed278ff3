import { parseArgs } from 'node:util';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { ConfigError, loadConfig, redriveConfigSchema, type RedriveConfig } from '../config/config';
import { producerConfig } from '../producers/producer-config';

export interface RedriveSelection {
  /** Only records with this dlq-reason header. */
  reason?: string;
  partition?: number;
  /** Inclusive offset range within the DLQ partition(s). */
  fromOffset?: bigint;
  toOffset?: bigint;
  dryRun?: boolean;
}

export interface RedriveReport {
  scanned: number;
  republished: { partition: number; offset: string; reason: string; key: string | null }[];
  /**
   * Chosen, but stored without their bytes (`dlq-value-omitted`: too large for the DLQ). They
   * are left alone; the original is where `source` says, to re-drive by hand.
   */
  withoutBytes: { partition: number; offset: string; reason: string; source: string }[];
}

/**
 * Republishes chosen dead letters to the request topic, original key and bytes, after a fix.
 * It reads the DLQ from the start up to its current end (records that arrive meanwhile wait for
 * the next run) and commits no offsets: the DLQ stays as it was, for the record.
 */
export async function redriveDlq(
  config: RedriveConfig,
  selection: RedriveSelection,
): Promise<RedriveReport> {
  const kafka = new Kafka({
    clientId: `${config.KAFKA_CLIENT_ID}-redrive`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.WARN,
  });
  const dlq = config.TOPIC_REPORTS_REQUESTED_DLQ;
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map(
    (await admin.fetchTopicOffsets(dlq))
      .filter((p) => selection.partition === undefined || p.partition === selection.partition)
      .map((p) => [p.partition, BigInt(p.high)]),
  );
  await admin.disconnect();

  const report: RedriveReport = { scanned: 0, republished: [], withoutBytes: [] };
  const pending = [...ends].filter(([, high]) => high > 0n).map(([partition]) => partition);
  if (pending.length === 0) return report;

  const producer = kafka.producer(producerConfig);
  const consumer = kafka.consumer({ groupId: `${config.KAFKA_CLIENT_ID}-redrive-${Date.now()}` });
  await producer.connect();
  await consumer.connect();
  const remaining = new Set(pending);
  try {
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const select = (partition: number, message: KafkaMessage): boolean => {
        const offset = BigInt(message.offset);
        const reason = message.headers?.['dlq-reason']?.toString();
        return (
          (selection.reason === undefined || reason === selection.reason) &&
          (selection.fromOffset === undefined || offset >= selection.fromOffset) &&
          (selection.toOffset === undefined || offset <= selection.toOffset) &&
          ends.has(partition)
        );
      };
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            report.scanned += 1;
            const omitted = message.headers?.['dlq-value-omitted'] !== undefined;
            if (select(partition, message) && omitted) {
              const header = (name: string) => message.headers?.[name]?.toString() ?? '?';
              report.withoutBytes.push({
                partition,
                offset: message.offset,
                reason: header('dlq-reason'),
                source: `${header('dlq-source-topic')}/${header('dlq-source-partition')}/${header('dlq-source-offset')}`,
              });
            } else if (select(partition, message)) {
              const reason = message.headers?.['dlq-reason']?.toString() ?? '';
              if (!selection.dryRun) {
                await producer.send({
                  topic: config.TOPIC_REPORTS_REQUESTED,
                  acks: -1,
                  messages: [
                    {
                      key: message.key,
                      value: message.value,
                      headers: {
                        'redriven-from': `${dlq}/${partition}/${message.offset}`,
                        'redriven-reason': reason,
                      },
                    },
                  ],
                });
              }
              report.republished.push({
                partition,
                offset: message.offset,
                reason,
                key: message.key?.toString() ?? null,
              });
            }
            if (BigInt(message.offset) + 1n >= end) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  return report;
}

// `npm run dlq:redrive -- [--reason R] [--partition P] [--from N] [--to N] [--dry-run]`
if (require.main === module) {
  const { values } = parseArgs({
    options: {
      reason: { type: 'string' },
      partition: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const selection: RedriveSelection = {
    reason: values.reason,
    partition: values.partition === undefined ? undefined : Number(values.partition),
    fromOffset: values.from === undefined ? undefined : BigInt(values.from),
    toOffset: values.to === undefined ? undefined : BigInt(values.to),
    dryRun: values['dry-run'],
  };
  Promise.resolve()
    .then(() => redriveDlq(loadConfig(process.env, redriveConfigSchema), selection))
    .then((report) => {
      for (const r of report.republished) {
        process.stdout.write(
          `${selection.dryRun ? 'would republish' : 'republished'} partition ${r.partition} offset ${r.offset} key ${r.key ?? '-'} (${r.reason})\n`,
        );
      }
      process.stdout.write(
        `scanned ${report.scanned} dead letters, ${selection.dryRun ? 'selected' : 'republished'} ${report.republished.length}\n`,
      );
      for (const r of report.withoutBytes)
        process.stdout.write(
          `left partition ${r.partition} offset ${r.offset} (${r.reason}): stored without its bytes; the original is at ${r.source}\n`,
        );
    })
    .catch((error: unknown) => {
      process.stderr.write(
        `${error instanceof ConfigError ? error.message : `redrive failed: ${String(error)}`}\n`,
      );
      process.exitCode = 1;
    });
}
