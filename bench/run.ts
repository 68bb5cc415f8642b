/**
 * `npm run bench`: measures Sundial on this machine and writes docs/BENCHMARKS.md and
 * docs/benchmarks.json. `BENCH_SIZE=tiny` runs every part on tiny sizes (the smoke test);
 * `BENCH_SCALE_JOBS=N` sets the scale run's size (default 100,000).
 *
 * 1. bundle size and cold initialisation of each function (10+ fresh Node processes);
 * 2. AWS calls per operation, counted by an SDK middleware on the local runtime;
 * 3. API latency (create, get, list) in process;
 * 4. end-to-end throughput at worker batch sizes 1 and 10, and the worker's log volume;
 * 5. scale: jobs created, list latency and reconciler time at 1,000 and at 100,000 jobs;
 * 6. the cost per million runs those counts imply at list prices;
 * 7. long runs (HTTP callbacks, ECS tasks, Step Functions executions): calls and cost per run;
 * 8. failover: a standby region taking over `BENCH_DR_JOBS` jobs (default 100,000), its calls,
 *    and the RTO they make within Scheduler's quotas (bench/dr.ts);
 * 9. load: the API over HTTP at 100 requests a second for two minutes, then 300 for 30 s, from
 *    a generator in another process, against the same mix straight to DynamoDB Local
 *    (bench/load.ts; BENCH_LOAD_RPS, BENCH_LOAD_SECONDS, BENCH_LOAD_PEAK, BENCH_LOAD_PEAK_SECONDS,
 *    BENCH_LOAD_JOBS, BENCH_LOAD_STEPS, BENCH_LOAD_STEP_SECONDS change it).
 *
 * `--only bundles` measures part 1 alone, `--only counts` parts 2 and 4 (calls per operation, end to end, log volume) and prices them, `--only cost` prices the stored counts again (part 6), `--only long-runs` part 7 alone, `--only dr` part 8 alone, `--only load` part 9
 * alone, and writes it into the reports already in BENCH_OUT (docs/ by default), the other
 * sections as they were.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, PowertoolsRunMetrics } from '../functions/adapters/run-metrics.js';
import { createApiHandler } from '../functions/handlers/api.js';
import { DEV_TENANT, type LocalRuntimeOptions } from '../local/runtime.js';
import { type BundleFigures, bundles, FLOOR } from './bundles.js';
import type { CallCounter } from './counter.js';
import { type DrResults, dr, drMarkdown } from './dr.js';
import { fixedMonthlyCosts, MONTHLY_PRICES } from './fixed-costs.js';
import { LAMBDA_CONTEXT, loggedBytes, WIDE_LIMITS, withRuntime } from './harness.js';
import { type LoadResults, load, loadMarkdown } from './load.js';
import { type LongRunResults, longRunMarkdown, longRuns } from './long-runs.js';
import { costModel, LAMBDA_SAMPLING, type LogVolume, PRICES } from './prices.js';
import { type ScaleResult, scale } from './scale.js';
import { apiRequest, type Latency, latencyOf } from './support.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const tiny = process.env.BENCH_SIZE === 'tiny';
const out = process.env.BENCH_OUT ?? 'docs';
const scaleJobs = tiny ? 200 : Number(process.env.BENCH_SCALE_JOBS ?? 100_000);
const drJobs = tiny ? 200 : Number(process.env.BENCH_DR_JOBS ?? 100_000);
const progress = (line: string) => process.stderr.write(`${line}\n`);
/** Fresh processes per bundle: enough for a median that holds on a shared machine. */
const BUNDLE_SAMPLES = 15;
/** The volume at which the tracing rule's 5% dominates its one-a-second reservoir. */
const HIGH_VOLUME_RUNS = 100_000_000;

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

const jobBody = (target: string, n: number) => ({
  name: `bench-${n}`,
  schedule: { expression: 'rate(1 minute)' },
  target: { type: 'http', url: target, method: 'GET' },
});

