import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createReportHarness } from '../../testing/report-harness';

/**
 * Records the history of one real, completed report into integration-tests/fixtures, for the
 * replay test. Run it (`npm run record:history`) only when a workflow change is meant to be
 * incompatible with running workflows, and say so in the commit.
 */
async function main(): Promise<void> {
  const h = await createReportHarness();
  try {
    await h.startWorker();
    const { handle } = await h.start(h.request({ idempotencyKey: `replay-fixture-${Date.now()}` }));
    const result = await handle.result();
    if (result.status !== 'COMPLETED') throw new Error(`the recorded run ended ${result.status}`);
    const file = join(
      __dirname,
      '..',
      'fixtures',
      'generate-report-workflow.completed.history.json',
    );
    writeFileSync(file, `${historyToJSON(await handle.fetchHistory())}\n`);
    process.stdout.write(`recorded ${handle.workflowId} into ${file}\n`);
  } finally {
    await h.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
