import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freePorts } from './docker';

describe('freePorts', () => {
  it('hands out distinct ports, each of which can be bound', async () => {
    // Picked one at a time, each closed before the next, 500 ports repeat several times over.
    const ports = await freePorts(500);
    assert.equal(new Set(ports).size, ports.length);
    for (const port of ports.slice(0, 20)) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
