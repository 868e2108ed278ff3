import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createSchemaRegistry } from './registry-client';

type Handler = (req: IncomingMessage, res: ServerResponse, seen: number) => void;

/** A registry on a free port whose answer to each request the test decides; counts requests. */
async function fakeRegistry(handle: Handler) {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
    req.resume();
    req.on('end', () => handle(req, res, seen.get(key)!));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
  res.end(JSON.stringify(body));
};
const silent = (): void => {}; // takes the request and never answers

const schema = JSON.stringify({
  type: 'record',
  name: 'Probe',
  namespace: 'test',
  fields: [{ name: 'a', type: 'string' }],
});

describe('createSchemaRegistry', { timeout: 20_000 }, () => {
  const servers: { close(): Promise<void> }[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));

  // The first POST goes wrong in each of these ways; the client sends it again and gets the id.
  const firstAttempts: [name: string, firstAnswer: (res: ServerResponse) => void][] = [
    ['the registry took it and never answered', () => silent()],
    ['a 5xx', (res) => json(res, 503, { error_code: 50301, message: 'starting' })],
  ];
  for (const [name, firstAnswer] of firstAttempts) {
    it(`sends a registration again after ${name}`, async () => {
      const registry = await fakeRegistry((req, res, seen) => {
        if (req.method === 'GET') return json(res, 200, { compatibilityLevel: 'BACKWARD' });
        if (seen === 1) return firstAnswer(res);
        json(res, 200, { id: 7 });
      });
      servers.push(registry);
      const client = createSchemaRegistry(registry.url, { requestTimeoutMs: 200, retries: 3 });
      const { id } = await client.register(
        { type: SchemaType.AVRO, schema },
        { subject: 'probe-value' },
      );
      assert.equal(id, 7);
      assert.equal(registry.seen.get('POST /subjects/probe-value/versions'), 2);
    });
  }

  it('gives up with a timeout error once every attempt went unanswered', async () => {
    const registry = await fakeRegistry(silent);
    servers.push(registry);
    const client = createSchemaRegistry(registry.url, { requestTimeoutMs: 100, retries: 2 });
    // With an HTTP status, as the consumer's record reader expects of a failed exchange: it holds
    // the partition and asks again, rather than dead-lettering a record it never saw judged.
    await assert.rejects(client.getSchema(5), (error: Error & { status?: unknown }) => {
      assert.match(error.message, /Timeout \(100ms\)/);
      assert.equal(typeof error.status, 'number');
      return true;
    });
    assert.equal(registry.seen.get('GET /schemas/ids/5'), 3);
  });
});
