import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateCost, LIST_PRICES_PER_MILLION, priceListWith, pricedModel } from './llm-cost';

const usage = (promptTokens: number, completionTokens: number) => ({
  promptTokens,
  completionTokens,
});

describe('LLM cost estimates', () => {
  it('estimates from list prices per million tokens, a dated model by its family', () => {
    const estimate = estimateCost('gpt-4o-mini', usage(1_000_000, 1_000_000));
    assert.equal(estimate.pricedAs, 'gpt-4o-mini');
    assert.equal(estimate.usd?.toFixed(2), '0.75');
    const dated = estimateCost('gpt-4o-2024-08-06', usage(812, 430));
    assert.equal(dated.pricedAs, 'gpt-4o', 'the longest family that matches');
    assert.equal(dated.usd, (812 * 2.5 + 430 * 10) / 1e6);
    assert.equal(pricedModel('gpt-4o-mini-2024-07-18'), 'gpt-4o-mini');
  });

  it('has no estimate, rather than $0, for a model no price is known for', () => {
    assert.deepEqual(estimateCost('unknown-model', usage(10, 10)), { usd: null });
    assert.equal(pricedModel('gpt-4ox'), undefined, 'a family matches only up to a dash');
  });

  it('takes configured prices over the list, and prices a local model at 0 when told to', () => {
    const prices = priceListWith(
      new Map([
        ['gpt-4o-mini', { prompt: 0.1, completion: 0.5 }],
        ['SmolLM2-135M-Instruct-Q4_1', { prompt: 0, completion: 0 }],
      ]),
    );
    assert.equal(estimateCost('gpt-4o-mini', usage(1e6, 1e6), prices).usd, 0.6);
    assert.deepEqual(estimateCost('SmolLM2-135M-Instruct-Q4_1', usage(500, 450), prices), {
      usd: 0,
      pricedAs: 'SmolLM2-135M-Instruct-Q4_1',
    });
    assert.equal(prices['gpt-4o']?.prompt, 2.5, 'the others keep their list price');
    assert.equal(LIST_PRICES_PER_MILLION['gpt-4o-mini']?.prompt, 0.15, 'the list is unchanged');
  });
});
