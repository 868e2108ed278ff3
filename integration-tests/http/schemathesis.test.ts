import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { schemathesisCli } from '../../stack/provision';
import { createApiHarness, type ApiHarness } from '../support/api-harness';

/**
 * schemathesis, a schema-driven fuzzer, against the API as it runs (real Temporal, PostgreSQL
 * and a worker): all checks and all phases, once with a fixed seed (the same cases every run)
 * and once with a fresh one (new cases every run, its seed printed so a failure can be
 * replayed with SCHEMATHESIS_SEED). Any failure or error fails the test with its report.
 */

const API_KEY = 'fuzz-key-0123456789abcdef';
const FIXED_SEED = 20261123;
const EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 25);

interface Run {
  code: number;
  output: string;
  /** The closing line ("No issues found in 35.5s", or what it found), the case count and the links. */
  summary: string;
}

const lineOf = (output: string, pattern: RegExp): string =>
  output
    .split('\n')
    .map((line) => line.trim())
    .reverse()
    .find((line) => pattern.test(line)) ?? '';

async function runSchemathesis(api: ApiHarness, seed: number): Promise<Run> {
  const cli = await schemathesisCli();
  const args = [
    ...cli.args,
    '--config-file',
    join(__dirname, 'schemathesis.toml'),
    'run',
    `${api.baseUrl}/openapi.json`,
    '--checks',
    'all',
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--seed',
    String(seed),
    '--max-examples',
    String(EXAMPLES),
    '--header',
    `Authorization: Bearer ${API_KEY}`,
    '--no-color',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(cli.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const closing = lineOf(output, /^=+ .* =+$/).replace(/^=+ | =+$/g, '');
      const cases = lineOf(output, /^\d+ generated/);
      const links = lineOf(output, /^API Links:/).replace(/\s+/g, ' ');
      resolve({ code: code ?? 1, output, summary: [closing, cases, links].join('; ') });
    });
  });
}

describe('the API under schemathesis', () => {
  let api: ApiHarness;
  before(async () => {
    // Authentication on, so the fuzzer also checks that /api refuses requests without the key;
    // a rate limit well above what it sends, so that 429s do not hide other answers.
    api = await createApiHarness({
      apiKeys: [API_KEY],
      settings: { HTTP_RATE_LIMIT_PER_MINUTE: 1_000_000 },
    });
  });
  after(() => api.close());

  const seeds = [
    ['a fixed seed', FIXED_SEED],
    ['a fresh seed', Number(process.env.SCHEMATHESIS_SEED ?? randomInt(1, 2 ** 31))],
  ] as const;
  for (const [name, seed] of seeds) {
    it(`finds no failure and no error with ${name} (${seed})`, async (t) => {
      const run = await runSchemathesis(api, seed);
      t.diagnostic(`schemathesis seed ${seed}: ${run.summary}`);
      process.stderr.write(`[schemathesis] seed ${seed}: ${run.summary}\n`);
      assert.equal(run.code, 0, `schemathesis found problems (seed ${seed}):\n${run.output}`);
      assert.match(run.summary, /^(No issues found|\d+ warnings?) in /, run.output);
      assert.match(run.summary, /(\d+) generated, \1 passed/, 'every generated case passed');
      assert.match(run.summary, /API Links: [1-9]\d* covered/, 'the stateful phase followed links');
    });
  }
});
