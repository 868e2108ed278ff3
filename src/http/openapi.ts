import type { SwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * The OpenAPI document, generated from the routes' zod schemas. Beyond what the routes say, it
 * links a started report to the operations that follow it, so that clients and tools (a
 * schema-driven fuzzer's stateful phase, say) can walk from a start to its status, result,
 * events, cancel and PDF; and it documents the Retry-After of every 429.
 */
const followReport = {
  status: { operationId: 'getReportStatus', parameters: { id: '$response.body#/workflowId' } },
  result: { operationId: 'getReportResult', parameters: { id: '$response.body#/workflowId' } },
  events: { operationId: 'streamReportEvents', parameters: { id: '$response.body#/workflowId' } },
  cancel: { operationId: 'cancelReport', parameters: { id: '$response.body#/workflowId' } },
  pdf: { operationId: 'getReportPdf', parameters: { id: '$response.body#/reportId' } },
};

type Operation = {
  operationId?: string;
  responses?: Record<string, { links?: unknown; headers?: unknown }>;
};
type Document = ReturnType<typeof jsonSchemaTransformObject>;

/** Every 429 of the API says when to try again (the zod transform drops a route's headers). */
const retryAfter = {
  'Retry-After': {
    description:
      'Seconds to wait: until the rate limit frees a request, a stream closes, or a spent token budget resets at 00:00 UTC',
    schema: { type: 'integer', minimum: 0 },
  },
};

function withLinksAndHeaders(document: Document): Document {
  const paths = (document as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};
  for (const operations of Object.values(paths)) {
    for (const operation of Object.values(operations)) {
      const tooMany = operation.responses?.['429'];
      if (tooMany) tooMany.headers = retryAfter;
      if (operation.operationId !== 'startReport') continue;
      for (const status of ['200', '202']) {
        const response = operation.responses?.[status];
        if (response) response.links = followReport;
      }
    }
  }
  return document;
}

export function openApiOptions(apiKeysRequired: boolean): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Report pipeline API',
        version: '1.0.0',
        description:
          'Start AI reports, follow their progress, fetch results and PDFs. Every error is JSON with a stable `error.code`; every response carries `x-request-id`. Requests to /api are limited per API key (429 with Retry-After).',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      ...(apiKeysRequired ? { security: [{ bearer: [] }] } : {}),
      tags: [
        { name: 'workflows', description: 'Start, follow and cancel reports' },
        { name: 'reports', description: 'List reports and download PDFs' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: (document) => withLinksAndHeaders(jsonSchemaTransformObject(document)),
  };
}
