import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mailTo } from '../../testing/maildev';
import { configEnv, spawnTs, type Child } from '../../testing/child-process';
import { leftovers } from '../support/report-assertions';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { testEndpoints } from '../../testing/stack-env';

describe('a worker killed with SIGKILL while createPdf runs', () => {
  let h: ReportHarness;
  const children: Child[] = [];
  before(async () => {
    h = await createReportHarness();
  });
  after(async () => {
    for (const child of children)
      if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await h.close();
  });

  it('is replaced by a new worker; the report completes with one LLM request and one email', async () => {
    const env = configEnv(h.config);
    const doomed = spawnTs('integration-tests/support/stalling-worker-process.ts', env);
    children.push(doomed);
    await doomed.waitFor('WORKER_READY');

    const request = h.request();
    const { handle, reportId, workflowId } = await h.start(request);
    await doomed.waitFor('STALLED_IN_CREATE_PDF');
    doomed.process.kill('SIGKILL');
    assert.equal((await doomed.exited).signal, 'SIGKILL');

    // The service's own worker entry point takes over once createPdf's heartbeat times out.
    const replacement = spawnTs('src/worker/main.ts', env);
    children.push(replacement);
    const result = await handle.result();

    assert.equal(result.status, 'COMPLETED', JSON.stringify(result.failure));
    assert.equal(result.notification, 'SENT');
    assert.equal(await h.llm.countFor(`${workflowId}:callLlm`), 1, 'the LLM was paid once');
    const mails = await mailTo(testEndpoints.maildevApi, request.requester.email);
    assert.equal(mails.length, 1, 'exactly one email');
    assert.deepEqual(await leftovers(h.dataSource, reportId), {
      reports: 1,
      content: 1,
      pdf: 1,
      emails: 1,
    });
    assert.ok(
      (result.timings.createPdf?.attempts ?? 0) >= 2,
      'createPdf ran again on the new worker',
    );

    // SIGTERM: the worker drains and exits cleanly.
    replacement.process.kill('SIGTERM');
    const exit = await replacement.exited;
    assert.equal(exit.code, 0, replacement.output());
  });
});
