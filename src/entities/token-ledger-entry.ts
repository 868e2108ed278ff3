import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per LLM answer paid for: the tokens the provider reported, recorded by the call that
 * received them, before its answer is stored. Budgets add up a requester's rows of a UTC day.
 */
@Entity({ name: 'token_ledger' })
@Index('token_ledger_requester_day_idx', ['requesterId', 'recordedAt'])
export class TokenLedgerEntry {
  /**
   * The activity attempt that paid, `<runId>/<activityId>/<attempt>`: recording it again changes
   * nothing, and a later attempt that had to call the LLM again is a second payment.
   */
  @PrimaryColumn({ name: 'call_id', type: 'text' })
  callId!: string;

  @Column({ name: 'report_id', type: 'uuid' })
  reportId!: string;

  /** Null only for calls scheduled by workflows started before budgets existed. */
  @Column({ name: 'requester_id', type: 'text', nullable: true })
  requesterId!: string | null;

  /** As the provider named it. */
  @Column({ type: 'text' })
  model!: string;

  @Column({ name: 'prompt_tokens', type: 'integer' })
  promptTokens!: number;

  @Column({ name: 'completion_tokens', type: 'integer' })
  completionTokens!: number;

  @Column({ name: 'recorded_at', type: 'timestamptz', default: () => 'now()' })
  recordedAt!: Date;
}
