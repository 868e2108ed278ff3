import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { BudgetExceededError, type TokenBudgets } from '../domain/budget';
import { reportIdsFor } from '../domain/ids';
import type { ValidRequest } from '../domain/request-validation';
import { createServiceMetrics } from '../observability/metrics';
import { MemoryInbox } from '../storage/testing/memory-inbox';
import { MemoryTokenLedger } from '../storage/testing/memory-token-ledger';
import { Intake, type Admission, type Attempt } from './intake';

const record = (
  key: string,
  prompt = 'Quarterly revenue of the Nordic region',
  requesterId = 'analyst-7',
) => ({
  idempotencyKey: key,
  prompt,
  requester: { id: requesterId, email: 'analyst@example.com' },
});

const noBudgets: TokenBudgets = { perDay: 0, byRequester: new Map() };

function intakeOver(
  inbox: MemoryInbox,
  startFails = false,
  budgets: { budgets: TokenBudgets; ledger: MemoryTokenLedger; now?: () => Date } = {
    budgets: noBudgets,
    ledger: new MemoryTokenLedger(),
  },
) {
  const starts: ValidRequest[] = [];
  const metrics = createServiceMetrics(new Registry());
  const intake = new Intake({
    inbox,
    startReport: async (request) => {
      if (startFails) throw new Error('14 UNAVAILABLE');
      starts.push(request);
    },
    promptMaxChars: 100,
    budgets: budgets.budgets,
    tokenLedger: budgets.ledger,
    now: budgets.now,
    logger: pino({ level: 'silent' }),
    metrics,
  });
  return { intake, starts, metrics };
}

const attempts: string[] = [];
const direct: Attempt = (dependency, operation) => {
  attempts.push(dependency);
  return operation();
};

const outcomes = (admissions: Admission[]) => admissions.map((a) => a.outcome);

