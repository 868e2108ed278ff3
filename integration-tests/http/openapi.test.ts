import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020';
import { reportIdFor } from '../../src/domain/ids';
import { TokenLedger } from '../../src/storage/token-ledger';
import { createApiHarness, startApi, waitForEnd, type ApiHarness } from '../support/api-harness';
import { uniqueName } from '../../testing/stack-env';

interface Operation {
  responses: Record<
    string,
    { description?: string; headers?: unknown; content?: Record<string, { schema?: unknown }> }
  >;
  requestBody?: unknown;
}
type Spec = { paths: Record<string, Record<string, Operation>>; components?: unknown };

describe('OpenAPI document', () => {
  let api: ApiHarness;
  let spec: Spec;
  let completed: { workflowId: string; reportId: string };
  before(async () => {
    api = await createApiHarness();
    const response = await api.call('/openapi.json');
    assert.equal(response.status, 200);
    spec = (await response.json()) as Spec;
    const started = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': uniqueName('openapi') },
      json: { prompt: 'Tidal energy', requester: { id: 'docs', email: 'docs@example.com' } },
    });
    completed = (await started.json()) as typeof completed;
    await waitForEnd(api, `/api/workflows/${completed.workflowId}/status`);
  });
  after(() => api.close());

  it('is a valid OpenAPI 3.1 document, served with a docs page', async () => {
    const validator = new Validator();
    const result = await validator.validate(spec);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
    const docs = await api.call('/docs');
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger-ui/i);
  });

  it('documents every API route, and each answers with a documented status and body', async () => {
    const documented = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ path, method, op })),
    );
    const names = documented.map((d) => `${d.method.toUpperCase()} ${d.path}`).sort();
    for (const route of [
      'POST /api/workflows/generate-report',
      'GET /api/workflows/{id}/status',
      'GET /api/workflows/{id}/result',
      'GET /api/workflows/{id}/events',
      'POST /api/workflows/{id}/cancel',
      'GET /api/reports',
      'GET /api/reports/{id}/pdf',
      'GET /health',
      'GET /ready',
      'GET /metrics',
    ])
      assert.ok(names.includes(route), `${route} is documented; found ${names.join(', ')}`);

    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ $id: 'doc', components: spec.components });
    for (const { path, method, op } of documented) {
      const url = path
        .replace('/api/workflows/{id}', `/api/workflows/${completed.workflowId}`)
        .replace('/api/reports/{id}', `/api/reports/${completed.reportId}`);
      const response = await api.call(url, {
        method: method.toUpperCase(),
        ...(op.requestBody
          ? {
              headers: { 'idempotency-key': uniqueName('doc') },
              json: {
                prompt: 'Offshore wind',
                requester: { id: 'docs', email: 'docs@example.com' },
                options: { language: 'en' },
              },
            }
          : {}),
      });
      const where = `${method.toUpperCase()} ${url} -> ${response.status}`;
      const documentedResponse = op.responses[String(response.status)];
      assert.ok(documentedResponse, `${where} is a documented status`);
      const contentTypes = Object.keys(documentedResponse.content ?? {});
      const got = (response.headers.get('content-type') ?? '').split(';')[0]!;
      assert.ok(
        contentTypes.length === 0 || contentTypes.includes(got),
        `${where}: content type ${got} is one of ${contentTypes.join(', ')}`,
      );
      if (got === 'application/json') {
        const schema = documentedResponse.content?.[got]?.schema;
        assert.ok(schema, `${where} has a schema`);
        const check = ajv.compile(
          JSON.parse(
            JSON.stringify(schema).replaceAll('"#/components', '"doc#/components'),
          ) as object,
        );
        const body: unknown = await response.json();
        assert.ok(check(body), `${where}: ${ajv.errorsText(check.errors)}`);
        // A report the walk started is seen to its end, not left to a worker that is going away.
        const started = body as { links?: { status?: string } };
        if (response.status === 202 && started.links?.status)
          await waitForEnd(api, started.links.status);
      } else {
        await response.arrayBuffer();
      }
    }
  });

  it('documents the 429 of a start refused for a spent token budget, with Retry-After, and its body fits', async () => {
    const start = spec.paths['/api/workflows/generate-report']?.post;
    const documented = start?.responses['429'];
    assert.match(documented?.description ?? '', /BUDGET_EXCEEDED/);
    assert.deepEqual(Object.keys(documented?.headers ?? {}), ['Retry-After']);

    const requesterId = uniqueName('docs-budget');
    await new TokenLedger(api.dataSource).record({
      callId: `${uniqueName('spent')}/1/1`,
      reportId: reportIdFor(uniqueName('spent')),
      requesterId,
      model: 'gpt-4o-mini',
      promptTokens: 10,
      completionTokens: 5,
    });
    const budgeted = await startApi(api, {
      settings: { TOKEN_BUDGETS: new Map([[requesterId, 10]]) },
    });
    try {
      const refused = await budgeted.call('/api/workflows/generate-report', {
        method: 'POST',
        headers: { 'idempotency-key': uniqueName('doc-budget') },
        json: { prompt: 'Wave power', requester: { id: requesterId, email: 'docs@example.com' } },
      });
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      const ajv = new Ajv2020({ strict: false, validateFormats: false });
      ajv.addSchema({ $id: 'doc', components: spec.components });
      const check = ajv.compile(
        JSON.parse(
          JSON.stringify(documented?.content?.['application/json']?.schema).replaceAll(
            '"#/components',
            '"doc#/components',
          ),
        ) as object,
      );
      const body = (await refused.json()) as { error: { code: string } };
      assert.ok(check(body), ajv.errorsText(check.errors));
      assert.equal(body.error.code, 'BUDGET_EXCEEDED');
    } finally {
      await budgeted.close();
    }
  });
});
