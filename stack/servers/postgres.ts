import { hostPort, serverContainer, type ServerDefinition } from './server';

const credentials = 'report:report';
const database = 'report_pipeline';

export const postgres: ServerDefinition = {
  name: 'postgres',
  inNetworkEnv: { DATABASE_URL: `postgres://${credentials}@postgres:5432/${database}` },
  async start(context) {
    const container = await serverContainer('postgres', context)
      .withExposedPorts(5432)
      // Throwaway data: durability settings off for speed.
      .withCommand(['-c', 'max_connections=200', '-c', 'fsync=off', '-c', 'synchronous_commit=off'])
      .start();
    const url = `postgres://${credentials}@${hostPort(container, 5432)}/${database}`;
    return { name: 'postgres', container, env: { DATABASE_URL: url }, endpoints: [url] };
  },
};
