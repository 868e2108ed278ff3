import { createHash } from 'node:crypto';

// RFC 4122 name-based UUIDs (version 5): the same name always gives the same id, so ids derived
// from an idempotency key or a workflow run are stable across retries, restarts and processes.
const REPORT_NAMESPACE = '6f1d2c9e-8a53-4b7e-9f0a-3c2b1d4e5f60';

export function uuidV5(name: string, namespace: string = REPORT_NAMESPACE): string {
  const ns = Buffer.from(namespace.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const workflowIdFor = (idempotencyKey: string): string => `report-${idempotencyKey}`;
export const reportIdFor = (idempotencyKey: string): string => uuidV5(`report:${idempotencyKey}`);
/** An event announced by one workflow run; the same run and type always give the same id. */
export const eventIdFor = (workflowId: string, runId: string, eventType: string): string =>
  uuidV5(`event:${workflowId}:${runId}:${eventType}`);
