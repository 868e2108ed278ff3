export const createGreetingActivities = (deps: { greeting: string }) => ({
  async greet(name: string): Promise<string> {
    return `${deps.greeting}, ${name}!`;
  },
});
