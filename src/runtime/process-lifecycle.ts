import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { Config } from '../config/config';
import { createDataSource } from '../entities/data-source';

/** Opens the database, or fails naming the host it could not reach. */
export async function openDatabase(
  config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>,
): Promise<DataSource> {
  const dataSource = createDataSource(config);
  try {
    await dataSource.initialize();
  } catch (error: unknown) {
    throw new Error(
      `cannot reach PostgreSQL at ${new URL(config.DATABASE_URL).host}: ${String(error)}`,
      { cause: error },
    );
  }
  return dataSource;
}

/** Connects to Temporal; on failure closes the database first and names the address. */
export async function connectTemporal<T>(
  address: string,
  connect: () => Promise<T>,
  dataSource: DataSource,
): Promise<T> {
  try {
    return await connect();
  } catch (error: unknown) {
    await dataSource.destroy();
    throw new Error(`cannot reach Temporal at ${address}: ${String(error)}`, { cause: error });
  }
}

/** Runs `stop` once on the first SIGTERM or SIGINT, logging what is happening. */
export function stopOnSignal(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping: Promise<void> | undefined;
  const onSignal = (signal: string): void => {
    logger.info({ signal }, message);
    stopping ??= stop().catch((error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    });
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}