/** 2 and 4: calls per operation, and runs per second end to end, at one batch size. */
async function endToEnd(
  batchSize: number,
  options: Partial<LocalRuntimeOptions> = {},
  /** Fair share puts runs back: move the clock past their waits until every one has run. */
  untilAllRan = false,
  /** Another tenant has run before: the queues are shared, so fair share at its default is on. */
  shared = false,
) {
  return withRuntime(
    batchSize,
    async (runtime, counter, clock, target) => {
      if (shared)
        await runtime.services.worker.tenancy?.shared([DEV_TENANT, 'bench-second-team'], clock.now());
      const api = createApiHandler(runtime.services.api);
      const key = runtime.devApiKey;
      const perOperation: Record<string, ReturnType<CallCounter['snapshot']>> = {};
      const measure = async (name: string, times: number, op: (i: number) => Promise<unknown>) => {
        counter.reset();
        for (let i = 0; i < times; i++) await op(i);
        perOperation[name] = counter.snapshot(times);
      };
      // One run first, not counted: what a worker instance reads once and keeps (the tenant's
      // signing secret, opened with KMS) is a cold start's cost, not a run's, as on AWS where an
      // instance serves many batches. A yearly schedule, so it does not fire with the others.
      const warmUp = await api(
        apiRequest(key, 'POST', '/v1/jobs', {
          ...jobBody(target, -1),
          schedule: { expression: 'cron(0 0 1 1 ? *)' },
        }),
      );
      await api(apiRequest(key, 'POST', `/v1/jobs/${JSON.parse(warmUp.body).id}/runs`));
      await runtime.drain();
      const ids: string[] = [];
      const jobs = tiny ? 20 : 200;
      await measure('create job', jobs, async (i) => {
        const res = await api(apiRequest(key, 'POST', '/v1/jobs', jobBody(target, i)));
        ids.push(JSON.parse(res.body).id);
      });
      await measure('get job', 20, (i) => api(apiRequest(key, 'GET', `/v1/jobs/${ids[i % ids.length]}`)));
      await measure('list jobs (page of 20)', 20, () => api(apiRequest(key, 'GET', '/v1/jobs?limit=20')));
      // One minute on: every job fires once; the worker takes them in batches.
      clock.advance(60_000);
      counter.reset();
      await runtime.fire();
      const fired = counter.snapshot(jobs);
      counter.reset();
      const started = performance.now();
      await runtime.drain();
      // A deferral waits at most DEFER_MAX_SECONDS: each step releases every one held.
      for (let round = 0; untilAllRan && round < 50; round++) {
        clock.advance(30_000);
        if ((await runtime.drain()) === 0) break;
      }
      const seconds = (performance.now() - started) / 1000;
      const worked = counter.snapshot(jobs);
      // Each run that ran wrote its claim and its outcome: none may be left waiting.
      if (worked.byCommand['DynamoDBClient.PutItemCommand'] !== 2)
        throw new Error(`not every run ran: ${JSON.stringify(worked.byCommand)}`);
      perOperation['scheduled run (scheduler fires into SQS)'] = fired;
      perOperation['scheduled run (worker: claim, call, record)'] = worked;
      // The other API operations, each on jobs of its own so that none sees another's work.
      const n = 20;
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await api(apiRequest(key, method, path, body));
        if (res.statusCode >= 300) throw new Error(`${method} ${path} -> ${res.statusCode}: ${res.body}`);
        return JSON.parse(res.body || 'null');
      };
      const runIds: string[] = [];
      const byId = (i: number) => ids[i % ids.length]!;
      const other: [string, (i: number) => Promise<unknown>][] = [
        ['update job (PATCH)', (i) => call('PATCH', `/v1/jobs/${byId(i)}`, { description: `updated ${i}` })],
        ['pause job', (i) => call('POST', `/v1/jobs/${byId(n + i)}/pause`)],
        ['resume job', (i) => call('POST', `/v1/jobs/${byId(n + i)}/resume`)],
        [
          'run now',
          async (i) => runIds.push((await call('POST', `/v1/jobs/${byId(2 * n + i)}/runs`)).id as string),
        ],
        ['list runs (page of 20)', (i) => call('GET', `/v1/jobs/${byId(i)}/runs?limit=20`)],
        ['get run', (i) => call('GET', `/v1/jobs/${byId(2 * n + i)}/runs/${runIds[i]}`)],
        ['delete job', (i) => call('DELETE', `/v1/jobs/${byId(3 * n + i)}`)],
        [
          'preview schedule',
          () => call('POST', '/v1/schedules/preview', { expression: 'cron(0 2 ? * MON-FRI *)', count: 5 }),
        ],
        ['health', () => call('GET', '/v1/health')],
      ];
      for (const [name, op] of other) await measure(name, n, op);
      return { perOperation, runsPerSecond: round(jobs / seconds, 1), runs: jobs };
    },
    options,
  );
}

/** Fair share on from the first run, with a share wide enough that none of a batch's ten waits. */
const WIDE_SHARE: Partial<LocalRuntimeOptions> = { limits: { ...WIDE_LIMITS, runsInProgress: 1_000_000 } };

/**
 * Every end-to-end count the cost model prices. The share is at its default unless set: for
 * one team's runs, no fair share; once a second tenant has run, a batch of ten of one tenant's
 * runs five at once (5 on the default queue).
 */
async function endToEndAll(): Promise<EndToEndCounts> {
  return {
    // The default deployment, one team.
    '1': await endToEnd(1),
    '10': await endToEnd(10),
    // Several teams, with a share wide enough that none of the ten waits: fair share's writes alone.
    '10-shared': await endToEnd(10, WIDE_SHARE),
    '10-default-share': await endToEnd(10, {}, true, true),
  };
}

/**
 * 4. What the worker logs per run at its deployed level (INFO), with a Lambda context on
 * each line as Powertools adds it, and the EMF metrics document one invocation flushes.
 */
