import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdmissionAbortedError, LlmAdmission, parseResetMs } from './llm-admission';

const elapsedSince = (start: number): number => performance.now() - start;
/** Far below every hold these tests set (300 ms and more), and above a busy machine's pauses. */
const AT_ONCE_MS = 200;
const quota = (remaining: number, reset: string): Headers =>
  new Headers({
    'x-ratelimit-remaining-requests': String(remaining),
    'x-ratelimit-reset-requests': reset,
  });

describe('LlmAdmission', () => {
  it("reads the provider's reset durations", () => {
    assert.equal(parseResetMs('1s'), 1000);
    assert.equal(parseResetMs('6m0s'), 360_000);
    assert.equal(parseResetMs('20ms'), 20);
    assert.equal(parseResetMs('1h2m3.5s'), 3_723_500);
    assert.equal(parseResetMs('2'), 2000);
    assert.equal(parseResetMs('soon'), undefined);
    assert.equal(parseResetMs(null), undefined);
  });

  it('admits at once while the quota is open', async () => {
    const admission = new LlmAdmission();
    const start = performance.now();
    const calls = await Promise.all(Array.from({ length: 50 }, () => admission.admit()));
    assert.ok(elapsedSince(start) < AT_ONCE_MS, `took ${elapsedSince(start)} ms`);
    for (const call of calls) call.succeeded(new Headers());
    assert.equal(admission.state.waiting, 0);
  });

  it('after a 429 holds every caller for Retry-After, then lets one probe go before the rest', async () => {
    const admission = new LlmAdmission();
    const first = await admission.admit();
    first.rateLimited(300);
    assert.equal(admission.state.rateLimitedCalls, 1);

    const start = performance.now();
    const admittedAt: number[] = [];
    const waiting = Array.from({ length: 5 }, () =>
      admission.admit().then((call) => {
        admittedAt.push(elapsedSince(start));
        return call;
      }),
    );
    const probe = await Promise.race(waiting);
    assert.ok(admittedAt[0]! >= 290, `the probe went after ${admittedAt[0]} ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(admittedAt.length, 1, 'the others wait for the probe');
    probe.succeeded(new Headers());
    const calls = await Promise.all(waiting);
    assert.equal(admittedAt.length, 5);
    for (const call of calls) call.succeeded();
  });

  it('a probe answered 429 again holds everyone again', async () => {
    const admission = new LlmAdmission();
    (await admission.admit()).rateLimited(100);
    const start = performance.now();
    const probe = await admission.admit();
    probe.rateLimited(200);
    await admission.admit();
    assert.ok(elapsedSince(start) >= 290, `admitted after ${elapsedSince(start)} ms`);
  });

  it('holds calls once the remaining-requests quota is used up, until it resets', async () => {
    const admission = new LlmAdmission();
    (await admission.admit()).succeeded(quota(2, '400ms'));
    const start = performance.now();
    await admission.admit();
    await admission.admit();
    assert.ok(elapsedSince(start) < AT_ONCE_MS, 'two calls were left');
    await admission.admit();
    assert.ok(elapsedSince(start) >= 390, `the third went after ${elapsedSince(start)} ms`);
  });

  it('holds calls while the token quota is spent', async () => {
    const admission = new LlmAdmission();
    (await admission.admit()).succeeded(
      new Headers({ 'x-ratelimit-remaining-tokens': '0', 'x-ratelimit-reset-tokens': '250ms' }),
    );
    const start = performance.now();
    await admission.admit();
    assert.ok(elapsedSince(start) >= 240, `admitted after ${elapsedSince(start)} ms`);
  });

  it('stops waiting when the caller is cancelled', async () => {
    const admission = new LlmAdmission();
    (await admission.admit()).rateLimited(10_000);
    const controller = new AbortController();
    const waiting = admission.admit(controller.signal);
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(waiting, AdmissionAbortedError);
    assert.equal(admission.state.waiting, 0);
  });
});
