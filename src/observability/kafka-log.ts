import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from 'pino';

/**
 * kafkajs's own log lines, as JSON lines of the process's logger. kafkajs reports a broker
 * hiccup it retries by itself (a coordinator loading, a leader moving) at ERROR; those become
 * warnings here, since a failure that matters reaches the service's code as a thrown error.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  const child = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log }) => {
      const { message, timestamp: _timestamp, logger: _name, ...rest } = log;
      if (level === logLevel.ERROR || level === logLevel.WARN) child.warn(rest, message);
      else if (level === logLevel.INFO) child.info(rest, message);
      else child.debug(rest, message);
    };
}
