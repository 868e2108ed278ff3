import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/domain/ids';
import type { ReportRequest } from '../../src/domain/report';
import { statusView } from '../../src/domain/report-status';
import { ReportExecutions } from '../../src/temporal/report-executions';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';

type Request = Omit<ReportRequest, 'reportId'>;

/**
 * The order in which the LLM provider sees the calls of a backlog, on the stack's Temporal
 * (priority and fairness switched on). One LLM slot and a provider taking 250 ms per call make
 * the LLM task queue the place where a backlog forms, as it does under a flood.
 */
describe('priority and fairness on the task queues', () => {
  let h: ReportHarness;
  const callMs = 250;

  before(async () => {
    h = await createReportHarness({ FAIRNESS_WEIGHTS: new Map([['weighted', 3]]) });
    await h.startWorker(undefined, { llmConcurrency: 1 });
  });
  after(() => h.close());
  beforeEach(() => h.llm.reset());

  const requestOf = (
    requester: string,
    source: Request['source'],
    priority?: Request['priority'],
  ): Request =>
    h.request({
      source,
      requester: { id: requester, email: `${requester}@example.com` },
      ...(priority ? { priority } : {}),
    });

  /** Which key's call the provider served, in the order it served them. */
  async function servedOrder(): Promise<string[]> {
    const served = await h.llm.served();
    return served
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
      .map((r) => (r.idempotencyKey ?? '').replace(/:callLlm$/, ''));
  }

  /** Starts `backlog`, waits until the provider is busy with it, then starts `late` in order. */
  async function lateAfterBacklog(backlog: Request[], late: Request[]): Promise<string[]> {
    await h.llm.push({
      behaviour: { mode: 'ok', latencyMs: callMs },
      times: backlog.length + late.length,
    });
    const started = await Promise.all(backlog.map((r) => h.start(r)));
    // The first calls are out: the rest of the backlog waits on the LLM task queue.
    const deadline = Date.now() + 30_000;
    while ((await h.llm.served()).length < 3) {
      assert.ok(Date.now() < deadline, 'the backlog never reached the provider');
      await new Promise((r) => setTimeout(r, 50));
    }
    const servedBefore = (await h.llm.served()).length;
    for (const request of late) started.push(await h.start(request));
    const results = await Promise.all(started.map((s) => s.handle.result()));
    assert.deepEqual(
      results.map((r) => r.status),
      results.map(() => 'COMPLETED'),
    );
    // Only what the provider served after the late requests were started.
    return (await servedOrder()).slice(servedBefore);
  }

  /** How many of `flood`'s calls the provider served before the last of `late`'s. */
  const servedAhead = (order: string[], late: Request[], flood: Request[]): number => {
    const lateIds = new Set(late.map((r) => workflowIdFor(r.idempotencyKey)));
    const floodIds = new Set(flood.map((r) => workflowIdFor(r.idempotencyKey)));
    const lastLate = Math.max(...order.map((id, i) => (lateIds.has(id) ? i : -1)));
    return order.slice(0, lastLate).filter((id) => floodIds.has(id)).length;
  };

  it('serves a person’s run ahead of a Kafka backlog, and shows it INTERACTIVE', async () => {
    const flood = Array.from({ length: 24 }, () => requestOf('flood', 'kafka', 'NORMAL'));
    const person = requestOf('ada', 'http', 'INTERACTIVE');
    const order = await lateAfterBacklog(flood, [person]);
    // First-come-first-served would put it behind the ~20 calls still queued. (The stack's
    // Temporal runs one partition per task queue: with several, each may hand out one first.)
    const ahead = servedAhead(order, [person], flood);
    assert.ok(ahead <= 4, `${ahead} of the backlog's calls went first: ${order.join(' ')}`);

    const view = statusView(
      await new ReportExecutions(h.client).read(workflowIdFor(person.idempotencyKey)),
    );
    assert.deepEqual(view.priority, {
      level: 'INTERACTIVE',
      key: 1,
      fairnessKey: 'ada',
      fairnessWeight: 1,
    });
  });

  it('serves HIGH ahead of a NORMAL backlog, and LOW after HIGH though LOW came first', async () => {
    const normal = Array.from({ length: 16 }, () => requestOf('svc', 'kafka', 'NORMAL'));
    const low = requestOf('svc', 'kafka', 'LOW');
    const high = requestOf('svc', 'kafka', 'HIGH');
    const order = await lateAfterBacklog(normal, [low, high]);
    const at = (r: Request) => order.indexOf(workflowIdFor(r.idempotencyKey));
    assert.ok(servedAhead(order, [high], normal) <= 4, order.join(' '));
    assert.ok(at(high) < at(low), `LOW went before HIGH: ${order.join(' ')}`);
    // LOW waits for the NORMAL backlog, but for what Temporal's partitions still held elsewhere.
    assert.ok(order.length - 1 - at(low) <= 4, `LOW went early: ${order.join(' ')}`);
  });

  it('gives a second requester turns beside a first one’s backlog instead of a place behind it', async () => {
    const flood = Array.from({ length: 24 }, () => requestOf('flood', 'kafka'));
    const other = Array.from({ length: 3 }, () => requestOf('other', 'kafka'));
    const order = await lateAfterBacklog(flood, other);
    // In turns: about one of the flood's calls for each of the other's (plus a partition's
    // slack); first-come-first-served would serve the ~20 queued first.
    const ahead = servedAhead(order, other, flood);
    assert.ok(ahead <= 8, `${ahead} of the flood's calls went first: ${order.join(' ')}`);
  });

  it('starts a requester’s reports with its configured weight', async () => {
    const request = requestOf('weighted', 'kafka');
    const { handle } = await h.start(request);
    await handle.result();
    const { priority } = await handle.describe();
    assert.deepEqual(priority, { priorityKey: 3, fairnessKey: 'weighted', fairnessWeight: 3 });
  });
});
