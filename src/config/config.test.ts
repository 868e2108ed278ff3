import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ZodObject } from 'zod';
import {
  apiConfigSchema,
  ConfigError,
  configSchema,
  consumerConfigSchema,
  loadConfig,
  migrateConfigSchema,
  redriveConfigSchema,
  releaseConfigSchema,
  workerConfigSchema,
  type ApiConfig,
  type ConsumerConfig,
} from './config';

const valid = {
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092',
  SCHEMA_REGISTRY_URL: 'http://registry:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://app:secret@db:5432/reports',
  SMTP_URL: 'smtp://mail:25',
  OPENAI_API_KEY: 'sk-test',
};

function problemsOf(
  env: Record<string, string>,
  schema: ZodObject = configSchema,
): Map<string, string> {
  try {
    loadConfig(env, schema);
  } catch (error: unknown) {
    assert.ok(error instanceof ConfigError, 'expected a ConfigError');
    return new Map(error.problems.map((p) => [p.variable, p.message]));
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('parses a complete environment and applies defaults', () => {
    const config = loadConfig(valid);
    assert.deepEqual(config.KAFKA_BROKERS, ['kafka-0:9092', 'kafka-1:9092']);
    assert.equal(config.TEMPORAL_NAMESPACE, 'default');
    assert.equal(config.TOPIC_REPORTS_REQUESTED, 'reports.requested');
    assert.equal(config.HTTP_PORT, 3000);
    assert.equal(config.MAIL_ATTACH_PDF, true);
    assert.equal(config.OPENAI_BASE_URL, undefined);
  });

  it('coerces numbers and flags from their string form', () => {
    const config = loadConfig({
      ...valid,
      HTTP_PORT: '8080',
      MAIL_ATTACH_PDF: 'false',
      PROMPT_MAX_CHARS: '500',
    });
    assert.equal(config.HTTP_PORT, 8080);
    assert.equal(config.MAIL_ATTACH_PDF, false);
    assert.equal(config.PROMPT_MAX_CHARS, 500);
  });

  it('names every missing required variable', () => {
    const problems = problemsOf({});
    for (const name of Object.keys(valid)) {
      assert.equal(problems.get(name), 'is required but not set', name);
    }
  });

  it('treats an empty variable as unset', () => {
    const problems = problemsOf({ ...valid, OPENAI_API_KEY: '' });
    assert.equal(problems.get('OPENAI_API_KEY'), 'is required but not set');
  });

  it('says what is wrong with a malformed value', () => {
    const problems = problemsOf({
      ...valid,
      TEMPORAL_ADDRESS: 'http://temporal:7233',
      DATABASE_URL: 'mysql://db/reports',
      HTTP_PORT: 'eighty',
      KAFKA_BROKERS: ' , ',
      MAIL_FROM: 'not-an-address',
      MAIL_ATTACH_PDF: 'yes',
    });
    assert.match(problems.get('TEMPORAL_ADDRESS') ?? '', /host:port/);
    assert.match(problems.get('DATABASE_URL') ?? '', /postgres:\/\//);
    assert.ok(problems.has('HTTP_PORT'));
    assert.match(problems.get('KAFKA_BROKERS') ?? '', /host:port/);
    assert.match(problems.get('MAIL_FROM') ?? '', /email/);
    assert.match(problems.get('MAIL_ATTACH_PDF') ?? '', /'true' or 'false'/);
    assert.equal(problems.size, 6);
  });

  it('puts every problem in the error message, one line each', () => {
    try {
      loadConfig({ ...valid, SMTP_URL: 'mail:25', TEMPORAL_ADDRESS: '' });
      assert.fail('expected a ConfigError');
    } catch (error: unknown) {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /^ {2}SMTP_URL: expected a URL with scheme smtp:\/\/ or smtps:\/\/$/m,
      );
      assert.match(error.message, /^ {2}TEMPORAL_ADDRESS: is required but not set$/m);
    }
  });
});

