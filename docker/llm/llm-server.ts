import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A deterministic OpenAI-compatible server: the one stand-in the project allows, for the paid
 * LLM API. The service reaches it only through OPENAI_BASE_URL. Tests script its behaviour over
 * its /__control endpoints and read how many requests it served per Idempotency-Key.
 *
 * One server serves many independent tenants: `/t/<tenant>/v1/...` and
 * `/t/<tenant>/__control/...` have a script, counters and a request log of their own, so test
 * files sharing one server never see each other's calls. `/v1` and `/__control` are the
 * default tenant. Runs in Node.js as it is (type stripping), with no dependencies:
 * `node main.mjs` in this folder.
 */

export type LlmBehaviour =
  /**
   * Answers after `latencyMs`; with `untilInFlight`, as soon as that many calls are open at
   * once instead (`latencyMs` then bounds the wait), so a test of concurrency does not depend on
   * how fast the calls arrive.
   */
  | { mode: 'ok'; latencyMs?: number; untilInFlight?: number }
  | { mode: 'rate-limit'; retryAfterSeconds: number; retryAfterMs?: number }
  | { mode: 'server-error' }
  | { mode: 'hang' }
  | { mode: 'context-length' };

export interface ScriptedBehaviour {
  behaviour: LlmBehaviour;
  /** How many matching requests get this behaviour before it is used up. */
  times: number;
  /** Only requests with this Idempotency-Key match; any request when absent. */
  idempotencyKey?: string;
}

export interface ServedRequest {
  idempotencyKey: string | undefined;
  model: string;
  stream: boolean;
  outcome: LlmBehaviour['mode'];
  at: string;
}

interface ChatMessage {
  role: string;
  content: string;
}

interface ChatRequest {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

/** Context window the stand-in pretends to have, in its rough token count. */
export const CONTEXT_LIMIT_TOKENS = 16_000;

const countTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/** A markdown-like report derived only from the prompt, so every run answers the same. */
export function deterministicReport(prompt: string): string {
  const topic = prompt.trim().split('\n')[0]!.trim();
  const words = prompt.split(/\s+/).filter(Boolean);
  return [
    `# ${topic}`,
    '',
    `This report answers a request of ${words.length} words.`,
    '',
    '## Summary',
    '',
    `The request asked about "${topic}". The findings below are generated deterministically.`,
    '',
    '## Key findings',
    '',
    ...words.slice(0, 5).map((w, i) => `- Finding ${i + 1}: ${w}`),
    '',
    '## Method',
    '',
    '```',
    `words(request) = ${words.length}`,
    '```',
    '',
    '## Conclusion',
    '',
    'Nothing further was requested.',
  ].join('\n');
}

export class LlmServerState {
  private script: ScriptedBehaviour[] = [];
  readonly served: ServedRequest[] = [];
  /** Chat completions being answered now, and the most there have been at once since reset. */
  inFlight = 0;
  maxInFlight = 0;
  private readonly hanging = new Set<ServerResponse>();
  private readonly inFlightWaiters = new Set<{ count: number; resolve: () => void }>();

  /** A chat completion arrived: counts it, and wakes answers waiting for this many at once. */
  arrived(): void {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    for (const waiter of this.inFlightWaiters) if (this.inFlight >= waiter.count) waiter.resolve();
  }

