import {
  type ActivityInterceptorsFactory,
  type NativeConnection,
  Worker,
} from '@temporalio/worker';
import type { ReportActivities } from '../activities';

export interface ReportWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: ReportActivities;
  /** How long running activities get to finish on shutdown before they are cancelled. */
  shutdownGraceTime?: string;
  /** A workflow bundle prebuilt by `npm run build`; without one, src/workflows is bundled at start-up. */
  workflowBundlePath?: string;
  /** Activity interceptors, e.g. metrics. */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

export async function createReportWorker(options: ReportWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundlePath
      ? { workflowBundle: { codePath: options.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    shutdownGraceTime: options.shutdownGraceTime ?? '20 seconds',
    maxConcurrentActivityTaskExecutions: 20,
    ...(options.activityInterceptors
      ? { interceptors: { activity: options.activityInterceptors } }
      : {}),
  });
}
