import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { startApi, waitForEnd, type RunningApi } from '../support/api-harness';
import { createKafkaHarness, type KafkaHarness } from '../../testing/kafka-harness';
import { findMail } from '../../testing/maildev';
import { pdfText } from '../support/report-assertions';
import { testEndpoints, uniqueName } from '../../testing/stack-env';

const modelNote = 'the stand-in: its text is made from the prompt';

interface Started {
  workflowId: string;
  created: boolean;
}

describe('one idempotency key over Kafka and REST', () => {
  let k: KafkaHarness;
  let api: RunningApi;
  before(async () => {
    k = await createKafkaHarness({ LLM_MODEL_NOTE: modelNote });
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

  it('shows a title with commas whole, and the model that answered with its tokens, in the PDF, email, result, list and event', async () => {
    const title =
      'Compare heat pumps for cold climates: efficiency, running cost, and carbon emissions';
    const requesterId = uniqueName('commas');
    const request = k.sampleRequest({
      prompt: `${title}\n\nFor a homeowner in Oslo.`,
      requester: { id: requesterId, email: `${requesterId}@example.com` },
    });
    const reportId = reportIdFor(request.idempotencyKey);
    const workflowId = workflowIdFor(request.idempotencyKey);
    await k.produceRequest(request);
    await k.waitCompleted(reportId);
    // ReportCompleted goes out as the workflow's last step, a moment before the workflow closes;
    // until it has, /result answers 409 with Retry-After.
    await k.h.client.workflow.getHandle(workflowId).result();
    // The stand-in names itself as the model that answered, as providers name a dated snapshot.
    const answeredBy = `${k.config.OPENAI_MODEL}-stand-in`;

    const event = (await k.registry.decode(k.completed(reportId)[0]!.value)) as {
      model: string | null;
      usage: { promptTokens: number; completionTokens: number };
      timings: Record<string, number | null>;
    };
    assert.equal(event.model, answeredBy);
    assert.deepEqual(Object.keys(event.timings).sort(), [
      'callLlm',
      'createPdf',
      'sendNotification',
      'storeReportMetadata',
    ]);
    for (const ms of Object.values(event.timings)) assert.equal(typeof ms, 'number');
    const { promptTokens, completionTokens } = event.usage;
    assert.ok(promptTokens > 0 && completionTokens > 0, JSON.stringify(event.usage));

    const result = (await (await api.call(`/api/workflows/${workflowId}/result`)).json()) as {
      title: string;
      model: string;
      modelNote: string;
      stage: string;
      usage: typeof event.usage;
      pdf: { pages: number };
    };
    assert.equal(result.title, title);
    assert.equal(result.model, answeredBy);
    assert.equal(result.modelNote, modelNote);
    assert.equal(result.stage, 'done');
    assert.deepEqual(result.usage, { promptTokens, completionTokens });

    const list = (await (
      await api.call(`/api/reports?requesterId=${encodeURIComponent(requesterId)}`)
    ).json()) as { reports: { title: string; stage: string; status: string }[] };
    assert.deepEqual(
      list.reports.map((r) => [r.title, r.status, r.stage]),
      [[title, 'COMPLETED', 'done']],
    );

    const mail = await findMail(testEndpoints.maildevApi, (m) =>
      m.to.some((t) => t.address === `${requesterId}@example.com`),
    );
    assert.equal(mail.subject, `Your report is ready: ${title}`);
    const pages = result.pdf.pages;
    assert.match(mail.text ?? '', new RegExp(`\\(${pages} ${pages === 1 ? 'page' : 'pages'}\\)`));
    assert.ok(
      mail.text?.includes(`Written by ${answeredBy} (${modelNote}).`),
      `the email names the model: ${mail.text}`,
    );

    const pdf = Buffer.from(await (await api.call(`/api/reports/${reportId}/pdf`)).arrayBuffer());
    const text = (await pdfText(pdf)).text.replace(/\s+/g, ' ');
    assert.ok(text.includes(title), `the PDF has the whole title: ${text.slice(0, 400)}`);
    assert.ok(text.includes(`Written by: ${answeredBy} (${modelNote})`), text.slice(0, 600));
    assert.ok(
      text.includes(`${promptTokens} prompt + ${completionTokens} completion`),
      `the PDF's tokens are the reported usage: ${text.slice(0, 600)}`,
    );
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
