import { hostPort, serverContainer, type ServerDefinition } from './server';

/** Any key: the stand-in does not check it, and the openai package wants one. */
const apiKey = 'sk-local-stand-in';

export const llm: ServerDefinition = {
  name: 'llm',
  inNetworkEnv: { OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: 'http://llm:8080/v1' },
  async start(context) {
    const container = await serverContainer('llm', context).withExposedPorts(8080).start();
    const url = `http://${hostPort(container, 8080)}`;
    return {
      name: 'llm',
      container,
      env: { OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: `${url}/v1`, LLM_CONTROL_URL: url },
      endpoints: [`OpenAI-compatible stand-in ${url}/v1`],
    };
  },
};
