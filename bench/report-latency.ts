import { createReportHarness } from '../testing/report-harness';

/**
 * Time from starting a report to COMPLETED, with the local (instant) LLM, measured by the
 * client, one report at a time. Prints the figures; asserts nothing.
 *   ./dev stack up && ./dev npm run bench:report -- 20
 */
const runs = Number(process.argv[2] ?? 20);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const h = await createReportHarness();
  try {
    await h.startWorker();
    // One unmeasured run warms the worker's caches and connections.
    await (await h.start(h.request())).handle.result();
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const { handle } = await h.start(h.request());
      const result = await handle.result();
      if (result.status !== 'COMPLETED') throw new Error(`run ${i} ended ${result.status}`);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;
    process.stdout.write(
      `request -> COMPLETED over ${runs} reports: median ${fmt(percentile(times, 50))}, p95 ${fmt(percentile(times, 95))}, min ${fmt(times[0]!)}, max ${fmt(times.at(-1)!)}\n`,
    );
  } finally {
    await h.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
