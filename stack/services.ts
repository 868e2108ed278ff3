import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import {
  apicurioApp,
  javaAtLeast,
  kafkaLibs,
  postgresBin,
  runStep,
  temporalCli,
} from './provision';
import { ensureDir } from './processes';

export const repoRoot = dirname(__dirname);
export const stateDir = join(repoRoot, '.stack');
export const logDir = join(stateDir, 'logs');
export const runDir = join(stateDir, 'run');

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${name} must be a TCP port number, got '${raw}'`);
  }
  return value;
}

/** Every port the stack binds, all on 127.0.0.1; each can be moved with the variable named. */
export const ports = {
  temporal: port('STACK_TEMPORAL_PORT', 7233),
  temporalUi: port('STACK_TEMPORAL_UI_PORT', 8233),
  kafka: port('STACK_KAFKA_PORT', 9092),
  kafkaController: port('STACK_KAFKA_CONTROLLER_PORT', 9093),
  registry: port('STACK_REGISTRY_PORT', 8081),
  registryManagement: port('STACK_REGISTRY_MANAGEMENT_PORT', 9081),
  postgres: port('STACK_POSTGRES_PORT', 5432),
  smtp: port('STACK_SMTP_PORT', 1025),
  maildevWeb: port('STACK_MAILDEV_WEB_PORT', 1080),
  llm: port('STACK_LLM_PORT', 4010),
  api: port('STACK_API_PORT', 3000),
  workerOps: port('STACK_WORKER_OPS_PORT', 9471),
  workerSdkMetrics: port('STACK_WORKER_SDK_METRICS_PORT', 9464),
  consumerOps: port('STACK_CONSUMER_OPS_PORT', 9472),
} as const;

const host = '127.0.0.1';
export const temporalNamespace = 'report-pipeline';
/** Custom search attributes the report workflow sets, so runs can be listed by stage or requester. */
export const searchAttributes = {
  ReportStage: 'Keyword',
  RequesterId: 'Keyword',
  IdempotencyKey: 'Keyword',
};
export const topics: { name: string; partitions: number }[] = [
  { name: 'reports.requested', partitions: 3 },
  { name: 'reports.requested.dlq', partitions: 1 },
  { name: 'reports.completed', partitions: 3 },
  { name: 'reports.failed', partitions: 3 },
  { name: 'notifications.email', partitions: 3 },
];
const database = { name: 'report_pipeline', user: 'report', password: 'report' };

/** The environment the service and the tests use against this stack (written to .stack/stack.env). */
export function stackEnvironment(): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: `${host}:${ports.temporal}`,
    TEMPORAL_NAMESPACE: temporalNamespace,
    KAFKA_BROKERS: `${host}:${ports.kafka}`,
    SCHEMA_REGISTRY_URL: `http://${host}:${ports.registry}/apis/ccompat/v7`,
    DATABASE_URL: `postgres://${database.user}:${database.password}@${host}:${ports.postgres}/${database.name}`,
    SMTP_URL: `smtp://${host}:${ports.smtp}`,
    MAILDEV_API_URL: `http://${host}:${ports.maildevWeb}`,
    OPENAI_API_KEY: 'sk-local-stack',
    OPENAI_BASE_URL: `http://${host}:${ports.llm}/v1`,
    LLM_CONTROL_URL: `http://${host}:${ports.llm}`,
  };
}

export interface Launch {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Appears in the process's command line; how `down` recognises its own process. */
  marker: string;
}

export interface ServiceDef {
  name: string;
  /** Where a person reaches it. */
  endpoints: string[];
  ports: number[];
  readyTimeoutMs: number;
  stopGraceMs: number;
  /** Fetches or builds what it needs (cached), prepares its data folder, says how to run it. */
  prepare(): Promise<Launch>;
  /** undefined when ready, otherwise what is still missing. */
  probe(): Promise<string | undefined>;
  /** One-time setup once ready: namespaces, topics, databases, rules. Must be idempotent. */
  configure?(): Promise<void>;
}

const dataDir = (service: string): string => ensureDir(join(stateDir, service));

export async function tcpOpen(portNumber: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port: portNumber });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function httpStatus(url: string): Promise<number | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}