  /** Resolves once `count` calls are open at once, or after `maxMs`, whichever comes first. */
  inFlightReaches(count: number, maxMs: number): Promise<void> {
    if (this.maxInFlight >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          this.inFlightWaiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, maxMs);
      this.inFlightWaiters.add(waiter);
    });
  }

  push(entry: ScriptedBehaviour): void {
    this.script.push({ ...entry });
  }

  reset(): void {
    this.script = [];
    this.served.length = 0;
    this.maxInFlight = this.inFlight;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  countFor(idempotencyKey: string): number {
    return this.served.filter((r) => r.idempotencyKey === idempotencyKey).length;
  }

  /** Takes the first scripted behaviour that matches, using up one of its `times`. */
  next(idempotencyKey: string | undefined): LlmBehaviour {
    const index = this.script.findIndex(
      (s) => s.times > 0 && (s.idempotencyKey === undefined || s.idempotencyKey === idempotencyKey),
    );
    const entry = this.script[index];
    if (!entry) return { mode: 'ok' };
    entry.times -= 1;
    if (entry.times === 0) this.script.splice(index, 1);
    return entry.behaviour;
  }

  hold(res: ServerResponse): void {
    this.hanging.add(res);
    res.on('close', () => this.hanging.delete(res));
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function openAiError(
  res: ServerResponse,
  status: number,
  type: string,
  code: string | null,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : {};
}

function parseMessages(value: unknown): ChatMessage[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: ChatMessage[] = [];
  for (const m of value as unknown[]) {
    if (typeof m !== 'object' || m === null) return undefined;
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || typeof content !== 'string') return undefined;
    out.push({ role, content });
  }
  return out;
}

async function chatCompletions(
  state: LlmServerState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let body: ChatRequest;
  try {
    body = (await readJson(req)) as ChatRequest;
  } catch {
    openAiError(
      res,
      400,
      'invalid_request_error',
      null,
      'We could not parse the JSON body of your request.',
    );
    return;
  }
  const messages = parseMessages(body.messages);
  const model = typeof body.model === 'string' ? body.model : undefined;
  if (!messages || messages.length === 0 || !model) {
    openAiError(
      res,
      400,
      'invalid_request_error',
      null,
      "'model' and a non-empty 'messages' array are required.",
    );
    return;
  }
  const header = req.headers['idempotency-key'];
  const idempotencyKey = Array.isArray(header) ? header[0] : header;
  const stream = body.stream === true;
  const prompt = messages.map((m) => m.content).join('\n');
  const promptTokens = countTokens(prompt);

  let behaviour = state.next(idempotencyKey);
  if (behaviour.mode === 'ok' && promptTokens > CONTEXT_LIMIT_TOKENS)
    behaviour = { mode: 'context-length' };
  state.served.push({
    idempotencyKey,
    model,
    stream,
    outcome: behaviour.mode,
    at: new Date().toISOString(),
  });

  switch (behaviour.mode) {
    case 'rate-limit':
      openAiError(res, 429, 'requests', 'rate_limit_exceeded', 'Rate limit reached; retry later.', {
        'retry-after': String(behaviour.retryAfterSeconds),
        // OpenAI's finer-grained hint, which the openai package and the service prefer.
        ...(behaviour.retryAfterMs !== undefined
          ? { 'retry-after-ms': String(behaviour.retryAfterMs) }
          : {}),
      });
      return;
    case 'server-error':
      openAiError(
        res,
        500,
        'server_error',
        null,
        'The server had an error while processing your request.',
      );
      return;
    case 'context-length':
      openAiError(
        res,
        400,
        'invalid_request_error',
        'context_length_exceeded',
        `This model's maximum context length is ${CONTEXT_LIMIT_TOKENS} tokens; your messages resulted in ${promptTokens} tokens.`,
      );
      return;
    case 'hang':
      state.hold(res);
      return;
    case 'ok':
      break;
  }
  if (behaviour.untilInFlight)
    await state.inFlightReaches(behaviour.untilInFlight, behaviour.latencyMs ?? 60_000);
  else if (behaviour.latencyMs) await new Promise((r) => setTimeout(r, behaviour.latencyMs));

  const lastUser = [...messages].reverse().find((m) => m.role === 'user')?.content ?? prompt;
  const content = deterministicReport(lastUser);
  // Providers name the model that answered (OpenAI a dated snapshot); the stand-in says what it is.
  const servedModel = `${model}-stand-in`;
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: countTokens(content),
    total_tokens: promptTokens + countTokens(content),
  };
  const id = `chatcmpl-${(idempotencyKey ?? 'anon').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40)}-${state.served.length}`;
  const created = 1_700_000_000;

  if (!stream) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: servedModel,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage,
    });
    return;
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  const chunk = (
    delta: Record<string, unknown>,
    finish: string | null,
    extra: Record<string, unknown> = {},
  ): void => {
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: servedModel, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`,
    );
  };
  chunk({ role: 'assistant', content: '' }, null);
  for (const piece of content.match(/[\s\S]{1,64}/g) ?? []) chunk({ content: piece }, null);
  chunk({}, 'stop');
  if (body.stream_options?.include_usage === true) {
    res.write(
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: servedModel, choices: [], usage })}\n\n`,
    );
  }
  res.end('data: [DONE]\n\n');
}

