// A real small language model on this machine, behind the subset of OpenAI's HTTP API the
// service uses: POST /v1/chat/completions (streamed or not, with token usage), GET /v1/models
// and GET /health. The service reaches it through OPENAI_BASE_URL exactly as it reaches OpenAI.
//
// The model runs in-process with node-llama-cpp's prebuilt CPU binaries (nothing is compiled or
// downloaded at run time). Requests share one context of SEQUENCES parallel sequences; more
// requests than that wait their turn. Settings (environment):
//   MODEL_PATH   the GGUF file                     MODEL_NAME  the name answers report
//   PORT         8080                              SEQUENCES   2 parallel generations
//   THREADS      CPU threads (at most the cores)   CONTEXT_SIZE tokens per sequence (2048)
//   MAX_COMPLETION_TOKENS  the most one answer may have (450, about 10 s; a request may ask for fewer)
// Measured with SmolLM2-135M on 2 cores, four 200-token answers asked for at once: 1 sequence
// 330 MB and 49 tokens/s in all, 2 sequences 471 MB and 47 tokens/s, 4 sequences 1,026 MB and
// 63 tokens/s. Two keep a second request from waiting behind a long one, at modest memory.
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import process from 'node:process';
import { getLlama, LlamaChat } from 'node-llama-cpp';

const env = (name, fallback) => process.env[name] || fallback;
const port = Number(env('PORT', '8080'));
const modelPath = env('MODEL_PATH', '/opt/llm/models/model.gguf');
const modelName = env('MODEL_NAME', 'local-model');
const cores = availableParallelism();
const threads = Math.min(cores, Number(env('THREADS', String(cores))));
const sequences = Number(env('SEQUENCES', '2'));
const contextPerSequence = Number(env('CONTEXT_SIZE', '2048'));
const maxCompletionTokens = Number(env('MAX_COMPLETION_TOKENS', '450'));

const log = (message, fields = {}) =>
  process.stdout.write(
    `${JSON.stringify({ time: new Date().toISOString(), message, ...fields })}\n`,
  );

const loadStarted = performance.now();
const llama = await getLlama({
  gpu: false,
  build: 'never',
  usePrebuiltBinaries: true,
  logLevel: 'error',
});
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({
  sequences,
  contextSize: contextPerSequence * sequences,
  threads,
});
/** Free sequences, and the requests waiting for one, first come first served. */
const idle = Array.from({ length: sequences }, () => context.getSequence());
const waiting = [];
log('model loaded', {
  model: modelName,
  loadMs: Math.round(performance.now() - loadStarted),
  threads,
  sequences,
  contextPerSequence,
});

function acquire(signal) {
  const free = idle.pop();
  if (free) return Promise.resolve(free);
  return new Promise((resolve, reject) => {
    const waiter = { resolve, reject };
    waiting.push(waiter);
    signal.addEventListener('abort', () => {
      const at = waiting.indexOf(waiter);
      if (at >= 0) waiting.splice(at, 1);
      reject(signal.reason);
    });
  });
}

