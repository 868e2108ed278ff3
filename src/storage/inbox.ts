import type { DataSource } from 'typeorm';

export type InboxOutcome = 'new' | 'duplicate' | 'conflict';

export interface InboxEntryInput {
  idempotencyKey: string;
  payloadHash: string;
  workflowId: string;
  reportId: string;
  source: string;
}

export interface InboxVerdict {
  outcome: InboxOutcome;
  /** The key's workflow start was already acknowledged: a duplicate needs no second start. */
  started: boolean;
}

interface UpsertedRow {
  idempotency_key: string;
  payload_hash: string;
  inserted: boolean;
  started: boolean;
}

/**
 * Remembers the first request per idempotency key. A later one with the same payload is a
 * duplicate (counted); with a different payload it is a conflict (counted, never started).
 * The first writer of a key wins in the database, so concurrent consumers agree on it.
 */
export class Inbox {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Records requests in the order given (a batch in offset order) with two statements however
   * many there are: within the batch, the first request of a key is compared with what the
   * table already holds, and the later ones with whichever of the two came first.
   */
  async recordAll(entries: readonly InboxEntryInput[]): Promise<InboxVerdict[]> {
    if (entries.length === 0) return [];
    const firsts = new Map<string, InboxEntryInput>();
    for (const e of entries) if (!firsts.has(e.idempotencyKey)) firsts.set(e.idempotencyKey, e);
    // Sorted, so two batches that share keys lock their rows in the same order.
    const rows = [...firsts.values()].sort((a, b) =>
      a.idempotencyKey < b.idempotencyKey ? -1 : a.idempotencyKey > b.idempotencyKey ? 1 : 0,
    );
    return this.dataSource.transaction(async (manager) => {
      const upserted = await manager.query<UpsertedRow[]>(
        `INSERT INTO "inbox" ("idempotency_key", "payload_hash", "workflow_id", "report_id", "source")
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::text[])
         ON CONFLICT ("idempotency_key") DO UPDATE SET "last_seen_at" = now()
         RETURNING "idempotency_key", "payload_hash", (xmax = 0) AS inserted,
                   ("started_at" IS NOT NULL) AS started`,
        [
          rows.map((e) => e.idempotencyKey),
          rows.map((e) => e.payloadHash),
          rows.map((e) => e.workflowId),
          rows.map((e) => e.reportId),
          rows.map((e) => e.source),
        ],
      );
      const byKey = new Map(upserted.map((r) => [r.idempotency_key, r]));
      const counts = new Map<string, { duplicates: number; conflicts: number }>();
      const verdicts = entries.map((entry): InboxVerdict => {
        const row = byKey.get(entry.idempotencyKey);
        if (!row) throw new Error(`inbox upsert returned no row for ${entry.idempotencyKey}`);
        if (row.inserted && firsts.get(entry.idempotencyKey) === entry)
          return { outcome: 'new', started: false };
        const outcome = row.payload_hash === entry.payloadHash ? 'duplicate' : 'conflict';
        const c = counts.get(entry.idempotencyKey) ?? { duplicates: 0, conflicts: 0 };
        if (outcome === 'duplicate') c.duplicates += 1;
        else c.conflicts += 1;
        counts.set(entry.idempotencyKey, c);
        return { outcome, started: row.started };
      });
      if (counts.size > 0) {
        const keys = [...counts.keys()].sort();
        await manager.query(
          `UPDATE "inbox" SET "duplicates" = "inbox"."duplicates" + c.duplicates,
                              "conflicts" = "inbox"."conflicts" + c.conflicts
           FROM unnest($1::text[], $2::int[], $3::int[]) AS c(idempotency_key, duplicates, conflicts)
           WHERE "inbox"."idempotency_key" = c.idempotency_key`,
          [
            keys,
            keys.map((k) => counts.get(k)!.duplicates),
            keys.map((k) => counts.get(k)!.conflicts),
          ],
        );
      }
      return verdicts;
    });
  }

  /** Notes that these keys' workflow starts were acknowledged by Temporal. */
  async markStarted(idempotencyKeys: readonly string[]): Promise<void> {
    if (idempotencyKeys.length === 0) return;
    await this.dataSource.query(
      `UPDATE "inbox" SET "started_at" = now()
       WHERE "idempotency_key" = ANY($1::text[]) AND "started_at" IS NULL`,
      [[...idempotencyKeys].sort()],
    );
  }
}
