import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// Lints snippets as if they were a file in src/workflows, to prove the sandbox rule bites. The
// probe file does not exist, so it is parsed without type information (the rule needs none).
const probe = join(__dirname, 'sandbox-probe.ts');
const eslint = new ESLint({
  cwd: join(__dirname, '..', '..'),
  overrideConfig: [
    { files: ['src/workflows/sandbox-probe.ts'], ...tseslint.configs.disableTypeChecked },
  ],
});

async function ruleHits(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: probe });
  const fatal = result?.messages.find((m) => m.fatal);
  if (fatal) throw new Error(fatal.message);
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((m) => m.message);
}

describe('workflow sandbox lint rule', () => {
  it('forbids Node built-ins and I/O libraries', async () => {
    const hits = await ruleHits(
      [
        "import { readFileSync } from 'node:fs';",
        "import { Kafka } from 'kafkajs';",
        "import { DataSource } from 'typeorm';",
        'export const x = [readFileSync, Kafka, DataSource];',
      ].join('\n'),
    );
    assert.equal(hits.length, 3, hits.join('\n'));
  });

  it('forbids activity values and entities but allows activity types', async () => {
    const hits = await ruleHits(
      [
        "import { createActivities } from '../activities/activities';",
        "import { Report } from '../entities/report';",
        "import type { createActivities as Factory } from '../activities/activities';",
        'export type F = Factory;',
        'export const x = [createActivities, Report];',
      ].join('\n'),
    );
    assert.equal(hits.length, 2, hits.join('\n'));
    assert.match(hits.join('\n'), /as types only/);
  });
});
