import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultLogger, makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import { loadConfig, type Config } from '../src/config/config';

/**
 * testing/ drives the real stack from outside the product: the integration tests, the servers'
 * own tests (stack/servers) and the benchmarks (bench/) share it, so none reaches into another's
 * tree. What only the integration tests use stays in integration-tests/support.
 *
 * The configuration they run with: the servers' endpoints that the global set-up
 * (integration-tests/global-setup.mjs) puts in the environment, or, when a file is run on its
 * own, the servers of './dev stack up' (.stack/stack.env).
 */
const envFile = join(__dirname, '..', '.stack', 'stack.env');
if (!process.env.TEMPORAL_ADDRESS && existsSync(envFile)) process.loadEnvFile(envFile);

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: start the local stack with './dev stack up'`);
  return value;
}

export const config: Config = loadConfig({ ...process.env, NODE_ENV: 'test' });

/** Test-only endpoints: maildev's mail API, the LLM stand-in server, and the servers' network. */
export const testEndpoints = {
  maildevApi: required('MAILDEV_API_URL'),
  llmControl: required('LLM_CONTROL_URL'),
  /** The Docker network the servers are on, for tests that start containers of their own. */
  network: required('TEST_SERVERS_NETWORK'),
  /** The servers' run; a container labelled with it is removed with them. */
  run: required('TEST_SERVERS_RUN'),
  /** The service's settings for a container on that network. */
  inNetworkEnv: JSON.parse(required('TEST_SERVERS_IN_NETWORK_ENV')) as Record<string, string>,
};

/** A name no other test run uses, for topics, subjects, task queues and schemas. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

let runtimeInstalled = false;
/**
 * Test workers log errors only (tests fail activities on purpose, which the SDK reports as
 * warnings); call before the first Worker.create in a file.
 */
export function installQuietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
  });
  runtimeInstalled = true;
}
