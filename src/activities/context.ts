import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating every second, so a cancellation reaches the activity even
 * while it waits on I/O, and a dead worker is noticed within the heartbeat timeout.
 */
export async function withHeartbeats<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const timer = setInterval(() => context.heartbeat(), 1000);
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** The workflow run this activity works for; these activities only ever run inside one. */
export function currentWorkflow(): { workflowId: string; runId: string } {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('this activity must be scheduled by a workflow');
  return execution;
}
