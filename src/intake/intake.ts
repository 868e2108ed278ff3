import type { Logger } from 'pino';
import {
  budgetOf,
  budgetRefusal,
  utcDayOf,
  type BudgetExceededError,
  type TokenBudgets,
} from '../domain/budget';
import { reportIdsFor, type ReportIds } from '../domain/ids';
import type { ReportRequest } from '../domain/report';
import {
  RequestRejectedError,
  validateRequest,
  type ValidRequest,
} from '../domain/request-validation';
import type { ServiceMetrics } from '../observability/metrics';
import type { Inbox, InboxVerdict } from '../storage/inbox';
import type { TokenLedger } from '../storage/token-ledger';

/** Where requests come from: the request topic, or the API. */
export type RequestSource = Extract<ReportRequest['source'], 'kafka' | 'http'>;

/** Starts the one workflow of a request, or finds it already there (`startReport`). */
export type StartReport = (request: ValidRequest) => Promise<unknown>;

/**
 * How the caller wants an outage of a dependency handled: the consumer holds its partition and
 * retries, the API answers 503. Whatever it throws ends that request's admission.
 */
export type Attempt = <T>(
  dependency: 'PostgreSQL' | 'Temporal',
  operation: () => Promise<T>,
) => Promise<T>;

/** What became of one request. */
export type Admission =
  | {
      /** `new` the first time its key is seen; `duplicate` for the same request again. */
      outcome: 'new' | 'duplicate';
      ids: ReportIds;
      request: ValidRequest;
      /** Settles once Temporal has acknowledged the start (or it was already acknowledged). */
      started: Promise<void>;
    }
  | {
      /**
       * Refused: invalid, too large, a key first used for another request (all for good), or
       * its requester's token budget for the day is spent (`BudgetExceededError`).
       */
      outcome: 'refused';
      error: RequestRejectedError;
      ids?: ReportIds;
    };

export interface IntakeDeps {
  inbox: Pick<Inbox, 'recordAll' | 'markStarted'>;
  startReport: StartReport;
  promptMaxChars: number;
  /** Each requester's tokens per UTC day; a request whose requester spent them is refused. */
  budgets: TokenBudgets;
  /** Where the tokens spent are recorded (by the LLM calls), read once per admitted slice. */
  tokenLedger: Pick<TokenLedger, 'usedBetween'>;
  /** The clock that says which UTC day it is; the real one unless a test moves it. */
  now?: () => Date;
  logger: Logger;
  metrics?: Pick<ServiceMetrics, 'workflowStarts' | 'startsInFlight' | 'budgetRefusals'>;
}

/**
 * Whether admitting a request may start a workflow that was never started: only such a request
 * is held to its requester's budget. A copy of one already started starts nothing new, and
 * refusing it would answer "refused" for a report that runs.
 */
const wouldStart = (verdict: InboxVerdict): boolean =>
  verdict.outcome === 'new' || (verdict.outcome === 'duplicate' && !verdict.started);

/**
 * Admits report requests, from the request topic and the API alike: checks each, derives its
 * ids, records it in the inbox (which tells a new request from a duplicate or a conflict),
 * checks its requester's token budget, and starts its one workflow. A duplicate is started too
 * (unless it came from Kafka and Temporal already acknowledged the key's start): the first
 * attempt may have been recorded and then lost before it reached Temporal, and the start policy
 * makes a second start find the first.
 */
export class Intake {
  constructor(private readonly deps: IntakeDeps) {}

