import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { config, uniqueName } from '../../testing/stack-env';

describe('PostgreSQL through TypeORM', () => {
  it('connects and runs a migration, then reverts it', async (t) => {
    const schema = uniqueName('smoke').replaceAll('-', '_');

    class CreateSmokeTable1700000000000 implements MigrationInterface {
      name = 'CreateSmokeTable1700000000000';
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(
          `CREATE TABLE "${schema}"."smoke" ("id" uuid PRIMARY KEY, "note" text NOT NULL)`,
        );
      }
      async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE "${schema}"."smoke"`);
      }
    }

    const admin = new DataSource({ type: 'postgres', url: config.DATABASE_URL });
    await admin.initialize();
    t.after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.destroy();
    });
    await admin.query(`CREATE SCHEMA "${schema}"`);

    const dataSource = new DataSource({
      type: 'postgres',
      url: config.DATABASE_URL,
      schema,
      migrations: [CreateSmokeTable1700000000000],
      migrationsTableName: 'migrations',
    });
    await dataSource.initialize();
    t.after(() => dataSource.destroy());

    const ran = await dataSource.runMigrations({ transaction: 'each' });
    assert.deepEqual(
      ran.map((m) => m.name),
      ['CreateSmokeTable1700000000000'],
    );
    assert.equal(await dataSource.showMigrations(), false, 'no migration left pending');

    await dataSource.query(
      `INSERT INTO "${schema}"."smoke" (id, note) VALUES (gen_random_uuid(), $1)`,
      ['hello'],
    );
    const rows = await dataSource.query<{ note: string }[]>(`SELECT note FROM "${schema}"."smoke"`);
    assert.deepEqual(rows, [{ note: 'hello' }]);

    // Running again is a no-op: migrations are recorded, not repeated.
    assert.deepEqual(await dataSource.runMigrations(), []);

    await dataSource.undoLastMigration();
    const table = await dataSource.query<{ t: string | null }[]>(`SELECT to_regclass($1) AS t`, [
      `"${schema}".smoke`,
    ]);
    assert.equal(table[0]?.t, null);
  });
});
