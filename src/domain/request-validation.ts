import { createHash } from 'node:crypto';
import { z } from 'zod';
import { keyOfUnkeyedRequest } from './ids';
import { defaultPriority } from './priority';
import type { ReportRequest } from './report';
import {
  correlationIdField,
  idempotencyKeyField,
  optionFields,
  priorityField,
  promptField,
  promptLength,
  requesterField,
  reviewField,
} from './request-fields';

/** Why a request record was refused; the DLQ's `dlq-reason` header carries it. */
export const REJECTION_REASONS = [
  'not-avro',
  'unknown-schema-id',
  'wrong-schema',
  'invalid-record',
  'prompt-too-large',
  'idempotency-key-conflict',
  'budget-exceeded',
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
// The fields' rules are shared with the API's body schema (request-fields.ts), so that what the
// OpenAPI document says the API accepts is what this function accepts from either way in.
const requestSchema = z.object({
  idempotencyKey: idempotencyKeyField.optional(),
  prompt: promptField,
  requester: requesterField,
  options: z
    .object({
      model: optionFields.model.nullish(),
      maxTokens: optionFields.maxTokens.nullish(),
      language: optionFields.language.nullish(),
    })
    .nullish(),
  requestedAt: z.union([z.number(), z.date(), z.string()]).optional(),
  correlationId: correlationIdField.nullish(),
  review: reviewField.nullish(),
  priority: priorityField.nullish(),
});

export type ValidRequest = Omit<ReportRequest, 'reportId'>;

/**
 * Checks a decoded request (from Kafka or HTTP) and normalises it. The payload hash covers what
 * the report is made from (prompt, requester, options, review), so a re-sent request with a new
 * timestamp, or asking for another priority, is still the same request. Only a Kafka record
 * chooses its priority; everything else is a person's run, INTERACTIVE. An API call may come without a key: it is keyed by that
 * hash, so sending the same body again finds the same report. A Kafka record must carry one.
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
  // Not empty: the prompt's rule wants a character that trimming keeps.
  const prompt = value.prompt.trim();
  const length = promptLength(prompt);
  if (length > limits.promptMaxChars) {
    throw new RequestRejectedError(
      'prompt-too-large',
      `prompt: ${length} characters, at most ${limits.promptMaxChars} are accepted`,
    );
  }
  const options = {
    ...(value.options?.model ? { model: value.options.model } : {}),
    ...(value.options?.maxTokens ? { maxTokens: value.options.maxTokens } : {}),
    ...(value.options?.language ? { language: value.options.language } : {}),
  };
  const now = limits.now ?? Date.now();
  const requestedAt = requestedAtOf(value.requestedAt, now);
  const review = value.review ?? undefined;
  const payloadHash = payloadHashOf(prompt, value.requester, options, review);
  const idempotencyKey =
    value.idempotencyKey ?? (source === 'http' ? keyOfUnkeyedRequest(payloadHash) : undefined);
  if (idempotencyKey === undefined)
    throw new RequestRejectedError('invalid-record', 'idempotencyKey: a key is required');
  const request: ValidRequest = {
    idempotencyKey,
    prompt,
    requester: { id: value.requester.id, email: value.requester.email },
    options,
    requestedAt: requestedAt.toISOString(),
    ...(value.correlationId ? { correlationId: value.correlationId } : {}),
    source,
    ...(review ? { review } : {}),
    priority: source === 'kafka' ? (value.priority ?? 'NORMAL') : defaultPriority(source),
  };
  return { request, payloadHash };
}

function payloadHashOf(
  prompt: string,
  requester: { id: string; email: string },
  options: ReportRequest['options'],
  review: ReportRequest['review'],
): string {
  const fields: unknown[] = [
    prompt,
    requester.id,
    requester.email,
    options.model ?? null,
    options.maxTokens ?? null,
    options.language ?? null,
  ];
  // Only when asked for: the hashes of requests without review stay what they always were.
  if (review) fields.push([review.reviewers, review.timeoutSeconds, review.onTimeout]);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
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