  /**
   * Admits records in the order given (a slice of a partition, or one API call) with one inbox
   * round trip. The admissions come back as soon as they are decided; each accepted one's
   * `started` settles with its start. `settled` resolves once every start has, and the
   * acknowledged ones are noted in the inbox; it never rejects.
   */
  async admit(
    records: readonly unknown[],
    source: RequestSource,
    attempt: Attempt,
  ): Promise<{ admissions: Admission[]; settled: Promise<void> }> {
    const checked = records.map((record) => this.check(record, source));
    const accepted = checked.flatMap((c, index) => ('error' in c ? [] : [{ ...c, index }]));
    const verdicts = await attempt('PostgreSQL', () =>
      this.deps.inbox.recordAll(
        accepted.map(({ ids, payloadHash }) => ({ ...ids, payloadHash, source })),
      ),
    );
    const verdictAt = new Map<number, InboxVerdict>(
      accepted.map(({ index }, i) => [index, verdicts[i]!]),
    );
    const overBudget = await this.overBudget(
      accepted.flatMap(({ index, request }) =>
        wouldStart(verdictAt.get(index)!) ? [request.requester.id] : [],
      ),
      attempt,
    );

    // One start per key; later copies of a key in the same records wait for it.
    const starts = new Map<string, Promise<void>>();
    const acknowledged: string[] = [];
    const startOnce = (request: ValidRequest): Promise<void> => {
      let start = starts.get(request.idempotencyKey);
      if (!start) {
        start = this.start(request, source, attempt).then(() => {
          acknowledged.push(request.idempotencyKey);
        });
        starts.set(request.idempotencyKey, start);
      }
      return start;
    };

    const admissions = checked.map((c, index): Admission => {
      if ('error' in c) return { outcome: 'refused', error: c.error };
      const verdict = verdictAt.get(index)!;
      const { ids, request } = c;
      if (verdict.outcome === 'conflict') {
        const error = new RequestRejectedError(
          'idempotency-key-conflict',
          `idempotency key ${ids.idempotencyKey} was first used for a different request`,
        );
        return { outcome: 'refused', error, ids };
      }
      const refusal = wouldStart(verdict) ? overBudget.get(request.requester.id) : undefined;
      if (refusal) {
        this.deps.metrics?.budgetRefusals.inc({ source });
        return { outcome: 'refused', error: refusal, ids };
      }
      // A copy from Kafka whose key's start Temporal acknowledged needs no round trip: a replay
      // brings them by the thousand. An API call always asks: a person re-sending a request
      // whose run was terminated gets a new run, as the start policy allows.
      const needsStart = verdict.outcome === 'new' || !verdict.started || source === 'http';
      const started = (needsStart ? startOnce(request) : Promise.resolve()).then(() => {
        this.deps.metrics?.workflowStarts.inc({
          source,
          result: verdict.outcome === 'new' ? 'created' : 'existing',
        });
      });
      return { outcome: verdict.outcome, ids, request, started };
    });

    const settled = Promise.allSettled(starts.values()).then(() =>
      // Only saves later copies a round trip to Temporal, so a failure here costs nothing.
      this.deps.inbox.markStarted(acknowledged).catch((error: unknown) => {
        this.deps.logger.warn({ error: String(error) }, 'could not note acknowledged starts');
      }),
    );
    return { admissions, settled };
  }

  /**
   * The refusals of requesters whose budget for today is spent, among those given, from one
   * read of the tokens recorded today (none when no requester given has a budget). A requester
   * under its budget is admitted even if this report will take it over: it runs to the end.
   */
  private async overBudget(
    requesterIds: readonly string[],
    attempt: Attempt,
  ): Promise<Map<string, BudgetExceededError>> {
    const budgeted = [...new Set(requesterIds)].filter(
      (id) => budgetOf(this.deps.budgets, id) !== undefined,
    );
    if (budgeted.length === 0) return new Map();
    const now = (this.deps.now ?? (() => new Date()))();
    const today = utcDayOf(now);
    const used = await attempt('PostgreSQL', () =>
      this.deps.tokenLedger.usedBetween(budgeted, today.start, today.end),
    );
    return new Map(
      budgeted.flatMap((id) => {
        const refusal = budgetRefusal(this.deps.budgets, id, used.get(id) ?? 0, now);
        return refusal ? [[id, refusal] as const] : [];
      }),
    );
  }

  private check(
    record: unknown,
    source: RequestSource,
  ):
    | { request: ValidRequest; payloadHash: string; ids: ReportIds }
    | { error: RequestRejectedError } {
    try {
      const { request, payloadHash } = validateRequest(
        record,
        { promptMaxChars: this.deps.promptMaxChars },
        source,
      );
      return { request, payloadHash, ids: reportIdsFor(request.idempotencyKey) };
    } catch (error: unknown) {
      if (error instanceof RequestRejectedError) return { error };
      throw error;
    }
  }

  private async start(request: ValidRequest, source: RequestSource, attempt: Attempt) {
    const metrics = this.deps.metrics;
    metrics?.startsInFlight.inc({ source });
    try {
      await attempt('Temporal', () => this.deps.startReport(request));
    } finally {
      metrics?.startsInFlight.dec({ source });
    }
  }
}
