import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reportIdFor, workflowIdFor } from '../../src/domain/ids';
import { configEnv, spawnTs, type Child } from '../../testing/child-process';
import { createKafkaHarness, type KafkaHarness } from '../../testing/kafka-harness';

describe('request consumers that die or leave mid-flood', () => {
  let k: KafkaHarness;
  const children: Child[] = [];
  before(async () => {
    k = await createKafkaHarness();
  });
  after(async () => {
    for (const child of children)
      if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await k.close();
  });

  async function producedInbox(keys: string[]): Promise<number> {
    const rows = await k.h.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM inbox WHERE idempotency_key = ANY($1)`,
      [keys],
    );
    return Number(rows[0]?.n);
  }

  /** Every request completed, each with one report row, one LLM call and one ReportCompleted event id. */
  async function assertEachOnce(keys: string[]): Promise<void> {
    const reportIds = keys.map(reportIdFor);
    await k.waitFor(
      `all ${keys.length} ReportCompleted events`,
      () => reportIds.every((id) => k.completed(id).length > 0),
      120_000,
    );
    const rows = await k.h.dataSource.query<{ id: string; status: string }[]>(
      `SELECT id, status FROM reports WHERE id = ANY($1)`,
      [reportIds],
    );
    assert.equal(rows.length, keys.length);
    assert.ok(rows.every((r) => r.status === 'COMPLETED'));
    for (const key of keys)
      assert.equal(await k.h.llm.countFor(`${workflowIdFor(key)}:callLlm`), 1, key);
    for (const id of reportIds) {
      const events = k.completed(id);
      const eventIds = new Set(events.map((e) => e.headers['event-id']));
      assert.equal(eventIds.size, 1, id);
    }
  }

  it('a consumer killed with SIGKILL mid-flood: a new one picks up, every request completes once', async () => {
    // Small slices, so that the kill lands between one slice's starts and the next slice.
    const doomed = spawnTs(
      'src/consumers/main.ts',
      // The broker's shortest session, so that its partitions move soon after the kill.
      configEnv(k.config, {
        LOG_LEVEL: 'info',
        KAFKA_CONSUMER_MAX_IN_FLIGHT: '4',
        KAFKA_CONSUMER_SESSION_TIMEOUT_MS: '6000',
      }),
    );
    children.push(doomed);
    await doomed.waitFor('consumer started');
    const requests = Array.from({ length: 40 }, () => k.sampleRequest());
    const keys = requests.map((r) => r.idempotencyKey);
    await Promise.all(requests.map((r) => k.produceRequest(r)));
    await k.waitFor(
      'the first consumer to be part-way through',
      async () => (await producedInbox(keys)) >= 5,
    );
    doomed.process.kill('SIGKILL');
    await doomed.exited;
    assert.ok((await producedInbox(keys)) < keys.length, 'killed before it had seen everything');

    await k.startConsumer();
    await assertEachOnce(keys);
  });

  it('two consumers in one group, one stopped mid-flood: the other takes its partitions, every request completes once', async () => {
    const leaving = await k.startConsumer();
    const requests = Array.from({ length: 60 }, () => k.sampleRequest());
    const keys = requests.map((r) => r.idempotencyKey);
    await Promise.all(requests.map((r) => k.produceRequest(r)));
    await k.waitFor(
      'both consumers to be part-way through',
      async () => (await producedInbox(keys)) >= 10,
    );
    await leaving.stop();
    await assertEachOnce(keys);
  });
});
