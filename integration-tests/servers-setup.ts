import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWorkflowBundle } from '../src/worker/bundle-workflows';
import { buildImages, testImageServices } from '../stack/docker';
import { removeAbandonedTestRuns, startServers, type RunningServers } from '../stack/servers';

/**
 * `node --test --test-global-setup`: the real servers, started once per run with testcontainers
 * from the images in docker/, and their endpoints handed to every test file through the
 * environment. Test files keep their own topics, task queues and database objects. Everything
 * started here is removed at the end, on Ctrl-C, or by the next run when this one was killed.
 */
let running: RunningServers | undefined;
let bundleDir: string | undefined;

export async function globalSetup(): Promise<void> {
  const abandoned = removeAbandonedTestRuns();
  if (abandoned > 0) process.stderr.write(`[servers] removed ${abandoned} abandoned test run(s)\n`);
  // The test command builds them first (with progress); cached, this takes seconds. The
  // service's own image is for the tests that run it (deploy/).
  if (process.env.SERVER_IMAGES_BUILT !== 'true') await buildImages(testImageServices);
  const started = Date.now();
  // The workflow bundle, made once for the run as the service's image makes it at build time:
  // every worker the tests start loads it instead of bundling src/workflows again.
  bundleDir = mkdtempSync(join(tmpdir(), 'report-pipeline-test-'));
  const bundle = join(bundleDir, 'workflow-bundle.js');
  [running] = await Promise.all([startServers('test'), writeWorkflowBundle(bundle)]);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      globalTeardown();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  Object.assign(process.env, running.env, {
    WORKFLOW_BUNDLE_PATH: bundle,
    TEST_SERVERS_NETWORK: running.network,
    TEST_SERVERS_RUN: running.run,
    TEST_SERVERS_IN_NETWORK_ENV: JSON.stringify(running.inNetworkEnv),
  });
  process.stderr.write(
    `[servers] ${running.servers.map((s) => s.name).join(', ')} healthy in ${((Date.now() - started) / 1000).toFixed(1)} s (run ${running.run})\n`,
  );
}

export function globalTeardown(): void {
  running?.remove();
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
}
