import { ConfigError, loadConfig, migrateConfigSchema } from '../config/config';
import { createDataSource } from './data-source';

// `npm run migrate`: applies pending migrations and exits (the deploy job and the local stack run it).
async function main(): Promise<void> {
  const dataSource = createDataSource(loadConfig(process.env, migrateConfigSchema));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    process.stdout.write(
      applied.length
        ? `applied: ${applied.map((m) => m.name).join(', ')}\n`
        : 'schema is up to date\n',
    );
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `migration failed: ${String(error)}`}\n`,
  );
  process.exitCode = 1;
});
