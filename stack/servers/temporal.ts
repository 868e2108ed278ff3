import { hostPort, serverContainer, type ServerDefinition } from './server';

const namespace = 'report-pipeline';

export const temporal: ServerDefinition = {
  name: 'temporal',
  inNetworkEnv: { TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: namespace },
  async start(context) {
    const container = await serverContainer('temporal', context)
      .withEnvironment({ TEMPORAL_NAMESPACE: namespace })
      .withExposedPorts(7233, 8233)
      // In place of the image's --db-filename: storage in memory, for a run that is thrown away.
      .withCommand(['--ui-port', '8233'])
      .start();
    return {
      name: 'temporal',
      container,
      env: { TEMPORAL_ADDRESS: hostPort(container, 7233), TEMPORAL_NAMESPACE: namespace },
      endpoints: [
        `gRPC ${hostPort(container, 7233)}`,
        `web UI http://${hostPort(container, 8233)}`,
      ],
    };
  },
};
