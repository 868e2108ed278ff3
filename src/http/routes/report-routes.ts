import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ApiDeps } from '../app';
import { ApiError, errorResponses } from '../errors';
import { reportIdParams, reportListQuery, reportListView } from '../schemas';

/** Listing reports and downloading their PDFs. */
export const reportRoutes =
  (deps: ApiDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/api/reports',
      {
        schema: {
          operationId: 'listReports',
          summary: 'Recent reports: running ones first, then the most recently ended',
          description:
            'Filter by status and requester; page with `limit` and the `nextCursor` of the previous page. Listing comes from Temporal visibility, in its order (running first, then by close time), and can trail a start by a moment.',
          tags: ['reports'],
          querystring: reportListQuery,
          response: { 200: reportListView, ...errorResponses(400, 401) },
        },
      },
      async (request) => deps.reader.list(request.query),
    );

    app.get(
      '/api/reports/:id/pdf',
      {
        schema: {
          operationId: 'getReportPdf',
          summary: 'The report’s PDF',
          tags: ['reports'],
          params: reportIdParams,
          querystring: z.object({
            disposition: z
              .enum(['attachment', 'inline'])
              .default('attachment')
              .meta({ description: 'inline to show it in the browser (the review preview)' }),
          }),
          response: {
            200: {
              description: 'The PDF, as an attachment or inline',
              content: {
                'application/pdf': {
                  schema: z
                    .instanceof(Buffer)
                    .meta({ type: 'string', format: 'binary', description: 'The PDF file' }),
                },
              },
            },
            ...errorResponses(400, 401, 404),
          },
        },
      },
      async (request, reply) => {
        const file = await deps.files.find(request.params.id, 'pdf');
        if (!file) {
          throw new ApiError(
            404,
            'PDF_NOT_FOUND',
            `no PDF for report ${request.params.id}: it does not exist, is not rendered yet, or was rolled back`,
          );
        }
        return reply
          .type('application/pdf')
          .header(
            'content-disposition',
            `${request.query.disposition}; filename="report-${request.params.id}.pdf"`,
          )
          .header('etag', `"${file.ref.sha256}"`)
          .header('cache-control', 'private, max-age=3600')
          .send(file.data);
      },
    );
  };
