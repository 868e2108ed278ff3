import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { workflowIdFor } from '../../src/domain/ids';
import { cancelSignal, progressQuery } from '../../src/workflows/generate-report-workflow';
import type { LlmBehaviour } from '../../docker/llm/llm-server';
import { mailTo } from '../../testing/maildev';
import { leftovers, outboxEvents, pdfText } from '../support/report-assertions';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';
import { testEndpoints } from '../../testing/stack-env';

const llmKey = (workflowId: string): string => `${workflowId}:callLlm`;
const nothingLeft = { reports: 0, content: 0, pdf: 0, emails: 0 };

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('GenerateReportWorkflow against the real stack', () => {
  let h: ReportHarness;
  before(async () => {
    h = await createReportHarness();
    await h.startWorker();
  });
  after(() => h.close());

  /** Scripts the LLM for this report's calls before the workflow exists, so no call can come first. */
  async function startWithLlm(behaviour: LlmBehaviour, times: number) {
    const request = h.request();
    const key = llmKey(workflowIdFor(request.idempotencyKey));
    await h.llm.push({ behaviour, times, idempotencyKey: key });
    return { request, key, ...(await h.start(request)) };
  }

  it('completes: a valid PDF with the LLM headings, one metadata row, one email with the PDF, events queued', async () => {
    const request = h.request();
    const { handle, reportId, workflowId } = await h.start(request);
    const result = await handle.result();

    assert.equal(result.status, 'COMPLETED', JSON.stringify(result.failure));
    assert.deepEqual(result.stagesCompleted, [
      'callLlm',
      'createPdf',
      'storeReportMetadata',
      'sendNotification',
      'publish',
    ]);
    assert.equal(result.notification, 'SENT');
    assert.ok((result.usage?.completionTokens ?? 0) > 0);

    const pdfRow = await h.dataSource.query<{ data: Buffer }[]>(
      `SELECT data FROM report_files WHERE report_id = $1 AND kind = 'pdf'`,
      [reportId],
    );
    const pdf = pdfRow[0]!.data;
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const { text, pages } = await pdfText(pdf);
    assert.equal(pages, result.pdf?.pages);
    for (const heading of ['Summary', 'Key findings', 'Method', 'Conclusion'])
      assert.match(text, new RegExp(heading));
    assert.match(text, /Page 1 of \d+/);

    const rows = await h.dataSource.query<
      { status: string; prompt_tokens: number; pdf_pages: number }[]
    >(`SELECT status, prompt_tokens, pdf_pages FROM reports WHERE idempotency_key = $1`, [
      request.idempotencyKey,
    ]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.status, 'COMPLETED');
    assert.equal(rows[0]?.pdf_pages, result.pdf?.pages);

    const mails = await mailTo(testEndpoints.maildevApi, request.requester.email);
    assert.equal(mails.length, 1);
    assert.deepEqual(
      mails[0]?.attachments?.map((a) => [a.fileName, a.contentType]),
      [[`report-${reportId}.pdf`, 'application/pdf']],
    );
    assert.equal(await h.llm.countFor(llmKey(workflowId)), 1);

    const events = await outboxEvents(h.dataSource, reportId);
    assert.deepEqual(events.map((e) => e.event_type).sort(), [
      'EmailNotification',
      'ReportCompleted',
    ]);
    const completed = events.find((e) => e.event_type === 'ReportCompleted')!;
    assert.equal(completed.payload.eventId, completed.event_id);
    assert.equal(completed.payload.workflowId, workflowId);
  });

  it('runs one workflow per idempotency key: starting again returns the same one and calls nothing again', async () => {
    const request = h.request();
    const first = await h.start(request);
    const again = await h.start(request);
    assert.equal(again.handle.workflowId, first.handle.workflowId);
    await first.handle.result();
    const afterCompletion = await h.start(request);
    assert.equal((await afterCompletion.handle.result()).status, 'COMPLETED');
    assert.equal(await h.llm.countFor(llmKey(first.workflowId)), 1);
    assert.equal((await leftovers(h.dataSource, first.reportId)).reports, 1);
  });

  it('fails without leaving anything behind when the LLM refuses the request for good', async () => {
    const { handle, reportId, key } = await startWithLlm({ mode: 'context-length' }, 1);
    const result = await handle.result();

    assert.equal(result.status, 'FAILED');
    assert.equal(result.failure?.stage, 'callLlm');
    assert.equal(result.failure?.errorType, 'LlmRequestRejected');
    assert.equal(await h.llm.countFor(key), 1, 'a permanent 400 is not retried');
    assert.deepEqual(await leftovers(h.dataSource, reportId), nothingLeft);
    const events = await outboxEvents(h.dataSource, reportId);
    assert.deepEqual(
      events.map((e) => e.event_type),
      ['ReportFailed'],
    );
    assert.equal(events[0]?.payload.stage, 'callLlm');
  });

  it('gives up after three attempts when the LLM keeps failing', async () => {
    const { handle, reportId, key } = await startWithLlm({ mode: 'server-error' }, 3);
    const result = await handle.result();
    assert.equal(result.status, 'FAILED');
    assert.equal(await h.llm.countFor(key), 3);
    assert.deepEqual(await leftovers(h.dataSource, reportId), nothingLeft);
  });

  it('waits as long as Retry-After says after a 429, then succeeds', async () => {
    const { handle, key } = await startWithLlm({ mode: 'rate-limit', retryAfterSeconds: 5 }, 1);
    const result = await handle.result();
    assert.equal(result.status, 'COMPLETED');
    const served = (await h.llm.served()).filter((r) => r.idempotencyKey === key);
    assert.deepEqual(
      served.map((r) => r.outcome),
      ['rate-limit', 'ok'],
    );
    const gapMs = Date.parse(served[1]!.at) - Date.parse(served[0]!.at);
    // The policy's own first backoff is 2 s; only Retry-After explains a gap of 5 s or more.
    assert.ok(gapMs >= 4_900, `retried after ${gapMs} ms`);
    assert.ok(gapMs < 9_000, `retried after ${gapMs} ms`);
  });

  it('cancelled while the LLM is answering: ends CANCELLED with nothing to compensate', async () => {
    const { handle, reportId, key } = await startWithLlm({ mode: 'hang' }, 1);
    await waitFor('the LLM call', async () => ((await h.llm.countFor(key)) > 0 ? true : undefined));
    assert.equal((await handle.query(progressQuery)).stage, 'callLlm');
    await handle.signal(cancelSignal, 'changed my mind');
    const result = await handle.result();

    assert.equal(result.status, 'CANCELLED');
    assert.equal(result.failure?.stage, 'callLlm');
    assert.deepEqual(result.compensated, []);
    assert.deepEqual(await leftovers(h.dataSource, reportId), nothingLeft);
    const events = await outboxEvents(h.dataSource, reportId);
    assert.equal(events[0]?.payload.errorType, 'Cancelled');
  });
});
