import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ReportResult } from '../../src/domain/report';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';

/** Starts `count` reports at once and waits for every result. */
async function runReports(h: ReportHarness, count: number): Promise<ReportResult[]> {
  const started = await Promise.all(Array.from({ length: count }, () => h.start(h.request())));
  return Promise.all(started.map((s) => s.handle.result()));
}

describe('LLM capacity of one worker', () => {
  let h: ReportHarness;
  before(async () => {
    h = await createReportHarness();
    await h.startWorker();
  });
  after(() => h.close());

  it('holds 200 LLM calls in flight at once, beside the rest of the reports’ work', async () => {
    await h.llm.reset();
    // Every answer waits until 200 calls are open at once (for at most 60 s): only slots of their
    // own let all 200 wait on the provider together. With fewer slots the calls that got one are
    // held the full 60 s, the rest queue behind them, and fewer than 200 are ever open at once.
    await h.llm.push({
      behaviour: { mode: 'ok', untilInFlight: 200, latencyMs: 60_000 },
      times: 200,
    });
    const results = await runReports(h, 200);

    assert.equal(results.filter((r) => r.status === 'COMPLETED').length, 200);
    const { maxInFlight } = await h.llm.stats();
    assert.equal(maxInFlight, 200, `at most ${maxInFlight} calls were open at once`);
  });

  it('slows admission under a 429 storm instead of failing reports: no attempt is spent, Retry-After holds every call', async () => {
    await h.llm.reset();
    const storm = 40;
    const retryAfterMs = 300;
    await h.llm.push({
      behaviour: { mode: 'rate-limit', retryAfterSeconds: 1, retryAfterMs },
      times: storm,
    });
    const results = await runReports(h, 20);

    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 'COMPLETED'),
    );
    // A 429 is the provider pacing us, not a failed attempt: every report's LLM step took one.
    assert.deepEqual(
      results.map((r) => r.timings.callLlm?.attempts),
      results.map(() => 1),
    );
    const served = (await h.llm.served()).map((r) => ({ ...r, ms: Date.parse(r.at) }));
    const limited = served.filter((r) => r.outcome === 'rate-limit');
    assert.equal(limited.length, storm, 'the whole storm was answered');
    assert.equal(served.filter((r) => r.outcome === 'ok').length, 20, 'one paid call per report');
    // After each 429, nothing new reaches the provider until its Retry-After has passed (calls
    // already on the wire when the 429 was sent may still land in the first few milliseconds).
    for (const r of limited) {
      const early = served.filter((s) => s.ms > r.ms + 60 && s.ms < r.ms + retryAfterMs - 40);
      assert.deepEqual(early, [], `calls inside the hold after the 429 at ${r.at}`);
    }
  });
});
