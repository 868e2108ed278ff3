import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportsQuery } from './report-executions';

describe('reportsQuery', () => {
  it('lists every report workflow when nothing is filtered', () => {
    assert.equal(reportsQuery({}), "WorkflowType = 'GenerateReportWorkflow'");
  });

  it('finds running reports by execution status and ended ones by ReportStage', () => {
    assert.equal(
      reportsQuery({ status: 'RUNNING', requesterId: 'u-1' }),
      "WorkflowType = 'GenerateReportWorkflow' AND RequesterId = 'u-1' AND ExecutionStatus = 'Running'",
    );
    assert.equal(
      reportsQuery({ status: 'CANCELLED' }),
      "WorkflowType = 'GenerateReportWorkflow' AND ReportStage = 'CANCELLED'",
    );
  });

  it('quotes a requester id so that it stays one string literal', () => {
    assert.equal(
      reportsQuery({ requesterId: "o'brien\\' OR WorkflowType != '" }),
      "WorkflowType = 'GenerateReportWorkflow' AND RequesterId = 'o\\'brien\\\\\\' OR WorkflowType != \\''",
    );
  });
});
