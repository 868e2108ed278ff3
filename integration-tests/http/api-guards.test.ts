import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Registry } from 'prom-client';
import { workflowIdFor } from '../../src/domain/ids';
import { createDataSource } from '../../src/entities/data-source';
import { buildApp, type ApiDeps } from '../../src/http/app';
import { ReportReader } from '../../src/http/report-reader';
import { Inbox } from '../../src/storage/inbox';
import { ReportFileStore } from '../../src/storage/report-file-store';
import { TokenLedger } from '../../src/storage/token-ledger';
import { createApiHarness, type ApiHarness } from '../support/api-harness';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { uniqueName } from '../../testing/stack-env';

const API_KEY = 'test-key-0123456789abcdef';

describe('API key authentication', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness({ apiKeys: [API_KEY], worker: false });
  });
  after(() => api.close());

  it('refuses /api routes without the right bearer key, and lets probes and the page through', async () => {
    const path = `/api/workflows/${workflowIdFor(uniqueName('auth'))}/status`;
    for (const [name, authorization] of [
      ['missing', undefined],
      ['wrong key', 'Bearer not-the-right-key-at-all'],
      ['wrong scheme', `Basic ${API_KEY}`],
    ] as const) {
      const response = await api.call(path, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 401, name);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/, name);
      const body = (await response.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'UNAUTHORIZED', name);
    }
    const post = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      json: { prompt: 'x', requester: { id: 'a', email: 'a@example.com' } },
    });
    assert.equal(post.status, 401, 'a POST without a key starts nothing');

    const allowed = await api.call(path, { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal(allowed.status, 404, 'past authentication: an unknown workflow');

    for (const open of ['/health', '/metrics', '/', '/openapi.json']) {
      assert.equal((await api.call(open)).status, 200, open);
    }
    const spec = (await (await api.call('/openapi.json')).json()) as { security?: unknown };
    assert.deepEqual(spec.security, [{ bearer: [] }], 'the document says a key is needed');
  });
});

describe('errors and request ids', () => {
  let h: ReportHarness;
  before(async () => {
    h = await createReportHarness();
  });
  after(() => h.close());

  function deps(overrides: Partial<ApiDeps>): ApiDeps {
    return {
      temporal: h.client,
      dataSource: h.dataSource,
      inbox: new Inbox(h.dataSource),
      tokenLedger: new TokenLedger(h.dataSource),
      files: new ReportFileStore(h.dataSource),
      reader: new ReportReader(h.client, h.dataSource),
      metrics: new Registry(),
      logger: pino({ level: 'silent' }),
      config: { ...h.config, API_KEYS: [] },
      ...overrides,
    };
  }

  it('answers a 5xx with a code and the request id, and never the failure’s details', async () => {
    class BrokenReader extends ReportReader {
      override async status(): Promise<never> {
        throw new Error('connection to db-internal.corp:5432 failed for user "report"');
      }
    }
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const app = await buildApp(
      deps({
        reader: new BrokenReader(h.client, h.dataSource),
        logger: pino({ level: 'info' }, sink),
      }),
    );
    const response = await app.inject({
      url: `/api/workflows/${workflowIdFor('any')}/status`,
      headers: { 'x-request-id': 'trace-5xx-1' },
    });
    await app.close();
    assert.equal(response.statusCode, 500);
    assert.equal(response.headers['x-request-id'], 'trace-5xx-1');
    const body = response.json<{ error: { code: string; message: string }; requestId: string }>();
    assert.equal(body.error.code, 'INTERNAL_ERROR');
    assert.equal(body.requestId, 'trace-5xx-1');
    assert.doesNotMatch(response.body, /db-internal|5432|report"/, 'no details leak');
    const logged = lines.find((l) => l.msg === 'request failed');
    assert.ok(logged, 'the failure is logged');
    assert.equal(logged.requestId, 'trace-5xx-1', 'with the same request id');
    assert.match(JSON.stringify(logged.err), /db-internal/, 'the details go to the log');
  });

  it('makes up a request id when the caller sends none or an unusable one', async () => {
    const app = await buildApp(deps({}));
    const plain = await app.inject({ url: '/health' });
    const hostile = await app.inject({
      url: '/health',
      headers: { 'x-request-id': 'bad id\nwith newline and more' },
    });
    await app.close();
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.match(String(plain.headers['x-request-id']), uuid);
    assert.match(String(hostile.headers['x-request-id']), uuid);
  });

  it('closes open event streams on shutdown instead of waiting for their reports', async () => {
    await h.startWorker();
    const request = h.request();
    const workflowId = workflowIdFor(request.idempotencyKey);
    await h.llm.push({
      behaviour: { mode: 'hang' },
      times: 1,
      idempotencyKey: `${workflowId}:callLlm`,
    });
    const { handle } = await h.start(request);
    const app = await buildApp(deps({}));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as AddressInfo;
    const response = await fetch(
      `http://127.0.0.1:${address.port}/api/workflows/${workflowId}/events`,
    );
    assert.equal(response.status, 200);
    const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^event: progress/);

    const started = Date.now();
    await app.close();
    const closedInMs = Date.now() - started;
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.ok(closedInMs < 3_000, `closed in ${closedInMs} ms`);
    assert.doesNotMatch(rest, /event: end/, 'no end event: the client knows to reconnect');
    await handle.cancel();
    assert.equal((await handle.result()).status, 'CANCELLED');
  });

  it('reports unready with the failing check when PostgreSQL cannot be reached', async () => {
    const unreachable = createDataSource({
      ...h.config,
      DATABASE_URL: 'postgres://report:report@127.0.0.1:9/report_pipeline',
    });
    const app = await buildApp(deps({ dataSource: unreachable }));
    const response = await app.inject({ url: '/ready' });
    await app.close();
    assert.equal(response.statusCode, 503);
    const body = response.json<{ status: string; checks: Record<string, { ok: boolean }> }>();
    assert.equal(body.status, 'unready');
    assert.equal(body.checks.postgres?.ok, false);
    assert.equal(body.checks.temporal?.ok, true);
  });
});
