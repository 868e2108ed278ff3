import { spawn } from 'node:child_process';
import { ensureChromium } from './browser';
import { appBuildService, buildImages, repoRoot, serverNames } from './docker';

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

const npm = (script: string): Promise<number> =>
  run(`npm run ${script}`, 'npm', ['run', '--silent', script]);
async function main(): Promise<number> {
  const started = Date.now();
  for (const script of ['typecheck', 'lint', 'format:check']) {
    const code = await npm(script);
    if (code !== 0) return code;
  }

  await buildImages([...serverNames, appBuildService]);
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
