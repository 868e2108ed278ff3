import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateReportTables1763740000000 implements MigrationInterface {
  name = 'CreateReportTables1763740000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "reports" (
        "id" uuid PRIMARY KEY,
        "workflow_id" text NOT NULL UNIQUE,
        "idempotency_key" text NOT NULL UNIQUE,
        "status" text NOT NULL CHECK ("status" IN ('STORED', 'COMPLETED', 'FAILED', 'CANCELLED', 'ROLLED_BACK')),
        "title" text,
        "prompt" text NOT NULL,
        "requester_id" text NOT NULL,
        "requester_email" text NOT NULL,
        "model" text NOT NULL,
        "language" text,
        "prompt_tokens" integer NOT NULL,
        "completion_tokens" integer NOT NULL,
        "pdf_bytes" integer,
        "pdf_pages" integer,
        "timings" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "notification_status" text,
        "failure" jsonb,
        "requested_at" timestamptz NOT NULL,
        "completed_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX "reports_status_created_idx" ON "reports" ("status", "created_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "reports_requester_created_idx" ON "reports" ("requester_id", "created_at")`,
    );
    await queryRunner.query(`
      CREATE TABLE "report_files" (
        "report_id" uuid NOT NULL,
        "kind" text NOT NULL CHECK ("kind" IN ('content', 'pdf')),
        "content_type" text NOT NULL,
        "data" bytea NOT NULL,
        "size_bytes" integer NOT NULL,
        "sha256" text NOT NULL,
        "meta" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("report_id", "kind")
      )`);
    await queryRunner.query(`
      CREATE TABLE "email_ledger" (
        "report_id" uuid PRIMARY KEY,
        "message_id" text NOT NULL UNIQUE,
        "recipient" text NOT NULL,
        "subject" text NOT NULL,
        "status" text NOT NULL CHECK ("status" IN ('SENDING', 'SENT', 'FAILED')),
        "attempts" integer NOT NULL DEFAULT 0,
        "last_error" text,
        "sent_at" timestamptz,
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE "outbox" (
        "id" bigserial PRIMARY KEY,
        "event_id" uuid NOT NULL UNIQUE,
        "event_type" text NOT NULL,
        "message_key" text NOT NULL,
        "payload" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "published_at" timestamptz
      )`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("id") WHERE "published_at" IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "outbox"`);
    await queryRunner.query(`DROP TABLE "email_ledger"`);
    await queryRunner.query(`DROP TABLE "report_files"`);
    await queryRunner.query(`DROP TABLE "reports"`);
  }
}