describe('Intake', () => {
  it('admits a slice in order: one start per key, copies as duplicates, the refused with why', async () => {
    const inbox = new MemoryInbox();
    inbox.rows.set('taken', { payloadHash: 'another body', started: true });
    const { intake, starts } = intakeOver(inbox);
    const { admissions, settled } = await intake.admit(
      [
        record('a'),
        record('a'),
        record('taken'),
        { prompt: 'no key' },
        record('b', 'x'.repeat(101)),
      ],
      'kafka',
      direct,
    );
    assert.deepEqual(outcomes(admissions), ['new', 'duplicate', 'refused', 'refused', 'refused']);
    const reasons = admissions.map((a) => (a.outcome === 'refused' ? a.error.reason : undefined));
    assert.deepEqual(reasons, [
      undefined,
      undefined,
      'idempotency-key-conflict',
      'invalid-record',
      'prompt-too-large',
    ]);
    const first = admissions[0]!;
    assert.ok(first.outcome === 'new');
    assert.deepEqual(first.ids, reportIdsFor('a'));
    await Promise.all(admissions.flatMap((a) => (a.outcome === 'refused' ? [] : [a.started])));
    await settled;
    assert.deepEqual(
      starts.map((s) => s.idempotencyKey),
      ['a'],
      'the copy waited for the one start',
    );
    assert.equal(inbox.rows.get('a')?.started, true, 'the acknowledged start is noted');
    assert.equal(inbox.rows.has('b'), false, 'a refused request is not recorded');
  });

  it('starts a duplicate again until its first start was acknowledged, then never', async () => {
    const inbox = new MemoryInbox();
    const { intake, starts } = intakeOver(inbox);
    await (
      await intake.admit([record('lost')], 'kafka', direct)
    ).settled;
    // Recorded, but the start's acknowledgement never noted (a crash right after Temporal).
    inbox.rows.get('lost')!.started = false;

    const again = await intake.admit([record('lost')], 'kafka', direct);
    assert.deepEqual(outcomes(again.admissions), ['duplicate']);
    await again.settled;
    assert.equal(starts.length, 2, 'recorded but never acknowledged: started again');

    const third = await intake.admit([record('lost')], 'kafka', direct);
    await third.settled;
    assert.equal(starts.length, 2, 'acknowledged: no further start');
  });

  it('hands each outage to the caller’s attempt, naming the dependency', async () => {
    attempts.length = 0;
    const inbox = new MemoryInbox();
    const { intake } = intakeOver(inbox, true);
    const { admissions, settled } = await intake.admit([record('c')], 'http', direct);
    const admission = admissions[0]!;
    assert.ok(admission.outcome === 'new');
    await assert.rejects(admission.started, /UNAVAILABLE/);
    await settled;
    assert.deepEqual(attempts, ['PostgreSQL', 'Temporal']);
    assert.equal(inbox.rows.get('c')?.started, false, 'a failed start is not noted');

    inbox.down = true;
    await assert.rejects(intake.admit([record('d')], 'http', direct), /ECONNREFUSED/);
  });

  it('keys an API request without a key by its body, and refuses a Kafka record without one', async () => {
    const { intake } = intakeOver(new MemoryInbox());
    const { prompt, requester } = record('unused');
    const http = await intake.admit([{ prompt, requester }], 'http', direct);
    const admitted = http.admissions[0]!;
    assert.ok(admitted.outcome === 'new');
    assert.match(admitted.ids.idempotencyKey, /^http-[0-9a-f]{40}$/);
    await admitted.started;
    const kafka = await intake.admit([{ prompt, requester }], 'kafka', direct);
    const refused = kafka.admissions[0]!;
    assert.ok(refused.outcome === 'refused');
    assert.equal(refused.error.reason, 'invalid-record');
  });

  describe('token budgets', () => {
    /** A clock the test moves, and a ledger that stamps its rows with it. */
    function budgeted(perDay: number, overrides: Record<string, number> = {}) {
      const clock = { now: new Date('2026-11-23T15:00:00.000Z') };
      const now = () => clock.now;
      const ledger = new MemoryTokenLedger(now);
      const inbox = new MemoryInbox();
      const budgets = { perDay, byRequester: new Map(Object.entries(overrides)) };
      return { clock, ledger, inbox, ...intakeOver(inbox, false, { budgets, ledger, now }) };
    }
    const spend = (ledger: MemoryTokenLedger, requesterId: string, tokens: number) =>
      ledger.record({
        callId: `run-${ledger.rows.length}/1/1`,
        reportId: reportIdsFor(`spent-${ledger.rows.length}`).reportId,
        requesterId,
        model: 'gpt-4o-mini',
        promptTokens: tokens - 1,
        completionTokens: 1,
      });

    it('refuses a requester at or over its budget before anything starts, reading usage once per slice', async () => {
      const { intake, starts, ledger, inbox, metrics } = budgeted(1000, { 'svc-big': 5000 });
      await spend(ledger, 'svc-a', 600);
      await spend(ledger, 'svc-a', 400);
      await spend(ledger, 'svc-big', 1000);
      const { admissions, settled } = await intake.admit(
        [
          record('a-1', 'first', 'svc-a'),
          record('big-1', 'first', 'svc-big'),
          record('a-2', 'second', 'svc-a'),
          record('fresh-1', 'first', 'svc-fresh'),
        ],
        'kafka',
        direct,
      );
      await settled;
      assert.deepEqual(outcomes(admissions), ['refused', 'new', 'refused', 'new']);
      assert.equal(ledger.reads, 1, 'one read of the usage for the whole slice');
      const refused = admissions[0]!;
      assert.ok(refused.outcome === 'refused');
      assert.ok(refused.error instanceof BudgetExceededError);
      assert.equal(refused.error.reason, 'budget-exceeded');
      assert.deepEqual(
        [refused.error.used, refused.error.budget, refused.error.resetsAt.toISOString()],
        [1000, 1000, '2026-11-24T00:00:00.000Z'],
        'at the budget is over it',
      );
      assert.deepEqual(refused.ids, reportIdsFor('a-1'));
      assert.deepEqual(
        starts.map((s) => s.idempotencyKey),
        ['big-1', 'fresh-1'],
        'nothing of svc-a started',
      );
      assert.equal(inbox.rows.get('a-1')?.started, false, 'recorded, never started');
      const counted = await metrics.budgetRefusals.get();
      assert.deepEqual(
        counted.values.map((v) => [v.labels.source, v.value]),
        [['kafka', 2]],
      );
    });

    it('never refuses a copy of a report already started, and holds one never started to the budget', async () => {
      const { intake, starts, ledger, inbox } = budgeted(1000);
      await (
        await intake.admit(
          [record('running', 'x', 'svc-a'), record('lost', 'y', 'svc-a')],
          'kafka',
          direct,
        )
      ).settled;
      inbox.rows.get('lost')!.started = false; // recorded, but its start never acknowledged
      await spend(ledger, 'svc-a', 5000); // the running report crossed the budget
      starts.length = 0;

      for (const source of ['kafka', 'http'] as const) {
        const copies = await intake.admit(
          [record('running', 'x', 'svc-a'), record('lost', 'y', 'svc-a')],
          source,
          direct,
        );
        await copies.settled;
        assert.deepEqual(outcomes(copies.admissions), ['duplicate', 'refused'], source);
      }
      assert.deepEqual(
        starts.map((s) => s.idempotencyKey),
        ['running'],
        'the API asks Temporal again for the running one; the lost one is not started',
      );
    });

    it('admits a requester just under its budget, though the report will cross it; the next is refused', async () => {
      const { intake, starts, ledger } = budgeted(1000);
      await spend(ledger, 'svc-a', 999);
      const under = await intake.admit([record('crossing', 'x', 'svc-a')], 'http', direct);
      await under.settled;
      assert.deepEqual(outcomes(under.admissions), ['new']);
      await spend(ledger, 'svc-a', 850); // what the admitted report then used: it runs to the end
      const next = await intake.admit([record('after', 'y', 'svc-a')], 'http', direct);
      assert.deepEqual(outcomes(next.admissions), ['refused']);
      const refused = next.admissions[0]!;
      assert.ok(refused.outcome === 'refused' && refused.error instanceof BudgetExceededError);
      assert.equal(refused.error.used, 1849);
      assert.deepEqual(
        starts.map((s) => s.idempotencyKey),
        ['crossing'],
      );
    });

    it('starts the count again at 00:00 UTC', async () => {
      const { intake, starts, ledger, clock } = budgeted(1000);
      clock.now = new Date('2026-11-23T23:59:00.000Z');
      await spend(ledger, 'svc-a', 1200);
      clock.now = new Date('2026-11-23T23:59:59.999Z');
      const late = await intake.admit([record('late', 'x', 'svc-a')], 'http', direct);
      assert.deepEqual(outcomes(late.admissions), ['refused'], 'the last millisecond of the day');
      clock.now = new Date('2026-11-24T00:00:00.000Z');
      const next = await intake.admit([record('late', 'x', 'svc-a')], 'http', direct);
      await next.settled;
      assert.deepEqual(outcomes(next.admissions), ['duplicate'], 'the same request, sent again');
      assert.deepEqual(
        starts.map((s) => s.idempotencyKey),
        ['late'],
        'started once the day turned',
      );
    });

    it('reads no usage when no requester has a budget, and exempts a requester whose own is 0', async () => {
      const off = budgeted(0);
      await spend(off.ledger, 'svc-a', 10 ** 9);
      await (
        await off.intake.admit([record('k', 'x', 'svc-a')], 'kafka', direct)
      ).settled;
      assert.equal(off.ledger.reads, 0);
      assert.equal(off.starts.length, 1);

      const exempt = budgeted(1000, { 'svc-free': 0 });
      await spend(exempt.ledger, 'svc-free', 10 ** 9);
      await (
        await exempt.intake.admit([record('k', 'x', 'svc-free')], 'kafka', direct)
      ).settled;
      assert.equal(exempt.ledger.reads, 0);
      assert.equal(exempt.starts.length, 1);
    });

    it('hands an outage of the usage read to the caller’s attempt, as PostgreSQL', async () => {
      attempts.length = 0;
      const { intake, starts, ledger } = budgeted(1000);
      ledger.down = true;
      await assert.rejects(
        intake.admit([record('k', 'x', 'svc-a')], 'kafka', direct),
        /ECONNREFUSED/,
      );
      assert.deepEqual(attempts, ['PostgreSQL', 'PostgreSQL']);
      assert.equal(starts.length, 0);
    });
  });
});
