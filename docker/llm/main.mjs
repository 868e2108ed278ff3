// The stand-in's process: listens on PORT (8080) on every interface until SIGTERM or SIGINT.
import { startLlmServer } from './llm-server.ts';
import process from 'node:process';

const port = Number(process.env.PORT ?? '8080');
const server = await startLlmServer({ port, host: '0.0.0.0' });
process.stdout.write(`llm stand-in: OpenAI-compatible API on ${server.baseUrl}\n`);
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