const temporal: ServiceDef = {
  name: 'temporal',
  endpoints: [`grpc ${host}:${ports.temporal}`, `web UI http://${host}:${ports.temporalUi}`],
  ports: [ports.temporal, ports.temporalUi],
  readyTimeoutMs: 90_000,
  stopGraceMs: 15_000,
  async prepare() {
    const cli = await temporalCli();
    const db = join(dataDir('temporal'), 'temporal.db');
    const args = [
      'server',
      'start-dev',
      '--ip',
      host,
      '--port',
      String(ports.temporal),
      '--ui-port',
      String(ports.temporalUi),
      '--db-filename',
      db,
      '--namespace',
      temporalNamespace,
      '--log-level',
      'warn',
    ];
    for (const [key, type] of Object.entries(searchAttributes))
      args.push('--search-attribute', `${key}=${type}`);
    // The Web UI is for people; CI has no one to look at it.
    if (process.env.CI) args.push('--headless');
    return { command: cli, args, marker: db };
  },
  async probe() {
    if (!(await tcpOpen(ports.temporal))) return `nothing listens on ${host}:${ports.temporal} yet`;
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({
        address: `${host}:${ports.temporal}`,
        connectTimeout: 2000,
      });
      await connection.workflowService.describeNamespace({ namespace: temporalNamespace });
      return undefined;
    } catch (error: unknown) {
      return `namespace ${temporalNamespace} not described yet: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      await connection?.close();
    }
  },
};

const kafka: ServiceDef = {
  name: 'kafka',
  endpoints: [`bootstrap ${host}:${ports.kafka}`],
  ports: [ports.kafka, ports.kafkaController],
  readyTimeoutMs: 90_000,
  stopGraceMs: 30_000,
  async prepare() {
    const libs = await kafkaLibs();
    const java = await javaAtLeast(17, 'kafka');
    const dir = dataDir('kafka');
    const logs = ensureDir(join(dir, 'data'));
    const properties = join(dir, 'server.properties');
    writeFileSync(
      properties,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${host}:${ports.kafkaController}`,
        `listeners=PLAINTEXT://${host}:${ports.kafka},CONTROLLER://${host}:${ports.kafkaController}`,
        `advertised.listeners=PLAINTEXT://${host}:${ports.kafka}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        `log.dirs=${logs}`,
        'num.partitions=3',
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=10',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'log.retention.hours=168',
        '',
      ].join('\n'),
    );
    const log4j = join(repoRoot, 'stack', 'kafka-log4j.properties');
    const jvm = [
      '-Xms256m',
      '-Xmx512m',
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${log4j}`,
      '-cp',
      `${libs}/*`,
    ];
    if (!existsSync(join(logs, 'meta.properties'))) {
      const clusterIdFile = join(dir, 'cluster-id');
      // An id from before this check may start with '-', which the format tool reads as a flag.
      if (!existsSync(clusterIdFile) || readFileSync(clusterIdFile, 'utf8').startsWith('-'))
        writeFileSync(clusterIdFile, kafkaClusterId());
      await runStep(
        'kafka',
        'formatting KRaft storage',
        java,
        [
          ...jvm,
          'kafka.tools.StorageTool',
          'format',
          '-t',
          readFileSync(clusterIdFile, 'utf8').trim(),
          '-c',
          properties,
          '--ignore-formatted',
        ],
        { quiet: true },
      );
    }
    return { command: java, args: [...jvm, 'kafka.Kafka', properties], marker: properties };
  },
  async probe() {
    if (!(await tcpOpen(ports.kafka))) return `nothing listens on ${host}:${ports.kafka} yet`;
    const admin = new Kafka({
      clientId: 'stack-probe',
      brokers: [`${host}:${ports.kafka}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.controller === null ? 'no active controller yet' : undefined;
    } catch (error: unknown) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await admin.disconnect();
    }
  },
  async configure() {
    const admin = new Kafka({
      clientId: 'stack-setup',
      brokers: [`${host}:${ports.kafka}`],
      logLevel: logLevel.ERROR,
    }).admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: 1,
          })),
        });
      }
    } finally {
      await admin.disconnect();
    }
  },
};

/**
 * Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. Like Kafka's own
 * Uuid.randomUuid, never one that starts with '-': the storage tool would take it for a flag.
 */
export function kafkaClusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

const registry: ServiceDef = {
  name: 'registry',
  endpoints: [
    `Confluent API http://${host}:${ports.registry}/apis/ccompat/v7`,
    `UI/API http://${host}:${ports.registry}/apis`,
  ],
  ports: [ports.registry, ports.registryManagement],
  readyTimeoutMs: 120_000,
  stopGraceMs: 20_000,
  async prepare() {
    const app = await apicurioApp();
    const java = await javaAtLeast(21, 'registry');
    const dir = dataDir('registry');
    const jar = join(app, 'quarkus-run.jar');
    return {
      command: java,
      args: [
        '-Xms128m',
        '-Xmx384m',
        `-Dquarkus.http.host=${host}`,
        `-Dquarkus.http.port=${ports.registry}`,
        `-Dquarkus.management.host=${host}`,
        `-Dquarkus.management.port=${ports.registryManagement}`,
        '-Dquarkus.otel.sdk.disabled=true',
        // A file-backed H2 database keeps registered schemas across restarts of the stack.
        `-Dapicurio.datasource.url=jdbc:h2:file:${join(dir, 'registry')}`,
        `-Dapicurio.storage.snapshot.location=${dir}`,
        `-Dapicurio.import.work-dir=${dir}`,
        '-jar',
        jar,
      ],
      marker: jar,
    };
  },
  async probe() {
    const health = await httpStatus(`http://${host}:${ports.registryManagement}/health/ready`);
    if (health !== 200) return `readiness check answered ${health}`;
    const subjects = await httpStatus(`http://${host}:${ports.registry}/apis/ccompat/v7/subjects`);
    return subjects === 200 ? undefined : `Confluent API answered ${subjects}`;
  },
  async configure() {
    const res = await fetch(`http://${host}:${ports.registry}/apis/ccompat/v7/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    if (!res.ok)
      throw new Error(
        `registry: setting BACKWARD compatibility failed: ${res.status} ${await res.text()}`,
      );
  },
};

/** PostgreSQL refuses to run as root; as root the stack runs it as the postgres system user. */
function postgresUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const out = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gidOut = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (out.status !== 0 || gidOut.status !== 0) {
    throw new Error(
      "postgres: running as root needs the 'postgres' system user (Debian's postgresql package creates it)",
    );
  }
  return { uid: Number(out.stdout.trim()), gid: Number(gidOut.stdout.trim()), name: 'postgres' };
}

function asPostgresUser(command: string, args: string[]): { command: string; args: string[] } {
  const user = postgresUser();
  if (!user) return { command, args };
  return {
    command: 'setpriv',
    args: [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--init-groups',
      '--reset-env',
      '--',
      command,
      ...args,
    ],
  };
}

/** A connection to the server's maintenance database, as the stack's own user. */
const maintenanceClient = (connectionTimeoutMillis?: number): Client =>
  new Client({
    host,
    port: ports.postgres,
    user: database.user,
    password: database.password,
    database: 'postgres',
    connectionTimeoutMillis,
  });

const postgres: ServiceDef = {
  name: 'postgres',
  endpoints: [
    `postgres://${database.user}:${database.password}@${host}:${ports.postgres}/${database.name}`,
  ],
  ports: [ports.postgres],
  readyTimeoutMs: 60_000,
  stopGraceMs: 20_000,
  async prepare() {
    const bin = await postgresBin();
    const dir = dataDir('postgres');
    const data = join(dir, 'data');
    const user = postgresUser();
    if (user) {
      chownSync(dir, user.uid, user.gid);
      const check = asPostgresUser('test', ['-w', dir]);
      const probe = spawnSync(check.command, check.args);
      if (probe.status !== 0) {
        throw new Error(
          `postgres: the postgres user cannot write ${dir}; a folder above the clone is closed to other users (chmod o+x it, or clone elsewhere)`,
        );
      }
    }
    if (!existsSync(join(data, 'PG_VERSION'))) {
      rmSync(data, { recursive: true, force: true });
      const pwfile = join(dir, 'initdb-password');
      writeFileSync(pwfile, `${database.password}\n`, { mode: 0o644 });
      const init = asPostgresUser(join(bin, 'initdb'), [
        '-D',
        data,
        '-U',
        database.user,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
      ]);
      try {
        await runStep('postgres', 'initdb', init.command, init.args, { quiet: true });
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
    const run = asPostgresUser(join(bin, 'postgres'), [
      '-D',
      data,
      '-c',
      `listen_addresses=${host}`,
      '-p',
      String(ports.postgres),
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'max_connections=200',
      '-c',
      'fsync=off',
    ]);
    return { ...run, marker: data };
  },
  async probe() {
    const client = maintenanceClient(2000);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error: unknown) {
      return error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  },
  async configure() {
    const client = maintenanceClient();
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        database.name,
      ]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${database.name}`);
    } finally {
      await client.end();
    }
  },
};

const maildev: ServiceDef = {
  name: 'maildev',
  endpoints: [`SMTP ${host}:${ports.smtp}`, `web UI and API http://${host}:${ports.maildevWeb}`],
  ports: [ports.smtp, ports.maildevWeb],
  readyTimeoutMs: 30_000,
  stopGraceMs: 10_000,
  async prepare() {
    const bin = join(repoRoot, 'node_modules', 'maildev', 'bin', 'maildev');
    if (!existsSync(bin))
      throw new Error('maildev: node_modules/maildev is missing; run ./dev npm ci');
    return {
      command: process.execPath,
      args: [
        bin,
        '--ip',
        host,
        '--web-ip',
        host,
        '--smtp',
        String(ports.smtp),
        '--web',
        String(ports.maildevWeb),
        '--mail-directory',
        ensureDir(join(dataDir('maildev'), 'mail')),
      ],
      marker: bin,
    };
  },
  async probe() {
    if (!(await tcpOpen(ports.smtp))) return `SMTP not listening on ${ports.smtp}`;
    const api = await httpStatus(`http://${host}:${ports.maildevWeb}/email`);
    return api === 200 ? undefined : `mail API answered ${api}`;
  },
};

const llm: ServiceDef = {
  name: 'llm',
  endpoints: [`OpenAI-compatible http://${host}:${ports.llm}/v1`],
  ports: [ports.llm],
  readyTimeoutMs: 30_000,
  stopGraceMs: 5_000,
  async prepare() {
    const main = join(repoRoot, 'integration-tests', 'support', 'llm-server-main.ts');
    return {
      command: process.execPath,
      args: ['--import', 'tsx', main],
      env: { ...process.env, LLM_SERVER_PORT: String(ports.llm) },
      marker: main,
    };
  },
  async probe() {
    const status = await httpStatus(`http://${host}:${ports.llm}/health`);
    return status === 200 ? undefined : `health answered ${status}`;
  },
};

let migration: Promise<void> | undefined;
/** The schema, once per `up`, before any of the service's own processes start. */
function migrateOnce(): Promise<void> {
  migration ??= new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'src', 'entities', 'migrate.ts')],
      { cwd: repoRoot, env: { ...process.env, ...stackEnvironment() }, stdio: 'inherit' },
    );
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`migrations failed (exit ${code})`)),
    );
  });
  return migration;
}