async function logVolume(batchSize: number): Promise<LogVolume> {
  const logger = new Logger({ serviceName: 'sundial', logLevel: 'INFO' });
  logger.addContext(LAMBDA_CONTEXT);
  const runs = tiny ? 20 : 200;
  const appBytes = await withRuntime(
    batchSize,
    async (runtime, _counter, clock) => {
      const api = createApiHandler(runtime.services.api);
      for (let i = 0; i < runs; i++) {
        await api(
          apiRequest(runtime.devApiKey, 'POST', '/v1/jobs', jobBody(`${runtime.apiUrl}/v1/health`, i)),
        );
      }
      clock.advance(60_000);
      await runtime.fire();
      return (await loggedBytes(() => runtime.drain())).bytes;
    },
    { logger },
  );
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial' });
  const runMetrics = new PowertoolsRunMetrics(metrics);
  for (let i = 0; i < batchSize; i++) {
    runMetrics.started('default', 1_250 + i);
    runMetrics.ended('succeeded', 'default', 180 + i);
  }
  const { bytes: emfBytesPerInvocation } = await loggedBytes(async () => metrics.publishStoredMetrics());
  return { appBytesPerRun: Math.round(appBytes / runs), emfBytesPerInvocation };
}

/** 3. API latency in process (handler over DynamoDB Local), per operation. */
async function apiLatency(): Promise<Record<string, Latency>> {
  return withRuntime(10, async (runtime, _counter, _clock, target) => {
    const api = createApiHandler(runtime.services.api);
    const key = runtime.devApiKey;
    const n = tiny ? 20 : 300;
    const timings: Record<'create' | 'get' | 'list', number[]> = { create: [], get: [], list: [] };
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      const res = await api(apiRequest(key, 'POST', '/v1/jobs', jobBody(target, i)));
      timings.create.push(performance.now() - t);
      ids.push(JSON.parse(res.body).id);
      t = performance.now();
      await api(apiRequest(key, 'GET', `/v1/jobs/${ids[i]}`));
      timings.get.push(performance.now() - t);
      t = performance.now();
      await api(apiRequest(key, 'GET', '/v1/jobs?limit=20'));
      timings.list.push(performance.now() - t);
    }
    return Object.fromEntries(Object.entries(timings).map(([op, xs]) => [op, latencyOf(xs)]));
  });
}

type EndToEnd = Awaited<ReturnType<typeof endToEnd>>;

/** The floor with the worker's invocations, and with fair share's places too, and what each leaves of $3. */
function floorWithFairShare(oneTeam: Cost, shared: Cost | undefined): string {
  const target = 3;
  const verdict = (floor: number) =>
    floor > target
      ? `over $${target} before the job is read or a byte is logged`
      : `$${round(target - floor, 2)} under $${target}, left for the job's read, the shared reads and the logs`;
  const floor = oneTeam.floorWithFairSharePerMillionRuns;
  const own = `Add the worker's invocations (assumed as below) and the floor of the default deployment serving one team is **$${floor}** per million runs: ${verdict(floor)}.`;
  if (!shared) return own;
  const places = round(shared.perRun.dynamoWcu - 2, 2);
  const sharedFloor = shared.floorWithFairSharePerMillionRuns;
  return `${own} Shared by several teams, fair share's places add ${places} WCU per run at batch 10 (one write each way for a tenant's runs in a batch) and the floor is **$${sharedFloor}**: ${verdict(sharedFloor)}; \`-c tenantRunsInProgress=0\` (no fair share) removes the places.`;
}

/** 6. The cost cases, from the measured counts and log volume alone (`--only cost` redoes just this). */
function costs(e2e: EndToEndCounts, logs: LogVolume) {
  const shared = e2e['10-shared'];
  const defaultShare = e2e['10-default-share'];
  return {
    // The stack's default: the worker untraced (`-c workerTracing=true` turns it on).
    batch10: costModel(e2e['10'], logs, 10, false),
    batch10Traced: costModel(e2e['10'], logs, 10, true),
    batch10TracedHighVolume: costModel(e2e['10'], logs, 10, true, HIGH_VOLUME_RUNS),
    batch1: costModel(e2e['1'], logs, 1, false),
    ...(shared ? { batch10Shared: costModel(shared, logs, 10, false) } : {}),
    ...(defaultShare ? { batch10DefaultShare: costModel(defaultShare, logs, 10, false) } : {}),
  };
}
type EndToEndCounts = Record<'1' | '10', EndToEnd> & {
  '10-shared'?: EndToEnd;
  '10-default-share'?: EndToEnd;
};
type Cost = ReturnType<typeof costModel>;

interface Results {
  date: string;
  machine: string;
  size: 'tiny' | 'full';
  commands: string[];
  bundles: Record<string, BundleFigures>;
  /** The command that last measured the bundles (`--only bundles` measures them alone). */
  bundlesCommand?: string;
  /** The command that last measured the calls per operation (`--only counts` measures them alone). */
  countsCommand?: string;
  /** The machine's 1-minute load average when the bundles' measurement began and ended. */
  bundlesLoad?: [number, number];
  apiLatency: Record<string, Latency>;
  endToEnd: EndToEndCounts;
  logVolume: LogVolume;
  scale: ScaleResult;
  cost: ReturnType<typeof costs>;
  fixedMonthly: ReturnType<typeof fixedMonthlyCosts>;
  targets: { target: string; measured: string; met: boolean }[];
  longRuns?: LongRunResults;
  dr?: DrResults;
  load?: LoadResults;
}

