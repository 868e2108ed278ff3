import pino, { type Logger } from 'pino';
import type { Config } from '../config/config';

/** JSON lines for machines; pretty only when a person is watching a terminal in development. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'NODE_ENV'>, name: string): Logger {
  const pretty = config.NODE_ENV === 'development' && process.stdout.isTTY;
  return pino({
    name,
    level: config.LOG_LEVEL,
    base: { service: 'report-pipeline', process: name },
    redact: {
      paths: ['*.apiKey', '*.password', 'OPENAI_API_KEY', 'DATABASE_URL', 'SMTP_URL'],
      censor: '[redacted]',
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
