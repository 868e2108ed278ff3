import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** The stable codes a client can branch on; the message is for people and may change. */
export type ApiErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_CURSOR'
  | 'BAD_REQUEST'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'PROMPT_TOO_LARGE'
  | 'IDEMPOTENCY_KEY_CONFLICT'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_STREAMS'
  | 'BUDGET_EXCEEDED'
  | 'WORKFLOW_NOT_FOUND'
  | 'PDF_NOT_FOUND'
  | 'REPORT_NOT_READY'
  | 'REPORT_ALREADY_ENDED'
  | 'REVIEW_NOT_PENDING'
  | 'REVIEWER_NOT_ALLOWED'
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

const errorMeanings: Record<number, string> = {
  400: 'The request is malformed or fails validation (`error.details` says where)',
  401: 'The API key is missing or not valid',
  403: 'The reviewer named is not one of the report’s reviewers',
  404: 'No such report',
  409: 'Conflicts with the report’s state or with an earlier request (see `error.code`)',
  413: 'The body is larger than HTTP_BODY_LIMIT_BYTES',
  415: 'The body is not application/json',
  422: 'The prompt is longer than PROMPT_MAX_CHARS',
  429: 'Too many requests, or event streams, from this API key or address; wait Retry-After seconds',
  503: 'A dependency is unavailable; retry after Retry-After seconds',
};

/**
 * The documented error answers of a route: always JSON with the Error body, whatever the
 * route's success content type (a PDF, an event stream). 429 is added to every /api route.
 */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    [...statuses, 429].map((status) => [
      status,
      {
        description: errorMeanings[status] ?? 'Error',
        content: { 'application/json': { schema: errorBodySchema } },
      },
    ]),
  );
}

/**
 * The 429 of a route that starts reports: besides the rate limit, the requester's daily token
 * budget may be spent. Either way the body is the Error body and Retry-After says when to try.
 */
export const startRefusedResponse = {
  description:
    "Too many requests from this API key or address (`RATE_LIMITED`), or the requester's daily token budget is spent (`BUDGET_EXCEEDED`: nothing was started; `error.details` has `requesterId`, `used`, `budget` and `resetsAt`, the next 00:00 UTC). Wait Retry-After seconds.",
  content: { 'application/json': { schema: errorBodySchema } },
};

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
  // Any other refusal of the request itself by Fastify keeps its 4xx and its explanation.
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new ApiError(status, 'BAD_REQUEST', error.message);
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
