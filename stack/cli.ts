import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildImages,
  docker,
  memoryByContainer,
  repoRoot,
  serverNames,
  testImageService,
} from './docker';
import { ensureDir, log } from './provision';
import { removeRun, runsFor, startServers } from './servers';

const usage = `usage: ./dev stack <command>
  up                 build the server images (cached) and start the servers a developer runs
                     single test files, benchmarks and the record script against; their
                     settings go to .stack/stack.env. They stay up until 'down'.
  down               remove them
  status             each server's container, health and memory
  logs <server> [n]  the last n (default 80) lines of a server's log
  env                print .stack/stack.env`;

const stateDir = join(repoRoot, '.stack');
const envFile = join(stateDir, 'stack.env');
const runLabel = 'report-pipeline.run';

function currentRun(): string | undefined {
  return runsFor('dev')[0]?.run;
}

/** Every server of the run has a running container (not so after the engine restarted). */
function allRunning(run: string): boolean {
  const running = docker([
    'ps',
    '-q',
    '--filter',
    `label=${runLabel}=${run}`,
    '--filter',
    'status=running',
  ]);
  return running.split('\n').filter(Boolean).length === serverNames.length;
}

async function up(): Promise<void> {
  const existing = currentRun();
  if (existing && existsSync(envFile) && allRunning(existing)) {
    log('stack', `already up (run ${existing}); settings in ${envFile}`);
    return;
  }
  if (existing) {
    log('stack', `run ${existing} is not whole any more: removing it and starting afresh`);
    removeRun(existing);
  }
  await buildImages(serverNames.map(testImageService));
  const started = Date.now();
  const running = await startServers('dev');
  ensureDir(stateDir);
  const lines = Object.entries({
    ...running.env,
    TEST_SERVERS_NETWORK: running.network,
    TEST_SERVERS_RUN: running.run,
    TEST_SERVERS_IN_NETWORK_ENV: JSON.stringify(running.inNetworkEnv),
  }).map(([k, v]) => `${k}=${v.includes(' ') || v.includes('"') ? `'${v}'` : v}`);
  writeFileSync(
    envFile,
    `# Written by './dev stack up': the servers' endpoints.\n${lines.join('\n')}\n`,
  );
  for (const s of running.servers) log(s.name, s.endpoints.join(', '));
  log('stack', `up in ${((Date.now() - started) / 1000).toFixed(1)} s; settings in ${envFile}`);
}

function down(): void {
  for (const { run } of runsFor('dev')) {
    removeRun(run);
    log('stack', `removed ${run}`);
  }
  rmSync(envFile, { force: true });
}

function containerOf(run: string, server: string): string | undefined {
  return (
    docker([
      'ps',
      '-aq',
      '--filter',
      `label=${runLabel}=${run}`,
      '--filter',
      `label=report-pipeline.server=${server}`,
    ]).split('\n')[0] || undefined
  );
}

function status(): void {
  const run = currentRun();
  if (!run) {
    process.stdout.write("not up; './dev stack up' starts it\n");
    return;
  }
  const memory = memoryByContainer(`${runLabel}=${run}`);
  let total = 0;
  for (const server of serverNames) {
    const id = containerOf(run, server);
    const name = id ? docker(['inspect', '-f', '{{.Name}}', id]).replace(/^\//, '') : '';
    const state = id
      ? docker([
          'inspect',
          '-f',
          '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
          id,
        ])
      : 'missing';
    const mib = memory[name] ?? 0;
    total += mib;
    process.stdout.write(
      `${server.padEnd(9)} ${state.padEnd(18)} ${mib.toFixed(0).padStart(5)} MiB\n`,
    );
  }
  process.stdout.write(`total memory: ${total.toFixed(0)} MiB (run ${run})\n`);
}

function main(): Promise<void> | void {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up':
      return up();
    case 'down':
      return down();
    case 'status':
      return status();
    case 'logs': {
      const [server, lines] = rest;
      const run = currentRun();
      const id = run && server ? containerOf(run, server) : undefined;
      if (!id) throw new Error(`logs needs a running server: ${serverNames.join(', ')}`);
      spawnSync('docker', ['logs', '--tail', lines ?? '80', id], { stdio: 'inherit' });
      return;
    }
    case 'env':
      process.stdout.write(existsSync(envFile) ? readFileSync(envFile, 'utf8') : '');
      return;
    default:
      process.stdout.write(`${usage}\n`);
      if (command !== undefined && command !== 'help') process.exitCode = 2;
  }
}

Promise.resolve()
  .then(main)
  .catch((error: unknown) => {
    process.stderr.write(`[stack] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
