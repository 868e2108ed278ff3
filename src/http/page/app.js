// The manual-run page: plain browser JavaScript, served as written.
'use strict';

const STAGES = [
  'callLlm',
  'createPdf',
  'storeReportMetadata',
  'review',
  'sendNotification',
  'publish',
];
const STAGE_NAMES = {
  callLlm: 'LLM',
  createPdf: 'PDF',
  storeReportMetadata: 'Stored',
  review: 'Review',
  sendNotification: 'Email',
  publish: 'Published',
};
const $ = (id) => document.getElementById(id);
let current = null;
let stream = null;
let cursor = null;
let reviewsLoad = 0;
let reviewSerial = 0;

const apiKey = () => localStorage.getItem('report-pipeline.api-key') || '';

function api(path, init = {}) {
  const headers = new Headers(init.headers);
  if (apiKey()) headers.set('authorization', `Bearer ${apiKey()}`);
  return fetch(path, { ...init, headers });
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return `${body.error.message} (${body.error.code})`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function showError(message) {
  const el = $('form-error');
  el.textContent = message;
  el.hidden = !message;
}

/** The `review` part of a request, or undefined when no reviewer is named. */
function reviewRequest() {
  const reviewers = [
    ...new Set(
      $('review-reviewers')
        .value.split(',')
        .map((id) => id.trim())
        .filter(Boolean),
    ),
  ];
  if (reviewers.length === 0) return undefined;
  return {
    reviewers,
    timeoutSeconds: Math.round(Number($('review-minutes').value) * 60),
    onTimeout: $('review-on-timeout').value,
  };
}

async function submit(event) {
  event.preventDefault();
  showError('');
  $('submit').disabled = true;
  try {
    const review = reviewRequest();
    const response = await api('/api/workflows/generate-report', {
      method: 'POST',
      // One key per submission: a retried click cannot start a second report.
      headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({
        prompt: $('prompt').value,
        requester: { id: $('requester-id').value, email: $('email').value },
        options: { language: $('language').value },
        review,
      }),
    });
    if (!response.ok) return showError(await errorMessage(response));
    const started = await response.json();
    follow(started.workflowId, started.links, { reviewed: Boolean(review) });
    setTimeout(() => loadReports(true), 1000);
  } catch (error) {
    showError(String(error));
  } finally {
    $('submit').disabled = false;
  }
}

const time = (iso) => new Date(iso).toLocaleString();
const anyOf = (ids) => new Intl.ListFormat('en', { type: 'disjunction' }).format(ids);
const verdict = (decision) => (decision === 'APPROVE' ? 'approved' : 'rejected');

/** What became of a review, as the status and a decision's answer carry it. */
function describeDecision(decision) {
  const what = decision.decision === 'APPROVE' ? 'Approved' : 'Rejected';
  const how = decision.automatic ? 'automatically at the deadline' : `by ${decision.reviewer}`;
  const why = decision.comment ? `: “${decision.comment}”` : '';
  return `${what} ${how}${why}`;
}

/** What the tokens cost, as the API estimates it: an estimate, or that no price is known. */
function describeCost(status) {
  const cost = status.estimatedCost;
  if (!cost) return '';
  if (cost.usd === null) return ` · no cost estimate (no price known for ${status.model})`;
  // Small sums keep two significant digits: $0.00041, not $0.00.
  const usd =
    cost.usd === 0 || cost.usd >= 0.01
      ? cost.usd.toFixed(2)
      : cost.usd.toFixed(1 - Math.floor(Math.log10(cost.usd)));
  return ` · ≈ $${usd} (list-price estimate)`;
}

function describeReview(review) {
  if (review.decision) return describeDecision(review.decision);
  return `Waiting for review by ${anyOf(review.reviewers)} until ${time(review.deadline)}; then ${verdict(review.onTimeout)} automatically`;
}

function render(status) {
  const was = $('run-id').textContent === status.workflowId ? $('run-status').textContent : '';
  $('run').hidden = false;
  $('run-id').textContent = status.workflowId;
  const badge = $('run-status');
  badge.textContent = status.status;
  badge.className = `badge ${status.status}`;
  $('run-progress').value = status.progress;
  // The review stage shows once the report is known to have one: from the request this page
  // sent, else from when the report starts waiting (the status says nothing of it before).
  if (status.review) current.reviewed = true;
  const stages = current.reviewed ? STAGES : STAGES.filter((stage) => stage !== 'review');
  const active = status.status === 'RUNNING' || status.status === 'AWAITING_REVIEW';
  $('stages').replaceChildren(
    ...stages.map((stage) => {
      const li = document.createElement('li');
      li.textContent = STAGE_NAMES[stage];
      li.dataset.stage = stage;
      if (status.stagesCompleted.includes(stage)) li.className = 'done';
      else if (status.failure && status.failure.stage === stage) li.className = 'failed';
      else if (active && status.stage === stage) {
        li.className = 'current';
        if (status.current && status.current.attempt > 1)
          li.textContent += ` (attempt ${status.current.attempt})`;
      }
      return li;
    }),
  );
  const review = $('run-review');
  review.hidden = !status.review;
  if (status.review) review.textContent = describeReview(status.review);
  const failure = $('run-failure');
  failure.hidden = !status.failure;
  if (status.failure)
    failure.textContent = `${status.failure.errorType} at ${status.failure.stage}: ${status.failure.message}`;
  const model = $('run-model');
  model.hidden = !status.model;
  if (status.model)
    model.textContent = `Written by ${status.model}${status.modelNote ? ` (${status.modelNote})` : ''}`;
  const usage = $('run-usage');
  usage.hidden = !status.usage;
  if (status.usage)
    usage.textContent = `${status.usage.promptTokens} prompt + ${status.usage.completionTokens} completion tokens${describeCost(status)}`;
  $('download').hidden = status.status !== 'COMPLETED';
  $('cancel').hidden = !active;
  if (status.status === 'AWAITING_REVIEW' && was !== 'AWAITING_REVIEW') loadReviews();
}

/**
 * Server-sent events read through fetch, so that the API key header can go along. A stream
 * that closes before its `end` event (a replica shutting down) is followed again.
 */
async function follow(workflowId, links, { reviewed = false, retries = 30 } = {}) {
  if (stream) stream.abort();
  const controller = new AbortController();
  stream = controller;
  current = { workflowId, links, reviewed };
  let ended = false;
  try {
    const response = await api(links.events, { signal: controller.signal });
    if (!response.ok) return showError(await errorMessage(response));
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!data) continue;
        if (event !== 'progress' && event !== 'end') continue;
        const status = JSON.parse(data);
        render(status);
        if (event === 'end') {
          ended = true;
          showEnded(status);
          // Decided here, elsewhere or by its deadline: either way it no longer waits.
          if (status.review) loadReviews();
        }
      }
    }
  } catch {
    // A dropped connection; the retry below picks it up.
  }
  if (!ended && !controller.signal.aborted && retries > 0)
    setTimeout(() => follow(workflowId, links, { reviewed, retries: retries - 1 }), 1000);
}

