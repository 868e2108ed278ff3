import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ReportRequest } from './report';

/** Why a request record was refused; the DLQ's `dlq-reason` header carries it. */
export type RejectionReason =
  | 'not-avro'
  | 'unknown-schema-id'
  | 'wrong-schema'
  | 'invalid-record'
  | 'prompt-too-large'
  | 'idempotency-key-conflict';

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

const requestSchema = z.object({
  idempotencyKey: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ - are allowed'),
  prompt: z.string(),
  requester: z.object({ id: z.string().min(1).max(200), email: z.email() }),
  options: z
    .object({
      model: z.string().min(1).max(100).nullish(),
      maxTokens: z.number().int().min(1).max(128_000).nullish(),
      language: z.string().min(2).max(35).nullish(),
    })
    .nullish(),
  requestedAt: z.union([z.number(), z.date(), z.string()]).optional(),
  correlationId: z.string().max(200).nullish(),
});

export type ValidRequest = Omit<ReportRequest, 'reportId'>;

/**
 * Checks a decoded request (from Kafka or HTTP) and normalises it. The payload hash covers what
 * the report is made from (prompt, requester, options), so a re-sent request with a new
 * timestamp is still the same request.
 */
export function validateRequest(
  input: unknown,
  limits: { promptMaxChars: number },
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
  const requestedAt = value.requestedAt === undefined ? new Date() : new Date(value.requestedAt);
  const request: ValidRequest = {
    idempotencyKey: value.idempotencyKey,
    prompt,
    requester: { id: value.requester.id, email: value.requester.email },
    options,
    requestedAt: Number.isNaN(requestedAt.getTime())
      ? new Date().toISOString()
      : requestedAt.toISOString(),
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
