import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/domain/ids';
import type { ReportResult } from '../../src/domain/report';
import { mailTo } from '../../testing/maildev';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import {
  createTopics,
  startServiceProcesses,
  terminate,
  type ServiceProcess,
} from '../../testing/service-processes';
import { testEndpoints, uniqueName } from '../../testing/stack-env';

const WORKER_GRACE_SECONDS = 4;

describe('SIGTERM while a report runs', () => {
  let h: ReportHarness;
  let services: ServiceProcess[] = [];
  before(async () => {
    h = await createReportHarness();
    const { config } = await createTopics(h.config);
    services = await startServiceProcesses(config, {
      WORKER_SHUTDOWN_GRACE_SECONDS: String(WORKER_GRACE_SECONDS),
    });
  });
  after(async () => {
    for (const s of services) if (s.child.process.exitCode === null) await terminate(s);
    await h.close();
  });

  it('every process exits within its grace period, and the report completes once another worker runs', async () => {
    const key = uniqueName('sigterm');
    const workflowId = workflowIdFor(key);
    // The LLM answers slower than the worker's grace: the attempt in flight is cut off.
    await h.llm.push({
      behaviour: { mode: 'ok', latencyMs: (WORKER_GRACE_SECONDS + 4) * 1000 },
      times: 1,
      idempotencyKey: `${workflowId}:callLlm`,
    });
    const email = `${key}@example.com`;
    const api = services.find((s) => s.name === 'api')!;
    const posted = await fetch(`${api.opsUrl}/api/workflows/generate-report`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ prompt: 'Grid-scale flywheels', requester: { id: 'sig', email } }),
    });
    assert.equal(posted.status, 202);
    const deadline = Date.now() + 20_000;
    while ((await h.llm.countFor(`${workflowId}:callLlm`)) === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await h.llm.countFor(`${workflowId}:callLlm`), 1, 'the report is in callLlm');

    const results = await Promise.all(services.map((s) => terminate(s)));
    for (const r of results) {
      assert.equal(r.code, 0, `${r.name} exits 0`);
      const graceMs = r.name === 'worker' ? (WORKER_GRACE_SECONDS + 5) * 1000 : 10_000;
      assert.ok(r.ms < graceMs, `${r.name} exited in ${r.ms} ms (grace ${graceMs} ms)`);
    }
    const handle = h.client.workflow.getHandle(workflowId);
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the report outlived them');

    // A worker of a new deployment takes over the same task queue.
    await h.startWorker();
    const result = (await handle.result()) as ReportResult;
    assert.equal(result.status, 'COMPLETED');
    const mails = await mailTo(testEndpoints.maildevApi, email);
    assert.equal(mails.length, 1, 'one email');
  });
});
