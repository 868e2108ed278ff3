import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import { registerEventSchema, type EventTopics } from '../contracts';
import type { OutboxEventType } from '../entities/outbox-event';
import type { ServiceMetrics } from '../observability/metrics';
import { Outbox, type PendingOutboxEvent } from '../storage/outbox';

export interface OutboxRelayDeps {
  dataSource: DataSource;
  producer: Producer;
  registry: SchemaRegistry;
  /** This process's topic of each event type: where rows that name no topic go. */
  topics: EventTopics;
  /** The schema id of each event type under its topic above, registered at start-up. */
  schemaIds: Record<OutboxEventType, number>;
  batchSize?: number;
  logger?: { warn(obj: object, msg: string): void };
  metrics?: Pick<ServiceMetrics, 'outboxPublished' | 'outboxPublishDelay'>;
}

/** A row that no retry will publish: its payload or its schema is refused. */
class Unpublishable extends Error {}

/** A registry answer that will not change on retry: the schema is incompatible or invalid. */
const isRefusal = (error: unknown): boolean =>
  typeof error === 'object' &&
  error !== null &&
  [409, 422].includes((error as { status?: unknown }).status as number);

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Publishes outbox rows to Kafka in id order and marks them sent. Each row goes to the topic it
 * names (the writing worker's configuration), whichever relay picks it up. A batch is locked
 * (FOR UPDATE SKIP LOCKED, so several relays can run), sent with acks from all in-sync replicas,
 * then marked in the same transaction. A crash between send and mark re-sends the batch later:
 * at-least-once on the wire, with the same eventId, so consumers dedupe.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private draining = false;
  private drainAgain = false;
  private intervalMs = 500;
  /** Schema ids for topics other than this process's own, registered on first use. */
  private readonly otherSchemaIds = new Map<string, Promise<number>>();
  private readonly outbox: Outbox;

  constructor(private readonly deps: OutboxRelayDeps) {
    this.outbox = new Outbox(deps.dataSource);
  }

  private schemaIdFor(eventType: OutboxEventType, topic: string): Promise<number> {
    if (topic === this.deps.topics[eventType].topic)
      return Promise.resolve(this.deps.schemaIds[eventType]);
    const key = `${eventType} ${topic}`;
    let id = this.otherSchemaIds.get(key);
    if (!id) {
      id = registerEventSchema(this.deps.registry, eventType, topic);
      // A failed registration is asked again next time, not remembered.
      id.catch(() => this.otherSchemaIds.delete(key));
      this.otherSchemaIds.set(key, id);
    }
    return id;
  }

  /** The row's payload in the registry's wire format, under its topic's subject. */
  private async encode(row: PendingOutboxEvent, topic: string): Promise<Buffer> {
    let schemaId: number;
    try {
      schemaId = await this.schemaIdFor(row.eventType, topic);
    } catch (error: unknown) {
      // Unreachable or failing registry: thrown as it is, so the batch is tried again later.
      if (!isRefusal(error)) throw error;
      throw new Unpublishable(
        `the registry refused the ${row.eventType} schema under ${topic}-value: ${messageOf(error)}`,
      );
    }
    try {
      return await this.deps.registry.encode(schemaId, row.payload);
    } catch (error: unknown) {
      throw new Unpublishable(messageOf(error));
    }
  }

  /** Publishes one batch; returns how many rows it handled (0: nothing pending). */
  async publishBatch(): Promise<number> {
    return this.deps.dataSource.transaction(async (manager) => {
      const rows = await this.outbox.claim(manager, this.deps.batchSize ?? 100);
      if (rows.length === 0) return 0;
      const topicMessages = new Map<
        string,
        { key: string; value: Buffer; headers: Record<string, string> }[]
      >();
      const encoded: PendingOutboxEvent[] = [];
      for (const row of rows) {
        const topic = row.topic ?? this.deps.topics[row.eventType].topic;
        let value: Buffer;
        try {
          value = await this.encode(row, topic);
        } catch (error: unknown) {
          if (!(error instanceof Unpublishable)) throw error;
          // It will never encode; set it aside with the reason rather than block the rest.
          await this.outbox.setAside(manager, row.id, error.message);
          this.deps.logger?.warn(
            { eventId: row.eventId, eventType: row.eventType, topic, reason: error.message },
            'outbox relay: event set aside',
          );
          continue;
        }
        encoded.push(row);
        const list = topicMessages.get(topic) ?? [];
        list.push({
          key: row.messageKey,
          value,
          headers: { 'event-id': row.eventId, 'event-type': row.eventType },
        });
        topicMessages.set(topic, list);
      }
      if (encoded.length > 0) {
        await this.deps.producer.sendBatch({
          acks: -1,
          topicMessages: [...topicMessages].map(([topic, messages]) => ({ topic, messages })),
        });
        await this.markPublished(
          manager,
          encoded.map((row) => row.id),
        );
        const now = Date.now();
        for (const row of encoded) {
          this.deps.metrics?.outboxPublished.inc({ event_type: row.eventType });
          this.deps.metrics?.outboxPublishDelay.observe((now - row.createdAt.getTime()) / 1000);
        }
      }
      return rows.length;
    });
  }

  /** Marks the batch sent, in its transaction; a test overrides it to die just before. */
  protected async markPublished(manager: EntityManager, ids: string[]): Promise<void> {
    await this.outbox.markPublished(manager, ids);
  }

  /**
   * Polls until stop(): drains while there is work, then waits `intervalMs`. Resolves once the
   * first drain is done. The poll finds what other processes queued; what this process queues
   * goes out at once through wake().
   */
  start(intervalMs = 500): Promise<void> {
    this.intervalMs = intervalMs;
    this.started = true;
    this.running = this.tick();
    return this.running;
  }

  /**
   * Drains now instead of at the next poll: for events this process has just committed (a
   * report's ReportCompleted waited up to a whole poll interval before). A drain under way runs
   * once more, so an event committed as it was finishing is not left for the poll.
   */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.tick();
  }

  private async tick(): Promise<void> {
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        while (!this.stopped && (await this.publishBatch()) > 0);
      } while (this.drainAgain && !this.stopped);
    } catch (error: unknown) {
      this.deps.logger?.warn({ err: error }, 'outbox relay: publishing failed; will retry');
    } finally {
      this.draining = false;
    }
    if (!this.stopped)
      this.timer = setTimeout(() => {
        this.running = this.tick();
      }, this.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
