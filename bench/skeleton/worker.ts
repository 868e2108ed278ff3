import { NativeConnection, Worker } from '@temporalio/worker';
import { skeletonActivities } from './activities';

/**
 * A worker with the SDK's defaults for the skeleton workflow, in a process of its own like the
 * pipeline's worker, on the task queue SKELETON_TASK_QUEUE; it prints SKELETON_WORKER_READY.
 */
async function main(): Promise<void> {
  const { SKELETON_TASK_QUEUE: taskQueue, TEMPORAL_ADDRESS: address } = process.env;
  if (!taskQueue || !address)
    throw new Error('SKELETON_TASK_QUEUE and TEMPORAL_ADDRESS are needed');
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: skeletonActivities,
  });
  process.stdout.write('SKELETON_WORKER_READY\n');
  await worker.run();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
