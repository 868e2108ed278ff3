import { Client, Connection } from '@temporalio/client';
import type { Config } from '../../src/config/config';
import { spawnTs, type Child } from '../../testing/child-process';
import { uniqueName } from '../../testing/stack-env';

/**
 * The bare Temporal skeleton the pipeline is measured against: `SkeletonWorkflow` (five no-op
 * activities in a row) on a task queue of its own, served by a worker with the SDK's defaults in
 * a process of its own, on the same Temporal server as the pipeline.
 */
export interface Skeleton {
  /** Starts one workflow; resolves with the workflow without waiting for it to complete. */
  start(): Promise<{ result(): Promise<unknown> }>;
  /** One workflow, start to completion; resolves with its latency in ms. */
  runOne(): Promise<number>;
  stop(): Promise<void>;
}

export async function startSkeleton(config: Config): Promise<Skeleton> {
  const taskQueue = uniqueName('bench-skeleton');
  const worker: Child = spawnTs('bench/skeleton/worker.ts', {
    ...process.env,
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
    SKELETON_TASK_QUEUE: taskQueue,
  });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const stop = async (): Promise<void> => {
    worker.process.kill('SIGTERM');
    await worker.exited;
    await connection.close();
  };
  try {
    await worker.waitFor('SKELETON_WORKER_READY');
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  const start = () =>
    client.workflow.start('SkeletonWorkflow', { taskQueue, workflowId: uniqueName('skeleton') });
  return {
    start,
    async runOne() {
      const started = performance.now();
      await (await start()).result();
      return performance.now() - started;
    },
    stop,
  };
}