const KB = 1024;

function targets(r: Omit<Results, 'targets'>): Results['targets'] {
  const worker = r.endToEnd['10'].perOperation['scheduled run (worker: claim, call, record)']!;
  const sharedWorker = r.endToEnd['10-shared']?.perOperation['scheduled run (worker: claim, call, record)'];
  const entries = Object.entries(r.bundles).filter(([name]) => name !== FLOOR);
  const largest = Math.max(...entries.map(([, b]) => b.bytes));
  const slowest = Math.max(...entries.map(([, b]) => b.coldInitMsMedian));
  const [worstName, worst] = entries.reduce((a, b) => (b[1].coldInitVsFloor > a[1].coldInitVsFloor ? b : a));
  const [small, large] = r.scale.at;
  const listGrowth = small && large ? large.listFirstPage.p50Ms / small.listFirstPage.p50Ms : 0;
  const sqsTotal = r.cost.batch10.perRun.sqsRequests;
  return [
    {
      target: 'at most 2 DynamoDB write units per run (batch 10)',
      measured: `${worker.dynamoWcu} WCU for one team's run: to claim and record it${sharedWorker ? `; ${sharedWorker.dynamoWcu} once several teams share the queues, ${round(sharedWorker.dynamoWcu - 2, 2)} of it to take and give back the tenant's fair-share places (one write each way for the tenant's runs in a batch)` : ''}`,
      met: worker.dynamoWcu <= 2,
    },
    {
      target: 'at most 0.3 SQS requests per run (batch 10)',
      measured: `${worker.sqsRequests} by the worker (receive + delete); ${sqsTotal} with Scheduler's SendMessage`,
      met: worker.sqsRequests <= 0.3,
    },
    {
      target: 'each bundle at most 250 KB minified',
      measured: `largest ${round(largest / KB, 0)} KB; the floor, one GetItem with the SDK bundled, is ${round((r.bundles[FLOOR]?.bytes ?? 0) / KB, 0)} KB`,
      met: largest <= 250 * KB,
    },
    {
      target: 'cold initialisation at most 150 ms locally',
      measured: `slowest median ${slowest} ms`,
      met: slowest <= 150,
    },
    {
      target: "each function's cold initialisation at most 1.5× the floor's (one GetItem, SDK bundled)",
      measured: `worst ${worstName} at ${worst?.coldInitVsFloor}× (${worst?.coldInitMsMedian} ms against ${r.bundles[FLOOR]?.coldInitMsMedian} ms; CPU ${worst?.coldInitCpuVsFloor}×)`,
      met: entries.every(([, b]) => b.coldInitVsFloor <= 1.5),
    },
    {
      target: `list latency flat from ${small?.jobs ?? 0} to ${large?.jobs ?? 0} jobs`,
      measured: `first page p50 ${small?.listFirstPage.p50Ms} ms -> ${large?.listFirstPage.p50Ms} ms`,
      // Flat: within noise of the smaller figure, not proportional to the job count.
      met: listGrowth > 0 && listGrowth < 1.5,
    },
    {
      target: 'at most $3 per million runs (batch 10)',
      measured: `$${r.cost.batch10.perMillionRuns.total} (default, one team: worker untraced, no fair share), $${r.cost.batch10Traced.perMillionRuns.total} (\`-c workerTracing=true\`)${r.cost.batch10Shared ? `, $${r.cost.batch10Shared.perMillionRuns.total} (several teams: fair share's places)` : ''}${r.cost.batch10DefaultShare ? `, $${r.cost.batch10DefaultShare.perMillionRuns.total} (several teams, one tenant's ten a batch at the default share)` : ''}`,
      met: r.cost.batch10.perMillionRuns.total <= 3,
    },
  ];
}

/** How the X-Ray line is made, and what is left of the $3 without it. */
function xrayArithmetic(c: Results['cost']): string {
  const perMillion = (x: Cost) => 1_000_000 / x.batchSize;
  const line = (x: Cost) =>
    `${perMillion(x).toLocaleString('en')} invocations × ${round(x.tracedShareOfInvocations * 100, 2)}% traced × $${PRICES.xray.usd} per million traces = $${x.perMillionRuns.parts.xray}`;
  const traced = c.batch10Traced;
  const high = c.batch10TracedHighVolume;
  return [
    `X-Ray, per million runs at batch 10 with \`-c workerTracing=true\`: ${line(traced)} at ${traced.runsPerMonth.toLocaleString('en')} runs a month`,
    `; ${line(high)} at ${high.runsPerMonth.toLocaleString('en')}`,
    `. The traced share is Lambda's fixed rule for a function with active tracing (the first invocation each second and ${LAMBDA_SAMPLING.fixedRate * 100}% of the rest, ${LAMBDA_SAMPLING.source}), which AWS documents as not configurable for functions and which no X-Ray sampling rule changes for the worker: its SQS messages come from Scheduler with no trace decision. Spread evenly is the most it traces at a volume; firings that bunch in the same second share one reservoir. `,
    "So the worker is untraced by default: its runs are followed by their run records, logs and metrics, and X-Ray is for the API (sampled by the stage's rule) and for a deployment that turns the worker's on.",
  ].join('');
}

