import type { ScriptedBehaviour, ServedRequest } from './llm-server';

/** Drives the local LLM server over its /__control endpoints (when it runs as a stack process). */
export class LlmControl {
  constructor(private readonly baseUrl: string) {}

  async script(...entries: ScriptedBehaviour[]): Promise<void> {
    const res = await fetch(`${this.baseUrl}/__control/script`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(entries),
    });
    if (!res.ok) throw new Error(`LLM control answered ${res.status}`);
  }

  async served(): Promise<ServedRequest[]> {
    const res = await fetch(`${this.baseUrl}/__control/requests`);
    if (!res.ok) throw new Error(`LLM control answered ${res.status}`);
    return (await res.json()) as ServedRequest[];
  }

  async countFor(idempotencyKey: string): Promise<number> {
    return (await this.served()).filter((r) => r.idempotencyKey === idempotencyKey).length;
  }
}
