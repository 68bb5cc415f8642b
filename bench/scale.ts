/**
 * Scale: one tenant's jobs created through the API handler (in process, over DynamoDB Local
 * and the Scheduler emulator) up to `jobs`, measuring on the way: the creation rate, list
 * and get latency at `checkpoint` jobs and again at `jobs` (they must not grow: every list is
 * a Query with a cursor), the time the reconciler takes to check every job, and peak memory.
 */
import { readFileSync } from 'node:fs';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createApiHandler } from '../functions/handlers/api.js';
import { ManualClock } from '../local/manual-clock.js';
import { startLocalRuntime } from '../local/runtime.js';
import { apiRequest, type Latency, latencyOf } from './support.js';

export interface ScaleOptions {
  jobs: number;
  /** The smaller size the latencies are compared at. */
  checkpoint: number;
  /** Requests in flight while creating. */
  concurrency: number;
  /** Requests timed per latency figure. */
  samples: number;
  /** Progress lines go here (stderr by default). */
  progress?: (line: string) => void;
}

export interface ScaleAt {
  jobs: number;
  /** GET /v1/jobs?limit=20, the first page. */
  listFirstPage: Latency;
  /** GET /v1/jobs?limit=20 with the cursor of page 10: a page deep in the list. */
  listDeepPage: Latency;
  /** GET /v1/jobs?limit=20&tag=shard:7: one job in a hundred matches, so the filter reads many. */
  listByTag: Latency;
  getJob: Latency;
  reconcile: { seconds: number; report: Record<string, unknown> };
}

export interface ScaleResult {
  jobs: number;
  concurrency: number;
  creation: { seconds: number; jobsPerSecond: number };
  at: ScaleAt[];
  peakMemoryMb: { benchProcess: number; dynamoDbLocal: number | null };
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Peak resident memory of another process, from /proc (Linux); null where unreadable. */
function peakRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? round(Number(kb) / 1024, 0) : null;
  } catch {
    return null;
  }
}

export async function scale(options: ScaleOptions): Promise<ScaleResult> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const clock = new ManualClock('2027-01-01T00:00:00.000Z');
  const runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    limits: { requestsPerSecond: 10_000_000, jobCreatesPerMinute: 10_000_000, maxJobs: 10_000_000 },
  });
  try {
    const api = createApiHandler(runtime.services.api);
    const key = runtime.devApiKey;
    // Never called (the jobs are only listed and reconciled): a local target port where nothing runs.
    const target = 'http://127.0.0.1:8009/never-called';
    const call = async (method: string, path: string, body?: unknown): Promise<APIGatewayProxyResult> => {
      const res = await api(apiRequest(key, method, path, body));
      if (res.statusCode >= 300) throw new Error(`${method} ${path} -> ${res.statusCode}: ${res.body}`);
      return res;
    };
    const timed = async (n: number, op: () => Promise<unknown>): Promise<Latency> => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await op();
        xs.push(performance.now() - t);
      }
      return latencyOf(xs);
    };

    let created = 0;
    let sampleId = '';
    const createUpTo = async (total: number) => {
      let next = created;
      const worker = async () => {
        while (next < total) {
          const n = next++;
          const res = await call('POST', '/v1/jobs', {
            name: `scale-${n}`,
            // Spread over the day, as a real fleet of jobs would be.
            schedule: { expression: `cron(${n % 60} ${Math.floor(n / 60) % 24} * * ? *)` },
            target: { type: 'http', url: target, method: 'GET' },
            tags: { shard: String(n % 100) },
          });
          if (n === 0) sampleId = JSON.parse(res.body).id;
          if (n % 10_000 === 0 && n > 0) progress(`  scale: ${n} jobs created`);
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      created = total;
    };
    const measureAt = async (): Promise<ScaleAt> => {
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const res = await call('GET', `/v1/jobs?limit=20${cursor ? `&cursor=${cursor}` : ''}`);
        cursor = JSON.parse(res.body).nextCursor as string | null;
      }
      const deep = cursor ? `&cursor=${cursor}` : '';
      const listFirstPage = await timed(options.samples, () => call('GET', '/v1/jobs?limit=20'));
      const listDeepPage = await timed(options.samples, () => call('GET', `/v1/jobs?limit=20${deep}`));
      const listByTag = await timed(options.samples, () => call('GET', '/v1/jobs?limit=20&tag=shard:7'));
      const getJob = await timed(options.samples, () => call('GET', `/v1/jobs/${sampleId}`));
      const t = performance.now();
      const report = (await runtime.reconcile()) as unknown as Record<string, unknown>;
      const seconds = round((performance.now() - t) / 1000);
      progress(`  scale: at ${created} jobs, list p50 ${listFirstPage.p50Ms} ms, reconcile ${seconds} s`);
      return {
        jobs: created,
        listFirstPage,
        listDeepPage,
        listByTag,
        getJob,
        reconcile: { seconds, report },
      };
    };

    const started = performance.now();
    await createUpTo(options.checkpoint);
    let seconds = (performance.now() - started) / 1000;
    const atCheckpoint = await measureAt();
    const resumed = performance.now();
    await createUpTo(options.jobs);
    seconds += (performance.now() - resumed) / 1000;
    const atFull = await measureAt();
    return {
      jobs: options.jobs,
      concurrency: options.concurrency,
      creation: { seconds: round(seconds, 1), jobsPerSecond: round(options.jobs / seconds, 0) },
      at: [atCheckpoint, atFull],
      peakMemoryMb: {
        // maxRSS is in kilobytes: the bench process holds the API, fauxqs and the Scheduler emulator.
        benchProcess: round(process.resourceUsage().maxRSS / 1024, 0),
        dynamoDbLocal: peakRssMb(runtime.dynamoDbPid),
      },
    };
  } finally {
    await runtime.stop();
  }
}
