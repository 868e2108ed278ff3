import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { installQuietTemporalRuntime } from '../../testing/stack-env';

const fixture = join(
  __dirname,
  '..',
  'fixtures',
  'generate-report-workflow.completed.history.json',
);

describe('GenerateReportWorkflow replay', () => {
  it('replays a recorded production history against the current workflow code', async () => {
    installQuietTemporalRuntime();
    const history: unknown = JSON.parse(readFileSync(fixture, 'utf8'));
    await Worker.runReplayHistory(
      { workflowsPath: require.resolve('../../src/workflows') },
      history,
    );
  });

  it('notices a workflow that no longer schedules the same steps', async () => {
    installQuietTemporalRuntime();
    const history: unknown = JSON.parse(readFileSync(fixture, 'utf8'));
    await assert.rejects(
      Worker.runReplayHistory(
        { workflowsPath: require.resolve('../support/workflows/reordered-report-workflow') },
        history,
      ),
      (error: unknown) => {
        assert.ok(error instanceof DeterminismViolationError, String(error));
        return true;
      },
    );
  });
});
