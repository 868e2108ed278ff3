import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { decideReview } from '../../src/temporal/review-decisions';
import {
  progressQuery,
  type GenerateReportWorkflow,
} from '../../src/workflows/generate-report-workflow';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';

/** The recorded runs: a plain report, and one held for review and approved. */
export const HISTORY_FIXTURES = {
  completed: 'generate-report-workflow.completed.history.json',
  reviewed: 'generate-report-workflow.reviewed.history.json',
} as const;
export type HistoryFixture = keyof typeof HISTORY_FIXTURES;

export const historyFixturePath = (fixture: HistoryFixture): string =>
  join(__dirname, '..', 'fixtures', HISTORY_FIXTURES[fixture]);

/**
 * Records the history of one real, completed report into integration-tests/fixtures, for the
 * replay test: `npm run record:history -- completed|reviewed`. Run it only when a workflow
 * change is meant to be incompatible with running workflows, and say so in the commit.
 */
async function record(
  h: ReportHarness,
  fixture: HistoryFixture,
): Promise<WorkflowHandle<typeof GenerateReportWorkflow>> {
  const idempotencyKey = `replay-fixture-${fixture}-${Date.now()}`;
  if (fixture === 'completed') return (await h.start(h.request({ idempotencyKey }))).handle;
  const { handle } = await h.start(
    h.request({
      idempotencyKey,
      review: { reviewers: ['replay-reviewer'], timeoutSeconds: 600, onTimeout: 'REJECT' },
    }),
  );
  while ((await handle.query(progressQuery)).status !== 'AWAITING_REVIEW') await sleep(100);
  const decided = await decideReview(
    h.client,
    handle.workflowId,
    { reviewer: 'replay-reviewer', decision: 'APPROVE', comment: 'recorded for replay' },
    10_000,
  );
  if (decided.outcome !== 'decided') throw new Error(`the decision was ${decided.outcome}`);
  return handle;
}

async function main(): Promise<void> {
  const fixture = (process.argv[2] ?? 'completed') as HistoryFixture;
  if (!(fixture in HISTORY_FIXTURES))
    throw new Error(`expected one of ${Object.keys(HISTORY_FIXTURES).join(', ')}`);
  const h = await createReportHarness();
  try {
    await h.startWorker();
    const handle = await record(h, fixture);
    const result = await handle.result();
    if (result.status !== 'COMPLETED') throw new Error(`the recorded run ended ${result.status}`);
    const file = historyFixturePath(fixture);
    writeFileSync(file, `${historyToJSON(await handle.fetchHistory())}\n`);
    process.stdout.write(`recorded ${handle.workflowId} into ${file}\n`);
  } finally {
    await h.close();
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  });
