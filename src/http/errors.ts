import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The stable codes a client can branch on; the message is for people and may change. */
export type ApiErrorCode =
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'PROMPT_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_CONFLICT'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'WORKFLOW_NOT_FOUND'
  | 'PDF_NOT_FOUND'
  | 'REPORT_NOT_READY'
  | 'REPORT_ALREADY_ENDED'
  | 'DEPENDENCY_UNAVAILABLE'
  | 'INTERNAL_ERROR';

/** Thrown by a route for any answer other than success; the error handler turns it into JSON. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable, machine-readable code' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
    requestId: z.string(),
  })
  .meta({ id: 'Error' });

/** Fastify's own errors, by code, in this API's vocabulary. */
const frameworkErrors: Record<string, { status: number; code: ApiErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'send the body as application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'VALIDATION_FAILED' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'MALFORMED_JSON',
    message: 'the body is empty; expected a JSON object',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON' },
};

function toApiError(error: FastifyError | ApiError | Error): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((v) => ({
      path: `${error.validationContext ?? ''}${v.instancePath}`,
      message: v.message ?? 'invalid',
    }));
    return new ApiError(
      400,
      'VALIDATION_FAILED',
      details.map((d) => `${d.path}: ${d.message}`).join('; '),
      details,
    );
  }
  const code = (error as FastifyError).code;
  const known = code ? frameworkErrors[code] : undefined;
  if (known) return new ApiError(known.status, known.code, known.message ?? error.message);
  // JSON.parse's SyntaxError surfaces with status 400 and no Fastify code.
  if (error instanceof SyntaxError && (error as FastifyError).statusCode === 400) {
    return new ApiError(400, 'MALFORMED_JSON', `the body is not valid JSON: ${error.message}`);
  }
  return undefined;
}

export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .code(error.statusCode)
    .headers(error.headers)
    .type('application/json; charset=utf-8')
    .send({
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      },
      requestId: reply.request.id,
    });
}

/** Every error leaves as JSON with a code; a 5xx says only that something broke, never why. */
export function handleError(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const known = toApiError(error);
  if (known && known.statusCode < 500) {
    request.log.info({ code: known.code, status: known.statusCode }, known.message);
    return sendError(reply, known);
  }
  if (known) {
    request.log.warn({ code: known.code, err: error }, known.message);
    return sendError(reply, known);
  }
  request.log.error({ err: error }, 'request failed');
  return sendError(
    reply,
    new ApiError(500, 'INTERNAL_ERROR', `internal error; quote request id ${request.id}`),
  );
}
