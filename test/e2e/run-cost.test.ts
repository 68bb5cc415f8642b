/**
 * What a run costs, counted on the real emulators by the benchmark's SDK middleware: the
 * figures the cost model multiplies by prices. A plain scheduled run writes exactly its
 * run record twice (the claim, then the outcome), takes and gives back its tenant's
 * fair-share place (two small updates), and writes nothing on the job. Its target's circuit
 * breaker, closed with no failures, costs one eventually consistent read and no write.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CallCounter, countCalls } from '../../bench/counter.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import type { ApiClient, Job, Page } from '../support/api.js';
import { MINUTE, TestClock } from '../support/clock.js';
import { apiClient, deleteAllJobs, RecordingTarget } from './support.js';

const JOBS = 20;
const clock = new TestClock();
const counter: CallCounter = countCalls();
const target = new RecordingTarget();
let runtime: LocalRuntime;
let api: ApiClient;

beforeAll(async () => {
  await target.start();
  runtime = await startLocalRuntime({
    port: 0,
    clock,
    logLevel: 'SILENT',
    batchSize: 10,
    instrument: counter.instrument,
    // Room for every run at once: this counts a run's writes, not fair-share deferrals.
    limits: { runsInProgress: JOBS },
  });
  api = apiClient(runtime.apiUrl, runtime.devApiKey);
});

beforeEach(() => {
  clock.fresh();
  target.reset();
});

afterEach(() => deleteAllJobs(api));

afterAll(async () => {
  await runtime?.stop();
  await target.stop();
});

/**
 * JOBS rate(1 minute) jobs, and their first firings worked off a minute later; returns the
 * jobs and the calls per run of that work alone.
 */
async function firstRunsOfNewJobs() {
  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) {
    const res = await api<Job>('POST', '/v1/jobs', {
      name: `cost-${i}`,
      schedule: { expression: 'rate(1 minute)' },
      target: { type: 'http', url: `${target.url}/ok`, method: 'POST' },
    });
    expect(res.status).toBe(201);
    ids.push(res.body.id);
  }
  // The tenant's signing secret and its fair-share item are made on first use: make
  // them now, outside the count.
  expect((await api('GET', '/v1/tenant/signing-secret')).status).toBe(200);
  const { fairShare } = runtime.services;
  await fairShare.take('dev', 'default', 'warm-up', new Date(clock.now().getTime() + 1000), clock.now());
  await fairShare.give('dev', 'default', 'warm-up');
  clock.advance(MINUTE);
  await runtime.fire();
  counter.reset();
  await runtime.drain();
  return { ids, perRun: counter.snapshot(JOBS) };
}

describe('the cost of a scheduled run', () => {
  it('writes two items per run and the fair-share places twice per batch at batch size 10, reads the job eventually consistent and, once a batch, its target’s breaker, and touches SQS 0.2 times', async () => {
    const { perRun } = await firstRunsOfNewJobs();

    expect(target.callsTo('/ok')).toHaveLength(JOBS);
    expect(perRun.byCommand['DynamoDBClient.PutItemCommand']).toBe(2);
    // The tenant's fair-share places: its ten runs in a batch take theirs in one update,
    // before the claims, and give them back in one after the outcomes.
    expect(perRun.byCommand['DynamoDBClient.UpdateItemCommand']).toBeCloseTo(0.2, 5);
    // Nobody depends on these jobs: no Query for dependents, so one read, the job's.
    expect(perRun.byCommand['DynamoDBClient.QueryCommand']).toBeUndefined();
    // The job; its target's circuit breaker (none yet: calm, so nothing is written), read
    // once per batch for the batch's runs at that target, and what else a batch reads once
    // (a tenth of a read each per run at ten a batch); the degradation level, read once per
    // 15 s per process (once for these two batches: 1/20 a run).
    expect(perRun.byCommand['DynamoDBClient.GetItemCommand']).toBeCloseTo(1.25, 5);
    // The job is read eventually consistent (half a unit; strongly it alone would be one): the
    // firing names the job's version, which that copy already has, so it is not read again.
    expect(perRun.dynamoRcu).toBeLessThan(0.75);
    expect(perRun.dynamoWcu).toBeLessThanOrEqual(2.2);
    // One receive and one batch delete per ten messages; empty polls are not per run.
    expect(perRun.sqsRequests).toBeLessThanOrEqual(0.2);
  });

  it('still shows each job its last run, read from the runs table', async () => {
    const { ids } = await firstRunsOfNewJobs();
    for (const id of ids.slice(0, 3)) {
      const job = await api<Job>('GET', `/v1/jobs/${id}`);
      expect(job.body.lastRun).toMatchObject({
        status: 'succeeded',
        scheduledAt: clock.after(MINUTE).toISOString(),
      });
    }
    const list = await api<Page<Job>>('GET', '/v1/jobs?limit=50');
    expect(list.body.items).toHaveLength(JOBS);
    expect(list.body.items.every((j) => j.lastRun?.status === 'succeeded')).toBe(true);
  });
});
