import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config';

const valid = {
  TEMPORAL_ADDRESS: 'temporal.internal:7233',
  KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092',
  SCHEMA_REGISTRY_URL: 'http://registry:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://app:secret@db:5432/reports',
  SMTP_URL: 'smtp://mail:25',
  OPENAI_API_KEY: 'sk-test',
};

function problemsOf(env: Record<string, string>): Map<string, string> {
  try {
    loadConfig(env);
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
