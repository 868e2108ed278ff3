import { cpus, totalmem } from 'node:os';
import { loadConfig } from '../src/config/config';
import { workflowIdFor } from '../src/domain/ids';
import { sampleRequestRecord } from '../testing/kafka-harness';
import { uniqueName } from '../testing/stack-env';
import {
  allCompleted,
  completedAtOf,
  percentile,
  produce,
  say,
  sleep,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline';
import { startSkeleton, type Skeleton } from './skeleton/skeleton';

/**
 * Whether a flood from one requester delays anyone else, in one run on the local stack, through
 * the built worker, consumer and API processes with an instant LLM:
 *  - warm-up: 100 requests through Kafka and a run through the API;
 *  - idle: a person's run through the API (5, one after another) and requester B's 5 requests
 *    through Kafka, each group alone;
 *  - the flood alone: requester A's `flood` requests through Kafka, for A's throughput;
 *  - the flood again, and 4 s into it B's 5 requests through Kafka and a person's run through
 *    the API.
 * Beside them, the bare Temporal skeleton (five no-op activities, a task queue and an idle worker
 * of its own) runs 5 times one after another, alone and then under the flood once B and the
 * person are done: how much slower the same server and machine are under the flood for a
 * workflow that waits behind nothing.
 * Latency runs from the record produced (or the POST sent) to its ReportCompleted received, or
 * from the skeleton's start to its completion. How much of the time the machine's cores sat idle,
 * while idle and during each flood, tells whether the flood left them any room.
 * Prints a table; asserts nothing.
 *   ./dev stack up && ./dev npm run bench:fairness [-- <flood size, default 300>]
 */
const flood = Number(process.argv[2] ?? 300);
const bCount = 5;
const warmUp = 100;
const idleRuns = 5;
const personDelayMs = 4_000;
const timeoutMs = 900_000;

const request = (requester: string) =>
  sampleRequestRecord(`bench-${requester}`, {
    requester: { id: requester, email: `${requester}@example.com` },
  });

/** Produces requests; resolves with each one's latency once all completed, in ms, ascending. */
async function throughKafka(p: Pipeline, requests: { idempotencyKey: string }[]) {
  const producedAt = performance.now();
  await produce(p, requests);
  const keys = requests.map((r) => r.idempotencyKey);
  await allCompleted(p, keys, timeoutMs);
  const latencies = keys.map((key) => completedAtOf(p, key) - producedAt).sort((a, b) => a - b);
  return { producedAt, latencies, lastAt: producedAt + latencies.at(-1)! };
}

/** Where a run's time went: each stage's duration as the workflow timed it (queueing included). */
async function stagesOf(p: Pipeline, key: string): Promise<string> {
  const res = await fetch(`${p.apiUrl}/api/workflows/${workflowIdFor(key)}/status`);
  const { timings } = (await res.json()) as { timings: Record<string, { durationMs?: number }> };
  return Object.entries(timings)
    .map(([stage, t]) => `${stage} ${t.durationMs ?? '?'} ms`)
    .join(', ');
}

/** A person's run through the API; resolves with its latency in ms. */
async function throughApi(p: Pipeline): Promise<{ latency: number; key: string }> {
  const key = uniqueName('bench-person');
  const sentAt = performance.now();
  const res = await fetch(`${p.apiUrl}/api/workflows/generate-report`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({
      prompt: `A person's question (${key})`,
      requester: { id: 'person', email: 'person@example.com' },
    }),
  });
  if (res.status !== 202) throw new Error(`the API answered ${res.status}: ${await res.text()}`);
  await allCompleted(p, [key], timeoutMs);
  return { latency: completedAtOf(p, key) - sentAt, key };
}

/** `runs` skeleton workflows one after another; their latencies in ms, ascending. */
async function skeletonRuns(bare: Skeleton, runs: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < runs; i += 1) latencies.push(await bare.runOne());
  return latencies.sort((a, b) => a - b);
}

/** The machine's CPU time so far, summed over its cores, in ms: all of it, and the idle part. */
function cpuTime(): { total: number; idle: number } {
  let total = 0;
  let idle = 0;
  for (const { times } of cpus()) {
    total += times.user + times.nice + times.sys + times.idle + times.irq;
    idle += times.idle;
  }
  return { total, idle };
}

/** The share of the machine's CPU time between two readings that was idle, as a percentage. */
const idlePercent = (from: ReturnType<typeof cpuTime>, to: ReturnType<typeof cpuTime>) =>
  `${((100 * (to.idle - from.idle)) / (to.total - from.total)).toFixed(0)}%`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const signed = (n: number) => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;

