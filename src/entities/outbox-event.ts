import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type OutboxEventType = 'ReportCompleted' | 'ReportFailed' | 'EmailNotification';

/**
 * An event waiting to be announced on Kafka. Written in the same transaction as the state
 * change it announces; a relay publishes it and sets publishedAt.
 */
@Entity({ name: 'outbox' })
@Index('outbox_unpublished_idx', ['id'], {
  where: 'published_at IS NULL AND publish_error IS NULL',
})
export class OutboxEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'event_id', type: 'uuid', unique: true })
  eventId!: string;

  @Column({ name: 'event_type', type: 'text' })
  eventType!: OutboxEventType;

  /** Where it goes, as the worker that wrote it was configured (null: written before topics were kept). */
  @Column({ type: 'text', nullable: true })
  topic!: string | null;

  @Column({ name: 'message_key', type: 'text' })
  messageKey!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  /** Why the relay could not encode it; such a row is left for a person, not retried. */
  @Column({ name: 'publish_error', type: 'text', nullable: true })
  publishError!: string | null;
}
