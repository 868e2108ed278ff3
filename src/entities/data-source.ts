import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { Config } from '../config/config';
import { EmailLedgerEntry } from './email-ledger-entry';
import { InboxEntry } from './inbox-entry';
import { CreateReportTables1763740000000 } from './migrations/1763740000000-create-report-tables';
import { AddOutboxPublishError1763750000000 } from './migrations/1763750000000-add-outbox-publish-error';
import { CreateInbox1763760000000 } from './migrations/1763760000000-create-inbox';
import { AddInboxStartedAt1763770000000 } from './migrations/1763770000000-add-inbox-started-at';
import { AddOutboxTopic1763780000000 } from './migrations/1763780000000-add-outbox-topic';
import { AddReportReview1763790000000 } from './migrations/1763790000000-add-report-review';
import { CreateTokenLedger1763800000000 } from './migrations/1763800000000-create-token-ledger';
import { OutboxEvent } from './outbox-event';
import { Report } from './report';
import { ReportFile } from './report-file';
import { TokenLedgerEntry } from './token-ledger-entry';

export const entities = [
  Report,
  ReportFile,
  EmailLedgerEntry,
  OutboxEvent,
  InboxEntry,
  TokenLedgerEntry,
];
export const migrations = [
  CreateReportTables1763740000000,
  AddOutboxPublishError1763750000000,
  CreateInbox1763760000000,
  AddInboxStartedAt1763770000000,
  AddOutboxTopic1763780000000,
  AddReportReview1763790000000,
  CreateTokenLedger1763800000000,
];

/** The schema is owned by migrations (`npm run migrate`); TypeORM never synchronizes it. */
export function createDataSource(
  config: Pick<Config, 'DATABASE_URL' | 'DATABASE_POOL_SIZE'>,
  options: { schema?: string } = {},
): DataSource {
  return new DataSource({
    type: 'postgres',
    url: config.DATABASE_URL,
    schema: options.schema,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    poolSize: config.DATABASE_POOL_SIZE,
    applicationName: 'report-pipeline',
  });
}
