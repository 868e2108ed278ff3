import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Response } from 'mappersmith';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';

export interface RegistryClientOptions {
  /** How long one HTTP request may go unanswered before it is abandoned and sent again. */
  requestTimeoutMs?: number;
  /** How many times a request that timed out, failed to connect or got a 5xx is sent again. */
  retries?: number;
}

const timedOut = (response: Response): boolean => response.error()?.name === 'TimeoutError';

/**
 * The schema-registry client every process uses. The library's own client waits for an answer
 * for as long as the socket stays open and only ever retries GETs; a registry that takes a
 * request and never answers (seen once while it was starting) held the release step for good.
 * Here each request has a deadline, and every request is retried, POSTs included: registering
 * an unchanged schema, looking one up or checking compatibility gives the same answer twice.
 */
export function createSchemaRegistry(
  url: string,
  { requestTimeoutMs = 10_000, retries = 5 }: RegistryClientOptions = {},
): SchemaRegistry {
  return new SchemaRegistry({
    host: url,
    middlewares: [TimeoutMiddleware(requestTimeoutMs)],
    retry: {
      retries,
      initialRetryTimeInSecs: 0.2,
      maxRetryTimeInSecs: 5,
      enableRetry: () => true,
      validateRetry: (response: Response) => response.status() >= 500 || timedOut(response),
    },
  });
}
