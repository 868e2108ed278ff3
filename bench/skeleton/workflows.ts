import { proxyActivities } from '@temporalio/workflow';
import type { skeletonActivities } from './activities';

const { noop } = proxyActivities<typeof skeletonActivities>({ startToCloseTimeout: '30 seconds' });

/** The bare skeleton the pipeline is measured against: five no-op activities in a row. */
export async function SkeletonWorkflow(): Promise<void> {
  for (let step = 0; step < 5; step++) await noop(step);
}