function markdown(r: Results): string {
  const callRow = (op: string, c: ReturnType<CallCounter['snapshot']>) =>
    `| ${op} | ${c.dynamoRcu} | ${c.dynamoWcu} | ${c.dynamoRequests} | ${c.sqsRequests} | ${c.schedulerCalls} | ${c.kmsRequests} | ${c.otherCalls} |`;
  const latencyRow = (what: string, l: Latency) => `| ${what} | ${l.p50Ms} ms | ${l.p99Ms} ms |`;
  const costLine = (label: string, c: Cost) =>
    `| ${label} | **$${c.perMillionRuns.total}** | ${Object.values(c.perMillionRuns.parts).join(' | ')} | $${c.per1000JobsMonthly.total} |`;
  const [small, large] = r.scale.at;
  return [
    '# Benchmarks',
    '',
    `Measured ${r.date} on ${r.machine} with \`${r.commands.join(' && ')}\` (local runtime: DynamoDB Local, fauxqs, the Scheduler emulator; ${r.size} sizes).`,
    'Local timings are not AWS timings; call counts are exact and drive the cost model. `docs/benchmarks.json` holds the same figures.',
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Bundles and cold initialisation',
    '',
    `Each entry bundled as the stack bundles it (\`bundleFunction\` in lib/constructs/function.ts: minified ESM, SDK bundled, split into chunks), the floor too; the size is what a cold start loads (the entry and the chunks it imports statically), the whole package in brackets; cold init is the median of ${r.bundles[FLOOR]?.samples ?? 0} fresh Node processes importing it, every bundle once a round so that the machine's other load touches them alike (\`${r.bundlesCommand ?? 'npm run bench'}\`). CPU is the same imports' user + system time.${r.bundlesLoad ? ` Load average on this machine's ${cpus().length} cores: ${r.bundlesLoad[0]} at the start, ${r.bundlesLoad[1]} at the end.` : ''}`,
    '',
    '| function | loaded at cold start (package) | cold init median | p90 | × floor | CPU | CPU × floor | with `@aws-sdk/*` external: bundle | cold init |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...Object.entries(r.bundles).map(
      ([f, b]) =>
        `| ${f} | ${round(b.bytes / KB, 0)} KB (${round((b.packageBytes ?? b.bytes) / KB, 0)} KB) | ${b.coldInitMsMedian} ms | ${b.coldInitMsP90} ms | ${b.coldInitVsFloor ?? 'n/a'} | ${b.coldInitCpuMsMedian ?? 'n/a'} ms | ${b.coldInitCpuVsFloor ?? 'n/a'} | ${round(b.sdkExternal.bytes / KB, 0)} KB | ${b.sdkExternal.coldInitMsMedian} ms |`,
    ),
    '',
    ...Object.entries(r.bundles).flatMap(([f, b]) =>
      b.firstUse?.length
        ? [
            `What the ${f}'s cold start leaves to the requests that need it, measured in the same rounds (a fresh process each, importing those chunks after the entry): ${b.firstUse.map((u) => `its ${u.what} loads ${round(u.bytes / KB, 0)} KB more, ${u.msMedian} ms (median)`).join('; ')}.`,
            '',
          ]
        : [],
    ),
    "Not on the init path, each a chunk of its own loaded by a dynamic `import()` when first needed: Powertools Tracer and the X-Ray SDK, at the first invocation Lambda samples (`Sampled=1` in `_X_AMZN_TRACE_ID`; functions/commons/tracer.ts); the Lambda, EventBridge, ECS and Step Functions clients and their calls, at the first job of that target type, SNS at the first failure to announce, KMS at the first secret a function seals or opens (an instance keeps what it opened), and SQS at the first message it sends: a retry, a deferral, a dependent, a run-now or an SQS target (functions/commons/lazy.ts); jose at the api's first token; zod/mini and the request schemas at the api's first request with a query or a body, the job and target schemas and the Scheduler client at its first create or change of a job, and the backfill, callback and redrive code at their first request (the api validates with zod/mini, and serves its OpenAPI document from a committed file, so it loads no classic zod; every function checks its environment by hand and the worker and the archiver parse firings by hand, so no function but the api loads zod at all); the worker's long-run code at its first ECS, Step Functions or callback job; Node's `node:http`, taken with `process.getBuiltinModule` at the first HTTP call, as an ES module import of it loads Node's fetch implementation (undici) at once, and `node:dns` at the first lookup. Never loaded: Node's web streams, which `@middy/core` imports for its response-streaming path only (aliased to `functions/commons/stream-web.ts`). Without splitting a module imported later is still parsed at load, and parsing is most of a cold init here.",
    '',
    '## AWS calls per operation',
    '',
    `DynamoDB units as DynamoDB Local reports them; a read that finds nothing is billed its minimum (0.5, or 1 if strongly consistent). SQS requests leave out empty polls (a fixed cost per queue, not per run). Counted after one uncounted run, so that what a worker instance reads once and keeps (the tenant's signing secret, one KMS Decrypt), and what a deployment writes once (the record of its first tenant), are left out as the one-off costs they are on AWS. Measured by \`${r.countsCommand ?? 'npm run bench'}\`, with the share at its default and one tenant, as a deployment one team uses: no fair share. Several teams' runs: the last table, where another tenant has run and the bench fires one tenant's jobs together, so their fair-share places are taken in one write and given back in one.`,
    '',
    ...(['1', '10', '10-shared'] as const).flatMap((batch) => {
      const counts = r.endToEnd[batch];
      if (!counts) return [];
      return [
        batch === '10-shared'
          ? '### Worker batch size 10, several teams (fair share on)'
          : `### Worker batch size ${batch}`,
        '',
        '| operation | DynamoDB RCU | DynamoDB WCU | DynamoDB requests | SQS requests | Scheduler calls | KMS requests | other calls |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        ...Object.entries(counts.perOperation).map(([op, c]) => callRow(op, c)),
        '',
        `End to end: ${counts.runsPerSecond} runs per second.`,
        '',
      ];
    }),
    `Worker log volume at INFO: ${r.logVolume.appBytesPerRun} bytes of log lines per run, ${r.logVolume.emfBytesPerInvocation} bytes of EMF metrics per invocation.`,
    '',
    '## API latency (in process)',
    '',
    '| operation | p50 | p99 |',
    '| --- | --- | --- |',
    ...Object.entries(r.apiLatency).map(([op, l]) => latencyRow(op, l)),
    '',
    '## Scale',
    '',
    `${r.scale.jobs.toLocaleString('en')} jobs created through the API handler, ${r.scale.concurrency} requests in flight: ${r.scale.creation.seconds} s, **${r.scale.creation.jobsPerSecond} jobs per second**. Peak memory: ${r.scale.peakMemoryMb.benchProcess} MB for the bench process (API, Scheduler emulator with every schedule, fauxqs), ${r.scale.peakMemoryMb.dynamoDbLocal ?? 'n/a'} MB for DynamoDB Local.`,
    '',
    `| figure | ${r.scale.at.map((a) => `${a.jobs.toLocaleString('en')} jobs`).join(' | ')} |`,
    `| --- | ${r.scale.at.map(() => '---').join(' | ')} |`,
    `| list, first page of 20 (p50 / p99) | ${r.scale.at.map((a) => `${a.listFirstPage.p50Ms} / ${a.listFirstPage.p99Ms} ms`).join(' | ')} |`,
    `| list, page 11 by cursor (p50 / p99) | ${r.scale.at.map((a) => `${a.listDeepPage.p50Ms} / ${a.listDeepPage.p99Ms} ms`).join(' | ')} |`,
    `| list, filtered by a tag one job in 100 has (p50 / p99) | ${r.scale.at.map((a) => `${a.listByTag.p50Ms} / ${a.listByTag.p99Ms} ms`).join(' | ')} |`,
    `| get one job (p50 / p99) | ${r.scale.at.map((a) => `${a.getJob.p50Ms} / ${a.getJob.p99Ms} ms`).join(' | ')} |`,
    `| reconciler, every job checked | ${r.scale.at.map((a) => `${a.reconcile.seconds} s`).join(' | ')} |`,
    `| reconciler report | ${r.scale.at.map((a) => `\`${JSON.stringify(a.reconcile.report)}\``).join(' | ')} |`,
    '',
    small && large
      ? `List latency is a Query of one page whatever the job count: ${small.listFirstPage.p50Ms} ms at ${small.jobs.toLocaleString('en')} jobs, ${large.listFirstPage.p50Ms} ms at ${large.jobs.toLocaleString('en')}.`
      : '',
    '',
    '## Cost model (list prices, us-east-1)',
    '',
    'Per million scheduled runs of HTTP jobs, from the counts above; per 1,000 jobs firing hourly for a month (720,000 runs).',
    '',
    `| case | total | ${Object.keys(r.cost.batch10.perMillionRuns.parts).join(' | ')} | 1,000 hourly jobs a month |`,
    `| --- | --- | ${Object.keys(r.cost.batch10.perMillionRuns.parts)
      .map(() => '---')
      .join(' | ')} | --- |`,
    costLine(
      'batch 10 (default, one team: the worker untraced; no fair share until a second tenant has run)',
      r.cost.batch10,
    ),
    costLine(
      `batch 10, worker traced (\`-c workerTracing=true\`), ${r.cost.batch10Traced.runsPerMonth.toLocaleString('en')} runs a month spread evenly: ${r.cost.batch10Traced.invocationsPerSecond} invocations a second, ${round(r.cost.batch10Traced.tracedShareOfInvocations * 100, 1)}% traced`,
      r.cost.batch10Traced,
    ),
    costLine(
      `batch 10, worker traced, ${r.cost.batch10TracedHighVolume.runsPerMonth.toLocaleString('en')} runs a month: ${r.cost.batch10TracedHighVolume.invocationsPerSecond} invocations a second, ${round(r.cost.batch10TracedHighVolume.tracedShareOfInvocations * 100, 1)}% traced`,
      r.cost.batch10TracedHighVolume,
    ),
    costLine('batch 1 (a lone firing: no other message to share the batch)', r.cost.batch1),
    ...(r.cost.batch10Shared
      ? [
          costLine(
            "batch 10, several teams (fair share on: from a second tenant's first run, or with `-c tenantRunsInProgress=N`), a share wide enough that all ten of a tenant's batch run at once",
            r.cost.batch10Shared,
          ),
        ]
      : []),
    ...(r.cost.batch10DefaultShare
      ? [
          costLine(
            "batch 10, several teams, one tenant's ten at once at the default share (5 on the default queue): five run at once, five wait in the batch for their places",
            r.cost.batch10DefaultShare,
          ),
        ]
      : []),
    '',
    xrayArithmetic(r.cost),
    '',
    `What this shape cannot go below: the Scheduler invocation, its SQS message with the worker's share of receive and delete, and the two writes that claim a run and record its outcome: **$${r.cost.batch10.floorPerMillionRuns}** per million runs at batch 10. Per run at batch 10: ${r.cost.batch10.perRun.dynamoWcu} WCU, ${r.cost.batch10.perRun.dynamoRcu} RCU, ${r.cost.batch10.perRun.sqsRequests} SQS requests, ${r.cost.batch10.perRun.logBytes} bytes of logs.`,
    '',
    floorWithFairShare(r.cost.batch10, r.cost.batch10Shared),
    '',
    `Assumptions: ${Object.entries(r.cost.batch10.assumptions)
      .map(([k, v]) => `${k} = ${v}`)
      .join(
        '; ',
      )}. Free tiers (e.g. Scheduler's 14 million invocations and X-Ray's 100,000 traces a month) are not subtracted.`,
    '',
    '### Fixed monthly costs (whatever the runs)',
    '',
    `Counted from the synthesized \`prod\` stack and the metrics the code publishes: **$${r.fixedMonthly.total} a month** at most (${Object.entries(
      r.fixedMonthly.parts,
    )
      .map(([k, v]) => `${k} $${v}`)
      .join(
        ', ',
      )}). That is ${r.fixedMonthly.counted.alarms} alarms and ${r.fixedMonthly.counted.composites} composite, ${r.fixedMonthly.counted.dashboards} dashboard, ${r.fixedMonthly.counted.metrics} custom metrics (billed only in the hours they are published, so a quiet deployment pays less), ${r.fixedMonthly.counted.keys} KMS key, ${r.fixedMonthly.counted.polledQueues} queues Lambda polls (assumed ${r.fixedMonthly.assumptions.pollersPerQueue} pollers each, ${r.fixedMonthly.assumptions.waitSeconds} s long polls), and the sweeper and reconciler (${r.fixedMonthly.counted.scheduledInvocations.toLocaleString('en')} invocations). The reconciler's scan adds $${r.fixedMonthly.reconcilerScanPer1000Jobs} a month per 1,000 jobs.`,
    '',
    `All in, 1,000 jobs firing hourly: $${round(r.cost.batch10.per1000JobsMonthly.total + r.fixedMonthly.total + r.fixedMonthly.reconcilerScanPer1000Jobs)} a month ($${r.cost.batch10.per1000JobsMonthly.total} of runs, $${r.fixedMonthly.total} fixed, $${r.fixedMonthly.reconcilerScanPer1000Jobs} of reconciling) — Google Cloud Scheduler would charge $99.70 for them.`,
    '',
    "For comparison: the seeds' hosted scheduler at $990 per million jobs; QStash at $10 per million messages; Google Cloud Scheduler at $0.10 per job per month (3 free), $100 a month for 1,000 jobs.",
    '',
    '| price | USD | source |',
    '| --- | --- | --- |',
    ...Object.values(PRICES).map((p) => `| ${p.what} | ${p.usd} | ${p.source} |`),
    ...Object.values(MONTHLY_PRICES).map((p) => `| ${p.what} | ${p.usd} | ${p.source} |`),
    '',
    ...(r.longRuns ? [longRunMarkdown(r.longRuns)] : []),
    ...(r.dr ? [drMarkdown(r.dr)] : []),
    ...(r.load ? [loadMarkdown(r.load)] : []),
  ].join('\n');
}