/** The variables each process must be given; every other setting has a default. */
const required = {
  api: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
  worker: [
    'DATABASE_URL',
    'KAFKA_BROKERS',
    'OPENAI_API_KEY',
    'SCHEMA_REGISTRY_URL',
    'SMTP_URL',
    'TEMPORAL_ADDRESS',
  ],
  consumer: ['DATABASE_URL', 'KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'TEMPORAL_ADDRESS'],
  release: ['DATABASE_URL', 'SCHEMA_REGISTRY_URL'],
  migrate: ['DATABASE_URL'],
  redrive: ['KAFKA_BROKERS'],
};
const schemas = {
  api: apiConfigSchema,
  worker: workerConfigSchema,
  consumer: consumerConfigSchema,
  release: releaseConfigSchema,
  migrate: migrateConfigSchema,
  redrive: redriveConfigSchema,
};

const only = (names: string[]): Record<string, string> =>
  Object.fromEntries(Object.entries(valid).filter(([name]) => names.includes(name)));

/** `true` only when T has none of the keys K: a test assigning `true` to it fails `tsc` otherwise. */
type Lacks<T, K> = Extract<keyof T, K> extends never ? true : false;
type LlmOrMailSetting = `OPENAI_${string}` | `LLM_${string}` | 'SMTP_URL' | `MAIL_${string}`;

describe('loadConfig with an entry point’s schema', () => {
  it('the API starts with only its own variables: no Kafka, registry, SMTP or LLM', () => {
    const config = loadConfig(only(required.api), apiConfigSchema);
    assert.equal(config.TEMPORAL_ADDRESS, 'temporal.internal:7233');
    assert.equal(config.HTTP_PORT, 3000);
    assert.equal(config.HTTP_RATE_LIMIT_PER_MINUTE, 600);
    assert.equal(config.HTTP_EVENT_STREAMS_PER_CLIENT, 20);
    assert.deepEqual(config.API_KEYS, []);
    const typeLacksThem: Lacks<ApiConfig, LlmOrMailSetting> = true;
    assert.ok(typeLacksThem);
  });

  it('the API does not carry secrets it never uses, even when the environment has them', () => {
    const config: Record<string, unknown> = loadConfig(
      { ...valid, OPENAI_BASE_URL: 'http://llm:8080/v1', MAIL_FROM: 'a@b.example' },
      apiConfigSchema,
    );
    for (const name of [
      'OPENAI_API_KEY',
      'OPENAI_BASE_URL',
      'SMTP_URL',
      'MAIL_FROM',
      'KAFKA_BROKERS',
      'SCHEMA_REGISTRY_URL',
    ])
      assert.equal(name in config, false, name);
    assert.equal(config.DATABASE_URL, valid.DATABASE_URL);
  });

  it('the worker still requires the LLM key and the SMTP relay', () => {
    const problems = problemsOf(
      only(required.worker.filter((n) => n !== 'OPENAI_API_KEY' && n !== 'SMTP_URL')),
      workerConfigSchema,
    );
    assert.deepEqual([...problems].sort(), [
      ['OPENAI_API_KEY', 'is required but not set'],
      ['SMTP_URL', 'is required but not set'],
    ]);
    const config = loadConfig(only(required.worker), workerConfigSchema);
    assert.equal(config.OPENAI_API_KEY, 'sk-test');
    assert.equal(config.SMTP_URL, 'smtp://mail:25');
  });

  it('the consumer needs Kafka and the registry but no LLM or SMTP', () => {
    const config: Record<string, unknown> = loadConfig(valid, consumerConfigSchema);
    assert.deepEqual(config.KAFKA_BROKERS, ['kafka-0:9092', 'kafka-1:9092']);
    assert.equal('OPENAI_API_KEY' in config || 'SMTP_URL' in config, false);
    const typeLacksThem: Lacks<ConsumerConfig, LlmOrMailSetting> = true;
    assert.ok(typeLacksThem);
  });

  for (const [name, schema] of Object.entries(schemas)) {
    const names = required[name as keyof typeof required];

    it(`${name}: an empty environment names exactly its own required variables`, () => {
      const problems = problemsOf({}, schema);
      assert.deepEqual([...problems.keys()].sort(), names);
      for (const message of problems.values()) assert.equal(message, 'is required but not set');
    });

    it(`${name}: loads with its own required variables alone`, () => {
      assert.doesNotThrow(() => loadConfig(only(names), schema));
    });
  }

  it('a malformed setting another process reads is not this process’s error', () => {
    assert.doesNotThrow(() =>
      loadConfig(
        { ...only(required.api), SMTP_URL: 'mail:25', KAFKA_BROKERS: ' , ' },
        apiConfigSchema,
      ),
    );
    assert.throws(
      () => loadConfig({ ...only(required.worker), SMTP_URL: 'mail:25' }, workerConfigSchema),
      /SMTP_URL: expected a URL with scheme smtp:\/\/ or smtps:\/\//,
    );
  });

  it('reads fairness weights as id=number pairs, and names a malformed one', () => {
    const config = loadConfig(
      { ...only(required.api), FAIRNESS_WEIGHTS: ' svc-a=2, svc-b = 0.5 ' },
      apiConfigSchema,
    );
    assert.deepEqual(
      [...config.FAIRNESS_WEIGHTS],
      [
        ['svc-a', 2],
        ['svc-b', 0.5],
      ],
    );
    assert.equal(loadConfig(only(required.api), apiConfigSchema).FAIRNESS_WEIGHTS.size, 0);
    for (const [value, message] of [
      ['svc-a', /"svc-a" is not one/],
      ['svc-a=0', /"svc-a=0" is not one \(Too small/],
      ['svc-a=two', /"svc-a=two" is not one/],
      ['=2', /"=2" is not one/],
      ['svc-a=1=2', /"svc-a=1=2" is not one/],
      ['svc-a=1,svc-a=2', /svc-a is given twice/],
    ] as const) {
      const problems = problemsOf(
        { ...only(required.api), FAIRNESS_WEIGHTS: value },
        apiConfigSchema,
      );
      assert.match(problems.get('FAIRNESS_WEIGHTS') ?? '', message, value);
    }
  });

  it('reads token budgets where requests are admitted: none by default, overrides by requester', () => {
    for (const schema of [apiConfigSchema, consumerConfigSchema]) {
      const none = loadConfig(only(required.api.concat(required.consumer)), schema);
      assert.equal(none.TOKEN_BUDGET_PER_DAY, 0, 'off by default');
      assert.equal(none.TOKEN_BUDGETS.size, 0);
      const set = loadConfig(
        {
          ...only(required.api.concat(required.consumer)),
          TOKEN_BUDGET_PER_DAY: '200000',
          TOKEN_BUDGETS: 'svc-a=500000, svc-b=0',
        },
        schema,
      );
      assert.equal(set.TOKEN_BUDGET_PER_DAY, 200_000);
      assert.deepEqual(
        [...set.TOKEN_BUDGETS],
        [
          ['svc-a', 500_000],
          ['svc-b', 0],
        ],
      );
    }
    const worker: Record<string, unknown> = loadConfig(
      { ...only(required.worker), TOKEN_BUDGET_PER_DAY: '5' },
      workerConfigSchema,
    );
    assert.equal('TOKEN_BUDGET_PER_DAY' in worker, false, 'the worker admits nothing');
    for (const [variable, value, message] of [
      ['TOKEN_BUDGET_PER_DAY', '-1', /too small/i],
      ['TOKEN_BUDGET_PER_DAY', '1.5', /expected int/i],
      ['TOKEN_BUDGET_PER_DAY', 'lots', /expected number/i],
      ['TOKEN_BUDGETS', 'svc-a=-5', /"svc-a=-5" is not one \(Too small/],
      ['TOKEN_BUDGETS', 'svc-a=2.5', /"svc-a=2.5" is not one/],
      ['TOKEN_BUDGETS', 'svc-a', /"svc-a" is not one/],
    ] as const) {
      const problems = problemsOf({ ...only(required.api), [variable]: value }, apiConfigSchema);
      assert.match(problems.get(variable) ?? '', message, `${variable}=${value}`);
    }
  });

  it('reads LLM prices over the list prices, for the worker and the API', () => {
    for (const [schema, names] of [
      [workerConfigSchema, required.worker],
      [apiConfigSchema, required.api],
    ] as const) {
      const config = loadConfig(
        {
          ...only(names),
          TOKEN_PRICES_USD_PER_MILLION: 'SmolLM2-135M-Instruct-Q4_1=0/0, house.model-v2 = 0.2/0.8',
        },
        schema,
      );
      assert.deepEqual(
        [...config.TOKEN_PRICES_USD_PER_MILLION],
        [
          ['SmolLM2-135M-Instruct-Q4_1', { prompt: 0, completion: 0 }],
          ['house.model-v2', { prompt: 0.2, completion: 0.8 }],
        ],
      );
      assert.equal(loadConfig(only(names), schema).TOKEN_PRICES_USD_PER_MILLION.size, 0);
    }
    for (const [value, message] of [
      ['my-model=0.2', /"my-model=0.2" is not one/],
      ['my-model=a/b', /"my-model=a\/b" is not one/],
      ['my-model=1/-2', /"my-model=1\/-2" is not one/],
      ['=1/2', /"=1\/2" is not one/],
      ['m=1/2,m=3/4', /m is given twice/],
    ] as const) {
      const problems = problemsOf(
        { ...only(required.worker), TOKEN_PRICES_USD_PER_MILLION: value },
        workerConfigSchema,
      );
      assert.match(problems.get('TOKEN_PRICES_USD_PER_MILLION') ?? '', message, value);
    }
  });

  it('every setting belongs to some process, and the full set is their union', () => {
    const union = new Set(Object.values(schemas).flatMap((s) => Object.keys(s.shape)));
    assert.deepEqual([...union].sort(), Object.keys(configSchema.shape).sort());
  });
});
