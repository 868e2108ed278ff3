import type { Inbox, InboxEntryInput, InboxVerdict } from '../inbox';

/**
 * The inbox's rules over a Map, for tests without PostgreSQL: the first body of a key wins, a
 * later one is a duplicate (same body) or a conflict, and a start once noted is kept.
 */
export class MemoryInbox implements Pick<Inbox, 'recordAll' | 'markStarted'> {
  readonly rows = new Map<string, { payloadHash: string; started: boolean }>();
  /** While true, every call fails as an unreachable database would. */
  down = false;

  async recordAll(entries: readonly InboxEntryInput[]): Promise<InboxVerdict[]> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    return entries.map((entry) => {
      const row = this.rows.get(entry.idempotencyKey);
      if (!row) {
        this.rows.set(entry.idempotencyKey, { payloadHash: entry.payloadHash, started: false });
        return { outcome: 'new', started: false };
      }
      const outcome = row.payloadHash === entry.payloadHash ? 'duplicate' : 'conflict';
      return { outcome, started: row.started };
    });
  }

  async markStarted(keys: readonly string[]): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    for (const key of keys) {
      const row = this.rows.get(key);
      if (row) row.started = true;
    }
  }
}
