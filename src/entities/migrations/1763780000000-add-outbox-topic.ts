import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each outbox row says which topic it goes to, as the worker that wrote it was configured; any
 * relay publishes it there. Rows written before this column have none and go to the relay's own
 * topic for their event type.
 */
export class AddOutboxTopic1763780000000 implements MigrationInterface {
  name = 'AddOutboxTopic1763780000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox" ADD COLUMN "topic" text`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "outbox" DROP COLUMN "topic"`);
  }
}
