import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';

// The same folder from src/http and from dist/http: the page is served as written, unbuilt.
const pageDir = join(__dirname, '..', '..', 'src', 'http', 'page');

const assets: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/page/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/** The page for manual runs: three static files, read once at start-up. */
export const pageRoutes = (): FastifyPluginAsync => async (app) => {
  for (const [url, asset] of Object.entries(assets)) {
    const body = readFileSync(join(pageDir, asset.file));
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type(asset.type)
        .header('cache-control', 'no-cache')
        // frame-src: the review previews are PDFs fetched with the API key, shown from blob: URLs.
        .header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-src blob:; frame-ancestors 'none'",
        )
        .send(body),
    );
  }
};
