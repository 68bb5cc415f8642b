/**
 * `npm run bench`: measures Sundial on this machine and writes docs/BENCHMARKS.md and
 * docs/benchmarks.json. `BENCH_SIZE=tiny` runs every part on tiny sizes (the smoke test).
 *
 * 1. bundle size and cold initialisation of each function (10+ fresh Node processes);
 * 2. AWS calls per operation, counted by an SDK middleware on the local runtime;
 * 3. API latency (create, get, list) in process;
 * 4. end-to-end throughput at worker batch sizes 1 and 10;
 * 6. the cost per million runs those counts imply at list prices.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiHandler } from '../functions/handlers/api.js';
import { ManualClock } from '../local/manual-clock.js';
import { type LocalRuntime, startLocalRuntime } from '../local/runtime.js';
import { bundles } from './bundles.js';
import { type CallCounter, countCalls } from './counter.js';
import { costModel, PRICES } from './prices.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const tiny = process.env.BENCH_SIZE === 'tiny';
const out = process.env.BENCH_OUT ?? 'docs';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function request(key: string, method: string, pathAndQuery: string, body?: unknown): APIGatewayProxyEvent {
  const url = new URL(pathAndQuery, 'http://local');
  const query = Object.fromEntries(url.searchParams);
  return {
    httpMethod: method,
    path: url.pathname,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    headers: { authorization: `Bearer ${key}` },
    body: body === undefined ? null : JSON.stringify(body),
    requestContext: { requestId: 'bench' },
  } as unknown as APIGatewayProxyEvent;
}

const jobBody = (target: string, n: number) => ({
  name: `bench-${n}`,
  schedule: { expression: 'rate(1 minute)' },
  target: { type: 'http', url: target, method: 'GET' },
});

async function withRuntime<T>(
  batchSize: number,
  fn: (rt: LocalRuntime, counter: CallCounter, clock: ManualClock) => Promise<T>,
) {
  const clock = new ManualClock('2027-01-01T00:00:00.000Z');
  const counter = countCalls();
  const runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    batchSize,
    instrument: counter.instrument,
    limits: { requestsPerSecond: 1_000_000, jobCreatesPerMinute: 1_000_000, maxJobs: 1_000_000 },
  });
  try {
    return await fn(runtime, counter, clock);
  } finally {
    await runtime.stop();
  }
}

/** 2 and 4: calls per operation, and runs per second end to end, at one batch size. */
async function endToEnd(batchSize: number) {
  return withRuntime(batchSize, async (runtime, counter, clock) => {
    const api = createApiHandler(runtime.services);
    const target = `${runtime.apiUrl}/v1/health`;
    const key = runtime.devApiKey;
    const perOperation: Record<string, ReturnType<CallCounter['snapshot']>> = {};
    const measure = async (name: string, times: number, op: (i: number) => Promise<unknown>) => {
      counter.reset();
      for (let i = 0; i < times; i++) await op(i);
      perOperation[name] = counter.snapshot(times);
    };
    const ids: string[] = [];
    const jobs = tiny ? 20 : 200;
    await measure('create job', jobs, async (i) => {
      const res = await api(request(key, 'POST', '/v1/jobs', jobBody(target, i)));
      ids.push(JSON.parse(res.body).id);
    });
    await measure('get job', 20, (i) => api(request(key, 'GET', `/v1/jobs/${ids[i % ids.length]}`)));
    await measure('list jobs (page of 20)', 20, () => api(request(key, 'GET', '/v1/jobs?limit=20')));
    // One minute on: every job fires once; the worker takes them in batches.
    clock.advance(60_000);
    counter.reset();
    await runtime.fire();
    const fired = counter.snapshot(jobs);
    counter.reset();
    const started = performance.now();
    await runtime.drain();
    const seconds = (performance.now() - started) / 1000;
    const worked = counter.snapshot(jobs);
    perOperation['scheduled run (scheduler fires into SQS)'] = fired;
    perOperation['scheduled run (worker: claim, call, record)'] = worked;
    return { perOperation, runsPerSecond: round(jobs / seconds, 1), runs: jobs };
  });
}