const SECTIONS = ['bundles', 'counts', 'cost', 'long-runs', 'dr', 'load'] as const;
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt === -1 ? undefined : process.argv[onlyAt + 1];
if (only !== undefined && !(SECTIONS as readonly string[]).includes(only)) {
  console.error(`usage: tsx bench/run.ts [--only ${SECTIONS.join('|')}]`);
  process.exit(2);
}

function write(results: Results) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'benchmarks.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'BENCHMARKS.md'), markdown(results));
  console.log(`wrote ${join(out, 'BENCHMARKS.md')} and ${join(out, 'benchmarks.json')}`);
}

const longRunCommand = (command: string) => (tiny ? `BENCH_SIZE=tiny ${command}` : command);
const drCommand = (command: string) =>
  tiny ? `BENCH_SIZE=tiny ${command}` : drJobs === 100_000 ? command : `BENCH_DR_JOBS=${drJobs} ${command}`;
const measureDr = (command: string) => {
  progress(`bench: failover (${drJobs} jobs)`);
  return dr({ jobs: drJobs, tiny, command: drCommand(command), progress });
};
/** The command that measured the load section, with whichever of its knobs were set. */
const loadCommand = (command: string) =>
  [
    ...(tiny ? ['BENCH_SIZE=tiny'] : []),
    ...Object.entries(process.env)
      .filter(([name, value]) => name.startsWith('BENCH_LOAD_') && value)
      .map(([name, value]) => `${name}=${value}`),
    command,
  ].join(' ');
