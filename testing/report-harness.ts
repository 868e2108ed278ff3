import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { createActivities, type ActivityDeps } from '../src/activities';
import type { Config } from '../src/config/config';
import type { ReportRequest } from '../src/domain/report';
import { createDataSource } from '../src/entities/data-source';
import { startReport, type StartedReport } from '../src/temporal/start-report';
import { closeActivityDeps, createActivityDeps } from '../src/worker/activity-deps';
import { ReportWorker, type ReportWorkerOptions } from '../src/worker/create-worker';
import { LlmStandIn } from './llm-control';
import {
  config as stackConfig,
  installQuietTemporalRuntime,
  testEndpoints,
  uniqueName,
} from './stack-env';

/**
 * Everything a report test needs against the real stack: the database (migrated), a Temporal
 * client, a deterministic LLM of its own (a tenant of the stand-in server), and workers on a task queue nobody else uses.
 */
export interface ReportHarness {
  config: Config;
  dataSource: DataSource;
  client: Client;
  /** This harness's own tenant of the LLM stand-in server. */
  llm: LlmStandIn;
  taskQueue: string;
  /**
   * Starts an in-process worker; `override` swaps dependencies (a failing store, a dead SMTP),
   * `slots` narrows its task slots.
   */
  startWorker(
    override?: (deps: ActivityDeps) => ActivityDeps,
    slots?: Pick<ReportWorkerOptions, 'activityConcurrency' | 'llmConcurrency'>,
  ): Promise<ReportWorker>;
  /** Shuts down every worker started so far and waits until they have stopped. */
  stopWorkers(): Promise<void>;
  request(overrides?: Partial<Omit<ReportRequest, 'reportId'>>): Omit<ReportRequest, 'reportId'>;
  start(request: Omit<ReportRequest, 'reportId'>): Promise<StartedReport>;
  close(): Promise<void>;
}

/** `settings`: the file's own, e.g. its topics, which the worker writes into the outbox. */
export async function createReportHarness(settings: Partial<Config> = {}): Promise<ReportHarness> {
  installQuietTemporalRuntime();
  const llm = new LlmStandIn(testEndpoints.llmControl);
  const taskQueue = uniqueName('reports');
  const config: Config = {
    ...stackConfig,
    ...settings,
    OPENAI_BASE_URL: llm.baseUrl,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const running: {
    worker: ReportWorker;
    done: Promise<void>;
    native: NativeConnection;
    deps: ActivityDeps;
  }[] = [];

  return {
    config,
    dataSource,
    client,
    llm,
    taskQueue,
    async startWorker(override = (deps) => deps, slots = {}) {
      const native = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
      const deps = override(createActivityDeps(config, dataSource));
      const worker = await ReportWorker.create({
        connection: native,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue,
        activities: createActivities(deps),
        workflowBundlePath: config.WORKFLOW_BUNDLE_PATH,
        shutdownGraceTime: '2 seconds',
        ...slots,
      });
      running.push({ worker, done: worker.run(), native, deps });
      return worker;
    },
    async stopWorkers() {
      const stopping = running.splice(0);
      for (const r of stopping) if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
      for (const r of stopping) {
        await r.done;
        await r.native.close();
        await closeActivityDeps(r.deps);
      }
    },
    request(overrides = {}) {
      const key = uniqueName('key');
      return {
        idempotencyKey: key,
        prompt: `Solid-state batteries for grid storage (${key})`,
        requester: { id: 'team-energy', email: `${key}@example.com` },
        options: { language: 'en' },
        requestedAt: new Date().toISOString(),
        source: 'test',
        ...overrides,
      };
    },
    start(request) {
      return startReport(client, taskQueue, request, config.FAIRNESS_WEIGHTS);
    },
    async close() {
      for (const r of running) if (r.worker.getState() === 'RUNNING') r.worker.shutdown();
      for (const r of running) {
        await r.done;
        await r.native.close();
        await closeActivityDeps(r.deps);
      }
      await connection.close();
      await dataSource.destroy();
      await llm.close();
    },
  };
}