/** `/api/reports/<id>/pdf` is saved as `report-<id>.pdf`, the name the API also suggests. */
const pdfName = (url) => `report-${url.split('/').at(-2)}.pdf`;

async function download(url, name) {
  const response = await api(url);
  if (!response.ok) return showError(await errorMessage(response));
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** Refreshes the list until it shows how the followed report ended: visibility trails a moment. */
async function showEnded(status, tries = 10) {
  const page = await loadReports(true);
  const listed = page?.reports.find((r) => r.workflowId === status.workflowId);
  if (listed?.status === status.status || tries <= 0) return;
  setTimeout(() => showEnded(status, tries - 1), 1000);
}

async function loadReports(reset) {
  if (reset) cursor = null;
  const params = new URLSearchParams({ limit: '10' });
  if ($('filter-status').value) params.set('status', $('filter-status').value);
  if (cursor) params.set('cursor', cursor);
  const response = await api(`/api/reports?${params}`);
  if (!response.ok) return showError(await errorMessage(response));
  const page = await response.json();
  const rows = page.reports.map((report) => {
    const tr = document.createElement('tr');
    tr.dataset.workflowId = report.workflowId;
    const name = document.createElement('td');
    const follow_ = document.createElement('a');
    follow_.href = '#';
    follow_.textContent = report.title || report.workflowId;
    follow_.addEventListener('click', (e) => {
      e.preventDefault();
      follow(report.workflowId, report.links);
    });
    name.append(follow_);
    const status = document.createElement('td');
    status.innerHTML = `<span class="badge ${report.status}"></span>`;
    status.firstChild.textContent = report.status;
    const started = document.createElement('td');
    started.textContent = new Date(report.startedAt).toLocaleString();
    const pdf = document.createElement('td');
    if (report.status === 'COMPLETED') {
      const a = document.createElement('a');
      a.href = '#';
      a.textContent = report.pages ? `${report.pages} p.` : 'PDF';
      a.addEventListener('click', (e) => {
        e.preventDefault();
        download(report.links.pdf, pdfName(report.links.pdf));
      });
      pdf.append(a);
    }
    tr.append(name, status, started, pdf);
    return tr;
  });
  if (reset) $('reports').replaceChildren(...rows);
  else $('reports').append(...rows);
  cursor = page.nextCursor || null;
  $('more').hidden = !cursor;
  return page;
}

/**
 * Shows what waits for review. Entries still waiting are kept as they are, so that a preview
 * is fetched once and what a reviewer is typing survives a refresh; new ones are added at the
 * end, the list being longest-waiting first. An entry that shows a decision's outcome stays for
 * one refresh after it leaves the list, so that the outcome can be read.
 */
async function loadReviews() {
  // A later load answers for the list; an earlier one answering after it is dropped.
  const load = ++reviewsLoad;
  const error = $('reviews-error');
  let reviews;
  try {
    const response = await api('/api/reviews?limit=50');
    if (!response.ok) throw new Error(await errorMessage(response));
    ({ reviews } = await response.json());
  } catch (e) {
    if (load !== reviewsLoad) return;
    error.textContent = e.message;
    error.hidden = false;
    return;
  }
  if (load !== reviewsLoad) return;
  error.hidden = true;
  const waiting = new Set(reviews.map((review) => review.workflowId));
  const shown = new Map();
  for (const entry of [...$('reviews').children]) {
    if (waiting.has(entry.dataset.workflowId)) shown.set(entry.dataset.workflowId, entry);
    else if (entry.dataset.outcome === 'new') entry.dataset.outcome = 'read';
    else removeReviewEntry(entry);
  }
  for (const review of reviews)
    if (!shown.has(review.workflowId)) $('reviews').append(reviewEntry(review));
  $('reviews-empty').hidden = $('reviews').children.length > 0;
}

function removeReviewEntry(entry) {
  const preview = entry.querySelector('iframe');
  if (preview.src) URL.revokeObjectURL(preview.src);
  entry.remove();
}

function clearReviews() {
  for (const entry of [...$('reviews').children]) removeReviewEntry(entry);
}

function reviewEntry(review) {
  const entry = $('review-entry').content.firstElementChild.cloneNode(true);
  const title = review.title || review.workflowId;
  entry.dataset.workflowId = review.workflowId;
  const heading = entry.querySelector('h3');
  heading.id = `review-title-${++reviewSerial}`;
  heading.textContent = title;
  entry.querySelector('.facts').textContent = [
    `Requested by ${review.requesterId}`,
    review.pages ? `${review.pages} p.` : '',
    `waiting since ${time(review.waitingSince)}`,
    `${anyOf(review.reviewers)} may decide until ${time(review.deadline)}; then ${verdict(review.onTimeout)} automatically`,
  ]
    .filter(Boolean)
    .join(' · ');
  const form = entry.querySelector('form');
  form.setAttribute('aria-labelledby', heading.id);
  // Only a button decides: Enter in the reviewer field must not approve.
  form.addEventListener('submit', (event) => event.preventDefault());
  for (const button of form.querySelectorAll('button'))
    button.addEventListener('click', () => {
      if (form.reportValidity()) decide(form, button.value, review, entry);
    });
  showPreview(entry, review, title);
  return entry;
}

/** Fetched with the API key, when one is set, and shown from an object URL. */
async function showPreview(entry, review, title) {
  let url;
  try {
    const response = await api(`${review.links.pdf}?disposition=inline`);
    if (!response.ok) throw new Error(await errorMessage(response));
    url = URL.createObjectURL(await response.blob());
  } catch (error) {
    const missing = entry.querySelector('.no-preview');
    missing.textContent = `No preview: ${error.message}`;
    missing.hidden = false;
    return;
  }
  if (!entry.isConnected) return URL.revokeObjectURL(url);
  const preview = entry.querySelector('iframe');
  preview.title = `Preview of ${title}`;
  preview.src = url;
  preview.hidden = false;
}

async function decide(form, decision, review, entry) {
  const outcome = form.querySelector('.outcome');
  const buttons = form.querySelectorAll('button');
  const comment = form.elements.comment.value.trim();
  for (const button of buttons) button.disabled = true;
  outcome.className = 'outcome';
  outcome.textContent = decision === 'APPROVE' ? 'Approving…' : 'Rejecting…';
  let decided = false;
  try {
    const response = await api(review.links.review, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reviewer: form.elements.reviewer.value.trim(),
        decision,
        ...(comment ? { comment } : {}),
      }),
    });
    if (response.status === 200) {
      outcome.textContent = describeDecision((await response.json()).review);
      decided = true;
    } else if (response.status === 202) {
      outcome.textContent = 'Submitted: no worker runs now; the decision is applied when one does.';
      decided = true;
    } else {
      outcome.textContent = await errorMessage(response);
      outcome.classList.add('error');
    }
  } catch (error) {
    outcome.textContent = String(error);
    outcome.classList.add('error');
  }
  entry.dataset.outcome = 'new';
  for (const button of buttons) button.disabled = decided;
  // The report's row records the decision a moment after the answer.
  setTimeout(loadReviews, 1000);
}

document.addEventListener('DOMContentLoaded', () => {
  $('api-key').value = apiKey();
  $('api-key').addEventListener('change', (e) => {
    localStorage.setItem('report-pipeline.api-key', e.target.value.trim());
    loadReports(true);
    clearReviews();
    loadReviews();
  });
  $('report-form').addEventListener('submit', submit);
  $('download').addEventListener('click', () => {
    if (current) download(current.links.pdf, pdfName(current.links.pdf));
  });
  $('cancel').addEventListener('click', async () => {
    if (!current) return;
    const response = await api(current.links.cancel, { method: 'POST' });
    if (!response.ok) showError(await errorMessage(response));
  });
  $('refresh').addEventListener('click', () => loadReports(true));
  $('filter-status').addEventListener('change', () => loadReports(true));
  $('more').addEventListener('click', () => loadReports(false));
  $('reviews-refresh').addEventListener('click', loadReviews);
  loadReports(true);
  loadReviews();
  window.setInterval(() => {
    if (!document.hidden) loadReviews();
  }, 15_000);
});
