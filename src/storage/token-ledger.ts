import type { DataSource } from 'typeorm';

/** An LLM answer paid for, as the call that received it records it. */
export interface PaidAnswer {
  /** The activity attempt that paid, `<runId>/<activityId>/<attempt>`. */
  callId: string;
  reportId: string;
  /** Null for calls scheduled by workflows started before budgets existed. */
  requesterId: string | null;
  model: string;
  promptTokens: number;
  completionTokens: number;
}

/**
 * The tokens every LLM answer cost, one row per answer paid for, and each requester's sum over
 * a span of time (a UTC day, for budgets). Rows are written with the database's clock.
 */
export class TokenLedger {
  constructor(private readonly dataSource: DataSource) {}

  /** Records an answer once: the same call recorded again changes nothing. True when new. */
  async record(answer: PaidAnswer): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `INSERT INTO "token_ledger"
         ("call_id", "report_id", "requester_id", "model", "prompt_tokens", "completion_tokens")
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT ("call_id") DO NOTHING
       RETURNING "call_id"`,
      [
        answer.callId,
        answer.reportId,
        answer.requesterId,
        answer.model,
        answer.promptTokens,
        answer.completionTokens,
      ],
    );
    return rows.length > 0;
  }

  /**
   * Tokens (prompt and completion) recorded for each of these requesters from `from` (included)
   * to `until` (excluded), in one statement; a requester with none is absent from the map.
   */
  async usedBetween(
    requesterIds: readonly string[],
    from: Date,
    until: Date,
  ): Promise<Map<string, number>> {
    if (requesterIds.length === 0) return new Map();
    const rows = await this.dataSource.query<{ requester_id: string; tokens: string }[]>(
      `SELECT "requester_id", sum("prompt_tokens" + "completion_tokens") AS tokens
       FROM "token_ledger"
       WHERE "requester_id" = ANY($1::text[]) AND "recorded_at" >= $2 AND "recorded_at" < $3
       GROUP BY "requester_id"`,
      [[...requesterIds], from, until],
    );
    // sum() of integers is a bigint, which pg returns as a string.
    return new Map(rows.map((r) => [r.requester_id, Number(r.tokens)]));
  }
}