async function main(): Promise<void> {
  const base = loadConfig({ ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn' });
  // Slots sized to the stand-in, which answers at once, and to 2 cores: taking more tasks than it
  // can start only queues them inside the worker, where priority no longer orders them.
  const p = await startPipeline(base, {
    api: true,
    settings: { LLM_MAX_CONCURRENCY: 20, WORKER_ACTIVITY_CONCURRENCY: 4 },
  });
  const bare = await startSkeleton(base).catch(async (error: unknown) => {
    await stopPipeline(p);
    throw error;
  });
  try {
    // A flood of its own first: the first hundred reports through fresh processes run slower
    // (connection pools, compiled code, caches), and would count against A's flood alone.
    say(`warming the pipeline up: ${warmUp} requests through Kafka, 1 through the API`);
    await throughKafka(
      p,
      Array.from({ length: warmUp }, () => request('warm-up')),
    );
    await throughApi(p);
    await skeletonRuns(bare, idleRuns);

    say(
      `idle: ${idleRuns} runs through the API, one after another; B alone: ${bCount} requests through Kafka`,
    );
    const idleFrom = cpuTime();
    const personIdle: number[] = [];
    let idleKey = '';
    for (let i = 0; i < idleRuns; i += 1) {
      const run = await throughApi(p);
      personIdle.push(run.latency);
      idleKey = run.key;
    }
    personIdle.sort((a, b) => a - b);
    say(`    the person's last idle run, stage by stage: ${await stagesOf(p, idleKey)}`);
    const bIdle = await throughKafka(
      p,
      Array.from({ length: bCount }, () => request('requester-b')),
    );
    say(`idle: the bare skeleton, ${idleRuns} runs one after another`);
    const skeletonIdle = await skeletonRuns(bare, idleRuns);
    const idleTo = cpuTime();

    say(`A's flood alone: ${flood} requests through Kafka`);
    const aloneFrom = cpuTime();
    const alone = await throughKafka(
      p,
      Array.from({ length: flood }, () => request('requester-a')),
    );
    const aloneTo = cpuTime();
    const aloneRate = flood / ((alone.lastAt - alone.producedAt) / 1000);
    say(`    ${aloneRate.toFixed(2)} reports/s`);
    await sleep(2_000);

    say(`A's flood again; ${personDelayMs / 1000} s in, B's ${bCount} and a person's run`);
    const mixedFrom = cpuTime();
    let mixedTo = mixedFrom;
    const floodRun = throughKafka(
      p,
      Array.from({ length: flood }, () => request('requester-a')),
    );
    let floodOver = false;
    void floodRun.then(
      () => {
        mixedTo = cpuTime();
        floodOver = true;
      },
      () => (floodOver = true),
    );
    await sleep(personDelayMs);
    const [bMixed, person] = await Promise.all([
      throughKafka(
        p,
        Array.from({ length: bCount }, () => request('requester-b')),
      ),
      throughApi(p),
    ]);
    say(`    B and the person done; the bare skeleton, ${idleRuns} runs one after another`);
    const skeletonMixed = await skeletonRuns(bare, idleRuns);
    if (floodOver) say('    the flood ended before the skeleton runs did: their figures are low');
    const aMixed = await floodRun;
    const mixedRate = flood / ((aMixed.lastAt - aMixed.producedAt) / 1000);
    const personMixed = person.latency;
    say(`    the person's run, stage by stage: ${await stagesOf(p, person.key)}`);

    const personP50 = percentile(personIdle, 50);
    const bP50 = percentile(bIdle.latencies, 50);
    const skeletonP50 = percentile(skeletonIdle, 50);
    const rows: string[][] = [
      [
        'a person, 1 run through the API',
        `${seconds(personP50)} / ${seconds(percentile(personIdle, 95))}`,
        `${seconds(personMixed)} / ${seconds(personMixed)}`,
        `${(personMixed / personP50).toFixed(1)}×`,
      ],
      [
        `requester B, ${bCount} through Kafka`,
        `${seconds(bP50)} / ${seconds(percentile(bIdle.latencies, 95))}`,
        `${seconds(percentile(bMixed.latencies, 50))} / ${seconds(percentile(bMixed.latencies, 95))}`,
        `${(percentile(bMixed.latencies, 50) / bP50).toFixed(1)}× / ${(percentile(bMixed.latencies, 95) / bP50).toFixed(1)}×`,
      ],
      [
        `requester A, ${flood} through Kafka`,
        `${seconds(percentile(alone.latencies, 50))} / ${seconds(percentile(alone.latencies, 95))} (flood alone)`,
        `${seconds(percentile(aMixed.latencies, 50))} / ${seconds(percentile(aMixed.latencies, 95))}`,
        '',
      ],
      [
        `bare skeleton, ${idleRuns} one after another`,
        `${seconds(skeletonP50)} / ${seconds(percentile(skeletonIdle, 95))}`,
        `${seconds(percentile(skeletonMixed, 50))} / ${seconds(percentile(skeletonMixed, 95))}`,
        `${(percentile(skeletonMixed, 50) / skeletonP50).toFixed(1)}× / ${(percentile(skeletonMixed, 95) / skeletonP50).toFixed(1)}×`,
      ],
    ];
    const header = [
      'group',
      'alone: p50 / p95',
      'with the flood: p50 / p95',
      'with the flood ÷ alone p50',
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    process.stdout.write(
      [
        `fairness, a flood of ${flood}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
        line(header),
        line(widths.map((w) => '-'.repeat(w))),
        ...rows.map(line),
        '',
        `A's throughput: ${aloneRate.toFixed(2)} reports/s alone, ${mixedRate.toFixed(2)} with B and the person (${signed(((mixedRate - aloneRate) / aloneRate) * 100)}%)`,
        `The machine's cores sat idle ${idlePercent(idleFrom, idleTo)} of the time in the idle runs, ${idlePercent(aloneFrom, aloneTo)} during A's flood alone, ${idlePercent(mixedFrom, mixedTo)} during the flood with B and the person`,
        '',
      ].join('\n'),
    );
  } finally {
    await bare.stop();
    await stopPipeline(p);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
