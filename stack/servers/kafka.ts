import { freePort } from '../docker';
import { publishedHost, serverContainer, type ServerDefinition } from './server';

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
