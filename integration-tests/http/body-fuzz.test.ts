import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import { workflowIdFor } from '../../src/domain/ids';
import { createApiHarness, type ApiHarness, type ApiErrorBody } from '../support/api-harness';
import { CONTROL_CHARS, LINE_CHARS, insertAt, validFields } from '../support/request-fuzz';
import { uniqueName } from '../../testing/stack-env';

/**
 * Generated bodies for POST /api/workflows/generate-report: a valid body is started (202, or 200
 * for a key that already has it), anything else is a 4xx with the API's JSON error body, and
 * nothing is a 5xx. FUZZ_SEED and FUZZ_REQUESTS replay a run or make it bigger.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20261122);
const numRuns = Number(process.env.FUZZ_REQUESTS ?? 2_000);
const replay = `FUZZ_SEED=${seed} FUZZ_REQUESTS=${numRuns}`;
const PATH = '/api/workflows/generate-report';

/** One request to send and what must come of it. */
interface Case {
  kind: string;
  /** A JSON value to send as JSON, or the raw text of the body. */
  body: { json: unknown } | { raw: string } | { none: true };
  contentType?: string;
  idempotencyKey?: string;
  /** `accept`: 202/200; a list: one of these 4xx; `any`: any 2xx or 4xx. */
  expect: 'accept' | number[] | 'any';
}

type Json = Record<string, unknown>;

interface Started {
  workflowId: string;
  reportId: string;
  idempotencyKey: string;
  created: boolean;
}

function isErrorBody(body: unknown): body is ApiErrorBody {
  const b = body as Partial<ApiErrorBody> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.requestId === 'string' &&
    typeof b.error?.code === 'string' &&
    b.error.code.length > 0 &&
    typeof b.error.message === 'string'
  );
}

