import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  budgetOf,
  budgetRefusal,
  BudgetExceededError,
  isOverBudget,
  secondsUntil,
  utcDayOf,
  type TokenBudgets,
} from './budget';
import { RequestRejectedError } from './request-validation';

const budgets = (perDay: number, overrides: Record<string, number> = {}): TokenBudgets => ({
  perDay,
  byRequester: new Map(Object.entries(overrides)),
});

describe('token budgets', () => {
  it('gives each requester the default budget unless it has one of its own; 0 is none', () => {
    const b = budgets(1000, { big: 50_000, exempt: 0 });
    assert.equal(budgetOf(b, 'anyone'), 1000);
    assert.equal(budgetOf(b, 'big'), 50_000);
    assert.equal(budgetOf(b, 'exempt'), undefined, 'an override of 0 exempts it');
    const off = budgets(0, { capped: 10 });
    assert.equal(budgetOf(off, 'anyone'), undefined, 'no default: no budget');
    assert.equal(budgetOf(off, 'capped'), 10, 'an override applies without a default');
  });

  it('takes the UTC calendar day of an instant, whatever the local time zone says', () => {
    const day = utcDayOf(new Date('2026-11-23T23:59:59.999Z'));
    assert.equal(day.start.toISOString(), '2026-11-23T00:00:00.000Z');
    assert.equal(day.end.toISOString(), '2026-11-24T00:00:00.000Z');
    const midnight = utcDayOf(new Date('2026-11-24T00:00:00.000Z'));
    assert.equal(midnight.start.toISOString(), '2026-11-24T00:00:00.000Z', 'midnight opens a day');
    const yearEnd = utcDayOf(new Date('2026-12-31T12:00:00+09:00'));
    assert.equal(yearEnd.start.toISOString(), '2026-12-31T00:00:00.000Z');
    assert.equal(yearEnd.end.toISOString(), '2027-01-01T00:00:00.000Z');
  });

  it('is spent once the tokens used reach the budget', () => {
    assert.equal(isOverBudget(999, 1000), false);
    assert.equal(isOverBudget(1000, 1000), true);
    assert.equal(isOverBudget(1001, 1000), true);
  });

  it('refuses a request at or over budget, saying who, how much, and when it resets', () => {
    const b = budgets(1000);
    const now = new Date('2026-11-23T22:30:00.000Z');
    assert.equal(budgetRefusal(b, 'svc-a', 999, now), undefined, 'just under: admitted');
    const refusal = budgetRefusal(b, 'svc-a', 1234, now);
    assert.ok(refusal instanceof BudgetExceededError);
    assert.ok(refusal instanceof RequestRejectedError, 'refused like any other request');
    assert.equal(refusal.reason, 'budget-exceeded');
    assert.deepEqual(
      { requester: refusal.requesterId, used: refusal.used, budget: refusal.budget },
      { requester: 'svc-a', used: 1234, budget: 1000 },
    );
    assert.equal(refusal.resetsAt.toISOString(), '2026-11-24T00:00:00.000Z');
    assert.equal(
      refusal.message,
      'requester svc-a has used 1234 of its 1000 LLM tokens for 2026-11-23 (UTC); nothing was started; the budget resets at 2026-11-24T00:00:00.000Z',
    );
    assert.equal(secondsUntil(refusal.resetsAt, now), 90 * 60);
    assert.equal(budgetRefusal(budgets(0), 'svc-a', 10 ** 9, now), undefined, 'no budget');
  });

  it('starts again at the day boundary, with a clock that crosses midnight', () => {
    const b = budgets(1000);
    let clock = new Date('2026-11-23T23:59:59.500Z');
    const now = () => clock;
    // Usage is read per day: what was recorded on the 23rd is not the 24th's.
    const usedOn = (day: { start: Date }) =>
      day.start.toISOString().startsWith('2026-11-23') ? 1500 : 0;
    const refusal = budgetRefusal(b, 'svc-a', usedOn(utcDayOf(now())), now());
    assert.ok(refusal, 'over budget just before midnight');
    assert.equal(secondsUntil(refusal.resetsAt, now()), 1, 'half a second left reads as 1 s');
    clock = new Date('2026-11-24T00:00:00.000Z');
    assert.equal(budgetRefusal(b, 'svc-a', usedOn(utcDayOf(now())), now()), undefined);
  });
});
