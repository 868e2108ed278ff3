export const skeletonActivities = {
  async noop(_step: number): Promise<void> {},
};