describe('fuzzed bodies for POST /api/workflows/generate-report', () => {
  let api: ApiHarness;
  let counter = 0;
  const runId = uniqueName('bf');
  // What HTTP_BODY_LIMIT_BYTES and PROMPT_MAX_CHARS are in the harness's configuration.
  let bodyLimit = 0;
  let promptMax = 0;

  before(async () => {
    // No worker: what is started stays one running workflow to look at, and costs nothing.
    api = await createApiHarness({
      worker: false,
      settings: { HTTP_RATE_LIMIT_PER_MINUTE: 1_000_000 },
    });
    bodyLimit = api.config.HTTP_BODY_LIMIT_BYTES;
    promptMax = api.config.PROMPT_MAX_CHARS;
  });
  after(async () => {
    await api.client.workflowService
      .startBatchOperation({
        namespace: api.config.TEMPORAL_NAMESPACE,
        jobId: uniqueName('body-fuzz-cleanup'),
        reason: 'fuzz test cleanup',
        visibilityQuery: `TaskQueue = '${api.taskQueue}' AND ExecutionStatus = 'Running'`,
        terminationOperation: {},
      })
      .catch(() => undefined);
    await api.close();
  });

  /**
   * A valid body in the API's shape (no nulls, no time of request). Its requester id ends in a
   * number no other body has, so that the body (and the key derived from it) is new to the
   * inbox whatever ran before, even when a case replaces its prompt.
   */
  const validBody = () =>
    validFields({ promptMaxChars: 1000, now: Date.now() }).map((f) => (): Json => {
      const options = Object.fromEntries(Object.entries(f.options).filter(([, v]) => v !== null));
      return {
        prompt: f.prompt,
        // Cut by code points, never inside a surrogate pair, to stay within 200.
        requester: {
          ...f.requester,
          id: `${[...f.requester.id].slice(0, 80).join('')} ${runId}-${++counter}`,
        },
        ...(Object.keys(options).length > 0 ? { options } : {}),
        ...(f.correlationId === null ? {} : { correlationId: f.correlationId }),
      };
    });

  /** Sets `path` (dot-separated) in a copy of `body` to `value`, or removes it. */
  const withField = (body: Json, path: string, value: unknown, remove = false): Json => {
    const copy = structuredClone(body);
    const keys = path.split('.');
    let at: Json = copy;
    for (const key of keys.slice(0, -1)) {
      if (typeof at[key] !== 'object' || at[key] === null) at[key] = {};
      at = at[key] as Json;
    }
    if (remove) delete at[keys.at(-1)!];
    else at[keys.at(-1)!] = value;
    return copy;
  };

  const fields = [
    'prompt',
    'requester',
    'requester.id',
    'requester.email',
    'options',
    'options.model',
    'options.maxTokens',
    'options.language',
    'correlationId',
  ];
  const textFields = [
    'requester.id',
    'requester.email',
    'options.model',
    'options.language',
    'correlationId',
  ];
  const otherTypes = fc.constantFrom<unknown>(
    null,
    true,
    0,
    -1.5,
    'text',
    [],
    [1, 'a'],
    {},
    {
      nested: { deeper: [null] },
    },
  );

  const cases = (): fc.Arbitrary<Case> => {
    const body = validBody();
    const json = (kind: string, expect: Case['expect']) => (b: Json) => ({
      kind,
      body: { json: b },
      expect,
    });
    return fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(body, fc.option(fc.stringMatching(/^[A-Za-z0-9._:@-]{1,60}$/), { nil: undefined }))
          .map(([make, key]) => ({
            kind: 'valid',
            body: { json: make() },
            idempotencyKey: key === undefined ? undefined : `${runId}.${++counter}.${key}`,
            expect: 'accept' as const,
          })),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(body, fc.constantFrom(...fields), otherTypes)
          // A string where a string belongs, or no options at all, would be valid.
          .filter(
            ([, field, value]) =>
              !(
                typeof value === 'string' &&
                field !== 'options.maxTokens' &&
                field !== 'requester' &&
                field !== 'options'
              ) && !(field === 'options' && JSON.stringify(value) === '{}'),
          )
          .map(([make, field, value]) =>
            json(`wrong-type:${field}`, [400])(withField(make(), field, value)),
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(body, fc.constantFrom('prompt', 'requester', 'requester.id', 'requester.email'))
          .map(([make, field]) =>
            json(`missing:${field}`, [400])(withField(make(), field, undefined, true)),
          ),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom(...textFields, 'prompt'),
            fc.constantFrom(...CONTROL_CHARS, ...LINE_CHARS),
            fc.nat(),
          )
          .filter(
            ([, field, c]) =>
              !(field === 'prompt' && (LINE_CHARS as readonly string[]).includes(c)),
          )
          .map(([make, field, c, at]) => {
            const b = make();
            const current = field
              .split('.')
              .reduce<unknown>((v, k) => (v as Json | undefined)?.[k], b);
            const base =
              typeof current === 'string' && current.length > 0
                ? current
                : field === 'requester.email'
                  ? 'a@example.com'
                  : 'en';
            return json(`control-char:${field}`, [400])(withField(b, field, insertAt(base, at, c)));
          }),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom(...textFields, 'prompt'),
            fc.constantFrom('\ud800', '\udfff', 'a\udc00b'),
          )
          .map(([make, field, broken]) =>
            json(
              `lone-surrogate:${field}`,
              [400],
            )(
              withField(
                make(),
                field,
                field === 'requester.email' ? `a${broken}@example.com` : `x${broken}`,
              ),
            ),
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom(
              ['requester.id', 201],
              ['requester.email', 255],
              ['options.model', 101],
              ['options.language', 36],
              ['correlationId', 201],
            ) as fc.Arbitrary<[string, number]>,
            fc.integer({ min: 0, max: 5_000 }),
          )
          .map(([make, [field, min], extra]) => {
            const long = 'a'.repeat(min + extra);
            return json(
              `too-long:${field}`,
              [400],
            )(withField(make(), field, field === 'requester.email' ? `${long}@example.com` : long));
          }),
      },
      {
        weight: 2,
        // At the limit or past it, in characters (code points: an emoji is one), once trimmed.
        arbitrary: fc
          .tuple(
            body,
            fc.integer({ min: -3, max: 1_000 }),
            fc.constantFrom('p', 'é', '😀', '👩‍💻'),
            fc.nat(3),
          )
          .filter(([, , unit, over]) => unit !== '👩‍💻' || over % 3 === 0)
          .map(([make, over, unit, pad]) => {
            const codePoints = [...unit].length;
            const units = Math.floor((promptMax + over) / codePoints);
            const prompt = `${' '.repeat(pad)}${unit.repeat(units)}${'\n'.repeat(pad)}`;
            const b = withField(make(), 'prompt', prompt);
            return units * codePoints > promptMax
              ? json('prompt-too-large', [422])(b)
              : { kind: 'valid:prompt-at-limit', body: { json: b }, expect: 'accept' as const };
          }),
      },
      {
        weight: 1,
        // Variants of the JSON media type, which may or may not be read as JSON, never a 5xx.
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom(
              'application/json; charset=utf-8',
              'Application/JSON',
              'application/json; charset=latin1',
              'application/json;;',
              'application/problem+json',
              'application/json-seq',
            ),
          )
          .map(([make, contentType]) => ({
            kind: 'odd-content-type',
            body: { raw: JSON.stringify(make()) },
            contentType,
            expect: 'any' as const,
          })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(body, fc.integer({ min: 1, max: 200_000 }))
          .map(([make, over]) =>
            json(
              'body-too-large',
              [413],
            )(withField(make(), 'correlationId', 'c'.repeat(bodyLimit + over))),
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom<unknown>(
              '',
              ' ',
              '\n\t',
              '\u00a0\u2003',
              'not-an-email',
              'a@b',
              '@example.com',
              'a@example',
              'a..b@example.com',
              'a@-example.com',
              `${'l'.repeat(65)}@example.com`,
            ),
            fc.constantFrom('prompt', 'requester.email', 'requester.id', 'options.model'),
          )
          .filter(([, value, field]) => field === 'requester.email' || String(value).trim() === '')
          .map(([make, value, field]) =>
            json(`absurd:${field}`, [400])(withField(make(), field, value)),
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom<unknown>(0, -1, 1.5, 128_001, 1e308, -0.5, 2 ** 53, '100', 'NaN'),
          )
          .map(([make, n]) =>
            json('absurd:maxTokens', [400])(withField(make(), 'options.maxTokens', n)),
          ),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom('', 'options.', 'requester.'),
            fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/),
          )
          .filter(
            ([, , name]) =>
              ![
                'prompt',
                'requester',
                'options',
                'correlationId',
                'id',
                'email',
                'model',
                'maxTokens',
                'language',
              ].includes(name),
          )
          .map(([make, where, name]) =>
            json(
              `unknown-field:${where || 'root'}`,
              [400],
            )(withField(make(), `${where}${name}`, 'x')),
          ),
      },
      {
        weight: 3,
        arbitrary: fc
          .oneof(
            fc.constant(null),
            fc.boolean(),
            fc.double(),
            fc.string(),
            fc.array(fc.jsonValue(), { maxLength: 5 }),
          )
          .map((value) => ({ kind: 'not-an-object', body: { json: value }, expect: [400] })),
      },
      {
        weight: 3,
        arbitrary: fc
          .oneof(
            body.chain((make) =>
              fc.nat().map((cut) => {
                const t = JSON.stringify(make());
                return t.slice(0, cut % t.length);
              }),
            ),
            body.map((make) => `${JSON.stringify(make())}}`),
            fc.constantFrom(
              '{',
              '{"prompt":',
              "{'prompt': 'x'}",
              'undefined',
              'NaN',
              '{"a":1,}',
              '\u0000',
              '[1,2',
              '{"prompt":"\\x41"}',
            ),
            // Nested deeper than a parser recurses.
            fc.integer({ min: 1_000, max: 100_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
            fc
              .integer({ min: 1_000, max: Math.floor((bodyLimit - 20) / 6) })
              .map((n) => `{"prompt":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`),
          )
          .map((raw) => ({ kind: 'malformed-json', body: { raw }, expect: [400] })),
      },
      {
        weight: 1,
        arbitrary: fc
          .tuple(body, fc.constantFrom('__proto__', 'constructor'))
          .map(([make, key]) => ({
            kind: `prototype-key:${key}`,
            body: { raw: JSON.stringify(make()).replace(/^\{/, `{"${key}":{"polluted":true},`) },
            expect: [400],
          })),
      },
      {
        weight: 1,
        arbitrary: fc.constant<Case>({
          kind: 'empty-body',
          body: { none: true as const },
          contentType: 'application/json',
          expect: [400],
        }),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            body,
            fc.constantFrom(
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/xml',
              'multipart/form-data; boundary=x',
            ),
          )
          .map(([make, contentType]) => ({
            kind: 'wrong-content-type',
            body: { raw: JSON.stringify(make()) },
            contentType,
            expect: [415],
          })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            body,
            fc.oneof(
              fc.constantFrom('', ' ', 'a b', 'a/b', 'a#b', '%41', '"q"', 'é'),
              fc.integer({ min: 201, max: 1_000 }).map((n) => 'k'.repeat(n)),
            ),
          )
          .map(([make, key]) => ({
            kind: 'bad-idempotency-key',
            body: { json: make() },
            idempotencyKey: key,
            expect: [400],
          })),
      },
      {
        weight: 3,
        arbitrary: fc
          .jsonValue({ maxDepth: 4 })
          .map((value) => ({ kind: 'any-json', body: { json: value }, expect: 'any' as const })),
      },
    );
  };

  async function send(c: Case): Promise<{ status: number; body: unknown; text: string }> {
    const headers: Record<string, string> = {};
    // A raw body is JSON text too, unless the case says otherwise.
    if (c.contentType) headers['content-type'] = c.contentType;
    else if ('raw' in c.body) headers['content-type'] = 'application/json';
    if (c.idempotencyKey !== undefined) headers['idempotency-key'] = c.idempotencyKey;
    const response = await api.call(PATH, {
      method: 'POST',
      headers,
      ...('json' in c.body ? { json: c.body.json } : 'raw' in c.body ? { body: c.body.raw } : {}),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  }

  it(`answers ${numRuns} generated bodies (seed ${seed}) with 2xx for a valid one, a 4xx with a JSON error otherwise, and never a 5xx`, async (t) => {
    t.diagnostic(`seed ${seed}, ${numRuns} bodies; replay with ${replay}`);
    const seen = new Map<string, Map<number, number>>();
    const startedAt = performance.now();
    await fc.assert(
      fc.asyncProperty(cases(), async (c) => {
        const { status, body, text } = await send(c);
        const family = c.kind.split(':')[0]!;
        const byStatus = seen.get(family) ?? new Map<number, number>();
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        seen.set(family, byStatus);
        const said = `${c.kind} answered ${status}: ${text.slice(0, 300)}`;
        assert.ok(status < 500, said);
        if (status < 300) {
          assert.ok(c.expect === 'accept' || c.expect === 'any', `${said}: expected a refusal`);
          const started = body as Started;
          assert.equal(started.workflowId, workflowIdFor(started.idempotencyKey), said);
          if (c.idempotencyKey !== undefined)
            assert.equal(started.idempotencyKey, c.idempotencyKey, said);
          // Every generated body is new, so it is started now, not found.
          assert.equal(status, 202, said);
          assert.equal(started.created, true, said);
          await api.client.workflow.getHandle(started.workflowId).describe();
        } else {
          assert.ok(status >= 400, said);
          assert.ok(isErrorBody(body), `${said}: not the API's error body`);
          assert.notEqual(c.expect, 'accept', said);
          if (Array.isArray(c.expect))
            assert.ok(c.expect.includes(status), `${said}: expected ${c.expect.join(' or ')}`);
        }
      }),
      { seed, numRuns, endOnFailure: true },
    );
    const seconds = (performance.now() - startedAt) / 1000;
    t.diagnostic(
      `${numRuns} bodies in ${seconds.toFixed(1)} s (${Math.round(numRuns / seconds)}/s): ` +
        [...seen]
          .sort()
          .map(([kind, s]) => `${kind} ${[...s].map(([code, n]) => `${code}×${n}`).join('/')}`)
          .join(', '),
    );
  });

  it('starts a valid body once however often, and at once, it is sent with one Idempotency-Key; another body under that key is 409 and starts nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        validBody(),
        fc.stringMatching(/^[A-Za-z0-9._:@-]{1,40}$/),
        fc.integer({ min: 2, max: 6 }),
        fc.boolean(),
        async (make, key, copies, together) => {
          const idempotencyKey = `${runId}.once.${++counter}.${key}`;
          const body = make();
          const c: Case = { kind: 'valid', body: { json: body }, idempotencyKey, expect: 'accept' };
          const answers = together
            ? await Promise.all(Array.from({ length: copies }, () => send(c)))
            : await Array.from({ length: copies }).reduce<
                Promise<Awaited<ReturnType<typeof send>>[]>
              >(async (done) => [...(await done), await send(c)], Promise.resolve([]));
          const said = JSON.stringify(answers.map((a) => `${a.status} ${a.text}`));
          assert.equal(answers.filter((a) => a.status === 202).length, 1, said);
          assert.equal(answers.filter((a) => a.status === 200).length, copies - 1, said);
          const started = answers.map((a) => a.body as Started);
          assert.equal(started.filter((s) => s.created).length, 1, 'created once');
          assert.equal(new Set(started.map((s) => s.workflowId)).size, 1, 'one workflow id');

          const other = await send({
            ...c,
            body: { json: { ...body, prompt: `${String(body.prompt)} (changed)` } },
          });
          assert.equal(other.status, 409, other.text);
          assert.ok(isErrorBody(other.body));
          assert.equal(other.body.error.code, 'IDEMPOTENCY_KEY_CONFLICT');

          const description = await api.client.workflow
            .getHandle(workflowIdFor(idempotencyKey))
            .describe();
          assert.equal(description.status.name, 'RUNNING');
          // One run under the workflow id, once visibility has caught up with the start.
          const query = `WorkflowId = '${workflowIdFor(idempotencyKey)}'`;
          const deadline = Date.now() + 10_000;
          let runs = 0;
          while (runs === 0 && Date.now() < deadline) {
            runs = Number((await api.client.workflow.count(query)).count);
            if (runs === 0) await new Promise((r) => setTimeout(r, 200));
          }
          assert.equal(runs, 1, 'one run');
        },
      ),
      { seed, numRuns: 40, endOnFailure: true },
    );
  });

  it('starts nothing for a refused body under a fresh key', async () => {
    const key = `${runId}.refused`;
    const refused = await send({
      kind: 'invalid',
      body: { json: { prompt: 'x', requester: { id: 'a\u0000', email: 'a@example.com' } } },
      idempotencyKey: key,
      expect: [400],
    });
    assert.equal(refused.status, 400);
    await assert.rejects(
      api.client.workflow.getHandle(workflowIdFor(key)).describe(),
      WorkflowNotFoundError,
    );
  });
});
