import { spawn } from 'node:child_process';
import { ensureChromium } from './browser';
import { buildImages, repoRoot, testImageServices } from './docker';

/**
 * The whole test suite, as the README's test command and CI run it: static checks, the images
 * (servers and the service's own), then the unit and integration tests; the integration tests'
 * global set-up starts the real servers with testcontainers and removes them at the end.
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

/** An npm script with its output kept, shown only when it fails. */
function check(script: string): Promise<{ script: string; code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ script, code: code ?? (signal ? 128 : 1), output }),
    );
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  // The static checks run side by side, and beside the image build (mostly Docker's cache).
  const scripts = ['typecheck', 'lint', 'format:check'];
  process.stderr.write(`\n[test] ${scripts.join(', ')} and the images\n`);
  const [checks] = await Promise.all([
    Promise.all(scripts.map(check)),
    buildImages(testImageServices),
  ]);
  const failed = checks.filter((c) => c.code !== 0);
  for (const c of failed) process.stderr.write(`\n[test] npm run ${c.script} failed:\n${c.output}`);
  if (failed.length > 0) return failed[0]!.code;
  process.stderr.write(
    `[test] ${scripts.join(', ')} passed, images built (${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );

  const chromium = ensureChromium();
  const files = process.argv.slice(2);
  const patterns =
    files.length > 0
      ? files
      : ['src/**/*.test.ts', 'stack/**/*.test.ts', 'integration-tests/**/*.test.ts'];
  const code = await run(
    'unit and integration tests',
    process.execPath,
    [
      '--disable-warning=TimeoutNegativeWarning',
      '--import',
      'tsx',
      '--test',
      '--test-global-setup=integration-tests/global-setup.mjs',
      // Test files share one set of servers; one at a time keeps their timings honest.
      '--test-concurrency=1',
      '--test-timeout=300000',
      ...patterns,
    ],
    {
      ...process.env,
      SERVER_IMAGES_BUILT: 'true',
      CHROMIUM_PATH: chromium,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
  );
  process.stderr.write(`\n[test] finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return code;
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