async function release(sequence) {
  await sequence.clearHistory();
  const next = waiting.shift();
  if (next) next.resolve(sequence);
  else idle.push(sequence);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const invalid = (res, message, code = null) =>
  sendJson(res, 400, { error: { message, type: 'invalid_request_error', param: null, code } });

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/** OpenAI's messages as node-llama-cpp's chat history; undefined when they are not usable. */
function historyOf(messages) {
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  const history = [];
  for (const message of messages) {
    const text = typeof message?.content === 'string' ? message.content : undefined;
    if (text === undefined) return undefined;
    if (message.role === 'system' || message.role === 'developer')
      history.push({ type: 'system', text });
    else if (message.role === 'user') history.push({ type: 'user', text });
    else if (message.role === 'assistant') history.push({ type: 'model', response: [text] });
    else return undefined;
  }
  return history;
}

async function chatCompletion(req, res) {
  let body;
  try {
    body = await readJson(req);
  } catch {
    return invalid(res, 'We could not parse the JSON body of your request.');
  }
  const history = historyOf(body.messages);
  if (!history) return invalid(res, "'messages' must be a non-empty array of text messages.");
  const maxTokens = Number(body.max_completion_tokens ?? body.max_tokens ?? 512);
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    return invalid(res, "'max_completion_tokens' must be a positive integer.");
  const promptText = history.map((h) => h.text ?? h.response.join('')).join('\n');
  const promptTokens = model.tokenize(promptText).length;
  if (promptTokens + Math.min(maxTokens, 64) > contextPerSequence) {
    return invalid(
      res,
      `This model's maximum context length is ${contextPerSequence} tokens; the messages have about ${promptTokens}.`,
      'context_length_exceeded',
    );
  }

  const stream = body.stream === true;
  const includeUsage = stream && body.stream_options?.include_usage === true;
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort(new Error('the client went away'));
  });

  let sequence;
  try {
    sequence = await acquire(abort.signal);
  } catch {
    return;
  }
  const started = performance.now();
  const chunk = (delta, finishReason = null, usage) =>
    `data: ${JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model: modelName,
      choices: usage ? [] : [{ index: 0, delta, finish_reason: finishReason }],
      ...(usage ? { usage } : {}),
    })}\n\n`;
  try {
    const meterBefore = sequence.tokenMeter.getState();
    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(chunk({ role: 'assistant', content: '' }));
    }
    const chat = new LlamaChat({ contextSequence: sequence });
    const answer = await chat.generateResponse(history, {
      maxTokens: Math.min(maxTokens, maxCompletionTokens, contextPerSequence - promptTokens),
      temperature: Number(body.temperature ?? 0.3),
      repeatPenalty: { penalty: 1.15 },
      signal: abort.signal,
      stopOnAbortSignal: true,
      onTextChunk: stream ? (text) => res.write(chunk({ content: text })) : undefined,
    });
    const meter = sequence.tokenMeter.getState();
    const completionTokens = meter.usedOutputTokens - meterBefore.usedOutputTokens;
    // What the model evaluated: the messages in its chat template, then what it wrote.
    const evaluatedPrompt = meter.usedInputTokens - meterBefore.usedInputTokens;
    const usage = {
      prompt_tokens: evaluatedPrompt,
      completion_tokens: completionTokens,
      total_tokens: evaluatedPrompt + completionTokens,
    };
    const finishReason = answer.metadata.stopReason === 'maxTokens' ? 'length' : 'stop';
    chat.dispose({ disposeSequence: false });
    if (abort.signal.aborted) return;
    if (stream) {
      res.write(chunk({}, finishReason));
      if (includeUsage) res.write(chunk(undefined, null, usage));
      res.end('data: [DONE]\n\n');
    } else {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: modelName,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: answer.response },
            finish_reason: finishReason,
          },
        ],
        usage,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    log('answered', {
      promptTokens: evaluatedPrompt,
      completionTokens,
      seconds: Number(seconds.toFixed(2)),
      tokensPerSecond: Number((completionTokens / seconds).toFixed(1)),
    });
  } catch (error) {
    log('generation failed', { error: String(error) });
    if (!res.headersSent)
      sendJson(res, 500, {
        error: { message: 'the model failed', type: 'server_error', param: null, code: null },
      });
    else res.destroy();
  } finally {
    await release(sequence);
  }
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://local').pathname.replace(/\/+$/, '');
  if (req.method === 'GET' && path === '/health')
    return sendJson(res, 200, { status: 'ok', model: modelName });
  if (req.method === 'GET' && path === '/v1/models')
    return sendJson(res, 200, {
      object: 'list',
      data: [{ id: modelName, object: 'model', created: 0, owned_by: 'local' }],
    });
  if (req.method === 'POST' && path === '/v1/chat/completions') {
    chatCompletion(req, res).catch((error) => {
      log('request failed', { error: String(error) });
      if (!res.headersSent)
        sendJson(res, 500, { error: { message: 'internal error', type: 'server_error' } });
    });
    return;
  }
  sendJson(res, 404, {
    error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' },
  });
});
server.listen(port, '0.0.0.0', () => log('listening', { port, api: `http://0.0.0.0:${port}/v1` }));

const stop = () => {
  server.close();
  server.closeAllConnections();
  context
    .dispose()
    .then(() => model.dispose())
    .then(() => llama.dispose())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
