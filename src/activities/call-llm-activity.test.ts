import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryAfterMs, titleOf, validatePrompt } from './call-llm-activity';
import { InvalidPromptError } from './errors';

describe('callLlm helpers', () => {
  it('refuses empty and oversized prompts before any call', () => {
    assert.throws(() => validatePrompt('   \n', 100), InvalidPromptError);
    assert.throws(() => validatePrompt('x'.repeat(101), 100), /101 characters; at most 100/);
    assert.equal(validatePrompt('  ok  ', 100), 'ok');
  });

  it('reads Retry-After as seconds, as an HTTP date, or retry-after-ms', () => {
    assert.equal(retryAfterMs(new Headers({ 'retry-after': '7' })), 7000);
    assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '7' })), 250);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const ms = retryAfterMs(new Headers({ 'retry-after': inTen }));
    assert.ok(ms !== undefined && ms > 8_000 && ms <= 10_000, String(ms));
    assert.equal(retryAfterMs(new Headers({ 'retry-after': 'soon' })), undefined);
    assert.equal(retryAfterMs(undefined), undefined);
  });

  it('titles a report by its first heading, else the prompt', () => {
    assert.equal(titleOf('intro\n# The Title\n## Sub', 'prompt'), 'The Title');
    assert.equal(titleOf('no heading', 'First line\nsecond'), 'First line');
    assert.equal(titleOf('', 'x'.repeat(200)).length, 120);
  });
});
