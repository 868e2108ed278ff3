import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { installQuietTemporalRuntime } from '../../testing/stack-env';
import {
  HISTORY_FIXTURES,
  historyFixturePath,
  type HistoryFixture,
} from '../support/record-history';

const fixture = historyFixturePath('completed');

describe('GenerateReportWorkflow replay', () => {
  for (const recorded of Object.keys(HISTORY_FIXTURES) as HistoryFixture[]) {
    it(`replays a recorded history (${recorded}) against the current workflow code`, async () => {
      installQuietTemporalRuntime();
      const history: unknown = JSON.parse(readFileSync(historyFixturePath(recorded), 'utf8'));
      await Worker.runReplayHistory(
        { workflowsPath: require.resolve('../../src/workflows') },
        history,
      );
    });
  }

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
