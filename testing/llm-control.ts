import type { ScriptedBehaviour, ServedRequest } from '../docker/llm/llm-server';
import { uniqueName } from './stack-env';

/**
 * One tenant of the LLM stand-in server (docker/llm): its own OpenAI base URL for the service,
 * and its own script, request log and counters, so test files sharing the server never see each
 * other's calls. Driven over the tenant's /__control endpoints.
 */
export class LlmStandIn {
  /** What the service's OPENAI_BASE_URL is set to. */
  readonly baseUrl: string;
  private readonly control: string;

  constructor(
    serverUrl: string,
    readonly tenant: string = uniqueName('llm'),
  ) {
    const root = tenant === '' ? serverUrl : `${serverUrl}/t/${tenant}`;
    this.baseUrl = `${root}/v1`;
    this.control = `${root}/__control`;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.control}/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`LLM stand-in ${method} ${path} answered ${res.status}`);
    return res.status === 204 ? undefined : res.json();
  }

  /** This tenant's base URL on a server reached at `serverUrl` (e.g. by its network name). */
  baseUrlOn(serverUrl: string): string {
    return this.tenant === '' ? `${serverUrl}/v1` : `${serverUrl}/t/${this.tenant}/v1`;
  }

  /** Behaviours for the next matching calls, in order; unmatched calls answer normally. */
  async push(...entries: ScriptedBehaviour[]): Promise<void> {
    await this.call('POST', 'script', entries);
  }

  async served(): Promise<ServedRequest[]> {
    return (await this.call('GET', 'requests')) as ServedRequest[];
  }

  async countFor(idempotencyKey: string): Promise<number> {
    return (await this.served()).filter((r) => r.idempotencyKey === idempotencyKey).length;
  }

  /** Chat completions open now, and the most open at once since the last reset. */
  async stats(): Promise<{ inFlight: number; maxInFlight: number }> {
    return (await this.call('GET', 'stats')) as { inFlight: number; maxInFlight: number };
  }

  /** Drops the script and the request log, and ends calls it holds open. */
  async reset(): Promise<void> {
    await this.call('POST', 'reset');
  }

  /** Resets and lets the server forget this tenant. */
  async close(): Promise<void> {
    await this.call('POST', 'forget');
  }
}
