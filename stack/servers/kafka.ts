import { createServer } from 'node:net';
import { publishedHost, serverContainer, type ServerDefinition } from './server';

/** A port free on this machine now: Kafka must be told the address clients outside reach it on. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export const kafka: ServerDefinition = {
  name: 'kafka',
  inNetworkEnv: { KAFKA_BROKERS: 'kafka:9092' },
  async start(context) {
    const port = await freePort();
    const address = `${publishedHost()}:${port}`;
    const container = await serverContainer('kafka', context)
      .withEnvironment({ KAFKA_INTERNAL_HOST: 'kafka', KAFKA_EXTERNAL_ADDRESS: address })
      .withExposedPorts({ container: 19092, host: port })
      .start();
    return { name: 'kafka', container, env: { KAFKA_BROKERS: address }, endpoints: [address] };
  },
};
