import autocannon, { type Result } from 'autocannon';

/**
 * Requests/s and latency of the API under local load, from autocannon in this process against
 * the API process that `./dev start` leaves running. Prints the figures; asserts nothing.
 *   ./dev start && ./dev npm run bench:http -- [seconds]
 */
const base = process.env.PUBLIC_BASE_URL ?? 'http://127.0.0.1:3000';
const seconds = Number(process.argv[2] ?? 10);
const runId = Date.now().toString(36);
let sequence = 0;

const body = (n: string): string =>
  JSON.stringify({
    prompt: `Load test report ${n}`,
    requester: { id: 'bench', email: 'bench@example.com' },
  });

function run(options: autocannon.Options): Promise<Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error: Error | null, result) => (error ? reject(error) : resolve(result)));
  });
}

function line(name: string, r: Result): string {
  const ok = r['2xx'];
  return `${name.padEnd(46)} ${String(Math.round(r.requests.average)).padStart(6)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   ${ok}/${r.requests.total} 2xx, ${r.non2xx} other, ${r.errors} errors`;
}

async function main(): Promise<void> {
  const key = `bench-${runId}`;
  const headers = { 'content-type': 'application/json', 'idempotency-key': key };
  const first = await fetch(`${base}/api/workflows/generate-report`, {
    method: 'POST',
    headers,
    body: body('same'),
  });
  if (first.status !== 202 && first.status !== 200)
    throw new Error(`the API at ${base} answered ${first.status}; is './dev start' running?`);
  const { links } = (await first.json()) as { links: { status: string } };

  const results: [string, Result][] = [];
  results.push([
    'GET /api/workflows/:id/status (10 conns)',
    await run({ url: `${base}${links.status}`, connections: 10, duration: seconds }),
  ]);
  results.push([
    'POST generate-report, one key replayed (10)',
    await run({
      url: `${base}/api/workflows/generate-report`,
      method: 'POST',
      headers,
      body: body('same'),
      connections: 10,
      duration: seconds,
    }),
  ]);
  // Each of these starts a real report, so the worker is busy behind the API while it runs.
  results.push([
    'POST generate-report, a new key each (4)',
    await run({
      url: `${base}/api/workflows/generate-report`,
      connections: 4,
      duration: Math.max(3, Math.round(seconds / 2)),
      requests: [
        {
          method: 'POST',
          setupRequest: (request) => {
            sequence += 1;
            return {
              ...request,
              headers: {
                'content-type': 'application/json',
                'idempotency-key': `bench-${runId}-${sequence}`,
              },
              body: body(String(sequence)),
            };
          },
        },
      ],
    }),
  ]);
  process.stdout.write(`API at ${base}, ${seconds} s per run (autocannon)\n`);
  for (const [name, r] of results) process.stdout.write(`${line(name, r)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
