import { ConfigError, loadConfig, releaseConfigSchema } from '../config/config';
import {
  createSchemaRegistry,
  outboxEventTopics,
  registerEventSchemas,
  registerRequestSchema,
  registerReviewDecisionSchema,
} from '../contracts';
import { createDataSource } from '../entities/data-source';
import { createLogger } from '../observability/logger';

/**
 * The release step a deployment runs once before its new pods (the Kubernetes migrate job):
 * applies pending database migrations and registers the Avro contracts. Both are idempotent;
 * a schema change the registry refuses as incompatible fails the release here.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, releaseConfigSchema);
  const logger = createLogger(config, 'release');
  const dataSource = createDataSource(config);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    logger.info({ applied: applied.map((m) => m.name) }, 'database schema up to date');
  } finally {
    await dataSource.destroy();
  }
  const registry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
  const request = await registerRequestSchema(registry, config.TOPIC_REPORTS_REQUESTED);
  const decision = await registerReviewDecisionSchema(registry, config.TOPIC_REVIEW_DECISIONS);
  const events = await registerEventSchemas(registry, outboxEventTopics(config));
  logger.info(
    { schemaIds: { ReportRequested: request, ReviewDecision: decision, ...events } },
    'schemas registered',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError ? error.message : `release failed: ${error instanceof Error ? error.message : String(error)}`}\n`,
  );
  process.exitCode = 1;
});
