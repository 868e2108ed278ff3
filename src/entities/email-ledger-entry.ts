import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

export type EmailLedgerStatus = 'SENDING' | 'SENT' | 'FAILED';

/**
 * One row per report's notification. A send is claimed (SENDING) before the SMTP call and
 * settled after it, so a retried activity can tell "already sent" from "never sent".
 */
@Entity({ name: 'email_ledger' })
export class EmailLedgerEntry {
  @PrimaryColumn({ name: 'report_id', type: 'uuid' })
  reportId!: string;

  @Column({ name: 'message_id', type: 'text', unique: true })
  messageId!: string;

  @Column({ type: 'text' })
  recipient!: string;

  @Column({ type: 'text' })
  subject!: string;

  @Column({ type: 'text' })
  status!: EmailLedgerStatus;

  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
