import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateInbox1763760000000 implements MigrationInterface {
  name = 'CreateInbox1763760000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "inbox" (
        "idempotency_key" text PRIMARY KEY,
        "payload_hash" text NOT NULL,
        "workflow_id" text NOT NULL,
        "report_id" uuid NOT NULL,
        "source" text NOT NULL,
        "duplicates" integer NOT NULL DEFAULT 0,
        "conflicts" integer NOT NULL DEFAULT 0,
        "first_seen_at" timestamptz NOT NULL DEFAULT now(),
        "last_seen_at" timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "inbox"`);
  }
}
