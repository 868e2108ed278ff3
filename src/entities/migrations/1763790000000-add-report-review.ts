import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A report sent for review records who may decide, when the wait began and ends, and the
 * decision. Reports without review leave every column empty. The partial index serves the list
 * of reports waiting for a decision, oldest first.
 */
export class AddReportReview1763790000000 implements MigrationInterface {
  name = 'AddReportReview1763790000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "reports"
      ADD COLUMN "reviewers" jsonb,
      ADD COLUMN "review_on_timeout" text,
      ADD COLUMN "review_waiting_since" timestamptz,
      ADD COLUMN "review_deadline" timestamptz,
      ADD COLUMN "review_decision" text,
      ADD COLUMN "reviewed_by" text,
      ADD COLUMN "review_automatic" boolean,
      ADD COLUMN "review_comment" text,
      ADD COLUMN "reviewed_at" timestamptz`);
    await queryRunner.query(
      `CREATE INDEX "reports_review_pending_idx" ON "reports" ("review_waiting_since", "id")
       WHERE "review_waiting_since" IS NOT NULL AND "review_decision" IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "reports_review_pending_idx"`);
    await queryRunner.query(`ALTER TABLE "reports"
      DROP COLUMN "reviewers", DROP COLUMN "review_on_timeout",
      DROP COLUMN "review_waiting_since", DROP COLUMN "review_deadline",
      DROP COLUMN "review_decision", DROP COLUMN "reviewed_by", DROP COLUMN "review_automatic",
      DROP COLUMN "review_comment", DROP COLUMN "reviewed_at"`);
  }
}
