import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeWorkflowBundle } from '../../src/worker/bundle-workflows';
import { configEnv, spawnTs } from '../../testing/child-process';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';

describe('the worker entry point', () => {
  let h: ReportHarness;
  let dir: string;
  before(async () => {
    h = await createReportHarness();
    dir = mkdtempSync(join(tmpdir(), 'report-bundle-'));
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs reports from a prebuilt workflow bundle and exits 0 on SIGTERM', async () => {
    const bundle = join(dir, 'workflow-bundle.js');
    await writeWorkflowBundle(bundle);
    const worker = spawnTs(
      'src/worker/main.ts',
      configEnv(h.config, { WORKFLOW_BUNDLE_PATH: bundle, LOG_LEVEL: 'info' }),
    );
    try {
      await worker.waitFor('worker started');
      const { handle, reportId } = await h.start(h.request());
      assert.equal((await handle.result()).status, 'COMPLETED');
      // Its outbox relay announces the report on Kafka.
      const deadline = Date.now() + 10_000;
      let published = 0;
      while (Date.now() < deadline && published < 2) {
        const rows = await h.dataSource.query<{ n: string }[]>(
          `SELECT count(*) AS n FROM outbox WHERE message_key = $1 AND published_at IS NOT NULL`,
          [reportId],
        );
        published = Number(rows[0]?.n);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(published, 2, 'the ReportCompleted and EmailNotification events were published');
      // Bundling at start-up logs its size; a worker on a prebuilt bundle never does.
      assert.doesNotMatch(worker.output(), /Workflow bundle created/);
    } finally {
      worker.process.kill('SIGTERM');
    }
    assert.equal((await worker.exited).code, 0, worker.output());
    assert.match(worker.output(), /worker stopped/);
  });

  it('stops with a message naming the variable when the configuration is bad', async () => {
    const worker = spawnTs(
      'src/worker/main.ts',
      configEnv(h.config, { TEMPORAL_ADDRESS: undefined, DATABASE_URL: 'mysql://x/y' }),
    );
    assert.equal((await worker.exited).code, 1);
    assert.match(worker.output(), /TEMPORAL_ADDRESS: is required but not set/);
    assert.match(worker.output(), /DATABASE_URL: expected a URL with scheme postgres:\/\//);
  });

  it('says so when Temporal cannot be reached', async () => {
    const worker = spawnTs(
      'src/worker/main.ts',
      configEnv(h.config, { TEMPORAL_ADDRESS: '127.0.0.1:9' }),
    );
    assert.equal((await worker.exited).code, 1);
    assert.match(worker.output(), /cannot reach Temporal at 127\.0\.0\.1:9/);
  });
});
