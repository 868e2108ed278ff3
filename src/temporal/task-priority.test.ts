import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { priorityView } from '../domain/priority';
import { FAIRNESS_KEY_MAX_BYTES, fairnessKeyOf, taskPriorityOf } from './task-priority';

const requester = { id: 'svc-a', email: 'a@example.com' };

describe('task priority', () => {
  it('puts runs from the API ahead of every Kafka level, and Kafka at NORMAL unless asked', () => {
    const weights = new Map<string, number>();
    const key = (request: Parameters<typeof taskPriorityOf>[0]) =>
      taskPriorityOf(request, weights).priorityKey;
    const http = key({ source: 'http', requester, priority: 'INTERACTIVE' });
    const kafka = key({ source: 'kafka', requester, priority: 'NORMAL' });
    const high = key({ source: 'kafka', requester, priority: 'HIGH' });
    const low = key({ source: 'kafka', requester, priority: 'LOW' });
    assert.ok(http < high && high < kafka && kafka < low, `${http} ${high} ${kafka} ${low}`);
    assert.equal(key({ source: 'kafka', requester }), kafka, 'no priority: NORMAL');
    assert.equal(key({ source: 'http', requester }), http, 'no priority from the API: INTERACTIVE');
  });

  it('uses the requester as fairness key, with its configured weight or 1', () => {
    const weights = new Map([['svc-a', 3]]);
    assert.deepEqual(taskPriorityOf({ source: 'kafka', requester }, weights), {
      priorityKey: 3,
      fairnessKey: 'svc-a',
      fairnessWeight: 3,
    });
    const other = { id: 'svc-b', email: 'b@example.com' };
    assert.equal(taskPriorityOf({ source: 'kafka', requester: other }, weights).fairnessWeight, 1);
  });

  it('shortens a requester id over 64 bytes to a prefix and a hash that tell ids apart', () => {
    const short = 'x'.repeat(FAIRNESS_KEY_MAX_BYTES);
    assert.equal(fairnessKeyOf(short), short, 'fits: as it is');
    const long = `tenant-${'é'.repeat(100)}`;
    const a = fairnessKeyOf(`${long}-a`);
    const b = fairnessKeyOf(`${long}-b`);
    for (const key of [a, b]) {
      assert.ok(Buffer.byteLength(key) <= FAIRNESS_KEY_MAX_BYTES, key);
      assert.ok(key.startsWith('tenant-é'), key);
      assert.ok(key.isWellFormed());
    }
    assert.notEqual(a, b);
    assert.equal(fairnessKeyOf(`${long}-a`), a, 'the same id, the same key');
  });

  it('shows what Temporal holds as a level, and no priority as NORMAL', () => {
    assert.deepEqual(priorityView(undefined), { level: 'NORMAL', key: 3 });
    assert.deepEqual(priorityView({ priorityKey: 0 }), { level: 'NORMAL', key: 3 });
    assert.deepEqual(priorityView({ priorityKey: 1, fairnessKey: 'ada', fairnessWeight: 1 }), {
      level: 'INTERACTIVE',
      key: 1,
      fairnessKey: 'ada',
      fairnessWeight: 1,
    });
    assert.equal(priorityView({ priorityKey: 5 }).level, 'LOW');
  });
});
