import type { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import type { EventPayloads } from '../contracts';
import { OutboxEvent, type OutboxEventType } from '../entities/outbox-event';

/** An event to announce; its payload is its type's contract. */
export interface NewOutboxEvent<T extends OutboxEventType = OutboxEventType> {
  eventId: string;
  eventType: T;
  /** The Kafka topic it is published to. */
  topic: string;
  messageKey: string;
  payload: EventPayloads[T];
}

/** A queued event, claimed for publishing. */
export interface PendingOutboxEvent {
  id: string;
  eventId: string;
  eventType: OutboxEventType;
  /** null: queued before rows named their topic. */
  topic: string | null;
  messageKey: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/**
 * The outbox table: events queued in the same transaction as the change they announce, then
 * claimed, published and marked by a relay. Every statement on the table is here.
 */
export class Outbox {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Queues events in the caller's transaction. An event id already queued is skipped, so a
   * retried transaction queues nothing twice. Returns how many were new.
   */
  async queue(manager: EntityManager, events: NewOutboxEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into(OutboxEvent)
      // The entity types its jsonb payload loosely; the contract types are interfaces.
      .values(events as unknown as QueryDeepPartialEntity<OutboxEvent>[])
      .orIgnore()
      .returning(['id'])
      .execute();
    return inserted.raw instanceof Array ? inserted.raw.length : 0;
  }

  /**
   * Locks up to `limit` unpublished events, oldest first, until the transaction ends. Rows that
   * another relay holds are skipped, so several relays can run.
   */
  claim(manager: EntityManager, limit: number): Promise<PendingOutboxEvent[]> {
    return manager.query<PendingOutboxEvent[]>(
      `SELECT id, event_id AS "eventId", event_type AS "eventType", topic,
         message_key AS "messageKey", payload, created_at AS "createdAt"
       FROM outbox WHERE published_at IS NULL AND publish_error IS NULL
       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  /** Keeps an event that will never publish out of every later claim, with the reason. */
  async setAside(manager: EntityManager, id: string, reason: string): Promise<void> {
    await manager.query(`UPDATE outbox SET publish_error = $2 WHERE id = $1`, [id, reason]);
  }

  async markPublished(manager: EntityManager, ids: string[]): Promise<void> {
    await manager.query(`UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
      ids,
    ]);
  }

  /** How many events wait to be published (set-aside ones are not waiting). */
  async backlog(): Promise<number> {
    const rows = await this.dataSource.query<{ n: string }[]>(
      'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL AND publish_error IS NULL',
    );
    return Number(rows[0]?.n ?? 0);
  }
}
