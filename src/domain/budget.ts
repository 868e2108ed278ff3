import { RequestRejectedError } from './request-validation';

/**
 * Daily token budgets per requester: how many LLM tokens (prompt and completion) a requester's
 * reports may use in one UTC calendar day. They are checked when a request is admitted, against
 * the tokens recorded so far that day; a report admitted under its budget runs to the end even
 * if it crosses it, so no report is cut in half. Pure rules: the intake reads the usage.
 */
export interface TokenBudgets {
  /** Every requester's budget; 0 for none. */
  perDay: number;
  /** Requesters whose budget differs from `perDay`; 0 for none (exempt from `perDay`). */
  byRequester: ReadonlyMap<string, number>;
}

/** The budget a requester has today, or undefined when it has none. */
export function budgetOf(budgets: TokenBudgets, requesterId: string): number | undefined {
  const budget = budgets.byRequester.get(requesterId) ?? budgets.perDay;
  return budget > 0 ? budget : undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC calendar day an instant falls in: from its midnight (included) to the next (excluded). */
export function utcDayOf(at: Date): { start: Date; end: Date } {
  const start = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
  return { start: new Date(start), end: new Date(start + DAY_MS) };
}

/** A budget is spent once the tokens used reach it: at the budget, nothing more starts. */
export const isOverBudget = (used: number, budget: number): boolean => used >= budget;

/** Whole seconds from `now` until `resetsAt`, at least 1: what Retry-After says. */
export const secondsUntil = (resetsAt: Date, now: Date): number =>
  Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000));

/** The day that ends at `resetsAt`, as YYYY-MM-DD. */
const dayName = (resetsAt: Date): string =>
  new Date(resetsAt.getTime() - DAY_MS).toISOString().slice(0, 10);

/** Thrown (as an admission's refusal) when a requester's tokens today have reached its budget. */
export class BudgetExceededError extends RequestRejectedError {
  constructor(
    readonly requesterId: string,
    readonly used: number,
    readonly budget: number,
    /** The next UTC midnight, when the day's usage starts again from 0. */
    readonly resetsAt: Date,
  ) {
    super(
      'budget-exceeded',
      `requester ${requesterId} has used ${used} of its ${budget} LLM tokens for ${dayName(resetsAt)} (UTC); nothing was started; the budget resets at ${resetsAt.toISOString()}`,
    );
    this.name = 'BudgetExceededError';
  }
}

/**
 * The refusal for a request from `requesterId` at `now`, given the tokens it used that day, or
 * undefined when it may start.
 */
export function budgetRefusal(
  budgets: TokenBudgets,
  requesterId: string,
  usedToday: number,
  now: Date,
): BudgetExceededError | undefined {
  const budget = budgetOf(budgets, requesterId);
  if (budget === undefined || !isOverBudget(usedToday, budget)) return undefined;
  return new BudgetExceededError(requesterId, usedToday, budget, utcDayOf(now).end);
}
