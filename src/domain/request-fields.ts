import { z } from 'zod';

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
 * U+001C-U+001F and U+0085 and lacks U+FEFF). A prompt must have one: trimmed, it is not empty.
 */
const KEPT_BY_TRIM = /[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;

export const promptField = z
  .string()
  .regex(KEPT_BY_TRIM, 'must not be empty or only white space')
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

export const emailField = z.email({ pattern: EMAIL, message: 'expected an email address' });

export const requesterField = z.object({
  id: z.string().min(1).max(200),
  email: emailField,
});

export const idempotencyKeyField = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ - are allowed');

export const optionFields = {
  model: z.string().min(1).max(100),
  maxTokens: z.number().int().min(1).max(128_000),
  language: z.string().min(2).max(35),
};

export const correlationIdField = z.string().max(200);
