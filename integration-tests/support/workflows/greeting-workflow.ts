import { proxyActivities } from '@temporalio/workflow';
import type { createGreetingActivities } from '../greeting-activities';

const { greet } = proxyActivities<ReturnType<typeof createGreetingActivities>>({
  startToCloseTimeout: '10 seconds',
});

/** The smallest real workflow: one activity round trip, used to prove the Temporal stack works. */
export async function GreetingWorkflow(name: string): Promise<string> {
  return greet(name);
}
