import type { PaidAnswer, TokenLedger } from '../token-ledger';

/**
 * The token ledger's rules over an array, for tests without PostgreSQL: a call is recorded
 * once, and sums are taken over a span of `recordedAt`, which `now` stamps (the database's
 * clock, in the real one).
 */
export class MemoryTokenLedger implements Pick<TokenLedger, 'record' | 'usedBetween'> {
  readonly rows: (PaidAnswer & { recordedAt: Date })[] = [];
  /** How many times usage was read: the intake should need one read per slice. */
  reads = 0;
  /** While true, every call fails as an unreachable database would. */
  down = false;

  constructor(private readonly now: () => Date = () => new Date()) {}

  async record(answer: PaidAnswer): Promise<boolean> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    if (this.rows.some((r) => r.callId === answer.callId)) return false;
    this.rows.push({ ...answer, recordedAt: this.now() });
    return true;
  }

  async usedBetween(
    requesterIds: readonly string[],
    from: Date,
    until: Date,
  ): Promise<Map<string, number>> {
    if (this.down) throw new Error('connect ECONNREFUSED');
    this.reads += 1;
    const used = new Map<string, number>();
    for (const row of this.rows) {
      if (row.requesterId === null || !requesterIds.includes(row.requesterId)) continue;
      if (row.recordedAt < from || row.recordedAt >= until) continue;
      used.set(
        row.requesterId,
        (used.get(row.requesterId) ?? 0) + row.promptTokens + row.completionTokens,
      );
    }
    return used;
  }
}
