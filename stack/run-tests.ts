import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureChromium } from './browser';
import { isAlive, readPidRecord } from './processes';
import { infrastructure, repoRoot, runDir, stackEnvironment } from './services';

/**
 * The whole test suite, as the README's test command and CI run it: static checks, then the
 * unit and integration tests against the real local stack. A stack this command had to start
 * is stopped again at the end; one that was already up is left as it was.
 */

function run(
  what: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  process.stderr.write(`\n[test] ${what}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

const npm = (script: string): Promise<number> =>
  run(`npm run ${script}`, 'npm', ['run', '--silent', script]);
const stack = (...args: string[]): Promise<number> =>
  run(`stack ${args.join(' ')}`, process.execPath, [
    '--disable-warning=TimeoutNegativeWarning',
    '--import',
    'tsx',
    'stack/cli.ts',
    ...args,
  ]);

function stackWasUp(): boolean {
  return infrastructure.every((s) => {
    const record = readPidRecord(join(runDir, `${s.name}.pid`));
    return record !== undefined && isAlive(record);
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  for (const script of ['typecheck', 'lint', 'format:check']) {
    const code = await npm(script);
    if (code !== 0) return code;
  }

  const leaveUp = stackWasUp();
  try {
    if ((await stack('up')) !== 0) return 1;
    const chromium = ensureChromium();
    const files = process.argv.slice(2);
    const patterns =
      files.length > 0 ? files : ['src/**/*.test.ts', 'integration-tests/**/*.test.ts'];
    const code = await run(
      'unit and integration tests',
      process.execPath,
      [
        '--disable-warning=TimeoutNegativeWarning',
        '--import',
        'tsx',
        '--test',
        // Test files share one stack; running them one at a time keeps their timings honest.
        '--test-concurrency=1',
        '--test-timeout=300000',
        ...patterns,
      ],
      {
        ...process.env,
        ...stackEnvironment(),
        CHROMIUM_PATH: chromium,
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
    );
    process.stderr.write(`\n[test] finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return code;
  } finally {
    if (!leaveUp && existsSync(runDir)) await stack('down');
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `[test] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
