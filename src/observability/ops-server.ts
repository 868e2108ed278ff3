import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  ok: boolean;
  /** How long the check took. */
  ms: number;
  error?: string;
}

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Each named check must pass for /ready to answer 200. */
  checks: Record<string, () => Promise<unknown>>;
  /** More Prometheus text appended to /metrics (the Temporal SDK's own worker metrics). */
  extraMetrics?: () => Promise<string>;
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 2_000;

/** One readiness check, failed when it throws or takes longer than 2 s. */
export async function runCheck(check: () => Promise<unknown>): Promise<ReadinessCheck> {
  const started = performance.now();
  const ms = (): number => Math.round(performance.now() - started);
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return { ok: true, ms: ms() };
  } catch (error: unknown) {
    return { ok: false, ms: ms(), error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * /metrics, /health and /ready for the processes without an HTTP API of their own (worker and
 * consumer): what Kubernetes probes and Prometheus scrapes.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const handle = async (): Promise<void> => {
      if (req.method !== 'GET') return reply(405, 'application/json', '{"error":"GET only"}');
      if (path === '/health') return reply(200, 'application/json', '{"status":"ok"}');
      if (path === '/ready') {
        const names = Object.keys(options.checks);
        const results = await Promise.all(names.map((n) => runCheck(options.checks[n]!)));
        const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
        const ok = results.every((r) => r.ok);
        return reply(
          ok ? 200 : 503,
          'application/json',
          JSON.stringify({ status: ok ? 'ready' : 'unready', checks }),
        );
      }
      if (path === '/metrics') {
        const own = await options.registry.metrics();
        const extra = options.extraMetrics ? await options.extraMetrics().catch(() => '') : '';
        return reply(200, options.registry.contentType, `${own}\n${extra}`);
      }
      reply(404, 'application/json', '{"error":"not found"}');
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent) reply(500, 'application/json', '{"error":"internal error"}');
      else res.destroy(error instanceof Error ? error : undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
