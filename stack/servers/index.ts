import { randomBytes } from 'node:crypto';
import { docker, removeLabelled } from '../docker';
import { kafka } from './kafka';
import { llm } from './llm';
import { maildev } from './maildev';
import { postgres } from './postgres';
import { registry } from './registry';
import type { RunningServer, ServerDefinition } from './server';
import { temporal } from './temporal';

/**
 * The real servers a run needs, each started from its own image with testcontainers on a
 * network of the run's own, and found again by label to be removed: at the end of the run, on
 * Ctrl-C, or, for a run that was killed, by the next run.
 */

export const servers: ServerDefinition[] = [postgres, temporal, kafka, registry, maildev, llm];

/** What the servers are for: one test run (removed at its end) or a developer's (kept until down). */
export type Purpose = 'test' | 'dev';

const label = {
  purpose: 'report-pipeline.servers',
  run: 'report-pipeline.run',
  owner: 'report-pipeline.owner-pid',
} as const;

export interface RunningServers {
  run: string;
  network: string;
  servers: RunningServer[];
  /** The service's settings for this machine, plus the tests' endpoints (maildev API, LLM control). */
  env: Record<string, string>;
  /** The service's settings for containers on `network`. */
  inNetworkEnv: Record<string, string>;
  remove(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes one run's containers (and their volumes) and network. */
export function removeRun(run: string): void {
  removeLabelled(`${label.run}=${run}`);
}

/** Runs for a purpose that exist now, with the pid of the process that started each. */
export function runsFor(purpose: Purpose): { run: string; owner: number }[] {
  const format = `{{.Label "${label.run}"}} {{.Label "${label.owner}"}}`;
  const lines = [
    ...docker([
      'ps',
      '-a',
      '--filter',
      `label=${label.purpose}=${purpose}`,
      '--format',
      format,
    ]).split('\n'),
    ...docker([
      'network',
      'ls',
      '--filter',
      `label=${label.purpose}=${purpose}`,
      '--format',
      format,
    ]).split('\n'),
  ];
  const runs = new Map<string, number>();
  for (const line of lines.filter(Boolean)) {
    const [run, owner] = line.split(' ');
    if (run) runs.set(run, Number(owner));
  }
  return [...runs].map(([run, owner]) => ({ run, owner }));
}

/** Compose projects the tests start are named this, then the pid of the test process. */
export const composeTestProjectPrefix = 'report-pipeline-test-';

/**
 * Test runs (and Compose projects of the tests) whose process is gone, killed before it could
 * clean up: removed.
 */
export function removeAbandonedTestRuns(): number {
  const abandoned = runsFor('test').filter((r) => !alive(r.owner));
  for (const r of abandoned) removeRun(r.run);
  const projects = docker([
    'ps',
    '-a',
    '--filter',
    'label=com.docker.compose.project',
    '--format',
    '{{.Label "com.docker.compose.project"}}',
  ])
    .split('\n')
    .filter((p) => p.startsWith(composeTestProjectPrefix));
  const abandonedProjects = [...new Set(projects)].filter(
    (p) => !alive(Number(p.slice(composeTestProjectPrefix.length).split('-')[0])),
  );
  for (const p of abandonedProjects) removeLabelled(`com.docker.compose.project=${p}`);
  return abandoned.length + abandonedProjects.length;
}

export async function startServers(purpose: Purpose): Promise<RunningServers> {
  // Images are all built here; testcontainers must neither pull its Ryuk reaper (runs are
  // removed by label instead) nor an image to find the Docker host's gateway.
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

  const run = `${purpose}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const labels = { [label.purpose]: purpose, [label.run]: run, [label.owner]: String(process.pid) };
  const network = `report-pipeline-${run}`;
  docker([
    'network',
    'create',
    ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    network,
  ]);
  const results = await Promise.allSettled(servers.map((s) => s.start({ network, labels })));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${servers[i]!.name}: ${String(r.reason)}`] : [],
  );
  if (failed.length > 0) {
    removeRun(run);
    throw new Error(`servers did not start:\n${failed.join('\n')}`);
  }
  const running = results.map((r) => (r as PromiseFulfilledResult<RunningServer>).value);
  return {
    run,
    network,
    servers: running,
    env: Object.assign(
      {
        // For tests that start containers of their own, in processes of their own.
        TESTCONTAINERS_RYUK_DISABLED: process.env.TESTCONTAINERS_RYUK_DISABLED,
        TESTCONTAINERS_HOST_OVERRIDE: process.env.TESTCONTAINERS_HOST_OVERRIDE,
      },
      ...running.map((s) => s.env),
    ) as Record<string, string>,
    inNetworkEnv: Object.assign({}, ...servers.map((s) => s.inNetworkEnv)) as Record<
      string,
      string
    >,
    remove: () => removeRun(run),
  };
}
