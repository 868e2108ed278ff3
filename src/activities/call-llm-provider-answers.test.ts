import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import OpenAI from 'openai';
import { NON_RETRYABLE } from '../domain/report';
import type { CallLlmInput } from './call-llm-activity';
import {
  activityEnvironment,
  assertNonRetryable,
  failureOf,
  fakeActivities,
  isRetryable,
  llmSettings,
  workflowExecution,
} from './testing/fakes';

const input = (overrides: Partial<CallLlmInput> = {}): CallLlmInput => ({
  reportId: 'r-1',
  prompt: 'Grid storage\nin five pages',
  options: {},
  ...overrides,
});

const answer = {
  stream: ['# Grid ', 'storage\n\nBatteries.'],
  usage: { prompt: 12, completion: 34 },
};

describe('callLlm, over each answer of the provider', () => {
  it('streams the answer, stores it once with its usage, and titles it by its heading', async () => {
    const { activities, provider, files } = fakeActivities();
    provider.script({ ...answer, model: 'test-model-2026-01-01' });

    const result = await activityEnvironment({ attempt: 2 }).run(
      activities.callLlm,
      input({ options: { language: 'de', maxTokens: 500 } }),
    );

    assert.equal(result.called, true);
    assert.equal(result.attempt, 2);
    assert.equal(result.title, 'Grid storage');
    assert.equal(result.model, 'test-model-2026-01-01', 'the model the provider says answered');
    assert.deepEqual(result.usage, { promptTokens: 12, completionTokens: 34 });
    const stored = await files.find('r-1', 'content');
    assert.equal(stored?.data.toString('utf8'), '# Grid storage\n\nBatteries.');
    assert.deepEqual(result.content, stored.ref);
    assert.deepEqual(stored.meta, {
      model: 'test-model-2026-01-01',
      requestedModel: llmSettings.defaultModel,
      usage: result.usage,
    });

    const [request] = provider.requests;
    assert.equal(
      request?.headers.get('idempotency-key'),
      `${workflowExecution.workflowId}:callLlm`,
    );
    assert.equal(request.body.stream, true);
    assert.equal(request.body.max_completion_tokens, 500);
    const [system, user] = request.body.messages;
    assert.ok(typeof system?.content === 'string');
    assert.match(system.content, /language with code "de"/);
    assert.equal(user?.content, 'Grid storage\nin five pages');
  });

  it('reuses the content an earlier attempt stored instead of paying for a second call', async () => {
    const { activities, provider, files, tokenLedger } = fakeActivities();
    provider.script(answer);
    const first = await activityEnvironment().run(activities.callLlm, input());

    const second = await activityEnvironment({ attempt: 2 }).run(activities.callLlm, input());

    assert.equal(provider.requests.length, 1);
    assert.equal(files.saves, 1);
    assert.equal(tokenLedger.rows.length, 1, 'the reused answer is not counted again');
    assert.equal(second.called, false);
    assert.deepEqual(second.content, first.content);
    assert.equal(second.model, first.model);
    assert.deepEqual(second.usage, first.usage);
    assert.equal(second.title, first.title);
  });

  it('records the tokens of each answer paid for as it arrives, under the requester', async () => {
    const { activities, provider, files, tokenLedger } = fakeActivities();
    provider.script({ ...answer, model: 'test-model-2026-01-01' }, answer);
    const save = files.save.bind(files);
    files.save = async () => {
      files.save = save;
      throw new Error('connection terminated unexpectedly');
    };

    const lost = await failureOf(
      activityEnvironment({ activityId: '1' }).run(
        activities.callLlm,
        input({ requesterId: 'svc-a' }),
      ),
    );
    assert.ok(isRetryable(lost), 'the answer could not be stored: retried');
    assert.deepEqual(
      tokenLedger.rows.map(({ recordedAt: _, ...row }) => row),
      [
        {
          callId: `${workflowExecution.runId}/1/1`,
          reportId: 'r-1',
          requesterId: 'svc-a',
          model: 'test-model-2026-01-01',
          promptTokens: 12,
          completionTokens: 34,
        },
      ],
      'paid for, so counted, though it was lost',
    );

    const retried = await activityEnvironment({ activityId: '1', attempt: 2 }).run(
      activities.callLlm,
      input({ requesterId: 'svc-a' }),
    );
    assert.equal(retried.called, true, 'nothing was stored: the LLM is paid again');
    const reused = await activityEnvironment({ activityId: '1', attempt: 3 }).run(
      activities.callLlm,
      input({ requesterId: 'svc-a' }),
    );
    assert.equal(reused.called, false);
    assert.deepEqual(
      tokenLedger.rows.map((r) => r.callId),
      [`${workflowExecution.runId}/1/1`, `${workflowExecution.runId}/1/2`],
      'two answers paid, two rows; the reuse adds none',
    );
    assert.equal(provider.requests.length, 2);
  });

  it('records a call scheduled before budgets existed under no requester', async () => {
    const { activities, provider, tokenLedger } = fakeActivities();
    provider.script(answer);
    await activityEnvironment().run(activities.callLlm, input());
    assert.equal(tokenLedger.rows[0]?.requesterId, null);
  });

  it('refuses an empty or oversized prompt for good, before any call', async () => {
    const { activities, provider } = fakeActivities();
    for (const prompt of [' \n ', 'x'.repeat(llmSettings.promptMaxChars + 1)]) {
      const error = await failureOf(
        activityEnvironment().run(activities.callLlm, input({ prompt })),
      );
      assertNonRetryable(error, NON_RETRYABLE.invalidPrompt);
    }
    assert.equal(provider.requests.length, 0);
  });

  for (const status of [400, 401, 403, 404, 422]) {
    it(`fails for good when the provider refuses the request itself (${status})`, async () => {
      const { activities, provider, files } = fakeActivities();
      provider.script({
        status,
        error: { message: 'maximum context length exceeded', code: 'context_length_exceeded' },
      });

      const error = await failureOf(activityEnvironment().run(activities.callLlm, input()));

      assertNonRetryable(error, NON_RETRYABLE.llmRejected);
      assert.match(error.message, new RegExp(`\\(${status}, context_length_exceeded\\)`));
      assert.deepEqual(error.details, [{ status, code: 'context_length_exceeded' }]);
      assert.equal(provider.requests.length, 1);
      assert.equal(await files.find('r-1', 'content'), undefined);
    });
  }

  it('on a 429 waits for Retry-After and calls again within the same attempt', async () => {
    const { activities, provider, admission } = fakeActivities();
    provider.script({ status: 429, headers: { 'retry-after-ms': '150' } }, answer);

    const started = performance.now();
    const result = await activityEnvironment().run(activities.callLlm, input());

    assert.ok(performance.now() - started >= 140, 'it waited for the quota');
    assert.equal(result.called, true);
    assert.equal(result.attempt, 1);
    assert.equal(provider.requests.length, 2);
    assert.equal(admission.state.rateLimitedCalls, 1);
  });

  for (const status of [500, 502, 503]) {
    it(`leaves a ${status} to the retry policy and stores nothing`, async () => {
      const { activities, provider, files } = fakeActivities();
      provider.script({ status });

      const error = await failureOf(activityEnvironment().run(activities.callLlm, input()));

      assert.ok(error instanceof OpenAI.APIError && error.status === status, String(error));
      assert.equal(isRetryable(error), true);
      assert.equal(await files.find('r-1', 'content'), undefined);
    });
  }

  it('leaves a request that times out to the retry policy', async () => {
    const { activities, provider } = fakeActivities({
      llmSettings: { ...llmSettings, timeoutMs: 50 },
    });
    provider.script('hang');

    const error = await failureOf(activityEnvironment().run(activities.callLlm, input()));

    assert.ok(error instanceof OpenAI.APIConnectionTimeoutError, String(error));
    assert.equal(isRetryable(error), true);
  });

  it('retries an empty answer rather than storing it', async () => {
    const { activities, provider, files } = fakeActivities();
    provider.script({ stream: [' ', '\n'] });

    const error = await failureOf(activityEnvironment().run(activities.callLlm, input()));

    assert.match(String(error), /empty answer/);
    assert.equal(isRetryable(error), true);
    assert.equal(files.saves, 0);
  });

  it('ends as cancelled when the workflow cancels it mid-call', async () => {
    const { activities, provider, files } = fakeActivities();
    provider.script('hang');
    const env = activityEnvironment();

    const running = failureOf(env.run(activities.callLlm, input()));
    await provider.nextRequest();
    env.cancel();

    assert.ok((await running) instanceof CancelledFailure);
    assert.equal(files.saves, 0);
  });
});
