import { startLlmServer } from './llm-server';

// Runs the deterministic OpenAI-compatible server as a process of the local stack.
const port = Number(process.env.LLM_SERVER_PORT ?? '4010');

startLlmServer({ port, host: '127.0.0.1' }).then(
  (server) => {
    process.stdout.write(`local LLM server listening on ${server.baseUrl}\n`);
    const stop = (): void => {
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  (error: unknown) => {
    process.stderr.write(`local LLM server failed to start: ${String(error)}\n`);
    process.exit(1);
  },
);
