import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { loadConfig, type Config } from '../src/config/config';
import { sampleRequestRecord } from '../testing/kafka-harness';
import {
  allCommitted,
  allCompleted,
  completedAtOf,
  produce,
  say,
  sleep,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline';
import { startSkeleton } from './skeleton/skeleton';

/**
 * Capacity of the pipeline against a bare Temporal skeleton on the same server, side by side in
 * one run, on the local stack. Prints a table; asserts nothing.
 *   ./dev stack up && ./dev npm run bench:capacity [-- <requests per run, default 300>]
 *
 * (a) the skeleton: 5 no-op activities, its own task queue, a worker with the SDK's defaults,
 *     started by one client with 10 starts in flight: completed/s.
 * (b) the pipeline through Kafka with an instant LLM: completed/s, and (b)/(a).
 * (c) the same with the LLM answering after 10 s: wall time minus (b)'s, what the LLM adds.
 * (d) the worker's peak RSS and event-loop lag p99 during (c).
 * (e) copies of started requests acknowledged per second vs new requests started per second.
 * The pipeline runs as built (`npm run build`), as its worker and consumer processes.
 */
const runs = Number(process.argv[2] ?? 300);
const llmLatencyMs = 10_000;
const copiesPerRequest = 10;

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

async function lagP99Ms(opsUrl: string): Promise<number> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_lag_p99_seconds '));
  return Number(line?.split(' ')[1]) * 1000;
}

/** (a) the skeleton: `runs` workflows, 10 starts in flight, until the last completes. */
async function skeleton(config: Config): Promise<number> {
  const bare = await startSkeleton(config);
  try {
    const run = async (count: number): Promise<number> => {
      const started = performance.now();
      const results: Promise<unknown>[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < count) {
            next += 1;
            results.push((await bare.start()).result());
          }
        }),
      );
      await Promise.all(results);
      return (performance.now() - started) / 1000;
    };
    await run(10);
    return await run(runs);
  } finally {
    await bare.stop();
  }
}

const sampleRequest = (tag: string) =>
  sampleRequestRecord(tag, { requester: { id: 'bench', email: 'bench@example.com' } });

/** Produces `requests`; resolves with seconds until each is committed and until each completed. */
async function throughKafka(
  p: Pipeline,
  requests: { idempotencyKey: string }[],
): Promise<{ committedS: number; completedS: number }> {
  const keys = requests.map((r) => r.idempotencyKey);
  const started = performance.now();
  await produce(p, requests);
  await allCommitted(p, 600_000);
  const committedS = (performance.now() - started) / 1000;
  await allCompleted(p, keys, 900_000);
  const last = Math.max(...keys.map((key) => completedAtOf(p, key)));
  return { committedS, completedS: (last - started) / 1000 };
}

async function main(): Promise<void> {
  const base = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn' });

  say(`(a) skeleton: ${runs} workflows of 5 no-op activities`);
  const skeletonS = await skeleton(base);
  const skeletonRate = runs / skeletonS;
  say(`    ${skeletonS.toFixed(1)} s = ${skeletonRate.toFixed(1)}/s`);

  const p = await startPipeline(base);
  try {
    say('    warming the pipeline up with 10 requests');
    await throughKafka(
      p,
      Array.from({ length: 10 }, () => sampleRequest('bench-warm')),
    );

    say(`(b) pipeline through Kafka, instant LLM: ${runs} requests`);
    const fresh = Array.from({ length: runs }, () => sampleRequest('bench-b'));
    const b = await throughKafka(p, fresh);
    const pipelineRate = runs / b.completedS;
    say(`    ${b.completedS.toFixed(1)} s = ${pipelineRate.toFixed(1)}/s`);

    say(`(e) ${runs * copiesPerRequest} copies of the ${runs} started requests`);
    await sleep(2_000);
    const copies = fresh.flatMap((r) => Array.from({ length: copiesPerRequest }, () => r));
    const copiesStarted = performance.now();
    await produce(p, copies);
    await allCommitted(p, 600_000);
    const copiesS = (performance.now() - copiesStarted) / 1000;

    say(`(c) pipeline, the LLM answering after ${llmLatencyMs / 1000} s: ${runs} requests`);
    await p.llm.reset();
    await p.llm.push({ behaviour: { mode: 'ok', latencyMs: llmLatencyMs }, times: runs });
    await lagP99Ms(p.workerOps); // starts the lag histogram afresh
    let peakRss = rssMiB(p.worker.pid!);
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMiB(p.worker.pid!));
    }, 250);
    const c = await throughKafka(
      p,
      Array.from({ length: runs }, () => sampleRequest('bench-c')),
    );
    clearInterval(sampler);
    const lagMs = await lagP99Ms(p.workerOps);

    const newRate = runs / b.committedS;
    const copyRate = copies.length / copiesS;
    const rows: [string, string][] = [
      ['(a) skeleton, 5 no-op activities: completed/s', skeletonRate.toFixed(1)],
      ['(b) pipeline, instant LLM: completed/s', pipelineRate.toFixed(1)],
      ['(b)/(a)', (pipelineRate / skeletonRate).toFixed(2)],
      [
        `(c) pipeline, LLM after ${llmLatencyMs / 1000} s: wall time`,
        `${c.completedS.toFixed(1)} s`,
      ],
      ['(c) minus (b): what the LLM latency adds', `${(c.completedS - b.completedS).toFixed(1)} s`],
      ['(d) worker peak RSS during (c)', `${Math.round(peakRss)} MiB`],
      ['(d) worker event-loop lag p99 during (c)', `${lagMs.toFixed(1)} ms`],
      ['(e) new requests started/s (consumer, during (b))', newRate.toFixed(1)],
      ['(e) copies of started requests acknowledged/s', copyRate.toFixed(0)],
      ['(e) copies/s ÷ new/s', `${(copyRate / newRate).toFixed(1)}×`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(
      [
        `capacity, ${runs} requests per run, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
        `| ${'measure'.padEnd(width)} | result |`,
        `| ${'-'.repeat(width)} | ------ |`,
        ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`),
        '',
      ].join('\n'),
    );
  } finally {
    await stopPipeline(p);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
