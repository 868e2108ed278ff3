import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isFinalStatus } from '../domain/report';
import { ApiError } from './errors';
import type { ReportStatusView } from './schemas';

const POLL_MS = 500;
const KEEPALIVE_MS = 15_000;
/** A stream ends after this long even if the report has not; EventSource clients reconnect. */
const MAX_STREAM_MS = 30 * 60_000;

/**
 * The open event streams of one app, counted per client so that one client cannot hold them
 * all. A shutting-down server ends them (clients reconnect to another replica) instead of
 * waiting up to MAX_STREAM_MS for them to finish.
 */
export class OpenStreams {
  private readonly stops = new Set<() => void>();
  private readonly perClient = new Map<string, number>();
  private closing = false;

  constructor(private readonly maxPerClient: number) {}

  /** Takes one of the client's places, or refuses with 429 when it holds them all. */
  reserve(client: string): StreamSlot {
    const open = this.perClient.get(client) ?? 0;
    if (open >= this.maxPerClient) {
      throw new ApiError(
        429,
        'TOO_MANY_STREAMS',
        `this client already has ${open} event streams open, the most it may hold; close one, or poll the status`,
        { openStreams: open, limit: this.maxPerClient },
        { 'retry-after': '5' },
      );
    }
    this.perClient.set(client, open + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.perClient.get(client) ?? 1) - 1;
        if (left > 0) this.perClient.set(client, left);
        else this.perClient.delete(client);
      },
    };
  }

  /** Registers a stream's stop; returns its unregister, or undefined when already closing. */
  add(stop: () => void): (() => void) | undefined {
    if (this.closing) return undefined;
    this.stops.add(stop);
    return () => this.stops.delete(stop);
  }

  closeAll(): void {
    this.closing = true;
    for (const stop of this.stops) stop();
    this.stops.clear();
  }
}

export interface StreamSlot {
  release(): void;
}

/**
 * Server-sent events of a report's progress: a `progress` event whenever the status changes,
 * then `end` with the final status. Polls through the reader, so it holds no state beyond the
 * open response and works on any replica.
 */
export async function streamProgress(
  request: FastifyRequest,
  reply: FastifyReply,
  first: ReportStatusView,
  read: () => Promise<ReportStatusView>,
  streams: OpenStreams,
  slot: StreamSlot,
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
  let closed = false;
  res.on('close', () => {
    closed = true;
    slot.release();
  });
  const unregister = streams.add(() => {
    // No `end` event: the client sees the stream close before the report ended, and reconnects.
    closed = true;
    res.end();
  });
  if (!unregister) {
    slot.release();
    res.end();
    return;
  }
  const send = (event: string, data: unknown): void => {
    if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const started = Date.now();
  let lastSent = Date.now();
  let last = JSON.stringify(first);
  let current = first;
  send('progress', first);
  try {
    while (!closed && !isFinalStatus(current.status) && Date.now() - started < MAX_STREAM_MS) {
      await sleep(POLL_MS);
      if (closed) break;
      current = await read();
      const body = JSON.stringify(current);
      if (body !== last && !isFinalStatus(current.status)) {
        send('progress', current);
        last = body;
        lastSent = Date.now();
      } else if (Date.now() - lastSent > KEEPALIVE_MS) {
        if (!closed) res.write(': keep-alive\n\n');
        lastSent = Date.now();
      }
    }
    if (isFinalStatus(current.status)) send('end', current);
  } catch (error: unknown) {
    request.log.warn({ err: error }, 'progress stream failed');
    send('error', { code: 'INTERNAL_ERROR', message: 'progress is unavailable; reconnect' });
  } finally {
    unregister();
    slot.release();
    if (!closed) res.end();
  }
}