const measureLoad = (command: string) => {
  progress('bench: load');
  return load({ tiny, command: loadCommand(command), progress });
};

if (only !== undefined) {
  const file = join(out, 'benchmarks.json');
  if (!existsSync(file)) {
    console.error(`${file} is missing: run the whole bench (npm run bench) once before --only ${only}`);
    process.exit(2);
  }
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Results;
  // The cost is a function of counts already measured: priced again by the current model.
  const previous = { ...stored, cost: costs(stored.endToEnd, stored.logVolume) };
  if (only === 'cost') {
    write({ ...previous, targets: targets(previous) });
  } else if (only === 'counts') {
    // The calls per run and per operation, and the log volume, measured again; then priced.
    progress('bench: end to end at batch 1 and 10');
    const e2e = await endToEndAll();
    progress('bench: log volume');
    const logs = await logVolume(10);
    const next = {
      ...previous,
      endToEnd: e2e,
      logVolume: logs,
      cost: costs(e2e, logs),
      countsCommand: longRunCommand('npm run bench -- --only counts'),
    };
    write({ ...next, targets: targets(next) });
  } else if (only === 'bundles') {
    progress('bench: bundles and cold init');
    const load = round(loadavg()[0] ?? 0);
    const measured = await bundles({ samples: tiny ? 2 : BUNDLE_SAMPLES });
    const next = {
      ...previous,
      bundles: measured,
      bundlesCommand: longRunCommand('npm run bench -- --only bundles'),
      bundlesLoad: [load, round(loadavg()[0] ?? 0)] as [number, number],
    };
    write({ ...next, targets: targets(next) });
  } else if (only === 'long-runs') {
    progress('bench: long runs');
    const measured = await longRuns({
      tiny,
      command: longRunCommand('npx tsx bench/run.ts --only long-runs'),
      progress,
    });
    write({ ...previous, longRuns: measured });
  } else if (only === 'dr') {
    write({ ...previous, dr: await measureDr('npm run bench -- --only dr') });
  } else {
    write({ ...previous, load: await measureLoad('npm run bench -- --only load') });
  }
} else {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${round(totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}`;
  progress('bench: bundles and cold init');
  const bundlesLoadBefore = round(loadavg()[0] ?? 0);
  const bundleFigures = await bundles({ samples: tiny ? 2 : BUNDLE_SAMPLES });
  const bundlesLoad: [number, number] = [bundlesLoadBefore, round(loadavg()[0] ?? 0)];
  progress('bench: API latency');
  const latency = await apiLatency();
  progress('bench: end to end at batch 1 and 10');
  const e2e = await endToEndAll();
  progress('bench: log volume');
  const logs = await logVolume(10);
  progress(`bench: scale (${scaleJobs} jobs)`);
  const scaled = await scale({
    jobs: scaleJobs,
    checkpoint: tiny ? 50 : 1000,
    concurrency: 8,
    samples: tiny ? 10 : 200,
    progress,
  });
  progress('bench: fixed monthly costs (synth)');
  const fixedMonthly = fixedMonthlyCosts();
  const measuredLongRuns = await longRuns({ tiny, command: longRunCommand('npm run bench'), progress });
  const measuredDr = await measureDr('npm run bench');
  const measuredLoad = await measureLoad('npm run bench');
  const partial: Omit<Results, 'targets'> = {
    date: new Date().toISOString().slice(0, 10),
    machine,
    size: tiny ? 'tiny' : 'full',
    commands: [
      scaleJobs === 100_000 || tiny ? 'npm run bench' : `BENCH_SCALE_JOBS=${scaleJobs} npm run bench`,
    ],
    bundles: bundleFigures,
    bundlesLoad,
    apiLatency: latency,
    endToEnd: e2e,
    logVolume: logs,
    scale: scaled,
    cost: costs(e2e, logs),
    fixedMonthly,
  };
  write({
    ...partial,
    targets: targets(partial),
    longRuns: measuredLongRuns,
    dr: measuredDr,
    load: measuredLoad,
  });
}
