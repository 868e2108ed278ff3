import { z } from 'zod';
import { REQUESTABLE_PRIORITIES } from './priority';
import { REVIEW_LIMITS, REVIEW_VERDICTS } from './review';

/**
 * The fields of a report request, as one set of rules for both ways in: the consumer validates
 * Kafka records with them (request-validation.ts) and the API's body schema is made of them, so
 * the OpenAPI document states exactly what the service accepts.
 *
 * Every rule is written so that JSON Schema (and a client's regex engine, JavaScript's or
 * Python's) reads it the same way the service does.
 */

/**
 * A character String.prototype.trim() keeps: anything but JavaScript's white space and line
 * terminators, listed one by one because `\s` differs between regex engines (Python's has
 * U+001C-U+001F and U+0085 and lacks U+FEFF). A prompt, a requester id and a model name must
 * have one: trimmed, they are not empty.
 */
export const KEPT_BY_TRIM =
  /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

/**
 * Text as people write it: no control characters (they would reach logs, search attributes,
 * PDFs and mail headers as they are). Code point ranges, so that JavaScript and Python read the
 * pattern alike.
 */
// eslint-disable-next-line no-control-regex -- naming the control characters is the point
export const PLAIN_TEXT = /^[^\u0000-\u001f\u007f-\u009f]*$/;
/** The same, but a prompt may have line breaks and tabs. */
// eslint-disable-next-line no-control-regex -- as above
export const PROMPT_TEXT = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$/;

/**
 * And well-formed Unicode: a lone surrogate half is stored and hashed as U+FFFD, so two
 * different strings would look alike. Not in the pattern: not every regex engine can name a
 * surrogate (Rust's cannot), and JSON Schema's strings are Unicode already.
 */
const wellFormed = (s: string) => s.isWellFormed();
const BROKEN = 'must be well-formed Unicode (no lone surrogate halves)';

const plainText = (min: number, max: number) =>
  z
    .string()
    .min(min)
    .max(max)
    .regex(PLAIN_TEXT, 'must not contain control characters')
    .refine(wellFormed, BROKEN);

export const promptField = z
  .string()
  .regex(PROMPT_TEXT, 'must not contain control characters other than line breaks and tabs')
  .regex(KEPT_BY_TRIM, 'must not be empty or only white space')
  .refine(wellFormed, BROKEN)
  .meta({
    description:
      'What the report is about. Leading and trailing white space is dropped; longer than PROMPT_MAX_CHARS characters (20,000 unless configured) is refused with 422 PROMPT_TOO_LARGE.',
    example: 'Solid-state batteries in 2026',
  });

/** Characters of a prompt, as a person (and JSON Schema's maxLength) counts them: code points. */
export const promptLength = (prompt: string): number => [...prompt].length;

/**
 * An address an SMTP server takes: zod's email pattern (no quoting, no IP literals, no control
 * characters), with RFC 5321's limits: at most 64 characters before the @, labels of 1-63
 * characters that neither start nor end with a hyphen, 254 characters in all.
 */
const EMAIL =
  /^(?=[^@]{1,64}@)(?=.{3,254}$)(?:[A-Za-z0-9_'+-]+\.)*[A-Za-z0-9_'+-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** The longest address SMTP can carry (RFC 5321: a 256-octet path less its angle brackets). */
export const EMAIL_MAX_LENGTH = 254;

export const emailField = z
  .email({ pattern: EMAIL, message: 'expected an email address' })
  .max(EMAIL_MAX_LENGTH);

export const requesterField = z.object({
  id: plainText(1, 200).regex(KEPT_BY_TRIM, 'must not be blank'),
  email: emailField,
});

/** What an idempotency key may hold, as a character class; a workflow id's pattern uses it too. */
export const KEY_CHARACTERS = 'A-Za-z0-9._:@-';
export const KEY_MAX_LENGTH = 200;

export const idempotencyKeyField = z
  .string()
  .min(1)
  .max(KEY_MAX_LENGTH)
  .regex(new RegExp(`^[${KEY_CHARACTERS}]+$`), 'only letters, digits and . _ : @ - are allowed');

export const optionFields = {
  model: plainText(1, 100).regex(KEPT_BY_TRIM, 'must not be blank'),
  maxTokens: z.number().int().min(1).max(128_000),
  language: plainText(2, 35),
};

export const correlationIdField = plainText(0, 200);

/** Someone who may decide on a report: an id as the reviewing system knows them. */
export const reviewerField = plainText(1, 200).regex(KEPT_BY_TRIM, 'must not be blank');

export const reviewVerdictField = z.enum(REVIEW_VERDICTS);

/** What a request asks of its review: who decides, how long to wait, what happens then. */
export const reviewField = z
  .strictObject({
    reviewers: z
      .array(reviewerField)
      .min(1)
      .max(REVIEW_LIMITS.maxReviewers)
      .refine((ids) => new Set(ids).size === ids.length, 'must not name a reviewer twice')
      // uniqueItems: so the OpenAPI document says what the refinement checks.
      .meta({ description: 'Who may decide; nobody else can', uniqueItems: true }),
    timeoutSeconds: z
      .number()
      .int()
      .min(REVIEW_LIMITS.minTimeoutSeconds)
      .max(REVIEW_LIMITS.maxTimeoutSeconds)
      .meta({
        description: 'How long to wait for a decision once the PDF is stored (at most 30 days)',
      }),
    onTimeout: reviewVerdictField.meta({
      description: 'Applied, and recorded as automatic, when nobody decides in time',
    }),
  })
  .meta({
    description:
      'Hold the report for a human decision after its PDF is stored and before it is mailed and announced. Absent: no review.',
  });

export const reviewCommentField = plainText(0, REVIEW_LIMITS.maxCommentChars);

/** The priority a Kafka request may ask for; runs from the API are always INTERACTIVE. */
export const priorityField = z.enum(REQUESTABLE_PRIORITIES).meta({
  description:
    'HIGH, NORMAL (the default) or LOW: the order among Kafka requests. Runs from the API are INTERACTIVE, ahead of all three.',
});
