import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createServiceMetrics, modelLabel } from './metrics';

describe('service metrics', () => {
  it('labels a dated model by its priced family, the default by name, anything else as other', () => {
    assert.equal(modelLabel('gpt-4o-mini-2024-07-18', 'gpt-4o-mini'), 'gpt-4o-mini');
    assert.equal(modelLabel('gpt-4o-2024-08-06', 'gpt-4o-mini'), 'gpt-4o');
    assert.equal(modelLabel('my-finetune', 'my-finetune'), 'my-finetune');
    assert.equal(modelLabel('some-user-typed-model-123', 'gpt-4o-mini'), 'other');
    const prices = { 'house-model': { prompt: 1, completion: 2 } };
    assert.equal(modelLabel('house-model-v3', 'gpt-4o-mini', prices), 'house-model');
  });

  it('follows Prometheus naming: counters end in _total, units are base units', () => {
    const registry = new Registry();
    createServiceMetrics(registry);
    for (const metric of registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      assert.match(name, /^[a-z][a-z0-9_]*$/, name);
      if (type === 'counter') assert.match(name, /_total$/, name);
      else assert.doesNotMatch(name, /_total$/, name);
      assert.doesNotMatch(name, /_(ms|milliseconds|kb|mb)(_|$)/, `${name} uses base units`);
    }
  });
});
