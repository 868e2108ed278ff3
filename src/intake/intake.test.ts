import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { reportIdsFor } from '../domain/ids';
import type { ValidRequest } from '../domain/request-validation';
import { MemoryInbox } from '../storage/testing/memory-inbox';
import { Intake, type Admission, type Attempt } from './intake';

const record = (key: string, prompt = 'Quarterly revenue of the Nordic region') => ({
  idempotencyKey: key,
  prompt,
  requester: { id: 'analyst-7', email: 'analyst@example.com' },
});

function intakeOver(inbox: MemoryInbox, startFails = false) {
  const starts: ValidRequest[] = [];
  const intake = new Intake({
    inbox,
    startReport: async (request) => {
      if (startFails) throw new Error('14 UNAVAILABLE');
      starts.push(request);
    },
    promptMaxChars: 100,
    logger: pino({ level: 'silent' }),
  });
  return { intake, starts };
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
});
