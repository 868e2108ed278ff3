import { reportIdFor } from '../src/domain/ids';
import { createKafkaHarness } from '../testing/kafka-harness';

/**
 * Consumer and end-to-end figures on the local stack, with the instant local LLM:
 *  - duplicates deduped per second (copies of one request),
 *  - workflow starts per second (distinct requests, measured until each is started),
 *  - record produced -> ReportCompleted consumed, median and p95, at a steady rate.
 *   ./dev stack up && ./dev npm run bench:kafka -- [requests per second, default 2]
 */
/** Requests per second for the latency run; the default stays below what 2 cores sustain. */
const ratePerSecond = Number(process.argv[2] ?? 2);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main(): Promise<void> {
  const k = await createKafkaHarness();
  try {
    await k.startConsumer();
    const inboxCount = async (sql: string, params: unknown[]): Promise<number> =>
      Number((await k.h.dataSource.query<{ n: string }[]>(sql, params))[0]?.n ?? 0);

    // Warm up: one request end to end.
    const warm = k.sampleRequest();
    await k.produceRequest(warm);
    await k.waitFor(
      'warm-up',
      () => k.received.some((r) => r.key === reportIdFor(warm.idempotencyKey)),
      60_000,
    );

    const copies = 2000;
    const dup = k.sampleRequest();
    await Promise.all(
      Array.from({ length: copies }, (_, i) =>
        k.produceRequest(dup, { key: `${dup.idempotencyKey}-${i % 3}` }),
      ),
    );
    let t0 = performance.now();
    await k.waitFor(
      'duplicates',
      async () =>
        (await inboxCount(`SELECT duplicates AS n FROM inbox WHERE idempotency_key = $1`, [
          dup.idempotencyKey,
        ])) ===
        copies - 1,
      300_000,
    );
    const dedupeSeconds = (performance.now() - t0) / 1000;

    const fresh = Array.from({ length: 200 }, () => k.sampleRequest());
    t0 = performance.now();
    await Promise.all(fresh.map((r) => k.produceRequest(r)));
    const keys = fresh.map((r) => r.idempotencyKey);
    await k.waitFor(
      'starts',
      async () =>
        (await inboxCount(`SELECT count(*) AS n FROM inbox WHERE idempotency_key = ANY($1)`, [
          keys,
        ])) === keys.length,
      300_000,
    );
    const startSeconds = (performance.now() - t0) / 1000;
    await k.waitFor(
      'the backlog to finish',
      () => keys.every((key) => k.received.some((r) => r.key === reportIdFor(key))),
      600_000,
    );

    const latencies: number[] = [];
    const paced = Array.from({ length: 200 }, () => k.sampleRequest());
    const producedAt = new Map<string, number>();
    for (const r of paced) {
      producedAt.set(reportIdFor(r.idempotencyKey), performance.now());
      await k.produceRequest(r);
      await new Promise((res) => setTimeout(res, 1000 / ratePerSecond));
    }
    const seen = new Set<string>();
    await k.waitFor(
      'paced requests',
      () => {
        for (const r of k.received) {
          const at = producedAt.get(r.key);
          if (
            at !== undefined &&
            !seen.has(r.key) &&
            r.topic === k.config.TOPIC_REPORTS_COMPLETED
          ) {
            seen.add(r.key);
            latencies.push(r.receivedAt - at);
          }
        }
        return seen.size === paced.length;
      },
      600_000,
    );
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      [
        `dedupe: ${copies - 1} duplicates in ${dedupeSeconds.toFixed(1)} s = ${Math.round((copies - 1) / dedupeSeconds)} records/s`,
        `starts: 200 new requests started in ${startSeconds.toFixed(1)} s = ${Math.round(200 / startSeconds)} starts/s`,
        `produced -> ReportCompleted consumed, 200 requests at ${ratePerSecond}/s: median ${percentile(latencies, 50).toFixed(0)} ms, p95 ${percentile(latencies, 95).toFixed(0)} ms`,
        '',
      ].join('\n'),
    );
  } finally {
    await k.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
