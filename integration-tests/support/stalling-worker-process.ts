import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config/config';
import { createDataSource } from '../../src/entities/data-source';
import { ReportFileStore } from '../../src/storage/report-file-store';
import { createActivityDeps } from '../../src/worker/activity-deps';
import { ReportWorker } from '../../src/worker/create-worker';
import { installQuietTemporalRuntime } from '../../testing/stack-env';

/**
 * A worker process for the crash test: the real activities, except that storing a PDF never
 * finishes. It says STALLED_IN_CREATE_PDF on stdout when it gets there, and waits to be killed.
 */
class StallingFileStore extends ReportFileStore {
  override async save(
    ...args: Parameters<ReportFileStore['save']>
  ): ReturnType<ReportFileStore['save']> {
    if (args[1] === 'pdf') {
      process.stdout.write('STALLED_IN_CREATE_PDF\n');
      await new Promise(() => undefined);
    }
    return super.save(...args);
  }
}

async function main(): Promise<void> {
  installQuietTemporalRuntime();
  const config = loadConfig();
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  const deps = {
    ...createActivityDeps(config, dataSource),
    files: new StallingFileStore(dataSource),
  };
  const worker = await ReportWorker.create({
    connection: await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }),
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    activities: createActivities(deps),
    workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
  });
  process.stdout.write('WORKER_READY\n');
  await worker.run();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
