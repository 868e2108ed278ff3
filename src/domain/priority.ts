import type { ReportRequest } from './report';

/**
 * How a report's tasks are ordered on Temporal's task queues. Temporal serves a lower priority
 * key first and, within one key, serves each fairness key (here: the requester) in weighted
 * turns: a person's run does not wait behind a flood, and one requester's backlog does not
 * starve another's. Pure: the status view uses it; src/temporal/task-priority.ts applies it.
 *
 * INTERACTIVE is for people (every run from the API). A Kafka request may ask for HIGH, NORMAL
 * (its default) or LOW, never INTERACTIVE, so that no upstream backlog crowds out a person.
 */
export const PRIORITY_KEYS = { INTERACTIVE: 1, HIGH: 2, NORMAL: 3, LOW: 4 } as const;
export type PriorityLevel = keyof typeof PRIORITY_KEYS;
/** What a Kafka request may ask for. */
export const REQUESTABLE_PRIORITIES = ['HIGH', 'NORMAL', 'LOW'] as const;
export type RequestablePriority = (typeof REQUESTABLE_PRIORITIES)[number];
/** Temporal's own default key, for a workflow started with none (before priorities existed). */
const TEMPORAL_DEFAULT_KEY = 3;

/** The level of a request that names none, by where it came from. */
export const defaultPriority = (source: ReportRequest['source']): PriorityLevel =>
  source === 'kafka' ? 'NORMAL' : 'INTERACTIVE';

/** A report's priority as Temporal holds it, and as /status and /events show it. */
export interface PriorityView {
  level: PriorityLevel;
  /** Temporal's priority key: 1 goes first. */
  key: number;
  /** Whose turn the tasks take: the requester (its id, or a shortened form of a long one). */
  fairnessKey?: string;
  fairnessWeight?: number;
}

/** What Temporal's record of an execution says of its priority. */
export function priorityView(priority?: {
  priorityKey?: number;
  fairnessKey?: string;
  fairnessWeight?: number;
}): PriorityView {
  const key = priority?.priorityKey || TEMPORAL_DEFAULT_KEY;
  const level =
    (Object.keys(PRIORITY_KEYS) as PriorityLevel[]).find((name) => PRIORITY_KEYS[name] === key) ??
    (key < PRIORITY_KEYS.NORMAL ? 'HIGH' : 'LOW');
  return {
    level,
    key,
    ...(priority?.fairnessKey ? { fairnessKey: priority.fairnessKey } : {}),
    ...(priority?.fairnessWeight ? { fairnessWeight: priority.fairnessWeight } : {}),
  };
}
