import { hostPort, serverContainer, type ServerDefinition } from './server';

export const registry: ServerDefinition = {
  name: 'registry',
  inNetworkEnv: { SCHEMA_REGISTRY_URL: 'http://registry:8080/apis/ccompat/v7' },
  async start(context) {
    const container = await serverContainer('registry', context).withExposedPorts(8080).start();
    const url = `http://${hostPort(container, 8080)}/apis/ccompat/v7`;
    return { name: 'registry', container, env: { SCHEMA_REGISTRY_URL: url }, endpoints: [url] };
  },
};