/** 3. API latency in process (handler over DynamoDB Local), per operation. */
async function apiLatency() {
  return withRuntime(10, async (runtime) => {
    const api = createApiHandler(runtime.services);
    const key = runtime.devApiKey;
    const target = `${runtime.apiUrl}/v1/health`;
    const n = tiny ? 20 : 300;
    const timings: Record<string, number[]> = { create: [], get: [], list: [] };
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      const res = await api(request(key, 'POST', '/v1/jobs', jobBody(target, i)));
      timings.create!.push(performance.now() - t);
      ids.push(JSON.parse(res.body).id);
      t = performance.now();
      await api(request(key, 'GET', `/v1/jobs/${ids[i]}`));
      timings.get!.push(performance.now() - t);
      t = performance.now();
      await api(request(key, 'GET', '/v1/jobs?limit=20'));
      timings.list!.push(performance.now() - t);
    }
    return Object.fromEntries(
      Object.entries(timings).map(([op, xs]) => [
        op,
        { p50Ms: round(median(xs)), p99Ms: round(percentile(xs, 99)), samples: xs.length },
      ]),
    );
  });
}

function markdown(results: Record<string, unknown>): string {
  const r = results as {
    date: string;
    machine: string;
    bundles: Record<string, { bytes: number; coldInitMsMedian: number }>;
    apiLatency: Record<string, { p50Ms: number; p99Ms: number }>;
    endToEnd: Record<string, { perOperation: Record<string, Record<string, number>>; runsPerSecond: number }>;
    cost: ReturnType<typeof costModel>;
  };
  const lines = [
    '# Benchmarks',
    '',
    `Measured ${r.date} on ${r.machine} with \`npm run bench\` (local runtime: DynamoDB Local, fauxqs, the Scheduler emulator).`,
    'Local timings are not AWS timings; call counts are exact and drive the cost model.',
    '',
    '## Bundles and cold initialisation',
    '',
    '| function | minified bundle | cold init (median of 10 fresh processes) |',
    '| --- | --- | --- |',
    ...Object.entries(r.bundles).map(
      ([f, b]) => `| ${f} | ${round(b.bytes / 1024, 0)} KB | ${b.coldInitMsMedian} ms |`,
    ),
    '',
    '## AWS calls per operation',
    '',
    ...Object.entries(r.endToEnd).flatMap(([batch, e]) => [
      `### Worker batch size ${batch}`,
      '',
      '| operation | DynamoDB RCU | DynamoDB WCU | DynamoDB requests | SQS requests | Scheduler calls | other calls |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...Object.entries(e.perOperation).map(
        ([op, c]) =>
          `| ${op} | ${c.dynamoRcu} | ${c.dynamoWcu} | ${c.dynamoRequests} | ${c.sqsRequests} | ${c.schedulerCalls} | ${c.otherCalls} |`,
      ),
      '',
      `End to end: ${e.runsPerSecond} runs per second.`,
      '',
    ]),
    '## API latency (in process)',
    '',
    '| operation | p50 | p99 |',
    '| --- | --- | --- |',
    ...Object.entries(r.apiLatency).map(([op, l]) => `| ${op} | ${l.p50Ms} ms | ${l.p99Ms} ms |`),
    '',
    '## Cost model (batch size 10, list prices)',
    '',
    `Per million runs: **$${r.cost.perMillionRuns.total}** (${Object.entries(r.cost.perMillionRuns.parts)
      .map(([k, v]) => `${k} $${v}`)
      .join(', ')}).`,
    `Per 1,000 jobs firing hourly for a month (${r.cost.per1000JobsMonthly.runs.toLocaleString('en')} runs): $${r.cost.per1000JobsMonthly.total}.`,
    '',
    "For comparison: the seeds' hosted scheduler at $990 per million jobs; QStash at $10 per million messages; Google Cloud Scheduler at $0.10 per job per month (3 free).",
    '',
    '| price | USD | source |',
    '| --- | --- | --- |',
    ...Object.values(PRICES).map((p) => `| ${p.what} | ${p.usd} | ${p.source} |`),
    '',
    '## Not measured yet',
    '',
    '- Scale: 100,000 jobs (creation rate, list latency at 1,000 vs 100,000, reconciler time, peak memory).',
    '',
  ];
  return lines.join('\n');
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${round(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`;
const results = {
  date: new Date().toISOString().slice(0, 10),
  machine,
  size: tiny ? 'tiny' : 'full',
  bundles: await bundles({ samples: tiny ? 2 : 10 }),
  apiLatency: await apiLatency(),
  endToEnd: { 1: await endToEnd(1), 10: await endToEnd(10) },
} as Record<string, unknown> & { endToEnd: Record<string, Awaited<ReturnType<typeof endToEnd>>> };
results.cost = costModel(results.endToEnd['10']!);
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(out, 'BENCHMARKS.md'), markdown(results));
console.log(`wrote ${join(out, 'BENCHMARKS.md')} and ${join(out, 'benchmarks.json')}`);
