import type { TokenUsage } from './report';

/**
 * What LLM tokens cost, as an estimate: public list prices (or the configured ones) times the
 * tokens the provider reported. Never a bill: discounts, cached prompts and batch prices are
 * not known here, and a model the list does not name has no estimate at all.
 */

/** US dollars per million tokens. */
export interface TokenPrice {
  prompt: number;
  completion: number;
}

/** Prices by model family: a served name `gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`. */
export type PriceList = Readonly<Record<string, TokenPrice>>;

/** Public list prices, per million tokens. */
export const LIST_PRICES_PER_MILLION: PriceList = {
  'gpt-4o-mini': { prompt: 0.15, completion: 0.6 },
  'gpt-4o': { prompt: 2.5, completion: 10 },
  'gpt-4.1': { prompt: 2, completion: 8 },
  'gpt-4.1-mini': { prompt: 0.4, completion: 1.6 },
  'gpt-4.1-nano': { prompt: 0.1, completion: 0.4 },
};

/** The list prices with configured ones over them (a model of your own, a negotiated price). */
export const priceListWith = (configured: ReadonlyMap<string, TokenPrice>): PriceList => ({
  ...LIST_PRICES_PER_MILLION,
  ...Object.fromEntries(configured),
});

/** The listed model a served model name belongs to, the longest that matches; or undefined. */
export function pricedModel(
  model: string,
  prices: PriceList = LIST_PRICES_PER_MILLION,
): string | undefined {
  return Object.keys(prices)
    .filter((known) => model === known || model.startsWith(`${known}-`))
    .sort((a, b) => b.length - a.length)[0];
}

/** An estimate of what a report's tokens cost. */
export interface CostEstimate {
  /** US dollars; null when no price is known for the model. */
  usd: number | null;
  /** The price list's entry it was priced as; absent when none. */
  pricedAs?: string;
}

export function estimateCost(
  model: string,
  usage: TokenUsage,
  prices: PriceList = LIST_PRICES_PER_MILLION,
): CostEstimate {
  const pricedAs = pricedModel(model, prices);
  const price = pricedAs === undefined ? undefined : prices[pricedAs];
  if (pricedAs === undefined || !price) return { usd: null };
  const usd = (usage.promptTokens * price.prompt + usage.completionTokens * price.completion) / 1e6;
  return { usd, pricedAs };
}
