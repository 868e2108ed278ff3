import { createHash } from 'node:crypto';

// RFC 4122 name-based UUIDs (version 5): the same name always gives the same id, so ids derived
// from an idempotency key or a workflow run are stable across retries, restarts and processes.
const REPORT_NAMESPACE = '6f1d2c9e-8a53-4b7e-9f0a-3c2b1d4e5f60';
const WORKFLOW_PREFIX = 'report-';

export function uuidV5(name: string, namespace: string = REPORT_NAMESPACE): string {
  const ns = Buffer.from(namespace.replaceAll('-', ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The ids one idempotency key stands for: its one workflow, and the report it makes. */
export interface ReportIds {
  idempotencyKey: string;
  workflowId: string;
  reportId: string;
}

export const workflowIdFor = (idempotencyKey: string): string =>
  `${WORKFLOW_PREFIX}${idempotencyKey}`;
export const reportIdFor = (idempotencyKey: string): string => uuidV5(`report:${idempotencyKey}`);

export const reportIdsFor = (idempotencyKey: string): ReportIds => ({
  idempotencyKey,
  workflowId: workflowIdFor(idempotencyKey),
  reportId: reportIdFor(idempotencyKey),
});

/**
 * The ids of the report a workflow id names: `reportIdsFor` read backwards, so a link that
 * carries only the workflow id finds its report. Undefined for an id no key gives.
 */
export function reportIdsOfWorkflow(workflowId: string): ReportIds | undefined {
  if (!workflowId.startsWith(WORKFLOW_PREFIX) || workflowId.length === WORKFLOW_PREFIX.length)
    return undefined;
  return reportIdsFor(workflowId.slice(WORKFLOW_PREFIX.length));
}

/**
 * The key of a request that came without one (an API call with no Idempotency-Key): its body's
 * hash, so resending the same request finds the same report.
 */
export const keyOfUnkeyedRequest = (payloadHash: string): string =>
  `http-${payloadHash.slice(0, 40)}`;

/** An event announced by one workflow run; the same run and type always give the same id. */
export const eventIdFor = (workflowId: string, runId: string, eventType: string): string =>
  uuidV5(`event:${workflowId}:${runId}:${eventType}`);