async function control(
  state: LlmServerState,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  forget: () => void,
): Promise<void> {
  if (req.method === 'POST' && path === '/__control/script') {
    const body = (await readJson(req)) as ScriptedBehaviour | ScriptedBehaviour[];
    for (const entry of Array.isArray(body) ? body : [body]) state.push(entry);
    sendJson(res, 204, null);
    return;
  }
  if (req.method === 'POST' && path === '/__control/reset') {
    state.reset();
    sendJson(res, 204, null);
    return;
  }
  if (req.method === 'GET' && path === '/__control/requests') {
    sendJson(res, 200, state.served);
    return;
  }
  if (req.method === 'GET' && path === '/__control/stats') {
    sendJson(res, 200, { inFlight: state.inFlight, maxInFlight: state.maxInFlight });
    return;
  }
  if (req.method === 'POST' && path === '/__control/forget') {
    forget();
    sendJson(res, 204, null);
    return;
  }
  sendJson(res, 404, { error: 'unknown control endpoint' });
}

export interface RunningLlmServer {
  url: string;
  /** The default tenant's base URL, to give the openai package / OPENAI_BASE_URL. */
  baseUrl: string;
  /** The default tenant's state. */
  state: LlmServerState;
  close(): Promise<void>;
}

const tenantPath = /^\/t\/([A-Za-z0-9._-]{1,128})(\/.*)$/;

export async function startLlmServer(
  options: { port?: number; host?: string } = {},
): Promise<RunningLlmServer> {
  const tenants = new Map<string, LlmServerState>([['', new LlmServerState()]]);
  const server: Server = createServer((req, res) => {
    const fullPath = new URL(req.url ?? '/', 'http://local').pathname;
    const match = tenantPath.exec(fullPath);
    const tenant = match?.[1] ?? '';
    const path = match?.[2] ?? fullPath;
    let state = tenants.get(tenant);
    if (!state) {
      state = new LlmServerState();
      tenants.set(tenant, state);
    }
    const forget = (): void => {
      tenants.get(tenant)?.reset();
      if (tenant !== '') tenants.delete(tenant);
    };
    const handle = async (): Promise<void> => {
      if (path === '/health') return sendJson(res, 200, { status: 'ok' });
      if (path.startsWith('/__control/')) return control(state, req, res, path, forget);
      if (req.method === 'GET' && path === '/v1/models') {
        return sendJson(res, 200, {
          object: 'list',
          data: [{ id: 'local-deterministic', object: 'model', owned_by: 'local' }],
        });
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        state.arrived();
        res.once('close', () => {
          state.inFlight -= 1;
        });
        return chatCompletions(state, req, res);
      }
      openAiError(
        res,
        404,
        'invalid_request_error',
        'unknown_url',
        `Unknown request URL: ${req.method} ${path}`,
      );
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent) openAiError(res, 500, 'server_error', null, String(error));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    state: tenants.get('')!,
    close: () =>
      new Promise<void>((resolve) => {
        for (const state of tenants.values()) state.reset();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
