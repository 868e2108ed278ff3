/**
 * LLM calls wait on the provider, not on the CPU, so they have a task queue of their own with
 * as many slots as the provider allows calls in flight; everything else of a report stays on
 * the report's task queue. Pure: workflow code imports this file.
 */
export const llmTaskQueueFor = (reportTaskQueue: string): string => `${reportTaskQueue}-llm`;
