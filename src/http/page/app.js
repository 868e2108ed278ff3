// The manual-run page: plain browser JavaScript, served as written.
'use strict';

const STAGES = ['callLlm', 'createPdf', 'storeReportMetadata', 'sendNotification', 'publish'];
const STAGE_NAMES = {
  callLlm: 'LLM',
  createPdf: 'PDF',
  storeReportMetadata: 'Stored',
  sendNotification: 'Email',
  publish: 'Published',
};
const $ = (id) => document.getElementById(id);
let current = null;
let stream = null;
let cursor = null;

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

async function submit(event) {
  event.preventDefault();
  showError('');
  $('submit').disabled = true;
  try {
    const response = await api('/api/workflows/generate-report', {
      method: 'POST',
      // One key per submission: a retried click cannot start a second report.
      headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() },
      body: JSON.stringify({
        prompt: $('prompt').value,
        requester: { id: $('requester-id').value, email: $('email').value },
        options: { language: $('language').value },
      }),
    });
    if (!response.ok) return showError(await errorMessage(response));
    const started = await response.json();
    follow(started.workflowId, started.links);
    setTimeout(() => loadReports(true), 1000);
  } catch (error) {
    showError(String(error));
  } finally {
    $('submit').disabled = false;
  }
}

function render(status) {
  $('run').hidden = false;
  $('run-id').textContent = status.workflowId;
  const badge = $('run-status');
  badge.textContent = status.status;
  badge.className = `badge ${status.status}`;
  $('run-progress').value = status.progress;
  $('stages').replaceChildren(
    ...STAGES.map((stage) => {
      const li = document.createElement('li');
      li.textContent = STAGE_NAMES[stage];
      li.dataset.stage = stage;
      if (status.stagesCompleted.includes(stage)) li.className = 'done';
      else if (status.failure && status.failure.stage === stage) li.className = 'failed';
      else if (status.status === 'RUNNING' && status.stage === stage) {
        li.className = 'current';
        if (status.current && status.current.attempt > 1)
          li.textContent += ` (attempt ${status.current.attempt})`;
      }
      return li;
    }),
  );
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
    usage.textContent = `${status.usage.promptTokens} prompt + ${status.usage.completionTokens} completion tokens`;
  $('download').hidden = status.status !== 'COMPLETED';
  $('cancel').hidden = status.status !== 'RUNNING';
}

/**
 * Server-sent events read through fetch, so that the API key header can go along. A stream
 * that closes before its `end` event (a replica shutting down) is followed again.
 */
async function follow(workflowId, links, retries = 30) {
  if (stream) stream.abort();
  const controller = new AbortController();
  stream = controller;
  current = { workflowId, links };
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
        if (event === 'progress' || event === 'end') render(JSON.parse(data));
        if (event === 'end') {
          ended = true;
          showEnded(JSON.parse(data));
        }
      }
    }
  } catch {
    // A dropped connection; the retry below picks it up.
  }
  if (!ended && !controller.signal.aborted && retries > 0)
    setTimeout(() => follow(workflowId, links, retries - 1), 1000);
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

document.addEventListener('DOMContentLoaded', () => {
  $('api-key').value = apiKey();
  $('api-key').addEventListener('change', (e) => {
    localStorage.setItem('report-pipeline.api-key', e.target.value.trim());
    loadReports(true);
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
  loadReports(true);
});
