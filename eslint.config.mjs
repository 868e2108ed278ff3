import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node built-ins, and
// activities only as types (the workflow schedules them, the worker runs them).
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
const workflowForbidden = [
  ...nodeBuiltins.map((name) => ({
    name,
    message: 'Workflow code must be deterministic: no Node built-ins.',
  })),
  ...[
    'kafkajs',
    '@kafkajs/confluent-schema-registry',
    'pg',
    'typeorm',
    'nodemailer',
    'openai',
    'pdfkit',
    'pino',
    'prom-client',
    '@temporalio/client',
    '@temporalio/worker',
    '@temporalio/activity',
  ].map((name) => ({ name, message: 'Workflow code must be deterministic: no I/O libraries.' })),
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.stack/',
      'coverage/',
      'test-artifacts/',
      // A package of its own, installed only inside its image (node-llama-cpp is not here).
      'docker/llm-local/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after'],
            },
          ],
        },
      ],
      // An async implementation of a Promise-returning interface need not await anything.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    // Tests of workflows (replay, lint probes) run in Node, outside the sandbox.
    ignores: ['src/workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: workflowForbidden,
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Import activities as types only (proxyActivities<...>), never as values.',
            },
            {
              group: [
                '**/entities',
                '**/entities/**',
                '**/consumers/**',
                '**/producers/**',
                '**/http/**',
              ],
              message: 'Workflow code must not touch entities, Kafka or HTTP code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The page's script runs in browsers as written, without a build step.
    files: ['src/http/page/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: false },
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'fetch',
          'localStorage',
          'Headers',
          'URL',
          'URLSearchParams',
          'TextDecoderStream',
          'AbortController',
          'crypto',
          'setTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
