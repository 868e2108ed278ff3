import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kafkaClusterId } from '../../stack/services';

describe('kafkaClusterId', () => {
  it('never starts with "-", which made the KRaft format step fail about once in 64 fresh stacks', () => {
    for (let i = 0; i < 20_000; i++) {
      const id = kafkaClusterId();
      assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/, id);
    }
  });
});
