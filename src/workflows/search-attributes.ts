import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes (registered on the namespace by the local stack; see README). */
export const reportStageKey = defineSearchAttributeKey('ReportStage', SearchAttributeType.KEYWORD);
export const requesterIdKey = defineSearchAttributeKey('RequesterId', SearchAttributeType.KEYWORD);
export const idempotencyKeyKey = defineSearchAttributeKey(
  'IdempotencyKey',
  SearchAttributeType.KEYWORD,
);
