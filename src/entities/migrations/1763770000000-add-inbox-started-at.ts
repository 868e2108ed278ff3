import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When the request's workflow start was acknowledged: later copies need no second start. */
export class AddInboxStartedAt1763770000000 implements MigrationInterface {
  name = 'AddInboxStartedAt1763770000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "inbox" ADD COLUMN "started_at" timestamptz`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "inbox" DROP COLUMN "started_at"`);
  }
}
