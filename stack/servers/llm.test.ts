import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI, {
  APIConnectionTimeoutError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
} from 'openai';
import { deterministicReport } from '../../docker/llm/llm-server';
import { LlmStandIn } from '../../testing/llm-control';
import { config, testEndpoints, uniqueName } from '../../testing/stack-env';

describe('LLM stand-in (OpenAI-compatible server)', () => {
  const control = new LlmStandIn(testEndpoints.llmControl);
  const openai = new OpenAI({
    apiKey: config.OPENAI_API_KEY,
    baseURL: control.baseUrl,
    maxRetries: 0,
  });
  const ask = (key: string, content = 'Solid-state batteries in 2026') =>
    openai.chat.completions.create(
      { model: config.OPENAI_MODEL, messages: [{ role: 'user', content }] },
      { headers: { 'Idempotency-Key': key } },
    );

  it('answers a chat completion deterministically, with usage, and counts it by idempotency key', async () => {
    const key = uniqueName('llm');
    const first = await ask(key);
    const second = await ask(key);
    assert.equal(
      first.choices[0]?.message.content,
      deterministicReport('Solid-state batteries in 2026'),
    );
    assert.equal(second.choices[0]?.message.content, first.choices[0]?.message.content);
    assert.ok((first.usage?.prompt_tokens ?? 0) > 0 && (first.usage?.completion_tokens ?? 0) > 0);
    assert.equal(await control.countFor(key), 2);
  });

  it('streams the same content in chunks, with usage at the end', async () => {
    const stream = await openai.chat.completions.create({
      model: config.OPENAI_MODEL,
      messages: [{ role: 'user', content: 'Tidal power' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, deterministicReport('Tidal power'));
    assert.ok(chunks > 3, `expected several chunks, got ${chunks}`);
    assert.ok((usage?.completion_tokens ?? 0) > 0);
  });

  it('surfaces a scripted 429 as a RateLimitError carrying Retry-After, then recovers', async () => {
    const key = uniqueName('llm');
    await control.push({
      behaviour: { mode: 'rate-limit', retryAfterSeconds: 7 },
      times: 1,
      idempotencyKey: key,
    });
    await assert.rejects(ask(key), (error: unknown) => {
      assert.ok(error instanceof RateLimitError, String(error));
      assert.equal(error.status, 429);
      assert.equal(error.headers?.get('retry-after'), '7');
      return true;
    });
    const after = await ask(key);
    assert.ok(after.choices[0]?.message.content);
  });

  it('answers 500, a context-length 400 and a hang when told to', async () => {
    const key = uniqueName('llm');
    await control.push(
      { behaviour: { mode: 'server-error' }, times: 1, idempotencyKey: key },
      { behaviour: { mode: 'context-length' }, times: 1, idempotencyKey: key },
      { behaviour: { mode: 'hang' }, times: 1, idempotencyKey: key },
    );
    await assert.rejects(ask(key), InternalServerError);
    await assert.rejects(ask(key), (error: unknown) => {
      assert.ok(error instanceof BadRequestError);
      assert.equal(error.code, 'context_length_exceeded');
      return true;
    });
    await assert.rejects(
      openai.chat.completions.create(
        { model: config.OPENAI_MODEL, messages: [{ role: 'user', content: 'hang' }] },
        { headers: { 'Idempotency-Key': key }, timeout: 500 },
      ),
      APIConnectionTimeoutError,
    );
    assert.equal(await control.countFor(key), 3);
  });

  it('refuses a prompt over its context window without being told to', async () => {
    await assert.rejects(ask(uniqueName('llm'), 'word '.repeat(20_000)), BadRequestError);
  });
});
