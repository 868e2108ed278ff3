import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger';

function capture(promptChars: number) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger(
    { LOG_LEVEL: 'info', NODE_ENV: 'production', LOG_PROMPT_CHARS: promptChars },
    'test',
    sink,
  );
  return { logger, lines };
}

describe('logger', () => {
  const prompt = 'Confidential: the merger of A and B, projected numbers attached';

  it('logs a prompt only as its length by default, wherever it appears', () => {
    const { logger, lines } = capture(0);
    logger.info({ prompt, request: { prompt, requester: 'x' }, reportId: 'r1' }, 'started');
    const line = JSON.stringify(lines[0]);
    assert.doesNotMatch(line, /merger/);
    assert.equal(lines[0]?.prompt, `[prompt, ${prompt.length} chars]`);
    assert.deepEqual(lines[0]?.request, {
      prompt: `[prompt, ${prompt.length} chars]`,
      requester: 'x',
    });
    assert.equal(lines[0]?.reportId, 'r1');
  });

  it('shows the start of a prompt when LOG_PROMPT_CHARS allows it', () => {
    const { logger, lines } = capture(12);
    logger.info({ prompt }, 'started');
    assert.equal(lines[0]?.prompt, `Confidential… [${prompt.length} chars]`);
  });

  it('redacts secrets', () => {
    const { logger, lines } = capture(0);
    logger.info(
      { headers: { authorization: 'Bearer abc' }, OPENAI_API_KEY: 'sk-123', db: { password: 'p' } },
      'configured',
    );
    const line = JSON.stringify(lines[0]);
    assert.doesNotMatch(line, /abc|sk-123|"p"/);
    assert.match(line, /\[redacted\]/);
  });
});
