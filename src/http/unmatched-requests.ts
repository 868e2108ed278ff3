import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, sendError } from './errors';

/**
 * Answers requests no route takes: 405 with `Allow` when the path exists under other methods,
 * 404 when it does not exist at all. Fastify's router knows only "no route", so the app's
 * paths and their methods are collected here as routes are added.
 */
export class UnmatchedRequests {
  private readonly paths: { pattern: RegExp; methods: Set<string> }[] = [];

  /** Records a route's path and methods; app.ts calls it from an onRoute hook. */
  add(url: string, method: string | string[]): void {
    const methods = (Array.isArray(method) ? method : [method]).map((m) => m.toUpperCase());
    const pattern = patternOf(url);
    const known = this.paths.find((p) => p.pattern.source === pattern.source);
    if (known) for (const m of methods) known.methods.add(m);
    else this.paths.push({ pattern, methods: new Set(methods) });
  }

  /** The methods a path answers to, in a stable order; empty when no route has the path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const p of this.paths) if (p.pattern.test(path)) p.methods.forEach((m) => methods.add(m));
    return [...methods].sort();
  }

  answer(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = request.url.split('?')[0] ?? '/';
    const allow = this.allowed(path);
    if (allow.length > 0 && !allow.includes(request.method)) {
      return sendError(
        reply,
        new ApiError(
          405,
          'METHOD_NOT_ALLOWED',
          `${path} does not take ${request.method}; it takes ${allow.join(', ')}`,
          { allow },
          { allow: allow.join(', ') },
        ),
      );
    }
    return sendError(
      reply,
      new ApiError(404, 'NOT_FOUND', `no route for ${request.method} ${path}`),
    );
  }
}

/** '/api/workflows/:id/status' → /^\/api\/workflows\/[^/]+\/status$/; '/docs/*' → any rest. */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment === '*'
        ? '.*'
        : segment.startsWith(':')
          ? '[^/]+'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}
