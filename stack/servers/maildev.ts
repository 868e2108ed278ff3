import { hostPort, serverContainer, type ServerDefinition } from './server';

export const maildev: ServerDefinition = {
  name: 'maildev',
  inNetworkEnv: { SMTP_URL: 'smtp://maildev:1025' },
  async start(context) {
    const container = await serverContainer('maildev', context)
      .withExposedPorts(1025, 1080)
      .start();
    const web = `http://${hostPort(container, 1080)}`;
    return {
      name: 'maildev',
      container,
      env: { SMTP_URL: `smtp://${hostPort(container, 1025)}`, MAILDEV_API_URL: web },
      endpoints: [`SMTP ${hostPort(container, 1025)}`, `web UI and API ${web}`],
    };
  },
};
