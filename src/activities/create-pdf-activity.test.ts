import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledFailure } from '@temporalio/common';
import { NON_RETRYABLE } from '../domain/report';
import type { CreatePdfInput } from './create-pdf-activity';
import {
  activityEnvironment,
  assertNonRetryable,
  failureOf,
  fakeActivities,
} from './testing/fakes';

const input: CreatePdfInput = {
  request: {
    reportId: 'r-1',
    requester: { id: 'team-energy', email: 'ada@example.test' },
    requestedAt: '2026-03-01T09:00:00.000Z',
    options: { language: 'en' },
  },
  title: 'Grid storage',
  model: 'test-model-2026-01-01',
  modelNote: 'a stand-in',
  usage: { promptTokens: 12, completionTokens: 34 },
};

describe('createPdf', () => {
  it('renders the stored content with its metadata and stores the PDF', async () => {
    const { activities, files, pdfRenderer } = fakeActivities();
    await files.save('r-1', 'content', Buffer.from('# Grid storage'), 'text/markdown');

    const result = await activityEnvironment().run(activities.createPdf, input);

    const [rendered] = pdfRenderer.inputs;
    assert.equal(rendered?.content, '# Grid storage');
    assert.deepEqual(rendered.createdAt, new Date(input.request.requestedAt));
    const metadata = new Map(rendered.metadata);
    assert.equal(metadata.get('Written by'), 'test-model-2026-01-01 (a stand-in)');
    assert.equal(metadata.get('Requested by'), 'team-energy <ada@example.test>');
    assert.equal(metadata.get('Language'), 'en');
    const pdf = await files.find('r-1', 'pdf');
    assert.deepEqual(result.pdf, pdf?.ref);
    assert.equal(result.pages, 3);
    assert.deepEqual(pdf?.meta, { pages: 3, unrenderableChars: 0 });
  });

  it('run again, renders again and overwrites its PDF rather than keeping a second one', async () => {
    const { activities, files, pdfRenderer } = fakeActivities();
    await files.save('r-1', 'content', Buffer.from('# Grid storage'), 'text/markdown');

    const first = await activityEnvironment().run(activities.createPdf, input);
    const second = await activityEnvironment({ attempt: 2 }).run(activities.createPdf, input);

    assert.deepEqual(second.pdf, first.pdf);
    assert.equal(second.attempt, 2);
    assert.equal(pdfRenderer.inputs.length, 2);
    assert.deepEqual([...files.files.keys()].sort(), ['r-1/content', 'r-1/pdf']);
  });

  it('fails for good when the LLM content is gone', async () => {
    const { activities, pdfRenderer } = fakeActivities();

    const error = await failureOf(activityEnvironment().run(activities.createPdf, input));

    assertNonRetryable(error, NON_RETRYABLE.missingArtefact);
    assert.equal(pdfRenderer.inputs.length, 0);
  });

  it('cancelled while rendering, stores no PDF', async () => {
    const { activities, files, pdfRenderer } = fakeActivities();
    await files.save('r-1', 'content', Buffer.from('# Grid storage'), 'text/markdown');
    const release = pdfRenderer.hold();
    const env = activityEnvironment();

    const running = failureOf(env.run(activities.createPdf, input));
    await pdfRenderer.started.promise;
    env.cancel();
    release();

    assert.ok((await running) instanceof CancelledFailure);
    assert.equal(await files.find('r-1', 'pdf'), undefined);
  });
});
