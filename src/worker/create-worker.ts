import {
  type ActivityInterceptorsFactory,
  type NativeConnection,
  type State,
  Worker,
} from '@temporalio/worker';
import type { ReportActivities } from '../activities';
import { llmTaskQueueFor } from '../domain/task-queues';

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
  /** Activities of the report task queue at once (the PDF, the email). */
  activityConcurrency?: number;
  /**
   * Workflow tasks at once. They run one after another on the workflow thread, so more only
   * queue inside the worker, first come first served, where Temporal's priority and fairness
   * no longer order them.
   */
  workflowTaskConcurrency?: number;
  /** LLM calls in flight at once: the LLM task queue's slots. */
  llmConcurrency?: number;
}

/**
 * The two workers of one process, run and stopped together: workflows and their CPU and
 * database work on the report task queue, and the LLM calls on the LLM task queue, whose
 * slots follow what the provider allows instead of what the cores can do.
 */
export class ReportWorker {
  private constructor(
    readonly reports: Worker,
    readonly llm: Worker,
  ) {}

  static async create(options: ReportWorkerOptions): Promise<ReportWorker> {
    const shared = {
      connection: options.connection,
      namespace: options.namespace,
      shutdownGraceTime: options.shutdownGraceTime ?? '20 seconds',
      ...(options.activityInterceptors
        ? { interceptors: { activity: options.activityInterceptors } }
        : {}),
    };
    const reports = await Worker.create({
      ...shared,
      taskQueue: options.taskQueue,
      // Every activity, callLlm included: histories from before the LLM queue still call it here.
      activities: options.activities,
      ...(options.workflowBundlePath
        ? { workflowBundle: { codePath: options.workflowBundlePath } }
        : { workflowsPath: require.resolve('../workflows') }),
      maxConcurrentActivityTaskExecutions: options.activityConcurrency ?? 20,
      maxConcurrentWorkflowTaskExecutions: options.workflowTaskConcurrency ?? 40,
    });
    const llm = await Worker.create({
      ...shared,
      taskQueue: llmTaskQueueFor(options.taskQueue),
      activities: { callLlm: options.activities.callLlm },
      maxConcurrentActivityTaskExecutions: options.llmConcurrency ?? 200,
    });
    return new ReportWorker(reports, llm);
  }

  /** RUNNING only while both run. */
  getState(): State {
    const states = [this.reports.getState(), this.llm.getState()];
    return states.find((s) => s !== 'RUNNING') ?? 'RUNNING';
  }

  /** Runs both until shutdown; when either stops, for whatever reason, the other follows. */
  async run(): Promise<void> {
    const results = await Promise.allSettled(
      [this.reports, this.llm].map((w) => w.run().finally(() => this.shutdown())),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  shutdown(): void {
    for (const w of [this.reports, this.llm]) if (w.getState() === 'RUNNING') w.shutdown();
  }
}
