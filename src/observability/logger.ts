import pino, { type Logger } from 'pino';
import type { Config } from '../config/config';

/** What a prompt looks like in a log line: its length, and its start only when configured. */
export function promptForLog(prompt: unknown, maxChars: number): unknown {
  if (typeof prompt !== 'string') return prompt;
  if (maxChars <= 0) return `[prompt, ${prompt.length} chars]`;
  return prompt.length <= maxChars
    ? prompt
    : `${prompt.slice(0, maxChars)}… [${prompt.length} chars]`;
}

/**
 * JSON lines for machines; pretty only when a person is watching a terminal in development.
 * Secrets are redacted wherever they appear; prompts are cut to LOG_PROMPT_CHARS.
 */
export function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV' | 'LOG_PROMPT_CHARS'>,
  name: string,
  destination?: pino.DestinationStream,
): Logger {
  const pretty = config.NODE_ENV === 'development' && process.stdout.isTTY;
  const prompt = (value: unknown): unknown => promptForLog(value, config.LOG_PROMPT_CHARS);
  const withPrompt = (value: unknown): unknown =>
    value && typeof value === 'object' && 'prompt' in value
      ? { ...value, prompt: prompt(value.prompt) }
      : value;
  return pino(
    {
      name,
      level: config.LOG_LEVEL,
      base: { service: 'report-pipeline', process: name },
      serializers: { prompt, request: withPrompt, input: withPrompt, body: withPrompt },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'req.headers.authorization',
          'headers.authorization',
          'OPENAI_API_KEY',
          'DATABASE_URL',
          'SMTP_URL',
          'API_KEYS',
        ],
        censor: '[redacted]',
      },
      ...(pretty && !destination
        ? { transport: { target: 'pino-pretty', options: { colorize: true } } }
        : {}),
    },
    destination,
  );
}
