import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { InboxEntry } from '../../src/entities/inbox-entry';
import { pdfText } from '../support/report-assertions';
import {
  createApiHarness,
  waitForEnd,
  type ApiHarness,
  type ApiErrorBody,
} from '../support/api-harness';
import { uniqueName } from '../../testing/stack-env';

interface Started {
  workflowId: string;
  reportId: string;
  idempotencyKey: string;
  created: boolean;
  links: { status: string; result: string; events: string; cancel: string; pdf: string };
}

const llmKey = (workflowId: string): string => `${workflowId}:callLlm`;

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const id = uniqueName('req');
  return {
    prompt: `Heat pumps in cold climates (${id})`,
    requester: { id: 'team-http', email: `${id}@example.com` },
    options: { language: 'en' },
    ...overrides,
  };
}

/** Reads a server-sent event stream to its end. */
async function readEvents(response: Response): Promise<{ event: string; data: unknown }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [eventLine, dataLine] = block.split('\n');
      return {
        event: eventLine!.slice('event: '.length),
        data: JSON.parse(dataLine!.slice('data: '.length)) as unknown,
      };
    });
}

describe('HTTP API over the real stack', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness();
  });
  after(() => api.close());

  /** Asserts nothing was recorded or started for a key that a refused request carried. */
  async function assertNothingStarted(key: string): Promise<void> {
    const inbox = await api.dataSource.getRepository(InboxEntry).countBy({ idempotencyKey: key });
    assert.equal(inbox, 0, 'no inbox row');
    await assert.rejects(
      api.client.workflow.getHandle(workflowIdFor(key)).describe(),
      WorkflowNotFoundError,
    );
  }

  it('starts a report with 202 at once, then serves its status, result and PDF', async () => {
    const key = uniqueName('happy');
    const response = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': key, 'x-request-id': `test-${key}` },
      json: body(),
    });
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('x-request-id'), `test-${key}`);
    const started = (await response.json()) as Started;
    assert.equal(started.workflowId, workflowIdFor(key));
    assert.equal(started.reportId, reportIdFor(key));
    assert.equal(started.created, true);
    assert.equal(response.headers.get('location'), started.links.status);

    const final = await waitForEnd(api, started.links.status);
    assert.equal(final.status, 'COMPLETED');
    assert.equal(final.progress, 1);
    assert.deepEqual(final.stagesCompleted, [
      'callLlm',
      'createPdf',
      'storeReportMetadata',
      'sendNotification',
      'publish',
    ]);
    assert.equal((final.timings as Record<string, { attempts: number }>).callLlm?.attempts, 1);

    const result = await api.call(started.links.result);
    assert.equal(result.status, 200);
    const resultBody = (await result.json()) as {
      status: string;
      title: string;
      usage: { promptTokens: number; completionTokens: number };
      pdf: { url: string; bytes: number; pages: number };
    };
    assert.equal(resultBody.status, 'COMPLETED');
    assert.ok(resultBody.title.length > 0);
    assert.ok(resultBody.usage.completionTokens > 0);
    assert.equal(resultBody.pdf.url, `/api/reports/${started.reportId}/pdf`);

    const pdf = await api.call(resultBody.pdf.url);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers.get('content-type'), 'application/pdf');
    assert.match(
      pdf.headers.get('content-disposition') ?? '',
      new RegExp(`^attachment; filename="report-${started.reportId}\\.pdf"$`),
    );
    const bytes = Buffer.from(await pdf.arrayBuffer());
    assert.equal(bytes.length, resultBody.pdf.bytes);
    assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
    assert.equal((await pdfText(bytes)).pages, resultBody.pdf.pages);
  });

  it('50 concurrent POSTs with one key start one workflow; another body with that key is 409', async () => {
    const key = uniqueName('burst');
    const request = body();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        api.call('/api/workflows/generate-report', {
          method: 'POST',
          headers: { 'idempotency-key': key },
          json: request,
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 202).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 200).length, 49);
    const ids = new Set(
      await Promise.all(responses.map(async (r) => ((await r.json()) as Started).workflowId)),
    );
    assert.deepEqual([...ids], [workflowIdFor(key)]);

    await waitForEnd(api, `/api/workflows/${workflowIdFor(key)}/status`);
    const runs = [];
    for await (const run of api.client.workflow.list({ query: `IdempotencyKey = '${key}'` }))
      runs.push(run.runId);
    assert.equal(runs.length, 1, 'one workflow execution');
    assert.equal(await api.llm.countFor(llmKey(workflowIdFor(key))), 1, 'one LLM call');

    const conflict = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': key },
      json: { ...request, prompt: 'Something else entirely' },
    });
    assert.equal(conflict.status, 409);
    assert.equal(((await conflict.json()) as ApiErrorBody).error.code, 'IDEMPOTENCY_KEY_CONFLICT');
    const after = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': key },
      json: request,
    });
    assert.equal(after.status, 200, 'the same body after completion returns the same workflow');
    assert.equal(await api.llm.countFor(llmKey(workflowIdFor(key))), 1, 'still one LLM call');
  });

  it('derives the key from the body when no Idempotency-Key is sent', async () => {
    const request = body();
    const first = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      json: request,
    });
    const second = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      json: request,
    });
    assert.equal(first.status, 202);
    assert.equal(second.status, 200);
    const [a, b] = [(await first.json()) as Started, (await second.json()) as Started];
    assert.equal(a.workflowId, b.workflowId);
    assert.match(a.idempotencyKey, /^http-[0-9a-f]{40}$/);
    await waitForEnd(api, a.links.status);
  });

  it('refuses bad requests with the documented status and code, and starts nothing', async () => {
    const post = (key: string, init: RequestInit & { json?: unknown }) =>
      api.call('/api/workflows/generate-report', {
        method: 'POST',
        ...init,
        headers: { 'idempotency-key': key, ...init.headers },
      });
    const cases: {
      name: string;
      send: (key: string) => Promise<Response>;
      status: number;
      code: string;
      message?: RegExp;
    }[] = [
      {
        name: 'malformed JSON',
        send: (key) =>
          post(key, { headers: { 'content-type': 'application/json' }, body: '{"prompt": ' }),
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'missing prompt',
        send: (key) => post(key, { json: { requester: { id: 'a', email: 'a@example.com' } } }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /prompt/,
      },
      {
        name: 'blank prompt',
        send: (key) => post(key, { json: body({ prompt: '   ' }) }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /prompt: must not be empty/,
      },
      {
        name: 'prompt of white space that a regex engine may not call white space',
        send: (key) => post(key, { json: body({ prompt: '\ufeff\u2028 \u3000' }) }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /prompt: must not be empty/,
      },
      {
        name: 'a field the API does not know',
        send: (key) => post(key, { json: body({ options: { maxToken: 100 } }) }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /maxToken/,
      },
      {
        name: 'an address no SMTP server takes (65 characters before the @)',
        send: (key) =>
          post(key, {
            json: body({ requester: { id: 'a', email: `${'a'.repeat(65)}@example.com` } }),
          }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /requester\/email/,
      },
      {
        name: 'oversized prompt',
        send: (key) =>
          post(key, { json: body({ prompt: 'x'.repeat(api.config.PROMPT_MAX_CHARS + 1) }) }),
        status: 422,
        code: 'PROMPT_TOO_LARGE',
      },
      {
        name: 'bad email',
        send: (key) => post(key, { json: body({ requester: { id: 'a', email: 'not-an-email' } }) }),
        status: 400,
        code: 'VALIDATION_FAILED',
        message: /requester\/email/,
      },
      {
        name: 'wrong content type',
        send: (key) =>
          post(key, { headers: { 'content-type': 'text/plain' }, body: 'write me a report' }),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'body over the limit',
        send: (key) =>
          post(key, {
            json: body({ prompt: 'y'.repeat(api.config.HTTP_BODY_LIMIT_BYTES + 1) }),
          }),
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      },
    ];
    for (const c of cases) {
      const key = uniqueName('bad');
      const response = await c.send(key);
      assert.equal(response.status, c.status, c.name);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/, c.name);
      const error = (await response.json()) as ApiErrorBody;
      assert.equal(error.error.code, c.code, c.name);
      if (c.message) assert.match(error.error.message, c.message, c.name);
      assert.equal(error.requestId, response.headers.get('x-request-id'), c.name);
      await assertNothingStarted(key);
    }

    const badKey = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': 'has spaces/and slashes' },
      json: body(),
    });
    assert.equal(badKey.status, 400);
    assert.equal(((await badKey.json()) as ApiErrorBody).error.code, 'VALIDATION_FAILED');
  });

  it('answers unknown and malformed ids and routes with a clear 4xx', async () => {
    const unknown = `report-${uniqueName('nobody')}`;
    const expectations: [string, string, number, string][] = [
      ['GET', `/api/workflows/${unknown}/status`, 404, 'WORKFLOW_NOT_FOUND'],
      ['GET', `/api/workflows/${unknown}/result`, 404, 'WORKFLOW_NOT_FOUND'],
      ['GET', `/api/workflows/${unknown}/events`, 404, 'WORKFLOW_NOT_FOUND'],
      ['POST', `/api/workflows/${unknown}/cancel`, 404, 'WORKFLOW_NOT_FOUND'],
      ['GET', `/api/reports/${reportIdFor(uniqueName('nobody'))}/pdf`, 404, 'PDF_NOT_FOUND'],
      ['GET', '/api/workflows/not-a-report-id/status', 400, 'VALIDATION_FAILED'],
      ['GET', '/api/reports/not-a-uuid/pdf', 400, 'VALIDATION_FAILED'],
      ['GET', '/api/reports?status=LOST', 400, 'VALIDATION_FAILED'],
      ['GET', '/api/reports?limit=1000', 400, 'VALIDATION_FAILED'],
      ['GET', '/api/nothing-here', 404, 'NOT_FOUND'],
    ];
    for (const [method, path, status, code] of expectations) {
      const response = await api.call(path, { method });
      assert.equal(response.status, status, `${method} ${path}`);
      assert.equal(((await response.json()) as ApiErrorBody).error.code, code, `${method} ${path}`);
    }
  });

  it('answers 409 for a result still running, cancels it, and then refuses a second cancel', async () => {
    const key = uniqueName('cancel');
    await api.llm.push({
      behaviour: { mode: 'hang' },
      times: 1,
      idempotencyKey: llmKey(workflowIdFor(key)),
    });
    const response = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': key },
      json: body(),
    });
    const started = (await response.json()) as Started;
    const deadline = Date.now() + 20_000;
    while ((await api.llm.countFor(llmKey(started.workflowId))) === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));

    const early = await api.call(started.links.result);
    assert.equal(early.status, 409);
    assert.equal(early.headers.get('retry-after'), '2');
    assert.equal(((await early.json()) as ApiErrorBody).error.code, 'REPORT_NOT_READY');

    const running = (await (await api.call(started.links.status)).json()) as {
      status: string;
      stage: string;
      current?: { activity: string; attempt: number };
    };
    assert.equal(running.status, 'RUNNING');
    assert.equal(running.stage, 'callLlm');
    assert.equal(running.current?.activity, 'callLlm');

    const cancel = await api.call(started.links.cancel, { method: 'POST' });
    assert.equal(cancel.status, 202);
    const final = await waitForEnd(api, started.links.status);
    assert.equal(final.status, 'CANCELLED');
    // Regression: status said CANCELLED while compensations and the announcement still ran.
    const execution = await api.client.workflow.getHandle(started.workflowId).describe();
    assert.notEqual(execution.status.name, 'RUNNING', 'an ended report is a closed workflow');
    assert.equal((final.failure as { stage: string }).stage, 'callLlm');

    const result = await api.call(started.links.result);
    assert.equal(result.status, 200);
    const resultBody = (await result.json()) as { status: string; pdf?: unknown };
    assert.equal(resultBody.status, 'CANCELLED');
    assert.equal(resultBody.pdf, undefined);

    const again = await api.call(started.links.cancel, { method: 'POST' });
    assert.equal(again.status, 409);
    const ended = (await again.json()) as ApiErrorBody;
    assert.equal(ended.error.code, 'REPORT_ALREADY_ENDED');
    assert.deepEqual(
      ended.error.details,
      { status: 'CANCELLED' },
      'how the report ended, not the run',
    );
  });

  it('streams progress as server-sent events until the report ends', async () => {
    const key = uniqueName('sse');
    await api.llm.push({
      behaviour: { mode: 'ok', latencyMs: 1500 },
      times: 1,
      idempotencyKey: llmKey(workflowIdFor(key)),
    });
    const started = (await (
      await api.call('/api/workflows/generate-report', {
        method: 'POST',
        headers: { 'idempotency-key': key },
        json: body(),
      })
    ).json()) as Started;
    const stream = await api.call(started.links.events);
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const events = await readEvents(stream);
    const progress = events.filter((e) => e.event === 'progress');
    assert.ok(progress.length >= 2, `progress events: ${progress.length}`);
    assert.equal((progress[0]!.data as { status: string }).status, 'RUNNING');
    const last = events.at(-1)!;
    assert.equal(last.event, 'end');
    assert.equal((last.data as { status: string }).status, 'COMPLETED');
    // A person's run: ahead of every Kafka request, in its requester's turn.
    for (const event of events)
      assert.deepEqual((event.data as { priority: unknown }).priority, {
        level: 'INTERACTIVE',
        key: 1,
        fairnessKey: 'team-http',
        fairnessWeight: 1,
      });
    // Progress only moves forward.
    const done = progress.map(
      (e) => (e.data as { stagesCompleted: string[] }).stagesCompleted.length,
    );
    assert.deepEqual(
      done,
      [...done].sort((a, b) => a - b),
    );
  });

  it('lists recent reports most recently ended first, filtered by requester and status, page by page', async () => {
    const requester = uniqueName('lister');
    const keys = [uniqueName('list'), uniqueName('list'), uniqueName('list')];
    for (const key of keys) {
      const r = await api.call('/api/workflows/generate-report', {
        method: 'POST',
        headers: { 'idempotency-key': key },
        json: body({ requester: { id: requester, email: 'lister@example.com' } }),
      });
      assert.equal(r.status, 202);
      await waitForEnd(api, `/api/workflows/${workflowIdFor(key)}/status`);
    }
    type Page = {
      reports: { workflowId: string; status: string; requesterId: string; title?: string }[];
      nextCursor?: string;
    };
    const query = `requesterId=${encodeURIComponent(requester)}&status=COMPLETED`;
    // Visibility trails the workflows by a moment.
    let all: Page = { reports: [] };
    const deadline = Date.now() + 20_000;
    while (all.reports.length < 3 && Date.now() < deadline) {
      all = (await (await api.call(`/api/reports?${query}&limit=10`)).json()) as Page;
      if (all.reports.length < 3) await new Promise((r) => setTimeout(r, 300));
    }
    assert.deepEqual(
      all.reports.map((r) => r.workflowId),
      keys.map(workflowIdFor).reverse(),
      'most recently ended first',
    );
    for (const r of all.reports) {
      assert.equal(r.status, 'COMPLETED');
      assert.equal(r.requesterId, requester);
      assert.ok(r.title, 'title from the database');
    }

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await (
        await api.call(`/api/reports?${query}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      ).json()) as Page;
      assert.ok(page.reports.length <= 2);
      seen.push(...page.reports.map((r) => r.workflowId));
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, keys.map(workflowIdFor).reverse(), 'pages cover the list once');

    // A cursor this listing did not hand out is a 400 at once; Temporal is never asked.
    const first = (await (await api.call(`/api/reports?${query}&limit=2`)).json()) as Page;
    const given = first.nextCursor!;
    const flipped = `${given.slice(0, 10)}${given[10] === 'A' ? 'B' : 'A'}${given.slice(11)}`;
    for (const [name, cursor, code] of [
      ['made up', 'abc', 'INVALID_CURSOR'],
      ['damaged', flipped, 'INVALID_CURSOR'],
      ['not base64url', 'ab$c', 'VALIDATION_FAILED'],
      ['longer than any cursor', 'A'.repeat(3000), 'VALIDATION_FAILED'],
    ] as const) {
      const response = await api.call(`/api/reports?${query}&limit=2&cursor=${cursor}`);
      assert.equal(response.status, 400, name);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, code, name);
    }
    const otherListing = await api.call(`/api/reports?status=COMPLETED&limit=2&cursor=${given}`);
    assert.equal(otherListing.status, 400, 'a cursor continues only the listing that gave it');
    assert.match(
      ((await otherListing.json()) as { error: { message: string } }).error.message,
      /other filters/,
    );

    const failedOnly = (await (
      await api.call(`/api/reports?requesterId=${encodeURIComponent(requester)}&status=FAILED`)
    ).json()) as Page;
    assert.equal(failedOnly.reports.length, 0);
  });

  it('serves liveness, readiness and metrics without a key', async () => {
    const health = await api.call('/health');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await api.call('/ready');
    assert.equal(ready.status, 200);
    const readyBody = (await ready.json()) as {
      status: string;
      checks: Record<string, { ok: boolean }>;
    };
    assert.equal(readyBody.status, 'ready');
    assert.equal(readyBody.checks.temporal?.ok, true);
    assert.equal(readyBody.checks.postgres?.ok, true);
    const metrics = await api.call('/metrics');
    assert.equal(metrics.status, 200);
    const text = await metrics.text();
    assert.match(
      text,
      /http_request_duration_seconds_count\{method="POST",route="\/api\/workflows\/generate-report",status_code="202"\} [1-9]/,
    );
    assert.match(text, /route="\/api\/workflows\/:id\/status"/);
    assert.doesNotMatch(text, /route="\/api\/workflows\/report-/, 'ids never become labels');
  });
});
