import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** What `up` remembers about a process it started, so `down` stops exactly that one. */
export interface PidRecord {
  pid: number;
  /** A string that must appear in /proc/<pid>/cmdline; guards against a recycled pid. */
  marker: string;
  startedAt: string;
}

export interface StartSpec {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  logFile: string;
  pidFile: string;
  marker: string;
}

export function startDetached(spec: StartSpec): number {
  const logFd = openSync(spec.logFile, 'a');
  try {
    // detached: the service gets its own process group, outlives this CLI, and can be
    // stopped as a group (Java and runuser-style launchers leave children behind otherwise).
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    const record: PidRecord = {
      pid: child.pid,
      marker: spec.marker,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(spec.pidFile, JSON.stringify(record) + '\n');
    return child.pid;
  } finally {
    closeSync(logFd);
  }
}

export function readPidRecord(pidFile: string): PidRecord | undefined {
  if (!existsSync(pidFile)) return undefined;
  try {
    return JSON.parse(readFileSync(pidFile, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/**
 * True while the recorded process exists and is not a zombie, and is still the one we started.
 * A command line that does not mention the marker means the pid was reused; an empty one is a
 * process caught in the middle of exec (setpriv becoming postgres), which is still ours.
 */
export function isAlive(record: PidRecord): boolean {
  try {
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    // The state letter follows the parenthesised command name, which may itself hold spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8')
      .replaceAll('\0', ' ')
      .trim();
    return cmdline === '' || cmdline.includes(record.marker);
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the recorded process group, SIGKILL after the grace period. */
export async function stopRecorded(
  pidFile: string,
  graceMs: number,
): Promise<'stopped' | 'not running' | 'killed'> {
  const record = readPidRecord(pidFile);
  if (!record || !isAlive(record)) {
    rmSync(pidFile, { force: true });
    return 'not running';
  }
  signalGroup(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(record)) {
      rmSync(pidFile, { force: true });
      return 'stopped';
    }
    await sleep(200);
  }
  signalGroup(record.pid, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(record); i++) await sleep(100);
  rmSync(pidFile, { force: true });
  return 'killed';
}

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

export function tailFile(path: string, lines: number): string {
  if (!existsSync(path)) return '(no log yet)';
  const all = readFileSync(path, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
