import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { redriveDlq } from '../../src/consumers/redrive-dlq';
import { utcDayOf } from '../../src/domain/budget';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { TokenLedger } from '../../src/storage/token-ledger';
import { createKafkaHarness, type KafkaHarness } from '../../testing/kafka-harness';
import { mailTo } from '../../testing/maildev';
import { testEndpoints, uniqueName } from '../../testing/stack-env';
import {
  createApiHarness,
  waitForEnd,
  type ApiErrorBody,
  type ApiHarness,
} from '../support/api-harness';

/**
 * A clock for the admission path that a test can move to the next UTC day (or to the last
 * second of this one) instead of waiting for midnight; the database stamps usage with its own.
 */
function movableClock() {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    /** Moves the clock so that it reads `at` now. */
    set(at: Date) {
      offsetMs = at.getTime() - Date.now();
    },
    reset() {
      offsetMs = 0;
    },
  };
}

const tomorrow = () => new Date(utcDayOf(new Date()).end.getTime() + 1_000);
const llmKey = (idempotencyKey: string) => `${workflowIdFor(idempotencyKey)}:callLlm`;

interface StatusBody {
  status: string;
  usage?: { promptTokens: number; completionTokens: number };
  estimatedCost?: { usd: number | null; pricedAs?: string };
  notification?: string;
}

/** The tokens recorded for a requester, whenever. */
async function recorded(ledger: TokenLedger, requesterId: string): Promise<number> {
  const used = await ledger.usedBetween([requesterId], new Date(0), new Date(Date.now() + 60_000));
  return used.get(requesterId) ?? 0;
}

describe('daily token budgets through the API, over the real stack', () => {
  const clock = movableClock();
  // Requesters of this run alone, so that no other file's reports count against them.
  const spender = uniqueName('budget-http');
  const crosser = uniqueName('budget-cross');
  const CROSSER_BUDGET = 100_000;
  let api: ApiHarness;
  let ledger: TokenLedger;
  before(async () => {
    api = await createApiHarness({
      settings: {
        TOKEN_BUDGETS: new Map([
          [spender, 1],
          [crosser, CROSSER_BUDGET],
        ]),
      },
      now: clock.now,
    });
    ledger = new TokenLedger(api.dataSource);
  });
  after(() => api.close());

  const start = (requesterId: string, key: string, prompt = `Tidal lagoons (${key})`) =>
    api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': key },
      json: { prompt, requester: { id: requesterId, email: `${key}@example.com` } },
    });

  async function runToTheEnd(requesterId: string, key: string): Promise<StatusBody> {
    const response = await start(requesterId, key);
    assert.equal(response.status, 202, await response.clone().text());
    return (await waitForEnd(
      api,
      `/api/workflows/${workflowIdFor(key)}/status`,
    )) as unknown as StatusBody;
  }

  it('refuses the request after the one that spent the budget with 429 and starts nothing', async () => {
    const spent = await runToTheEnd(spender, uniqueName('spend'));
    assert.equal(spent.status, 'COMPLETED');
    const tokens = spent.usage!.promptTokens + spent.usage!.completionTokens;
    assert.equal(await recorded(ledger, spender), tokens, 'the LLM call recorded what it spent');
    assert.equal(spent.estimatedCost?.pricedAs, 'gpt-4o-mini', 'the stand-in is priced as such');
    assert.ok((spent.estimatedCost?.usd ?? 0) > 0);

    const key = uniqueName('refused');
    const refused = await start(spender, key);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    const untilMidnight = (utcDayOf(new Date()).end.getTime() - Date.now()) / 1000;
    assert.ok(
      retryAfter >= 1 && Math.abs(retryAfter - untilMidnight) <= 5,
      `Retry-After ${retryAfter} s; midnight UTC is ${untilMidnight} s away`,
    );
    const body = (await refused.json()) as ApiErrorBody;
    assert.equal(body.error.code, 'BUDGET_EXCEEDED');
    assert.deepEqual(body.error.details, {
      requesterId: spender,
      used: tokens,
      budget: 1,
      resetsAt: utcDayOf(new Date()).end.toISOString(),
    });
    assert.match(
      body.error.message,
      new RegExp(`${spender} has used ${tokens} of its 1 LLM tokens`),
    );

    await assert.rejects(
      api.client.workflow.getHandle(workflowIdFor(key)).describe(),
      WorkflowNotFoundError,
      'no workflow',
    );
    assert.equal(await api.llm.countFor(llmKey(key)), 0, 'no LLM call');
    const counted = await api.metrics.getSingleMetric('report_budget_refusals_total')?.get();
    assert.deepEqual(
      counted?.values.map((v) => [v.labels.source, v.value]),
      [['http', 1]],
    );
  });

  it('admits the same requester again once the clock reads the next UTC day', async () => {
    const key = uniqueName('next-day');
    // The last second of today: still refused, and told to wait about a second.
    clock.set(new Date(utcDayOf(new Date()).end.getTime() - 1_000));
    const lastSecond = await start(spender, key);
    assert.equal(lastSecond.status, 429);
    assert.ok(Number(lastSecond.headers.get('retry-after')) <= 2);
    await lastSecond.arrayBuffer();

    clock.set(tomorrow());
    try {
      const admitted = await start(spender, key);
      // Kept in the inbox when refused: sent again, it is a copy of a request never started.
      assert.equal(admitted.status, 200, await admitted.clone().text());
      await admitted.arrayBuffer();
      const ended = (await waitForEnd(
        api,
        `/api/workflows/${workflowIdFor(key)}/status`,
      )) as unknown as StatusBody;
      assert.equal(ended.status, 'COMPLETED');
      assert.equal(await api.llm.countFor(llmKey(key)), 1);
    } finally {
      clock.reset();
    }
    const today = await start(spender, uniqueName('today-again'));
    assert.equal(today.status, 429, 'back on today’s clock, the budget is still spent');
    await today.arrayBuffer();
  });

  it('lets a report admitted just under its budget cross it and complete, then refuses the next', async () => {
    // Earlier reports of the day, as if paid for: one token short of the budget.
    await ledger.record({
      callId: `${uniqueName('earlier')}/1/1`,
      reportId: reportIdFor(uniqueName('earlier')),
      requesterId: crosser,
      model: 'gpt-4o-mini',
      promptTokens: CROSSER_BUDGET - 2,
      completionTokens: 1,
    });
    const key = uniqueName('crossing');
    const crossing = await runToTheEnd(crosser, key);
    assert.equal(crossing.status, 'COMPLETED', 'no half report');
    assert.equal(crossing.notification, 'SENT');
    assert.equal((await mailTo(testEndpoints.maildevApi, `${key}@example.com`)).length, 1);
    const used = await recorded(ledger, crosser);
    assert.ok(used > CROSSER_BUDGET, `its answer took the requester over: ${used} tokens`);

    const next = await start(crosser, uniqueName('after-crossing'));
    assert.equal(next.status, 429);
    const body = (await next.json()) as ApiErrorBody;
    assert.deepEqual(
      [body.error.code, (body.error.details as { used: number }).used],
      ['BUDGET_EXCEEDED', used],
    );
  });
});

