import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ReportRequest } from './report';

/** Why a request record was refused; the DLQ's `dlq-reason` header carries it. */
export const REJECTION_REASONS = [
  'not-avro',
  'unknown-schema-id',
  'wrong-schema',
  'invalid-record',
  'prompt-too-large',
  'idempotency-key-conflict',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Thrown when a request can never be processed as sent; retrying it cannot help. */
export class RequestRejectedError extends Error {
  readonly code = 'REQUEST_REJECTED';
  constructor(
    readonly reason: RejectionReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RequestRejectedError';
  }
}

/** Requests older than this are a producer's bug (an epoch of 0, seconds taken for milliseconds). */
export const EARLIEST_REQUESTED_AT = Date.UTC(2000, 0, 1);
/** How far ahead of this service's clock a producer's may run. */
export const REQUESTED_AT_LEEWAY_MS = 24 * 60 * 60 * 1000;
/** The longest address SMTP can carry (RFC 5321: a 256-octet path less its angle brackets). */
export const EMAIL_MAX_LENGTH = 254;

// Control characters are never part of a name, an address or an id; they would reach logs,
// search attributes, PDFs and mail headers as they are.
const CONTROL = /\p{Cc}/u;
// In a prompt, line breaks and tabs are text.
const PROMPT_CONTROL = /[^\P{Cc}\t\n\r]/u;

/**
 * Text as people write it: well-formed Unicode (a lone surrogate is stored and hashed as U+FFFD,
 * so two different strings would look alike), and no control characters.
 */
const plainText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode')
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');
const notBlank = (s: string) => s.trim().length > 0;

const requestSchema = z.object({
  idempotencyKey: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ - are allowed'),
  prompt: z
    .string()
    .refine((s) => s.isWellFormed(), 'must be well-formed Unicode')
    .refine(
      (s) => !PROMPT_CONTROL.test(s),
      'must not contain control characters other than line breaks and tabs',
    ),
  requester: z.object({
    id: plainText(200).refine(notBlank, 'must not be blank'),
    email: z.email().max(EMAIL_MAX_LENGTH),
  }),
  options: z
    .object({
      model: plainText(100).refine(notBlank, 'must not be blank').nullish(),
      maxTokens: z.number().int().min(1).max(128_000).nullish(),
      language: plainText(35).min(2).nullish(),
    })
    .nullish(),
  requestedAt: z.union([z.number(), z.date(), z.string()]).optional(),
  correlationId: plainText(200).nullish(),
});

export type ValidRequest = Omit<ReportRequest, 'reportId'>;

/**
 * Checks a decoded request (from Kafka or HTTP) and normalises it. The payload hash covers what
 * the report is made from (prompt, requester, options), so a re-sent request with a new
 * timestamp is still the same request.
 */
export function validateRequest(
  input: unknown,
  limits: { promptMaxChars: number; now?: number },
  source: ReportRequest['source'],
): { request: ValidRequest; payloadHash: string } {
  const parsed = requestSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'record'}: ${i.message}`)
      .join('; ');
    throw new RequestRejectedError('invalid-record', detail);
  }
  const value = parsed.data;
  const prompt = value.prompt.trim();
  if (prompt.length === 0)
    throw new RequestRejectedError('invalid-record', 'prompt: must not be empty');
  if (prompt.length > limits.promptMaxChars) {
    throw new RequestRejectedError(
      'prompt-too-large',
      `prompt: ${prompt.length} characters, at most ${limits.promptMaxChars} are accepted`,
    );
  }
  const options = {
    ...(value.options?.model ? { model: value.options.model } : {}),
    ...(value.options?.maxTokens ? { maxTokens: value.options.maxTokens } : {}),
    ...(value.options?.language ? { language: value.options.language } : {}),
  };
  const now = limits.now ?? Date.now();
  const requestedAt = requestedAtOf(value.requestedAt, now);
  const request: ValidRequest = {
    idempotencyKey: value.idempotencyKey,
    prompt,
    requester: { id: value.requester.id, email: value.requester.email },
    options,
    requestedAt: requestedAt.toISOString(),
    ...(value.correlationId ? { correlationId: value.correlationId } : {}),
    source,
  };
  const payloadHash = createHash('sha256')
    .update(
      JSON.stringify([
        prompt,
        request.requester.id,
        request.requester.email,
        options.model ?? null,
        options.maxTokens ?? null,
        options.language ?? null,
      ]),
    )
    .digest('hex');
  return { request, payloadHash };
}

/**
 * When the request was made, as sent, or now when it says nothing. A time that is no time, or
 * one the request cannot have been made at, is refused rather than replaced: a report dated
 * year 9999 (or 1970) is a producer's bug, and it would be stored, printed and mailed as such.
 */
function requestedAtOf(value: number | Date | string | undefined, now: number): Date {
  if (value === undefined) return new Date(now);
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new RequestRejectedError(
      'invalid-record',
      `requestedAt: ${String(value).slice(0, 40)} is not a time`,
    );
  if (at.getTime() < EARLIEST_REQUESTED_AT)
    throw new RequestRejectedError(
      'invalid-record',
      `requestedAt: ${at.toISOString()} is before ${new Date(EARLIEST_REQUESTED_AT).toISOString()}`,
    );
  if (at.getTime() > now + REQUESTED_AT_LEEWAY_MS)
    throw new RequestRejectedError(
      'invalid-record',
      `requestedAt: ${at.toISOString()} is more than a day ahead of ${new Date(now).toISOString()}`,
    );
  return at;
}
