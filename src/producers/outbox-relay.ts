import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Producer } from 'kafkajs';
import type { DataSource, EntityManager } from 'typeorm';
import type { OutboxEventType } from '../entities/outbox-event';
import type { ServiceMetrics } from '../observability/metrics';

interface PendingRow {
  id: string;
  event_id: string;
  event_type: OutboxEventType;
  message_key: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

export interface OutboxRelayDeps {
  dataSource: DataSource;
  producer: Producer;
  registry: SchemaRegistry;
  topics: Record<OutboxEventType, { topic: string }>;
  schemaIds: Record<OutboxEventType, number>;
  batchSize?: number;
  logger?: { warn(obj: object, msg: string): void };
  metrics?: Pick<ServiceMetrics, 'outboxPublished' | 'outboxPublishDelay'>;
}

/**
 * Publishes outbox rows to Kafka in id order and marks them sent. A batch is locked
 * (FOR UPDATE SKIP LOCKED, so several relays can run), sent with acks from all in-sync replicas,
 * then marked in the same transaction. A crash between send and mark re-sends the batch later:
 * at-least-once on the wire, with the same eventId, so consumers dedupe.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: OutboxRelayDeps) {}

  /** Publishes one batch; returns how many rows it handled (0: nothing pending). */
  async publishBatch(): Promise<number> {
    return this.deps.dataSource.transaction(async (manager) => {
      const rows = await manager.query<PendingRow[]>(
        `SELECT id, event_id, event_type, message_key, payload, created_at FROM outbox
         WHERE published_at IS NULL AND publish_error IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.deps.batchSize ?? 100],
      );
      if (rows.length === 0) return 0;
      const topicMessages = new Map<
        string,
        { key: string; value: Buffer; headers: Record<string, string> }[]
      >();
      const encoded: PendingRow[] = [];
      for (const row of rows) {
        const { topic } = this.deps.topics[row.event_type];
        let value: Buffer;
        try {
          value = await this.deps.registry.encode(this.deps.schemaIds[row.event_type], row.payload);
        } catch (error: unknown) {
          // A payload its schema rejects will never encode; set it aside rather than block the rest.
          const reason = error instanceof Error ? error.message : String(error);
          await manager.query(`UPDATE outbox SET publish_error = $2 WHERE id = $1`, [
            row.id,
            reason,
          ]);
          this.deps.logger?.warn(
            { eventId: row.event_id, eventType: row.event_type, reason },
            'outbox relay: event set aside',
          );
          continue;
        }
        encoded.push(row);
        const list = topicMessages.get(topic) ?? [];
        list.push({
          key: row.message_key,
          value,
          headers: { 'event-id': row.event_id, 'event-type': row.event_type },
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
          this.deps.metrics?.outboxPublished.inc({ event_type: row.event_type });
          this.deps.metrics?.outboxPublishDelay.observe((now - row.created_at.getTime()) / 1000);
        }
      }
      return rows.length;
    });
  }

  protected async markPublished(manager: EntityManager, ids: string[]): Promise<void> {
    await manager.query(`UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
      ids,
    ]);
  }

  /** Polls until stop(): drains while there is work, then waits `intervalMs`. */
  start(intervalMs = 500): void {
    const tick = async (): Promise<void> => {
      try {
        while (!this.stopped && (await this.publishBatch()) > 0);
      } catch (error: unknown) {
        this.deps.logger?.warn({ err: error }, 'outbox relay: publishing failed; will retry');
      }
      if (!this.stopped)
        this.timer = setTimeout(() => {
          this.running = tick();
        }, intervalMs);
    };
    this.running = tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