describe('daily token budgets on the request topic, over the real stack', () => {
  const clock = movableClock();
  const spender = uniqueName('budget-kafka');
  let k: KafkaHarness;
  before(async () => {
    k = await createKafkaHarness({ TOKEN_BUDGETS: new Map([[spender, 1]]) });
  });
  after(() => k.close());

  const dlq = () => k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ);
  const requestOf = () =>
    k.sampleRequest({ requester: { id: spender, email: `${uniqueName('k')}@example.com` } });

  it('dead-letters the request after the one that spent the budget, starts nothing, and runs it once re-driven the next day', async () => {
    const consumer = await k.startConsumer({}, undefined, clock.now);
    const first = requestOf();
    await k.produceRequest(first);
    await k.waitCompleted(reportIdFor(first.idempotencyKey));

    const over = requestOf();
    await k.produceRequest(first); // a copy of the started report: never refused for budget
    await k.produceRequest(over);
    await k.waitFor('the refused request in the DLQ', () =>
      dlq().some((r) => r.key === over.idempotencyKey),
    );
    await k.waitFor('the copy acknowledged', () => consumer.stats.duplicates === 1);
    assert.deepEqual(
      dlq().map((r) => r.key),
      [over.idempotencyKey],
      'only the new request is refused',
    );
    const letter = dlq()[0]!;
    assert.equal(letter.headers['dlq-reason'], 'budget-exceeded');
    assert.equal(letter.headers['dlq-error-class'], 'BudgetExceededError');
    const resetsAt = utcDayOf(new Date()).end.toISOString();
    assert.match(
      letter.headers['dlq-error-message'] ?? '',
      new RegExp(`requester ${spender} has used \\d+ of its 1 LLM tokens .*resets at ${resetsAt}`),
    );
    assert.deepEqual(consumer.stats.deadLettered, { 'budget-exceeded': 1 });
    await assert.rejects(
      k.h.client.workflow.getHandle(workflowIdFor(over.idempotencyKey)).describe(),
      WorkflowNotFoundError,
      'no workflow',
    );
    assert.equal(await k.h.llm.countFor(llmKey(over.idempotencyKey)), 0, 'no LLM call');

    // After the reset, `npm run dlq:redrive -- --reason budget-exceeded` sends it again.
    clock.set(tomorrow());
    const redriven = await redriveDlq(k.config, { reason: 'budget-exceeded' });
    assert.deepEqual(
      redriven.republished.map((r) => r.key),
      [over.idempotencyKey],
    );
    await k.waitCompleted(reportIdFor(over.idempotencyKey));
    assert.equal(await k.h.llm.countFor(llmKey(over.idempotencyKey)), 1);
    assert.equal(dlq().length, 1, 'not refused again');
  });
});
