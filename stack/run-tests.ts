import { spawn } from 'node:child_process';
import { ensureChromium } from './browser';
import { buildImages, repoRoot, testImageServices } from './docker';

/**
 * The whole test suite, as the README's test command and CI run it: the static checks, then the
 * fast layer (`npm run test:unit`: unit and workflow tests, no Docker), both beside the image
 * build (servers and the service's own), then the integration tests, whose global set-up starts
 * the real servers with testcontainers and removes them at the end. The first failing layer
 * ends the run. Files named on the command line run on their own with the servers' set-up.
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
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const files = process.argv.slice(2);
  // The image build (mostly Docker's cache) goes on while the checks and the fast layer run; its
  // failure is reported where it is awaited, and a run that stops early still waits for it, so
  // that no build is left behind.
  const images = buildImages(testImageServices);
  images.catch(() => undefined);
  const imagesSettled = () => Promise.allSettled([images]);

  // The static checks run side by side.
  const scripts = ['typecheck', 'lint', 'format:check'];
  process.stderr.write(`\n[test] ${scripts.join(', ')}, beside the image build\n`);
  const checks = await Promise.all(scripts.map(check));
  const failed = checks.filter((c) => c.code !== 0);
  for (const c of failed) process.stderr.write(`\n[test] npm run ${c.script} failed:\n${c.output}`);
  if (failed.length > 0) {
    await imagesSettled();
    return failed[0]!.code;
  }
  process.stderr.write(`[test] ${scripts.join(', ')} passed (${elapsed()})\n`);

  if (files.length === 0) {
    const unit = await run('fast layer: npm run test:unit', 'npm', [
      'run',
      '--silent',
      'test:unit',
    ]);
    if (unit !== 0) {
      await imagesSettled();
      return unit;
    }
    process.stderr.write(`[test] fast layer passed (${elapsed()})\n`);
  }
  await images;
  process.stderr.write(`[test] images built (${elapsed()})\n`);

  const chromium = ensureChromium();
  const patterns =
    files.length > 0 ? files : ['stack/**/*.test.ts', 'integration-tests/**/*.test.ts'];
  const code = await run(
    files.length > 0 ? files.join(' ') : 'integration tests',
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
  process.stderr.write(`\n[test] finished in ${elapsed()}\n`);
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
