import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  eventIdFor,
  keyOfUnkeyedRequest,
  reportIdFor,
  reportIdsFor,
  reportIdsOfWorkflow,
  uuidV5,
  workflowIdFor,
} from './ids';

describe('ids', () => {
  it('computes RFC 4122 version 5 UUIDs (DNS namespace test vector)', () => {
    assert.equal(
      uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('derives stable, distinct ids from the idempotency key and the run', () => {
    assert.equal(reportIdFor('order-1'), reportIdFor('order-1'));
    assert.notEqual(reportIdFor('order-1'), reportIdFor('order-2'));
    assert.equal(workflowIdFor('order-1'), 'report-order-1');
    assert.notEqual(
      eventIdFor('report-a', 'run-1', 'ReportCompleted'),
      eventIdFor('report-a', 'run-2', 'ReportCompleted'),
    );
    assert.notEqual(
      eventIdFor('report-a', 'run-1', 'ReportCompleted'),
      eventIdFor('report-a', 'run-1', 'ReportFailed'),
    );
  });

  it('reads a workflow id back into the ids its key gives, and nothing else', () => {
    const ids = reportIdsFor('order-1');
    assert.deepEqual(ids, {
      idempotencyKey: 'order-1',
      workflowId: 'report-order-1',
      reportId: reportIdFor('order-1'),
    });
    assert.deepEqual(reportIdsOfWorkflow(ids.workflowId), ids);
    assert.deepEqual(reportIdsOfWorkflow('report-report-x'), reportIdsFor('report-x'));
    assert.equal(reportIdsOfWorkflow('order-1'), undefined);
    assert.equal(reportIdsOfWorkflow('report-'), undefined);
  });

  it('keys a request without a key by its body', () => {
    assert.equal(keyOfUnkeyedRequest('ab'.repeat(32)), `http-${'ab'.repeat(20)}`);
  });
});
