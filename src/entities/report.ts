import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { ReportFailure, StageTiming } from '../domain/report';
import type { ReviewVerdict } from '../domain/review';

export type StoredReportStatus =
  'STORED' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'REJECTED' | 'ROLLED_BACK';

/** One row per report: its request, what the LLM used, where the PDF is, and how it ended. */
@Entity({ name: 'reports' })
@Index('reports_status_created_idx', ['status', 'createdAt'])
@Index('reports_requester_created_idx', ['requesterId', 'createdAt'])
export class Report {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ name: 'workflow_id', type: 'text', unique: true })
  workflowId!: string;

  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  @Column({ type: 'text' })
  status!: StoredReportStatus;

  @Column({ type: 'text', nullable: true })
  title!: string | null;

  @Column({ type: 'text' })
  prompt!: string;

  @Column({ name: 'requester_id', type: 'text' })
  requesterId!: string;

  @Column({ name: 'requester_email', type: 'text' })
  requesterEmail!: string;

  @Column({ type: 'text' })
  model!: string;

  @Column({ type: 'text', nullable: true })
  language!: string | null;

  @Column({ name: 'prompt_tokens', type: 'integer' })
  promptTokens!: number;

  @Column({ name: 'completion_tokens', type: 'integer' })
  completionTokens!: number;

  @Column({ name: 'pdf_bytes', type: 'integer', nullable: true })
  pdfBytes!: number | null;

  @Column({ name: 'pdf_pages', type: 'integer', nullable: true })
  pdfPages!: number | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  timings!: Record<string, StageTiming>;

  @Column({ name: 'notification_status', type: 'text', nullable: true })
  notificationStatus!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  failure!: ReportFailure | null;

  /** Who may review; null when the request asked for no review (as are the columns below). */
  @Column({ type: 'jsonb', nullable: true })
  reviewers!: string[] | null;

  @Column({ name: 'review_on_timeout', type: 'text', nullable: true })
  reviewOnTimeout!: ReviewVerdict | null;

  @Column({ name: 'review_waiting_since', type: 'timestamptz', nullable: true })
  reviewWaitingSince!: Date | null;

  @Column({ name: 'review_deadline', type: 'timestamptz', nullable: true })
  reviewDeadline!: Date | null;

  @Column({ name: 'review_decision', type: 'text', nullable: true })
  reviewDecision!: ReviewVerdict | null;

  /** Null for an automatic decision. */
  @Column({ name: 'reviewed_by', type: 'text', nullable: true })
  reviewedBy!: string | null;

  @Column({ name: 'review_automatic', type: 'boolean', nullable: true })
  reviewAutomatic!: boolean | null;

  @Column({ name: 'review_comment', type: 'text', nullable: true })
  reviewComment!: string | null;

  @Column({ name: 'reviewed_at', type: 'timestamptz', nullable: true })
  reviewedAt!: Date | null;

  @Column({ name: 'requested_at', type: 'timestamptz' })
  requestedAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
