import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { RequestRejectedError } from '../domain/request-validation';

/** A record the consumer refused, and why. */
export interface RefusedRecord {
  message: KafkaMessage;
  error: RequestRejectedError;
}

/** How much dead letters a produce request carries at most; one bigger than this goes alone. */
const DLQ_SEND_BYTES = 256 * 1024;

/**
 * The request topic's dead-letter queue: refused records as they came, with headers saying why
 * and where from, so that nothing refused is lost and each can be re-driven once fixed.
 */
export class DeadLetters {
  constructor(
    private readonly producer: Producer,
    private readonly dlqTopic: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Dead-letters a slice's refused records in offset order, many to a produce request: the
   * producer sends one request at a time, so a letter each made a flood of bad records crawl.
   * Each chunk goes through `attempt` (retried whole, so a retry re-sends only what may not have
   * arrived), and `sent(i)` is told as each record is acknowledged by Kafka.
   */
  async send(
    topic: string,
    partition: number,
    refused: readonly RefusedRecord[],
    attempt: (operation: () => Promise<void>) => Promise<void>,
    sent: (i: number) => void,
  ): Promise<void> {
    for (const chunk of chunksOf(refused, ({ message }) => sizeOf(message), DLQ_SEND_BYTES)) {
      await attempt(() =>
        this.deadLetter(
          topic,
          partition,
          chunk.map((i) => refused[i]!),
        ),
      );
      for (const i of chunk) sent(i);
    }
  }

  /**
   * Sends dead letters, several in one request: the original key and bytes, with headers
   * saying why and where from. The DLQ has the request topic's size limit, so a record that
   * only just fitted there does not fit once headers are added, and refusing it for ever would
   * stall the partition: it is sent again with the fewest headers that say why, and failing
   * that without its key and bytes, which stay at the source offset the headers name.
   */
  private async deadLetter(
    topic: string,
    partition: number,
    refused: readonly RefusedRecord[],
  ): Promise<void> {
    if (refused.length > 1) {
      try {
        await this.producer.send({
          topic: this.dlqTopic,
          acks: -1,
          messages: refused.map(({ message, error }) => whole(topic, partition, message, error)),
        });
        return;
      } catch (sendError: unknown) {
        // A DLQ whose limit is below a chunk's size: one at a time, each as it fits.
        if (!isTooLarge(sendError)) throw sendError;
      }
      for (const one of refused) await this.deadLetter(topic, partition, [one]);
      return;
    }
    const { message, error } = refused[0]!;
    const why = headersWhy(topic, partition, message, error);
    const letters: { shape: string; message: Message }[] = [
      { shape: 'whole', message: whole(topic, partition, message, error) },
      {
        shape: 'fewer headers',
        message: {
          key: message.key,
          value: message.value,
          headers: { ...why, 'dlq-error-message': error.message.slice(0, 200) },
        },
      },
      {
        shape: 'without its key and bytes',
        message: {
          key: null,
          value: null,
          headers: {
            ...why,
            'dlq-error-message': error.message.slice(0, 200),
            'dlq-value-omitted': `${message.value?.length ?? 0} bytes, key ${message.key?.length ?? 0} bytes`,
          },
        },
      },
    ];
    for (const [i, letter] of letters.entries()) {
      try {
        await this.producer.send({ topic: this.dlqTopic, acks: -1, messages: [letter.message] });
        if (i > 0)
          this.logger.warn(
            { topic, partition, offset: message.offset, reason: error.reason, sent: letter.shape },
            'dead letter too large for the DLQ as it was; sent smaller',
          );
        return;
      } catch (sendError: unknown) {
        if (i === letters.length - 1 || !isTooLarge(sendError)) throw sendError;
      }
    }
  }
}

/** The headers that say why a record was refused and where it came from. */
function headersWhy(
  topic: string,
  partition: number,
  message: KafkaMessage,
  error: RequestRejectedError,
): IHeaders {
  return {
    'dlq-reason': error.reason,
    'dlq-error-class': error.name,
    'dlq-source-topic': topic,
    'dlq-source-partition': String(partition),
    'dlq-source-offset': message.offset,
  };
}

/** A dead letter as it should be: the record as it came, and every header. */
function whole(
  topic: string,
  partition: number,
  message: KafkaMessage,
  error: RequestRejectedError,
): Message {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...(message.headers ?? {}),
      ...headersWhy(topic, partition, message, error),
      'dlq-error-message': error.message.slice(0, 2000),
      'dlq-source-timestamp': message.timestamp,
    },
  };
}

/** A record's bytes, near enough: key, value, its headers, and room for the DLQ's own. */
function sizeOf(message: KafkaMessage): number {
  let size = (message.key?.length ?? 0) + (message.value?.length ?? 0) + 2_500;
  for (const [name, value] of Object.entries(message.headers ?? {}))
    size += name.length + String(value ?? '').length;
  return size;
}

/** Indexes of `items` in order, in runs whose sizes add up to at most `limit` (or one item). */
export function chunksOf<T>(
  items: readonly T[],
  size: (item: T) => number,
  limit: number,
): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let total = 0;
  items.forEach((item, i) => {
    const n = size(item);
    if (current.length > 0 && total + n > limit) {
      chunks.push(current);
      current = [];
      total = 0;
    }
    current.push(i);
    total += n;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The broker refused a record for its size: sending the same again can never succeed. */
export function isTooLarge(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
  }
  return false;
}
