import { RequestRejectedError } from '../domain/request-validation';

/** How long to wait before retry `attempt` (1, 2, …): 0.5 s doubling to at most 30 s. */
export const backoffMs = (attempt: number): number =>
  Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));

export interface HoldOptions {
  /** Keeps the group from handing the partition to another member while this one waits. */
  heartbeat: () => Promise<void>;
  /** True once the consumer is stopping: the wait ends and the error is thrown. */
  stopping: () => boolean;
  /** Told before each wait, to count and log it. */
  onRetry: (attempt: number, delayMs: number, error: unknown) => void;
}

/**
 * Runs an operation on infrastructure that may be down (the registry, PostgreSQL, Temporal, the
 * DLQ) until it succeeds, waiting `backoffMs` between attempts and heartbeating meanwhile: the
 * partition is held rather than skipped, so nothing is lost to an outage. A rejected request
 * is not an outage and is thrown at once.
 */
export async function holdAndRetry<T>(
  operation: () => Promise<T>,
  options: HoldOptions,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error: unknown) {
      if (error instanceof RequestRejectedError || options.stopping()) throw error;
      const delayMs = backoffMs(attempt);
      options.onRetry(attempt, delayMs, error);
      const until = Date.now() + delayMs;
      while (Date.now() < until && !options.stopping()) {
        await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
        await options.heartbeat().catch(() => undefined);
      }
    }
  }
}
