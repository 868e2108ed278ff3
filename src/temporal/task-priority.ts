import { createHash } from 'node:crypto';
import type { Priority } from '@temporalio/common';
import { defaultPriority, PRIORITY_KEYS } from '../domain/priority';
import type { ReportRequest } from '../domain/report';

/** Temporal refuses fairness keys over 64 bytes. */
export const FAIRNESS_KEY_MAX_BYTES = 64;

/**
 * The requester's id as a fairness key: as it is when it fits, otherwise as many of its first
 * characters as fit beside a hash of the whole id, so that long ids stay apart and recognisable.
 */
export function fairnessKeyOf(requesterId: string): string {
  if (Buffer.byteLength(requesterId) <= FAIRNESS_KEY_MAX_BYTES) return requesterId;
  const suffix = `~${createHash('sha256').update(requesterId).digest('base64url').slice(0, 22)}`;
  let prefix = '';
  for (const char of requesterId) {
    if (Buffer.byteLength(prefix + char + suffix) > FAIRNESS_KEY_MAX_BYTES) break;
    prefix += char;
  }
  return prefix + suffix;
}

/**
 * The priority a report's workflow starts with: its level's key, the requester as fairness key,
 * and the requester's configured weight (1 unless FAIRNESS_WEIGHTS says otherwise). Its
 * activities inherit it.
 */
export function taskPriorityOf(
  request: Pick<ReportRequest, 'priority' | 'source' | 'requester'>,
  fairnessWeights: ReadonlyMap<string, number>,
): Required<Priority> {
  return {
    priorityKey: PRIORITY_KEYS[request.priority ?? defaultPriority(request.source)],
    fairnessKey: fairnessKeyOf(request.requester.id),
    fairnessWeight: fairnessWeights.get(request.requester.id) ?? 1,
  };
}
