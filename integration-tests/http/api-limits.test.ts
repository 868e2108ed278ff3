import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/domain/ids';
import { isKnownKey } from '../../src/http/app';
import { createApiHarness, type ApiHarness, type ApiErrorBody } from '../support/api-harness';
import { uniqueName } from '../../testing/stack-env';

const KEY_A = 'limits-key-a-0123456789abcdef';
const KEY_B = 'limits-key-b-0123456789abcdef';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('undeclared methods', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness({ worker: false });
  });
  after(() => api.close());

  it('answer 405 with Allow on a path that exists, and 404 on one that does not', async () => {
    const status = `/api/workflows/${workflowIdFor(uniqueName('m'))}/status`;
    for (const method of ['DELETE', 'PUT', 'PATCH', 'OPTIONS']) {
      const response = await api.call(status, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD', method);
      assert.equal(((await response.json()) as ApiErrorBody).error.code, 'METHOD_NOT_ALLOWED');
    }
    const start = await api.call('/api/workflows/generate-report');
    assert.equal(start.status, 405);
    assert.equal(start.headers.get('allow'), 'POST');
    await start.arrayBuffer();

    const nowhere = await api.call('/api/nothing-here', { method: 'DELETE' });
    assert.equal(nowhere.status, 404);
    assert.equal(((await nowhere.json()) as ApiErrorBody).error.code, 'NOT_FOUND');
  });

  it('answer 405, not 500, to a QUERY without a Content-Type (refused before routing)', async () => {
    // fetch cannot send QUERY without a body type; a raw request can.
    const { request } = await import('node:http');
    const url = new URL(`${api.baseUrl}/api/workflows/${workflowIdFor(uniqueName('q'))}/status`);
    const answer = await new Promise<{ status: number; allow?: string; body: string }>(
      (resolve, reject) => {
        const req = request(url, { method: 'QUERY' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
    assert.equal(answer.status, 405, answer.body);
    assert.equal(answer.allow, 'GET, HEAD');
  });
});

describe('rate limit per API key', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness({
      apiKeys: [KEY_A, KEY_B],
      worker: false,
      settings: { HTTP_RATE_LIMIT_PER_MINUTE: 5 },
    });
  });
  after(() => api.close());

  it('answers 429 with Retry-After once a key used its minute, and only that key', async () => {
    const path = `/api/workflows/${workflowIdFor(uniqueName('rl'))}/status`;
    for (let i = 1; i <= 5; i++) {
      const response = await api.call(path, { headers: bearer(KEY_A) });
      assert.equal(response.status, 404, `request ${i} of the minute`);
      await response.arrayBuffer();
    }
    const limited = await api.call(path, { headers: bearer(KEY_A) });
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter}`);
    const body = (await limited.json()) as ApiErrorBody;
    assert.equal(body.error.code, 'RATE_LIMITED');
    assert.match(body.error.message, /5 requests in a minute/);

    const other = await api.call(path, { headers: bearer(KEY_B) });
    assert.equal(other.status, 404, 'another key keeps its own budget');
    await other.arrayBuffer();
    const wrong = await api.call(path, { headers: bearer('not-a-key-of-this-service') });
    assert.equal(wrong.status, 401, 'a wrong key is refused as such, not counted');
    await wrong.arrayBuffer();
    for (let i = 0; i < 10; i++) {
      const probe = await api.call('/health');
      assert.equal(probe.status, 200, 'probes are never limited');
      await probe.arrayBuffer();
    }
  });
});

describe('event streams per client', () => {
  let api: ApiHarness;
  before(async () => {
    api = await createApiHarness({
      apiKeys: [KEY_A, KEY_B],
      settings: { HTTP_EVENT_STREAMS_PER_CLIENT: 2 },
    });
  });
  after(() => api.close());

  it('lets a key hold at most the configured number of open streams', async () => {
    const request = api.request();
    const workflowId = workflowIdFor(request.idempotencyKey);
    // The report stays running while the streams are open: its LLM call hangs.
    await api.llm.push({
      behaviour: { mode: 'hang' },
      times: 1,
      idempotencyKey: `${workflowId}:callLlm`,
    });
    const { handle } = await api.start(request);
    const events = `/api/workflows/${workflowId}/events`;
    const open: AbortController[] = [];
    try {
      for (let i = 1; i <= 2; i++) {
        const abort = new AbortController();
        open.push(abort);
        const response = await api.call(events, { headers: bearer(KEY_A), signal: abort.signal });
        assert.equal(response.status, 200, `stream ${i}`);
      }
      const third = await api.call(events, { headers: bearer(KEY_A) });
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) > 0);
      assert.equal(((await third.json()) as ApiErrorBody).error.code, 'TOO_MANY_STREAMS');

      const abort = new AbortController();
      open.push(abort);
      const otherKey = await api.call(events, { headers: bearer(KEY_B), signal: abort.signal });
      assert.equal(otherKey.status, 200, 'another key has its own places');

      // Closing a stream gives its place back.
      open.shift()!.abort();
      let again: Response | undefined;
      for (let attempt = 0; attempt < 40; attempt++) {
        const abortAgain = new AbortController();
        again = await api.call(events, { headers: bearer(KEY_A), signal: abortAgain.signal });
        if (again.status === 200) {
          open.push(abortAgain);
          break;
        }
        await again.arrayBuffer();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(again?.status, 200, 'a closed stream frees its place');
    } finally {
      for (const abort of open) abort.abort();
      await handle.cancel();
      await handle.result();
    }
  });
});

describe('API key comparison', () => {
  it('accepts exactly the configured keys, whatever their lengths', () => {
    const keys = ['a-key-of-sixteen', 'a-much-longer-key-of-forty-characters-00'];
    for (const key of keys) assert.equal(isKnownKey(keys, key), true, key);
    for (const given of [
      '',
      'a-key-of-sixtee',
      'a-key-of-sixteen ',
      'a-key-of-sixteenX',
      'a-much-longer-key-of-forty-characters-0',
      'A-KEY-OF-SIXTEEN',
    ]) {
      assert.equal(isKnownKey(keys, given), false, JSON.stringify(given));
    }
    assert.equal(isKnownKey([], 'a-key-of-sixteen'), false, 'no keys, no match');
  });
});
