import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { EMAIL_MAX_LENGTH } from './request-fields';
import {
  EARLIEST_REQUESTED_AT,
  REQUESTED_AT_LEEWAY_MS,
  RequestRejectedError,
  validateRequest,
} from './request-validation';

const now = Date.UTC(2026, 10, 22, 12);
const limits = { promptMaxChars: 1000, now };

const request = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  idempotencyKey: 'order-1',
  prompt: 'Heat pumps in cold climates',
  requester: { id: 'team-a', email: 'a@example.com' },
  options: { model: null, maxTokens: null, language: 'en' },
  requestedAt: now - 60_000,
  correlationId: null,
  ...overrides,
});
const withRequester = (requester: Record<string, unknown>) =>
  request({ requester: { id: 'team-a', email: 'a@example.com', ...requester } });
const withOptions = (options: Record<string, unknown>) =>
  request({ options: { model: null, maxTokens: null, language: null, ...options } });

/** Asserts the request is refused as an invalid record, with `detail` in the message. */
function assertRefused(input: unknown, detail: RegExp): void {
  assert.throws(
    () => validateRequest(input, limits, 'kafka'),
    (error: unknown) => {
      assert.ok(error instanceof RequestRejectedError);
      assert.equal(error.reason, 'invalid-record');
      assert.match(error.message, detail);
      return true;
    },
  );
}

