import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { buildApp, type ApiDeps } from '../../src/http/app';
import { ReportReader } from '../../src/http/report-reader';
import { Inbox } from '../../src/storage/inbox';
import { ReportFileStore } from '../../src/storage/report-file-store';
import { TokenLedger } from '../../src/storage/token-ledger';
import { createReportHarness, type ReportHarness } from '../../testing/report-harness';

export interface RunningApi {
  /** Where the API listens, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  metrics: Registry;
  /** fetch relative to the API, with JSON bodies encoded. */
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export type ApiHarness = ReportHarness & RunningApi;

/** Every error answer of the API: a stable code, a message for people, and the request id. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
  requestId: string;
}

export interface ApiOptions {
  apiKeys?: string[];
  bodyLimitBytes?: number;
  /** Any other API setting, e.g. a rate limit. */
  settings?: Partial<ApiDeps['config']>;
  /** The clock the API's budget check reads (a test may move it to tomorrow). */
  now?: () => Date;
}

/** The API on an ephemeral port over a report harness's database and Temporal client. */
export async function startApi(h: ReportHarness, options: ApiOptions = {}): Promise<RunningApi> {
  const metrics = new Registry();
  const app = await buildApp({
    temporal: h.client,
    dataSource: h.dataSource,
    inbox: new Inbox(h.dataSource),
    tokenLedger: new TokenLedger(h.dataSource),
    now: options.now,
    files: new ReportFileStore(h.dataSource),
    reader: new ReportReader(h.client, h.dataSource),
    metrics,
    logger: pino({ level: 'silent' }),
    config: {
      ...h.config,
      API_KEYS: options.apiKeys ?? [],
      HTTP_BODY_LIMIT_BYTES: options.bodyLimitBytes ?? h.config.HTTP_BODY_LIMIT_BYTES,
      ...options.settings,
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    metrics,
    call(path, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (json !== undefined && !headers.has('content-type'))
        headers.set('content-type', 'application/json');
      return fetch(`${baseUrl}${path}`, {
        ...rest,
        headers,
        body: json === undefined ? rest.body : JSON.stringify(json),
      });
    },
    close: () => app.close(),
  };
}

/**
 * A report harness with a worker on its own task queue and the API in front of it, so that
 * what the API starts also runs.
 */
export async function createApiHarness(
  options: ApiOptions & { worker?: boolean } = {},
): Promise<ApiHarness> {
  const h = await createReportHarness();
  if (options.worker !== false) await h.startWorker();
  const api = await startApi(h, options);
  return {
    ...h,
    ...api,
    async close() {
      await api.close();
      await h.close();
    },
  };
}

/** An API already running somewhere (a container, a Compose project), called like a harness's. */
export const apiAt = (baseUrl: string): Pick<RunningApi, 'call'> => ({
  call: (path, init) => fetch(`${baseUrl}${path}`, init),
});

/**
 * Polls the status endpoint until the report's workflow has closed (its stage reads `done` a
 * moment before its status leaves RUNNING; waiting for review is not an end) and returns that last status; an answer other than
 * 200 (a workflow not visible yet) is asked again.
 */
export async function waitForEnd(
  api: Pick<RunningApi, 'call'>,
  statusUrl: string,
  timeoutMs = 90_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  let last: Record<string, unknown> = {};
  while (Date.now() < deadline) {
    const response = await api.call(statusUrl);
    if (response.status === 200) {
      last = (await response.json()) as Record<string, unknown>;
      if (last.status !== 'RUNNING' && last.status !== 'AWAITING_REVIEW') return last;
    } else await response.arrayBuffer();
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${statusUrl}: still running after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}
