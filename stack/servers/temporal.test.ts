import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { GreetingWorkflow } from './fixtures/greeting-workflow';
import { NativeConnection, Worker } from '@temporalio/worker';
import { config, installQuietTemporalRuntime, uniqueName } from '../../testing/stack-env';
import { createGreetingActivities } from './fixtures/greeting-activities';

describe('Temporal dev server', () => {
  let connection: Connection;

  before(async () => {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  });
  after(async () => {
    await connection.close();
  });

  it('describes the service namespace with the workflow search attributes', async () => {
    const described = await connection.workflowService.describeNamespace({
      namespace: config.TEMPORAL_NAMESPACE,
    });
    assert.equal(described.namespaceInfo?.name, config.TEMPORAL_NAMESPACE);
    const attributes = await connection.operatorService.listSearchAttributes({
      namespace: config.TEMPORAL_NAMESPACE,
    });
    for (const name of ['ReportStage', 'RequesterId', 'IdempotencyKey']) {
      assert.ok(
        name in (attributes.customAttributes ?? {}),
        `search attribute ${name} is registered`,
      );
    }
  });

  it('runs a workflow on a test worker', async (t) => {
    installQuietTemporalRuntime();
    const taskQueue = uniqueName('smoke');
    const workerConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    t.after(() => workerConnection.close());
    const worker = await Worker.create({
      connection: workerConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/greeting-workflow'),
      activities: createGreetingActivities({ greeting: 'Hello' }),
    });
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const result = await worker.runUntil(
      client.workflow.execute<typeof GreetingWorkflow>('GreetingWorkflow', {
        taskQueue,
        workflowId: uniqueName('greeting'),
        args: ['Temporal'],
      }),
    );
    assert.equal(result, 'Hello, Temporal!');
  });
});
