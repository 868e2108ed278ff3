import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApiHarness, type ApiHarness } from '../support/api-harness';
import { pdfText } from '../support/report-assertions';
import { uniqueName } from '../../testing/stack-env';

/** Kept after the run: what a person sees once a report has completed. */
export const screenshotPath = join(__dirname, '..', '..', 'test-artifacts', 'page-completed.png');
/** Kept after the run: a reviewer's approval on the page, next to the report's preview. */
export const reviewScreenshotPath = join(
  __dirname,
  '..',
  '..',
  'test-artifacts',
  'page-review-approved.png',
);

/** Script errors and console errors of a page, collected as they happen. */
function problemsOf(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  return problems;
}

describe('the manual-run page in headless Chromium', () => {
  let api: ApiHarness;
  let browser: Browser;
  before(async () => {
    api = await createApiHarness();
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // This machine has no network beyond loopback: Chromium must not try to phone home.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await api.close();
  });

  it('submits a prompt, shows progress to completed, downloads the PDF and lists the report', async () => {
    const context = await browser.newContext({
      acceptDownloads: true,
      viewport: { width: 1100, height: 900 },
    });
    const page = await context.newPage();
    const problems = problemsOf(page);
    await page.goto(api.baseUrl);
    assert.equal(await page.title(), 'Report pipeline');

    const topic = `Geothermal heat for district networks (${uniqueName('page')})`;
    await page.fill('#prompt', topic);
    await page.fill('#requester-id', 'page-test');
    await page.fill('#email', 'page-test@example.com');
    await page.click('#submit');

    await page.locator('#run-status', { hasText: 'COMPLETED' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#stages li.done').count(), 5, 'all five stages done');
    const progress = await page
      .locator('#run-progress')
      .evaluate((el) => (el as unknown as { value: number }).value);
    assert.equal(progress, 1);
    const workflowId = (await page.textContent('#run-id')) ?? '';
    assert.match(workflowId, /^report-/);
    // The model as the provider named it (the stand-in says it is one), the tokens it counted,
    // and what they would cost at its family's list price (gpt-4o-mini-stand-in: gpt-4o-mini).
    assert.equal(
      await page.textContent('#run-model'),
      `Written by ${api.config.OPENAI_MODEL}-stand-in`,
    );
    assert.match(
      (await page.textContent('#run-usage')) ?? '',
      /^\d+ prompt \+ \d+ completion tokens · ≈ \$0\.0\d+ \(list-price estimate\)$/,
    );

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = join(__dirname, '..', '..', 'test-artifacts', download.suggestedFilename());
    await download.saveAs(saved);
    const pdf = readFileSync(saved);
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    assert.match((await pdfText(pdf)).text, /Summary/);

    // The recent list refreshes when the report ends. Other tests' reports may be running in
    // the same namespace (listed first), so look among the completed ones, as a person would.
    await page.selectOption('#filter-status', 'COMPLETED');
    await page
      .locator(`#reports tr[data-workflow-id="${workflowId}"]`, { hasText: 'COMPLETED' })
      .waitFor({ timeout: 20_000 });

    mkdirSync(join(screenshotPath, '..'), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    assert.deepEqual(problems, [], 'no script errors in the page');
    await context.close();
  });

  it('holds a report for review, previews it, and an approval on the page lets it complete', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1200 } });
    const page = await context.newPage();
    const problems = problemsOf(page);
    await page.goto(api.baseUrl);

    await page.fill('#prompt', `Heat pumps in old buildings (${uniqueName('page-review')})`);
    await page.fill('#requester-id', 'page-test');
    await page.fill('#email', 'page-test@example.com');
    await page.fill('#review-reviewers', 'page-reviewer');
    await page.fill('#review-minutes', '10');
    await page.selectOption('#review-on-timeout', 'REJECT');
    await page.click('#submit');

    await page.locator('#run-status', { hasText: 'AWAITING_REVIEW' }).waitFor({ timeout: 60_000 });
    const workflowId = (await page.textContent('#run-id')) ?? '';
    assert.equal(await page.locator('#stages li').count(), 6, 'six stages with review');
    assert.equal(await page.locator('#stages li.done').count(), 3);
    assert.equal(await page.getAttribute('#stages li.current', 'data-stage'), 'review');
    assert.match(
      (await page.textContent('#run-review')) ?? '',
      /^Waiting for review by page-reviewer until .+; then rejected automatically$/,
    );

    const entry = page.locator(`#reviews li[data-workflow-id="${workflowId}"]`);
    await entry.waitFor({ timeout: 20_000 });
    // The preview is the stored PDF, fetched as the API serves it inline and shown by Chromium.
    const preview = entry.locator('iframe.preview');
    await preview.waitFor({ timeout: 10_000 });
    assert.match((await preview.getAttribute('src')) ?? '', /^blob:/);
    const previewFrame = await (await preview.elementHandle())?.contentFrame();
    assert.ok(previewFrame, 'the preview is a frame');
    await previewFrame.waitForLoadState('load');
    assert.equal(await previewFrame.evaluate('document.contentType'), 'application/pdf');

    const comment = 'Checked the figures; fine to send.';
    await entry.getByLabel('Reviewer').fill('page-reviewer');
    await entry.getByLabel('Comment (optional)').fill(comment);
    await entry.getByRole('button', { name: 'Approve' }).click();
    await entry
      .locator('.outcome', { hasText: `Approved by page-reviewer: “${comment}”` })
      .waitFor({ timeout: 10_000 });

    await page.locator('#run-status', { hasText: 'COMPLETED' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('#stages li.done').count(), 6, 'all six stages done');
    mkdirSync(join(reviewScreenshotPath, '..'), { recursive: true });
    await page.screenshot({ path: reviewScreenshotPath, fullPage: true });

    const response = await api.call(`/api/workflows/${workflowId}/result`);
    assert.equal(response.status, 200);
    const result = (await response.json()) as {
      status: string;
      review?: { decision?: Record<string, unknown> };
    };
    assert.equal(result.status, 'COMPLETED');
    const { decision, reviewer, automatic, comment: recorded } = result.review?.decision ?? {};
    assert.deepEqual(
      { decision, reviewer, automatic, comment: recorded },
      { decision: 'APPROVE', reviewer: 'page-reviewer', automatic: false, comment },
    );
    assert.deepEqual(problems, [], 'no script errors in the page');
    await context.close();
  });

  it('shows the API’s error for a bad submission and starts nothing', async () => {
    const page = await browser.newPage();
    await page.goto(api.baseUrl);
    await page.fill('#prompt', 'x'.repeat(10));
    await page.fill('#email', 'page-test@example.com');
    // Bypass the browser's own form checks to reach the API's validation.
    await page.locator('#email').evaluate((el) => {
      const input = el as unknown as { type: string; value: string };
      input.type = 'text';
      input.value = 'not-an-email';
    });
    await page.click('#submit');
    await page
      .locator('#form-error', { hasText: 'VALIDATION_FAILED' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await page.isHidden('#run'), true, 'no run is shown');
    await page.close();
  });
});
