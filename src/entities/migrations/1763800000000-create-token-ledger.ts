import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The tokens of every LLM answer paid for, recorded when it arrives (the reports row gets them
 * only after the PDF). The index serves the budget check: a requester's tokens of one day.
 */
export class CreateTokenLedger1763800000000 implements MigrationInterface {
  name = 'CreateTokenLedger1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "token_ledger" (
        "call_id" text PRIMARY KEY,
        "report_id" uuid NOT NULL,
        "requester_id" text,
        "model" text NOT NULL,
        "prompt_tokens" integer NOT NULL,
        "completion_tokens" integer NOT NULL,
        "recorded_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX "token_ledger_requester_day_idx" ON "token_ledger" ("requester_id", "recorded_at")`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "token_ledger"`);
  }
}
