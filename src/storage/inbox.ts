import type { DataSource } from 'typeorm';

export type InboxOutcome = 'new' | 'duplicate' | 'conflict';

export interface InboxEntryInput {
  idempotencyKey: string;
  payloadHash: string;
  workflowId: string;
  reportId: string;
  source: string;
}

/**
 * Remembers the first request per idempotency key. A later one with the same payload is a
 * duplicate (counted); with a different payload it is a conflict (counted, never started).
 * One statement, so concurrent consumers agree on which request came first.
 */
export class Inbox {
  constructor(private readonly dataSource: DataSource) {}

  async record(entry: InboxEntryInput): Promise<InboxOutcome> {
    const rows = await this.dataSource.query<{ inserted: boolean; payload_hash: string }[]>(
      `INSERT INTO "inbox" ("idempotency_key", "payload_hash", "workflow_id", "report_id", "source")
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT ("idempotency_key") DO UPDATE SET
         "duplicates" = "inbox"."duplicates" + (CASE WHEN "inbox"."payload_hash" = EXCLUDED."payload_hash" THEN 1 ELSE 0 END),
         "conflicts" = "inbox"."conflicts" + (CASE WHEN "inbox"."payload_hash" = EXCLUDED."payload_hash" THEN 0 ELSE 1 END),
         "last_seen_at" = now()
       RETURNING (xmax = 0) AS inserted, "payload_hash"`,
      [entry.idempotencyKey, entry.payloadHash, entry.workflowId, entry.reportId, entry.source],
    );
    const row = rows[0];
    if (!row) throw new Error('inbox upsert returned no row');
    if (row.inserted) return 'new';
    return row.payload_hash === entry.payloadHash ? 'duplicate' : 'conflict';
  }
}
