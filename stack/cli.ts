import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ensureDir,
  isAlive,
  readPidRecord,
  startDetached,
  stopRecorded,
  tailFile,
} from './processes';
import { log } from './provision';
import {
  application,
  infrastructure,
  logDir,
  runDir,
  services,
  stackEnvironment,
  stateDir,
  type ServiceDef,
} from './services';

const usage = `usage: npm run stack -- <command>
  up [service...]     provision (cached) and start the local stack, wait until healthy;
                      'up app' starts the service itself (worker, consumer, api) on it
  down [service...]   stop what 'up' started, by the pids it recorded (all when none named)
  status              which services run, their pids, endpoints and memory
  logs <service> [n]  the last n (default 80) lines of a service's log
  env                 print the environment that points the service at this stack`;

const pidFile = (s: ServiceDef): string => join(runDir, `${s.name}.pid`);
const logFile = (s: ServiceDef): string => join(logDir, `${s.name}.log`);

function select(names: string[], all: ServiceDef[] = services): ServiceDef[] {
  if (names.length === 0) return all;
  return names.flatMap((name) => {
    if (name === 'app') return application;
    const found = services.find((s) => s.name === name);
    if (!found)
      throw new Error(
        `unknown service '${name}'; known: ${services.map((s) => s.name).join(', ')}`,
      );
    return found;
  });
}

function running(s: ServiceDef): boolean {
  const record = readPidRecord(pidFile(s));
  return record !== undefined && isAlive(record);
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function writeStackEnv(): string {
  const file = join(stateDir, 'stack.env');
  const body = Object.entries(stackEnvironment())
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  writeFileSync(
    file,
    `# Written by 'npm run stack -- up': the local stack's endpoints.\n${body}\n`,
  );
  return file;
}

async function waitReady(s: ServiceDef): Promise<void> {
  const started = Date.now();
  const record = readPidRecord(pidFile(s));
  let reason = 'not probed yet';
  let lastSaid = started;
  while (Date.now() - started < s.readyTimeoutMs) {
    // Looked at twice, a moment apart: a launcher that is exec'ing its service can read as gone.
    if (record && !isAlive(record) && !(await sleep(300).then(() => isAlive(record)))) {
      throw new Error(
        `${s.name} exited during start-up; its log (${logFile(s)}) ends with:\n${tailFile(logFile(s), 30)}`,
      );
    }
    const problem = await s.probe();
    if (problem === undefined) return;
    reason = problem;
    if (Date.now() - lastSaid > 10_000) {
      log(s.name, `waiting for health (${Math.round((Date.now() - started) / 1000)} s): ${reason}`);
      lastSaid = Date.now();
    }
    await sleep(500);
  }
  throw new Error(
    `${s.name} did not become healthy within ${s.readyTimeoutMs / 1000} s (${reason}); see ${logFile(s)}:\n${tailFile(logFile(s), 30)}`,
  );
}

async function bringUp(s: ServiceDef): Promise<void> {
  const started = Date.now();
  if (running(s)) {
    log(s.name, 'already running; checking health');
  } else {
    for (const port of s.ports) {
      if (!(await portFree(port))) {
        throw new Error(
          `${s.name}: port ${port} on 127.0.0.1 is taken by another process; stop it or move the stack's port (README: Ports)`,
        );
      }
    }
    const launch = await s.prepare();
    const pid = startDetached({
      command: launch.command,
      args: launch.args,
      env: launch.env,
      cwd: join(stateDir, s.name),
      logFile: logFile(s),
      pidFile: pidFile(s),
      marker: launch.marker,
    });
    log(s.name, `started (pid ${pid}), log ${logFile(s)}`);
  }
  await waitReady(s);
  if (s.configure) await s.configure();
  log(
    s.name,
    `ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${s.endpoints.join(', ')}`,
  );
}

async function up(names: string[]): Promise<void> {
  ensureDir(logDir);
  ensureDir(runDir);
  for (const s of services) ensureDir(join(stateDir, s.name));
  const started = Date.now();
  const results = await Promise.allSettled(select(names, infrastructure).map((s) => bringUp(s)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const envFile = writeStackEnv();
  if (failures.length > 0) {
    for (const f of failures)
      process.stderr.write(`\n[stack] FAILED: ${f instanceof Error ? f.message : String(f)}\n`);
    process.stderr.write(
      `\n[stack] what did start is still running; './dev stack down' stops it\n`,
    );
    process.exitCode = 1;
    return;
  }
  log('stack', `up in ${((Date.now() - started) / 1000).toFixed(1)} s; environment in ${envFile}`);
}

async function down(names: string[]): Promise<void> {
  for (const s of [...select(names)].reverse()) {
    if (!existsSync(pidFile(s))) continue;
    const outcome = await stopRecorded(pidFile(s), s.stopGraceMs);
    log(s.name, outcome);
  }
}

function rssMiB(pid: number): number {
  // The whole process group: launchers (setpriv, npm) and children count too.
  const out = spawnSync('ps', ['-o', 'rss=', '-g', String(pid)], { encoding: 'utf8' }).stdout;
  return Math.round(out.split('\n').reduce((sum, v) => sum + (Number(v.trim()) || 0), 0) / 1024);
}

async function status(): Promise<void> {
  let total = 0;
  for (const s of services) {
    const record = readPidRecord(pidFile(s));
    if (record && isAlive(record)) {
      const problem = await s.probe();
      const mem = rssMiB(record.pid);
      total += mem;
      const health = problem === undefined ? 'healthy' : `unhealthy: ${problem}`;
      process.stdout.write(
        `${s.name.padEnd(9)} pid ${String(record.pid).padEnd(8)} ${String(mem).padStart(5)} MiB  ${health}  ${s.endpoints.join(', ')}\n`,
      );
    } else {
      process.stdout.write(`${s.name.padEnd(9)} stopped\n`);
    }
  }
  process.stdout.write(`total resident memory: ${total} MiB\n`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  switch (command) {
    case 'up':
      return up(rest);
    case 'down':
      return down(rest);
    case 'status':
      return status();
    case 'logs': {
      const [name, lines] = rest;
      const s = select(name ? [name] : [])[0];
      if (!name || !s)
        throw new Error(`logs needs a service: ${services.map((x) => x.name).join(', ')}`);
      process.stdout.write(`${tailFile(logFile(s), Number(lines ?? 80))}\n`);
      return;
    }
    case 'env':
      process.stdout.write(readFileSync(writeStackEnv(), 'utf8'));
      return;
    default:
      process.stdout.write(`${usage}\n`);
      if (command !== undefined && command !== 'help') process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[stack] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
