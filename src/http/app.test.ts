import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { reportIdsFor, reportIdsOfWorkflow } from '../domain/ids';
import type { ReportStatusView } from '../domain/report-status';
import { MemoryInbox } from '../storage/testing/memory-inbox';
import { MemoryTokenLedger } from '../storage/testing/memory-token-ledger';
import { buildApp, type ApiApp, type ApiDeps } from './app';
import { ApiError } from './errors';

/**
 * The API over fakes, through `app.inject`: no port, no Temporal, no PostgreSQL. What it proves
 * is the HTTP layer's own: status codes, error bodies, headers, and how a start goes through
 * the intake. The real servers' side is in integration-tests/http.
 */

/** The few calls of the Temporal client the API makes, recorded. */
function fakeTemporal() {
  const calls = {
    starts: [] as { workflowId: string; args: unknown[] }[],
    signals: [] as { workflowId: string; args: unknown[] }[],
  };
  const state = { startFails: false, reachable: true };
  const client = {
    workflow: {
      async start(_type: string, options: { workflowId: string; args: unknown[] }) {
        if (state.startFails) throw new Error('14 UNAVAILABLE: connection refused');
        calls.starts.push({ workflowId: options.workflowId, args: options.args });
        return {};
      },
      getHandle(workflowId: string) {
        return {
          async signal(_signal: unknown, ...args: unknown[]) {
            calls.signals.push({ workflowId, args });
          },
        };
      },
    },
    workflowService: {
      async getSystemInfo() {
        if (!state.reachable) throw new Error('14 UNAVAILABLE');
        return {};
      },
    },
  };
  // Only the members above are used by the API; the rest of the client is never reached.
  return { client: client as unknown as Client, calls, state };
}

const running = (workflowId: string): ReportStatusView => ({
  workflowId,
  reportId: reportIdsOfWorkflow(workflowId)!.reportId,
  status: 'RUNNING',
  stage: 'createPdf',
  progress: 0.2,
  stagesCompleted: ['callLlm'],
  timings: { callLlm: { startedAt: '2026-11-23T00:00:00.000Z', attempts: 1 } },
  compensated: [],
  priority: { level: 'INTERACTIVE', key: 1, fairnessKey: 'analyst-7', fairnessWeight: 1 },
  startedAt: '2026-11-23T00:00:00.000Z',
});

const body = (prompt = 'Quarterly revenue of the Nordic region') => ({
  prompt,
  requester: { id: 'analyst-7', email: 'analyst@example.com' },
});

