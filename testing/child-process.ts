import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Config } from '../src/config/config';

const repoRoot = join(__dirname, '..');

export interface Child {
  process: ChildProcess;
  output(): string;
  /** Resolves when stdout has printed `marker`; rejects if the process exits first. */
  waitFor(marker: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a TypeScript entry point of this repository as a separate Node.js process. */
export function spawnTs(entry: string, env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, entry)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    output: () => out,
    exited,
    waitFor(marker, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${entry} did not print ${marker} in ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
        const check = (): void => {
          if (out.includes(marker)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(`${entry} exited (${code ?? signal}) before printing ${marker}:\n${out}`),
          );
        });
      });
    },
  };
}

/**
 * A setting as the variable it was read from: lists comma-separated, maps as id=value pairs
 * (a price as prompt/completion).
 */
function asVariable(value: unknown): string {
  if (Array.isArray(value)) return value.join(',');
  if (value instanceof Map)
    return [...(value as Map<unknown, unknown>)]
      .map(([k, v]) => `${String(k)}=${isPrice(v) ? `${v.prompt}/${v.completion}` : String(v)}`)
      .join(',');
  return String(value);
}

const isPrice = (v: unknown): v is { prompt: number; completion: number } =>
  typeof v === 'object' && v !== null && 'prompt' in v && 'completion' in v;

/** The environment that gives a child process `config`, as its own loadConfig() will read it. */
export function configEnv(
  config: Config,
  overrides: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const fromConfig = Object.fromEntries(
    Object.entries(config)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, asVariable(v)]),
  );
  return {
    ...process.env,
    ...fromConfig,
    WORKER_METRICS_PORT: '0',
    // Several processes of one kind may run at once: each takes a free ops port.
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...overrides,
  };
}