/** The service itself, one process per entry point as in production, pointed at this stack. */
function appService(
  name: 'api' | 'worker' | 'consumer',
  entry: string,
  opsPort: number,
  endpoints: string[],
): ServiceDef {
  const main = join(repoRoot, 'src', entry);
  return {
    name,
    endpoints,
    ports: name === 'worker' ? [opsPort, ports.workerSdkMetrics] : [opsPort],
    readyTimeoutMs: 60_000,
    stopGraceMs: 30_000,
    async prepare() {
      await migrateOnce();
      return {
        command: process.execPath,
        args: ['--disable-warning=TimeoutNegativeWarning', '--import', 'tsx', main],
        env: {
          ...process.env,
          ...stackEnvironment(),
          NODE_ENV: 'development',
          LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
          HTTP_HOST: host,
          HTTP_PORT: String(ports.api),
          PUBLIC_BASE_URL: `http://${host}:${ports.api}`,
          OPS_HOST: host,
          OPS_PORT: String(opsPort),
          WORKER_METRICS_PORT: String(ports.workerSdkMetrics),
        },
        marker: main,
      };
    },
    async probe() {
      const status = await httpStatus(`http://${host}:${opsPort}/ready`);
      return status === 200 ? undefined : `/ready answered ${status}`;
    },
  };
}

const api = appService('api', 'http/main.ts', ports.api, [
  `page http://${host}:${ports.api}/`,
  `API docs http://${host}:${ports.api}/docs`,
]);
const worker = appService('worker', 'worker/main.ts', ports.workerOps, [
  `metrics http://${host}:${ports.workerOps}/metrics`,
]);
const consumer = appService('consumer', 'consumers/main.ts', ports.consumerOps, [
  `metrics http://${host}:${ports.consumerOps}/metrics`,
]);

/** What the service needs around it: `up` with no names starts these. */
export const infrastructure: ServiceDef[] = [postgres, temporal, kafka, registry, maildev, llm];
/** The service's own processes: `up app` starts them once the infrastructure is up. */
export const application: ServiceDef[] = [worker, consumer, api];
/** Start order; `down` goes in reverse. */
export const services: ServiceDef[] = [...infrastructure, ...application];