describe('the API over fakes (app.inject)', () => {
  let inbox: MemoryInbox;
  let clock: { now: Date };
  let tokenLedger: MemoryTokenLedger;
  let temporal: ReturnType<typeof fakeTemporal>;
  let reader: ApiDeps['reader'];
  let files: ApiDeps['files'];
  let databaseUp: boolean;
  let apps: ApiApp[] = [];

  const app = async (config: Partial<ApiDeps['config']> = {}): Promise<ApiApp> => {
    const built = await buildApp({
      temporal: temporal.client,
      dataSource: {
        query: async () => {
          if (!databaseUp) throw new Error('connect ECONNREFUSED');
          return [{ '?column?': 1 }];
        },
      } as unknown as DataSource,
      inbox,
      tokenLedger,
      now: () => clock.now,
      files,
      reader,
      metrics: new Registry(),
      logger: pino({ level: 'silent' }),
      config: {
        TEMPORAL_TASK_QUEUE: 'reports',
        FAIRNESS_WEIGHTS: new Map(),
        PROMPT_MAX_CHARS: 200,
        HTTP_BODY_LIMIT_BYTES: 64 * 1024,
        HTTP_RATE_LIMIT_PER_MINUTE: 600,
        HTTP_EVENT_STREAMS_PER_CLIENT: 20,
        API_KEYS: [],
        REVIEW_DECISION_WAIT_MS: 1_000,
        TOKEN_BUDGET_PER_DAY: 0,
        TOKEN_BUDGETS: new Map(),
        ...config,
      },
    });
    apps.push(built);
    return built;
  };

  beforeEach(() => {
    inbox = new MemoryInbox();
    clock = { now: new Date('2026-11-23T22:59:30.000Z') };
    tokenLedger = new MemoryTokenLedger(() => clock.now);
    temporal = fakeTemporal();
    databaseUp = true;
    reader = {
      status: async (id) => running(id),
      result: async () => {
        throw new ApiError(409, 'REPORT_NOT_READY', 'the report is still running', undefined, {
          'retry-after': '2',
        });
      },
      requireRunning: async (id) => {
        const { workflowId, reportId } = reportIdsOfWorkflow(id)!;
        return { workflowId, reportId };
      },
      list: async () => ({ reports: [] }),
      pendingReviews: async () => ({ reviews: [] }),
    };
    files = { find: async () => undefined };
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
  });

  const start = (api: ApiApp, payload: unknown, key?: string) =>
    api.inject({
      method: 'POST',
      url: '/api/workflows/generate-report',
      headers: key ? { 'idempotency-key': key } : {},
      payload: payload as object,
    });

  it('starts a keyed request once: 202 with its ids and links, then 200 for the same request', async () => {
    const api = await app();
    const first = await start(api, body(), 'order-1');
    assert.equal(first.statusCode, 202);
    const ids = reportIdsFor('order-1');
    const started = first.json<{ workflowId: string; reportId: string; created: boolean }>();
    assert.deepEqual(
      { workflowId: started.workflowId, reportId: started.reportId, created: started.created },
      { workflowId: ids.workflowId, reportId: ids.reportId, created: true },
    );
    assert.equal(first.headers.location, `/api/workflows/${ids.workflowId}/status`);
    assert.equal(temporal.calls.starts.length, 1);
    const [request] = temporal.calls.starts[0]!.args as { reportId: string; source: string }[];
    assert.equal(request?.reportId, ids.reportId);
    assert.equal(request?.source, 'http');

    // A copy asks Temporal again (the start policy returns the same workflow) and is a 200.
    await waitFor(() => inbox.rows.get('order-1')?.started === true);
    const again = await start(api, body(), 'order-1');
    assert.equal(again.statusCode, 200);
    assert.equal(again.json<{ created: boolean }>().created, false);
    assert.deepEqual(
      temporal.calls.starts.map((s) => s.workflowId),
      [ids.workflowId, ids.workflowId],
    );
  });

  it('keys a request without Idempotency-Key by its body', async () => {
    const api = await app();
    const first = await start(api, body());
    const second = await start(api, body());
    const other = await start(api, body('Another prompt entirely'));
    const id = (r: typeof first) => r.json<{ workflowId: string }>().workflowId;
    assert.equal(first.statusCode, 202);
    assert.equal(second.statusCode, 200);
    assert.equal(id(first), id(second));
    assert.match(id(first), /^report-http-[0-9a-f]{40}$/);
    assert.notEqual(id(other), id(first));
  });

  it('refuses a key first used for another body with 409 and starts nothing', async () => {
    const api = await app();
    await start(api, body(), 'order-2');
    const conflict = await start(api, body('A different prompt'), 'order-2');
    assert.equal(conflict.statusCode, 409);
    const error = conflict.json<{ error: { code: string; details: { workflowId: string } } }>()
      .error;
    assert.equal(error.code, 'IDEMPOTENCY_KEY_CONFLICT');
    assert.equal(error.details.workflowId, 'report-order-2');
    assert.equal(temporal.calls.starts.length, 1);
  });

  it('answers a bad body 400, a prompt over the limit 422, and starts nothing', async () => {
    const api = await app({ PROMPT_MAX_CHARS: 10 });
    const missing = await start(api, { prompt: 'x' }, 'bad-1');
    assert.equal(missing.statusCode, 400);
    const unknownField = await start(api, { ...body('short'), maxToken: 5 }, 'bad-2');
    assert.equal(unknownField.statusCode, 400);
    assert.match(unknownField.body, /maxToken/);
    const long = await start(api, body('twelve chars'), 'bad-3');
    assert.equal(long.statusCode, 422);
    assert.equal(long.json<{ error: { code: string } }>().error.code, 'PROMPT_TOO_LARGE');
    assert.equal(temporal.calls.starts.length, 0);
    assert.equal(inbox.rows.size, 0);
  });

  it('answers 503 naming the dependency that is down, with Retry-After', async () => {
    const api = await app();
    inbox.down = true;
    const noDatabase = await start(api, body(), 'down-1');
    assert.equal(noDatabase.statusCode, 503);
    assert.equal(noDatabase.headers['retry-after'], '5');
    assert.match(noDatabase.json<{ error: { message: string } }>().error.message, /PostgreSQL/);

    inbox.down = false;
    temporal.state.startFails = true;
    const noTemporal = await start(api, body(), 'down-2');
    assert.equal(noTemporal.statusCode, 503);
    assert.match(noTemporal.json<{ error: { message: string } }>().error.message, /Temporal/);

    // The retry the answer asks for goes through once Temporal is back.
    temporal.state.startFails = false;
    const retried = await start(api, body(), 'down-2');
    assert.equal(retried.statusCode, 200);
    assert.deepEqual(
      temporal.calls.starts.map((s) => s.workflowId),
      ['report-down-2'],
    );
  });

  it('refuses a requester over its token budget with 429, Retry-After until 00:00 UTC, and starts nothing', async () => {
    const api = await app({ TOKEN_BUDGET_PER_DAY: 1000 });
    await tokenLedger.record({
      callId: 'run-1/1/1',
      reportId: reportIdsFor('spent').reportId,
      requesterId: 'analyst-7',
      model: 'gpt-4o-mini',
      promptTokens: 700,
      completionTokens: 450,
    });
    const refused = await start(api, body(), 'over-1');
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], String(60 * 60 + 30), 'until 00:00 UTC');
    const error = refused.json<{
      error: { code: string; message: string; details: Record<string, unknown> };
    }>().error;
    assert.equal(error.code, 'BUDGET_EXCEEDED');
    assert.deepEqual(error.details, {
      requesterId: 'analyst-7',
      used: 1150,
      budget: 1000,
      resetsAt: '2026-11-24T00:00:00.000Z',
    });
    assert.match(error.message, /analyst-7 has used 1150 of its 1000 LLM tokens/);
    assert.match(error.message, /resets at 2026-11-24T00:00:00.000Z/);
    assert.equal(temporal.calls.starts.length, 0, 'nothing started');

    // Another requester is not held to analyst-7's spending.
    const other = await start(
      api,
      { ...body(), requester: { id: 'analyst-8', email: 'a8@example.com' } },
      'over-2',
    );
    assert.equal(other.statusCode, 202);

    // The next UTC day, the same request is started. The inbox kept it when it was refused, so
    // it reads as a copy of a request never started (as one whose start was lost would): 200.
    clock.now = new Date('2026-11-24T00:00:01.000Z');
    const tomorrow = await start(api, body(), 'over-1');
    assert.equal(tomorrow.statusCode, 200);
    assert.deepEqual(
      temporal.calls.starts.map((s) => s.workflowId),
      ['report-over-2', 'report-over-1'],
    );
  });

  it("passes the reader's answers and errors through as they are", async () => {
    const api = await app();
    const status = await api.inject({ url: '/api/workflows/report-order-3/status' });
    assert.equal(status.statusCode, 200);
    assert.equal(status.json<ReportStatusView>().stage, 'createPdf');

    const result = await api.inject({ url: '/api/workflows/report-order-3/result' });
    assert.equal(result.statusCode, 409);
    assert.equal(result.headers['retry-after'], '2');

    reader.status = async (id) => {
      throw new ApiError(404, 'WORKFLOW_NOT_FOUND', `no report workflow with id ${id}`);
    };
    const missing = await api.inject({ url: '/api/workflows/report-nobody/status' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'WORKFLOW_NOT_FOUND');

    const badId = await api.inject({ url: '/api/workflows/not-a-report/status' });
    assert.equal(badId.statusCode, 400);

    // The longest key's workflow id reached the router's 100-character limit and got a 414.
    reader.status = async (id) => running(id);
    const longest = await api.inject({ url: `/api/workflows/report-${'k'.repeat(200)}/status` });
    assert.equal(longest.statusCode, 200);
    const tooLong = await api.inject({ url: `/api/workflows/report-${'é'.repeat(600)}/events` });
    assert.equal(tooLong.statusCode, 400);
    assert.equal(tooLong.json<{ error: { code: string } }>().error.code, 'VALIDATION_FAILED');
  });

  it('cancels a running report by signal and answers 202 CANCELLING', async () => {
    const api = await app();
    const cancel = await api.inject({
      method: 'POST',
      url: '/api/workflows/report-order-4/cancel',
    });
    assert.equal(cancel.statusCode, 202);
    assert.equal(cancel.json<{ status: string }>().status, 'CANCELLING');
    assert.equal(temporal.calls.signals.length, 1);
    assert.equal(temporal.calls.signals[0]!.workflowId, 'report-order-4');
    assert.match(String(temporal.calls.signals[0]!.args[0]), /cancelled through the API/);
  });

  it('serves a stored PDF with its type and ETag, and 404 when there is none', async () => {
    const api = await app();
    const reportId = reportIdsFor('order-5').reportId;
    const none = await api.inject({ url: `/api/reports/${reportId}/pdf` });
    assert.equal(none.statusCode, 404);
    assert.equal(none.json<{ error: { code: string } }>().error.code, 'PDF_NOT_FOUND');

    const data = Buffer.from('%PDF-1.7 fake');
    files = {
      find: async () => ({
        data,
        contentType: 'application/pdf',
        meta: {},
        ref: { reportId, kind: 'pdf', bytes: data.length, sha256: 'ab12' },
      }),
    };
    const served = await (await app()).inject({ url: `/api/reports/${reportId}/pdf` });
    assert.equal(served.statusCode, 200);
    assert.equal(served.headers['content-type'], 'application/pdf');
    assert.equal(served.headers.etag, '"ab12"');
    assert.deepEqual(served.rawPayload, data);
  });

  it('requires an API key on /api when keys are set, never on the probes', async () => {
    const api = await app({ API_KEYS: ['k-123'] });
    const without = await api.inject({ url: '/api/workflows/report-a/status' });
    assert.equal(without.statusCode, 401);
    assert.match(String(without.headers['www-authenticate']), /^Bearer/);
    const wrong = await api.inject({
      url: '/api/workflows/report-a/status',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.statusCode, 401);
    const right = await api.inject({
      url: '/api/workflows/report-a/status',
      headers: { authorization: 'Bearer k-123' },
    });
    assert.equal(right.statusCode, 200);
    assert.equal((await api.inject({ url: '/health' })).statusCode, 200);
  });

  it('answers an undeclared method 405 with Allow, and an unknown path 404', async () => {
    const api = await app();
    const wrongMethod = await api.inject({
      method: 'DELETE',
      url: '/api/workflows/generate-report',
    });
    assert.equal(wrongMethod.statusCode, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    const nowhere = await api.inject({ url: '/api/nowhere' });
    assert.equal(nowhere.statusCode, 404);
  });

  it('is ready only while Temporal and PostgreSQL both answer', async () => {
    const api = await app();
    assert.equal((await api.inject({ url: '/ready' })).statusCode, 200);
    databaseUp = false;
    const unready = await api.inject({ url: '/ready' });
    assert.equal(unready.statusCode, 503);
    assert.equal(
      unready.json<{ checks: { postgres: { ok: boolean } } }>().checks.postgres.ok,
      false,
    );
    databaseUp = true;
    temporal.state.reachable = false;
    assert.equal((await api.inject({ url: '/ready' })).statusCode, 503);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
