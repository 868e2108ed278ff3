import type { MigrationInterface, QueryRunner } from 'typeorm';

/** An outbox row that cannot be encoded is set aside with the reason, instead of blocking the rows behind it. */
export class AddOutboxPublishError1763750000000 implements MigrationInterface {
  name = 'AddOutboxPublishError1763750000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox" ADD COLUMN "publish_error" text`);
    await queryRunner.query(`DROP INDEX "outbox_unpublished_idx"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("id") WHERE "published_at" IS NULL AND "publish_error" IS NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "outbox_unpublished_idx"`);
    await queryRunner.query(
      `CREATE INDEX "outbox_unpublished_idx" ON "outbox" ("id") WHERE "published_at" IS NULL`,
    );
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "publish_error"`);
  }
}
