import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  appBuildService,
  buildImages,
  composeCommand,
  composeFile,
  memoryByContainer,
  repoRoot,
  serverNames,
} from './docker';
import { log, runStep } from './provision';

/**
 * `./dev start` and `./dev stop`: the whole service from its images with Docker Compose (the
 * same docker-compose.yml a person runs by hand), then the sample report through it.
 */

const port = (name: string, fallback: number): string => process.env[name] || String(fallback);
const hostPorts = {
  api: port('API_PORT', 3000),
  kafka: port('KAFKA_PORT', 9092),
  registry: port('REGISTRY_PORT', 8081),
  temporal: port('TEMPORAL_PORT', 7233),
  temporalUi: port('TEMPORAL_UI_PORT', 8233),
  postgres: port('POSTGRES_PORT', 5432),
  maildev: port('MAILDEV_PORT', 1080),
};

/**
 * The local model (compose service `llm`) writes the reports unless you name an LLM yourself: a
 * key alone is OpenAI's API; OPENAI_BASE_URL (with or without a key) is any OpenAI-compatible
 * server, such as Ollama or vLLM.
 */
const ownLlm = Boolean(process.env.OPENAI_API_KEY || process.env.OPENAI_BASE_URL);

function llmSettings(): NodeJS.ProcessEnv {
  if (!ownLlm) return {};
  return {
    OPENAI_BASE_URL: process.env.OPENAI_BASE_URL ?? '',
    LLM_MODEL_NOTE: process.env.LLM_MODEL_NOTE ?? '',
  };
}

/** Every compose service to run: all of them, less the local model when another LLM is named. */
async function servicesToRun(): Promise<string[]> {
  const [command, ...prefix] = await composeCommand();
  const listed = spawnSync(command!, [...prefix, '-f', composeFile, 'config', '--services'], {
    encoding: 'utf8',
  });
  if (listed.status !== 0) throw new Error(`docker compose config failed: ${listed.stderr}`);
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .filter((service) => !(ownLlm && service === 'llm'));
}

async function compose(what: string, args: string[]): Promise<void> {
  const [command, ...prefix] = await composeCommand();
  await runStep('compose', what, command!, [...prefix, '-f', composeFile, ...args], {
    quiet: true,
    env: { ...process.env, ...llmSettings() },
  });
}

function demo(): Promise<number> {
  const env = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    TEMPORAL_ADDRESS: `127.0.0.1:${hostPorts.temporal}`,
    TEMPORAL_NAMESPACE: 'report-pipeline',
    TEMPORAL_UI_URL: `http://127.0.0.1:${hostPorts.temporalUi}`,
    KAFKA_BROKERS: `localhost:${hostPorts.kafka}`,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${hostPorts.registry}/apis/ccompat/v7`,
    DATABASE_URL: `postgres://report:report@127.0.0.1:${hostPorts.postgres}/report_pipeline`,
    SMTP_URL: `smtp://127.0.0.1:${port('SMTP_PORT', 1025)}`,
    MAILDEV_API_URL: `http://127.0.0.1:${hostPorts.maildev}`,
    OPENAI_API_KEY: process.env.OPENAI_API_KEY ?? 'sk-local-model',
    PUBLIC_BASE_URL: `http://localhost:${hostPorts.api}`,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=TimeoutNegativeWarning',
        '--import',
        'tsx',
        join(repoRoot, 'stack', 'demo.ts'),
      ],
      { cwd: repoRoot, env, stdio: 'inherit' },
    );
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function up(): Promise<number> {
  const started = Date.now();
  const services = await servicesToRun();
  await buildImages([...serverNames.filter((name) => services.includes(name)), appBuildService]);
  log(
    'compose',
    ownLlm
      ? `the LLM: ${process.env.OPENAI_BASE_URL || 'the OpenAI API'} (the local model is not started)`
      : 'the LLM: SmolLM2-135M-Instruct running locally (compose service llm); set OPENAI_API_KEY or OPENAI_BASE_URL for another',
  );
  await compose('starting the servers and the service (docker compose up --wait)', [
    'up',
    '--detach',
    '--wait',
    '--no-build',
    ...services,
  ]);
  log('compose', `up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const code = await demo();
  const memory = Object.entries(memoryByContainer('com.docker.compose.project=report-pipeline'));
  const total = memory.reduce((sum, [, mib]) => sum + mib, 0);
  log(
    'compose',
    `memory: ${total.toFixed(0)} MiB in all (${memory.map(([name, mib]) => `${name.replace(/^report-pipeline-|-1$/g, '')} ${mib.toFixed(0)}`).join(', ')})`,
  );
  return code;
}

async function down(): Promise<void> {
  await compose('stopping the service (docker compose down; data volumes are kept)', ['down']);
}

const command = process.argv[2];
(command === 'up' ? up() : command === 'down' ? down().then(() => 0) : Promise.resolve(2)).then(
  (code) => {
    if (code === 2 && command !== 'up') process.stderr.write('usage: local up|down\n');
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`[local] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
