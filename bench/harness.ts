/**
 * The local runtime as the benchmarks use it: a manual clock, every SDK client counted, one
 * tenant with limits wide enough that nothing is deferred, and what a function reads once
 * per instance (its cold start) read before counting. Shared by every section of bench/.
 */
import type { Context } from 'aws-lambda';
import { PRIORITIES } from '../lib/definitions.js';
import { ManualClock } from '../local/manual-clock.js';
import {
  DEV_TENANT,
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../local/runtime.js';
import { type CallCounter, countCalls } from './counter.js';
import { type BenchTarget, startTarget } from './support.js';

export const BENCH_START = '2027-01-01T00:00:00.000Z';

/**
 * One tenant, measured for a run's own calls, with limits wide enough that nothing is refused.
 * The share is left at its default: one team's runs take no fair-share places, as on a
 * deployment one team uses.
 */
export const WIDE_LIMITS = {
  requestsPerSecond: 1_000_000,
  jobCreatesPerMinute: 1_000_000,
  maxJobs: 1_000_000,
} as const;

export async function withRuntime<T>(
  batchSize: number,
  fn: (
    rt: LocalRuntime,
    counter: CallCounter,
    clock: ManualClock,
    target: string,
    server: BenchTarget,
  ) => Promise<T>,
  options: Partial<LocalRuntimeOptions> = {},
) {
  const clock = new ManualClock(BENCH_START);
  const counter = countCalls();
  const target = await startTarget();
  const runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    batchSize,
    instrument: counter.instrument,
    limits: WIDE_LIMITS,
    ...options,
  }).catch(async (error) => {
    await target.close();
    throw error;
  });
  try {
    // The tenant's signing secret and fair-share items are made on first use, and each
    // function reads the deployment's firing key once per instance (its cold start): once,
    // not per run, so not counted.
    await runtime.services.signingSecrets.current(DEV_TENANT, clock.now());
    const warmUp = { v: 1, tenantId: DEV_TENANT, jobId: 'bench-warm-up', trigger: 'schedule' } as const;
    await runtime.services.worker.firingSigner.verify(await runtime.services.api.firingSigner.sign(warmUp));
    for (const priority of PRIORITIES) {
      const until = new Date(clock.now().getTime() + 1000);
      await runtime.services.fairShare.take(DEV_TENANT, priority, 'bench-warm-up', until, clock.now());
      await runtime.services.fairShare.give(DEV_TENANT, priority, 'bench-warm-up');
    }
    return await fn(runtime, counter, clock, target.url, target);
  } finally {
    await runtime.stop();
    await target.close();
  }
}

/** Runs `fn` with everything written to stdout and stderr (both land in CloudWatch Logs) counted, not shown. */
export async function loggedBytes<T>(fn: () => Promise<T>): Promise<{ bytes: number; value: T }> {
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  let bytes = 0;
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      return true;
    }) as typeof stream.write;
  }
  try {
    const value = await fn();
    return { bytes, value };
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i]!;
    });
  }
}

/** A context like the one Lambda hands a function: its fields are on every log line. */
export const LAMBDA_CONTEXT = {
  functionName: 'SundialStack-prod-WorkerFunction0A1B2C3D-AbCdEfGhIjKl',
  functionVersion: '$LATEST',
  invokedFunctionArn:
    'arn:aws:lambda:us-east-1:123456789012:function:SundialStack-prod-WorkerFunction0A1B2C3D-AbCdEfGhIjKl',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/SundialStack-prod-WorkerFunction0A1B2C3D-AbCdEfGhIjKl',
  logStreamName: '2027/01/01/[$LATEST]2e1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;
