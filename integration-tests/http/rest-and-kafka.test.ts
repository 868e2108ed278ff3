import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { startApi, waitForEnd, type RunningApi } from '../support/api-harness';
import { createKafkaHarness, type KafkaHarness } from '../support/kafka-harness';

interface Started {
  workflowId: string;
  created: boolean;
}

describe('one idempotency key over Kafka and REST', () => {
  let k: KafkaHarness;
  let api: RunningApi;
  before(async () => {
    k = await createKafkaHarness();
    await k.startConsumer();
    api = await startApi(k.h);
  });
  after(async () => {
    await api.close();
    await k.close();
  });

  const llmCalls = (key: string): Promise<number> =>
    k.h.llm.countFor(`${workflowIdFor(key)}:callLlm`);
  const restBody = (request: ReturnType<KafkaHarness['sampleRequest']>) => ({
    prompt: request.prompt,
    requester: request.requester,
    options: { language: 'en' },
  });

  it('a key first seen on Kafka is the same report when it comes again by REST', async () => {
    const request = k.sampleRequest();
    await k.produceRequest(request);
    await k.waitCompleted(reportIdFor(request.idempotencyKey));

    const again = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': request.idempotencyKey },
      json: restBody(request),
    });
    assert.equal(again.status, 200);
    const started = (await again.json()) as Started;
    assert.equal(started.workflowId, workflowIdFor(request.idempotencyKey));
    assert.equal(started.created, false);
    assert.equal(await llmCalls(request.idempotencyKey), 1, 'the LLM was paid once');

    const conflict = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': request.idempotencyKey },
      json: { ...restBody(request), prompt: 'A different report' },
    });
    assert.equal(conflict.status, 409);
  });

  it('a key first seen by REST is the same report when it comes again on Kafka', async () => {
    const request = k.sampleRequest();
    const first = await api.call('/api/workflows/generate-report', {
      method: 'POST',
      headers: { 'idempotency-key': request.idempotencyKey },
      json: restBody(request),
    });
    assert.equal(first.status, 202);
    const started = (await first.json()) as Started;
    await waitForEnd(api, `/api/workflows/${started.workflowId}/status`);

    const dlqBefore = k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ);
    await k.produceRequest(request);
    // The consumer acknowledges it as a duplicate: no dead letter, no second report.
    await k.waitFor('the duplicate to be acknowledged', async () => {
      const rows = await k.h.dataSource.query<{ duplicates: number }[]>(
        'SELECT duplicates FROM inbox WHERE idempotency_key = $1',
        [request.idempotencyKey],
      );
      return (rows[0]?.duplicates ?? 0) >= 1;
    });
    const dlqAfter = k.received.filter((r) => r.topic === k.config.TOPIC_REPORTS_REQUESTED_DLQ);
    assert.equal(dlqAfter.length, dlqBefore.length, 'nothing dead-lettered');
    assert.equal(await llmCalls(request.idempotencyKey), 1, 'the LLM was paid once');
    await k.waitCompleted(reportIdFor(request.idempotencyKey));
    assert.equal(k.completed(reportIdFor(request.idempotencyKey)).length, 1, 'one ReportCompleted');
  });
});
