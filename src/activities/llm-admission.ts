/**
 * Paces LLM calls to the provider's quota, for every call in the process. The provider says
 * what is left (`x-ratelimit-remaining-*`, `x-ratelimit-reset-*`) on each answer and how long
 * to wait on a 429 (`Retry-After`); the limiter holds new calls while the quota is spent, so
 * under quota the pipeline slows down instead of failing reports. How many calls may be in
 * flight at once is the LLM worker's slot count, not the limiter's business.
 */

export interface LlmAdmissionOptions {
  /** How long to hold new calls after a 429 that names no Retry-After. */
  defaultBackoffMs?: number;
  /** Longest a single hold may last, whatever the provider says. */
  maxHoldMs?: number;
  now?: () => number;
}

export interface LlmAdmissionState {
  /** Calls waiting for the quota. */
  waiting: number;
  /** Epoch ms until which no call is admitted; 0 when open. */
  heldUntil: number;
  /** 429s seen since start. */
  rateLimitedCalls: number;
}

/** Thrown by `admit` when the caller's signal aborts while it waits for the quota. */
export class AdmissionAbortedError extends Error {
  readonly code = 'LLM_ADMISSION_ABORTED';
  constructor() {
    super('stopped waiting for the LLM quota');
    this.name = 'AdmissionAbortedError';
  }
}

/** OpenAI's reset durations: "1s", "6m0s", "20ms", "1h2m3.5s"; plain numbers are seconds. */
export function parseResetMs(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let matched = '';
  for (const part of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    total += Number(part[1]) * units[part[2]!]!;
    matched += part[0];
  }
  return matched === trimmed && matched.length > 0 ? total : undefined;
}

/** One admitted call; the first of its methods to be called settles it. */
export interface AdmittedCall {
  /** The provider accepted the call; its headers tell what is left of the quota. */
  succeeded(headers?: Headers): void;
  /** The provider answered 429. */
  rateLimited(retryAfterMs: number | undefined, headers?: Headers): void;
  /** Any other end: an error, a timeout, a cancel. */
  failed(): void;
}

export class LlmAdmission {
  private readonly defaultBackoffMs: number;
  private readonly maxHoldMs: number;
  private readonly now: () => number;
  private heldUntil = 0;
  /** Calls the last answer said are left in its window, less those admitted since. */
  private allowance: number | undefined;
  private allowanceResetsAt = 0;
  /**
   * After a 429, one call at a time probes the quota until one gets through, so a crowd of
   * waiting calls does not hit the provider all at once the moment Retry-After ends.
   */
  private probing = false;
  private probeInFlight = false;
  private rateLimitedCalls = 0;
  private waiting = 0;
  private wakeUp: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: LlmAdmissionOptions = {}) {
    this.defaultBackoffMs = options.defaultBackoffMs ?? 1000;
    this.maxHoldMs = options.maxHoldMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  get state(): LlmAdmissionState {
    return {
      waiting: this.waiting,
      heldUntil: this.heldUntil > this.now() ? this.heldUntil : 0,
      rateLimitedCalls: this.rateLimitedCalls,
    };
  }

  /** Waits until the quota admits one more call. */
  async admit(signal?: AbortSignal): Promise<AdmittedCall> {
    this.waiting += 1;
    try {
      for (;;) {
        if (signal?.aborted) throw new AdmissionAbortedError();
        const waitMs = this.waitMs();
        if (waitMs === 0) break;
        await this.sleep(waitMs, signal);
      }
    } finally {
      this.waiting -= 1;
    }
    if (this.allowance !== undefined) this.allowance -= 1;
    const probe = this.probing;
    if (probe) this.probeInFlight = true;
    let settled = false;
    const end = (): boolean => {
      if (settled) return false;
      settled = true;
      if (probe) this.probeInFlight = false;
      return true;
    };
    return {
      succeeded: (headers) => {
        if (!end()) return;
        this.observe(headers);
        this.probing = false;
        // New headers may have opened the quota for calls that are waiting on a timer.
        if (this.wakeUp.length > 0 && this.waitMs() === 0) this.wakeAll();
      },
      rateLimited: (retryAfterMs, headers) => {
        if (!end()) return;
        this.observe(headers);
        this.holdFor(retryAfterMs ?? this.defaultBackoffMs);
        this.probing = true;
        this.rateLimitedCalls += 1;
        // Waiters asleep on an earlier, longer timer look again and wait for the new hold.
        this.wakeAll();
      },
      failed: () => {
        // A probe that failed otherwise says nothing about the quota: let the next one try.
        if (end() && probe) this.wakeAll();
      },
    };
  }

  /** Reads what an answer's rate-limit headers say is left of the quota. */
  private observe(headers: Headers | undefined): void {
    if (!headers) return;
    const now = this.now();
    const requests = Number(headers.get('x-ratelimit-remaining-requests') ?? NaN);
    const requestsReset = parseResetMs(headers.get('x-ratelimit-reset-requests'));
    if (Number.isFinite(requests) && requestsReset !== undefined) {
      this.allowance = requests;
      this.allowanceResetsAt = now + Math.min(requestsReset, this.maxHoldMs);
    }
    // Tokens cannot be counted before a call, so a spent token quota simply holds until reset.
    const tokens = Number(headers.get('x-ratelimit-remaining-tokens') ?? NaN);
    const tokensReset = parseResetMs(headers.get('x-ratelimit-reset-tokens'));
    if (Number.isFinite(tokens) && tokens <= 0 && tokensReset !== undefined)
      this.holdFor(tokensReset);
  }

  private holdFor(ms: number): void {
    const until = this.now() + Math.min(Math.max(ms, 0), this.maxHoldMs);
    if (until > this.heldUntil) this.heldUntil = until;
  }

  /** 0 to go now, otherwise how long to wait before looking again. */
  private waitMs(): number {
    const now = this.now();
    let wait = this.heldUntil - now;
    if (this.allowance !== undefined) {
      if (now >= this.allowanceResetsAt) this.allowance = undefined;
      else if (this.allowance <= 0) wait = Math.max(wait, this.allowanceResetsAt - now);
    }
    // A probe is out: wait for its answer (it wakes everyone), looking again now and then.
    if (wait <= 0 && this.probing && this.probeInFlight) wait = 1000;
    return Math.max(0, Math.ceil(wait));
  }

  private wakeAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiters = this.wakeUp;
    this.wakeUp = [];
    for (const wake of waiters) wake();
  }

  /** One timer for all waiters: they wake together and look again. */
  private sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        // A waiter that gave up leaves; with nobody left, the timer need not hold the process.
        this.wakeUp = this.wakeUp.filter((w) => w !== done);
        if (this.wakeUp.length === 0) {
          clearTimeout(this.timer);
          this.timer = undefined;
        }
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.wakeUp.push(done);
      if (!this.timer) this.timer = setTimeout(() => this.wakeAll(), ms);
    });
  }
}