describe('validateRequest', () => {
  it('accepts a plain request and keeps its time', () => {
    const { request: valid } = validateRequest(request(), limits, 'kafka');
    assert.equal(valid.requestedAt, new Date(now - 60_000).toISOString());
    assert.deepEqual(valid.options, { language: 'en' });
  });

  it('refuses a request dated in year 9999, which it used to accept and date as such', () => {
    assertRefused(
      request({ requestedAt: Date.UTC(9999, 11, 31) }),
      /^requestedAt: 9999-12-31T00:00:00.000Z is more than a day ahead/,
    );
  });

  it('refuses a time no date can hold, which it used to replace silently with now', () => {
    assertRefused(
      request({ requestedAt: Number.MAX_SAFE_INTEGER }),
      /^requestedAt: .* is not a time/,
    );
    assertRefused(
      request({ requestedAt: 'tomorrow-ish' }),
      /^requestedAt: tomorrow-ish is not a time/,
    );
  });

  it('refuses times before 2000, and accepts a producer clock running up to a day fast', () => {
    assertRefused(request({ requestedAt: 0 }), /is before 2000-01-01/);
    assertRefused(request({ requestedAt: EARLIEST_REQUESTED_AT - 1 }), /is before 2000-01-01/);
    assertRefused(request({ requestedAt: now + REQUESTED_AT_LEEWAY_MS + 1 }), /ahead/);
    for (const at of [EARLIEST_REQUESTED_AT, now + REQUESTED_AT_LEEWAY_MS])
      assert.equal(
        validateRequest(request({ requestedAt: at }), limits, 'kafka').request.requestedAt,
        new Date(at).toISOString(),
      );
  });

  it('refuses control characters in the requester, options and correlation id', () => {
    for (const c of ['\u0000', '\n', '\r', '\t', '\u001b', '\u007f', '\u0085']) {
      assertRefused(withRequester({ id: `team${c}a` }), /^requester\.id: must not contain control/);
      assertRefused(withRequester({ email: `a${c}@example.com` }), /^requester\.email:/);
      assertRefused(withRequester({ email: `a@example.com${c}` }), /^requester\.email:/);
      assertRefused(withOptions({ model: `gpt${c}` }), /^options\.model: must not contain control/);
      assertRefused(withOptions({ language: `en${c}` }), /^options\.language: must not contain/);
      assertRefused(
        request({ correlationId: `c${c}1` }),
        /^correlationId: must not contain control/,
      );
    }
  });

  it('refuses control characters in a prompt other than line breaks and tabs', () => {
    for (const c of ['\u0000', '\u0007', '\u001b', '\u007f', '\u009f'])
      assertRefused(request({ prompt: `Heat ${c}pumps` }), /^prompt: must not contain control/);
    const { request: valid } = validateRequest(
      request({ prompt: ' Heat pumps:\n\t- in cold climates\r\n' }),
      limits,
      'kafka',
    );
    assert.equal(valid.prompt, 'Heat pumps:\n\t- in cold climates');
  });

  it('refuses an email longer than SMTP can carry, which it used to accept at any length', () => {
    // 64 characters before the @ (RFC 5321's most), labels of up to 63, 254 in all.
    const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;
    const longest = `${'a'.repeat(64)}@${domain}`;
    assert.equal(longest.length, EMAIL_MAX_LENGTH);
    const at = '@example.com';
    assert.ok(validateRequest(withRequester({ email: longest }), limits, 'kafka'));
    assertRefused(withRequester({ email: `a${longest}` }), /^requester\.email:/);
    assertRefused(withRequester({ email: `${'a'.repeat(65)}${at}` }), /^requester\.email:/);
    assertRefused(withRequester({ email: `${'a'.repeat(300_000)}${at}` }), /^requester\.email:/);
  });

  it('refuses a requester id or a model of white space only', () => {
    assertRefused(withRequester({ id: '   ' }), /^requester\.id: must not be blank/);
    assertRefused(withRequester({ id: '\u00a0\u2003' }), /^requester\.id: must not be blank/);
    assertRefused(withOptions({ model: ' ' }), /^options\.model: must not be blank/);
  });

  it('refuses lone surrogates, which two different prompts would hash alike', () => {
    assertRefused(request({ prompt: 'Heat pumps \ud800' }), /^prompt: must be well-formed Unicode/);
    assertRefused(withRequester({ id: 'team-\udfff' }), /^requester\.id: must be well-formed/);
  });

  it('gives a request the same payload hash whatever its time and correlation id', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: EARLIEST_REQUESTED_AT, max: now }),
        fc.option(fc.stringMatching(/^[a-z0-9-]{1,40}$/), { nil: null }),
        (requestedAt, correlationId) =>
          validateRequest(request({ requestedAt, correlationId }), limits, 'kafka').payloadHash ===
          validateRequest(request(), limits, 'kafka').payloadHash,
      ),
    );
  });

  it('refuses any requester id with a control character in it, wherever it is', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 50 }),
        fc.integer({ min: 0, max: 0x1f }),
        fc.nat(),
        (id, code, at) => {
          const where = at % (id.length + 1);
          const withControl = `x${id.slice(0, where)}${String.fromCharCode(code)}${id.slice(where)}`;
          assert.throws(
            () => validateRequest(withRequester({ id: withControl }), limits, 'kafka'),
            RequestRejectedError,
          );
        },
      ),
    );
  });

  describe('review', () => {
    const review = { reviewers: ['rita', 'omar'], timeoutSeconds: 3600, onTimeout: 'REJECT' };

    it('carries a review policy through, and none when the record has null (an older producer)', () => {
      assert.deepEqual(
        validateRequest(request({ review }), limits, 'kafka').request.review,
        review,
      );
      assert.equal(
        'review' in validateRequest(request({ review: null }), limits, 'kafka').request,
        false,
      );
    });

    it('refuses a policy no one could act on', () => {
      assertRefused(request({ review: { ...review, reviewers: [] } }), /review\.reviewers/);
      assertRefused(request({ review: { ...review, reviewers: ['rita', 'rita'] } }), /twice/);
      assertRefused(request({ review: { ...review, reviewers: ['  '] } }), /blank/);
      assertRefused(request({ review: { ...review, timeoutSeconds: 0 } }), /timeoutSeconds/);
      assertRefused(
        request({ review: { ...review, timeoutSeconds: 31 * 86_400 } }),
        /timeoutSeconds/,
      );
      assertRefused(request({ review: { ...review, onTimeout: 'ESCALATE' } }), /onTimeout/);
    });

    it('keeps the payload hash of a request without review as it was, and tells reviews apart', () => {
      const { payloadHash } = validateRequest(request(), limits, 'kafka');
      const before = createHash('sha256')
        .update(
          JSON.stringify([
            'Heat pumps in cold climates',
            'team-a',
            'a@example.com',
            null,
            null,
            'en',
          ]),
        )
        .digest('hex');
      assert.equal(payloadHash, before, 'keys already in the inbox stay duplicates, not conflicts');
      const reviewed = validateRequest(request({ review }), limits, 'kafka').payloadHash;
      const otherReviewers = validateRequest(
        request({ review: { ...review, reviewers: ['rita'] } }),
        limits,
        'kafka',
      ).payloadHash;
      assert.notEqual(reviewed, payloadHash);
      assert.notEqual(reviewed, otherReviewers);
    });
  });
});
