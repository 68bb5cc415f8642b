/**
 * What a run costs, counted on the real emulators by the benchmark's SDK middleware: the
 * figures the cost model multiplies by prices. A plain scheduled run writes exactly its
 * run record twice (the claim, then the outcome), takes and gives back its tenant's
 * fair-share place (two small updates), and writes nothing on the job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallCounter, countCalls } from '../../bench/counter.js';
import { ManualClock } from '../../local/manual-clock.js';
import { type LocalRuntime, startLocalRuntime } from '../../local/runtime.js';
import { apiClient, RecordingTarget } from './support.js';

const JOBS = 20;
const clock = new ManualClock('2027-03-01T00:00:00.000Z');
const counter: CallCounter = countCalls();
const target = new RecordingTarget();
let runtime: LocalRuntime;
let api: ReturnType<typeof apiClient>;

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

afterAll(async () => {
  await runtime?.stop();
  await target.stop();
});

describe('the cost of a scheduled run', () => {
  const ids: string[] = [];

  it('writes two items and two fair-share updates per run at batch size 10, reads only the job, and touches SQS 0.2 times', async () => {
    for (let i = 0; i < JOBS; i++) {
      const res = await api<{ id: string }>('POST', '/v1/jobs', {
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
    clock.advance(60_000);
    await runtime.fire();
    counter.reset();
    await runtime.drain();
    const perRun = counter.snapshot(JOBS);

    expect(target.callsTo('/ok')).toHaveLength(JOBS);
    expect(perRun.byCommand['DynamoDBClient.PutItemCommand']).toBe(2);
    // The fair-share place: taken before the claim, given back after the outcome.
    expect(perRun.byCommand['DynamoDBClient.UpdateItemCommand']).toBe(2);
    // Nobody depends on these jobs: no Query for dependents, so one read, the job's.
    expect(perRun.byCommand['DynamoDBClient.QueryCommand']).toBeUndefined();
    expect(perRun.dynamoWcu).toBeLessThanOrEqual(4);
    // One receive and one batch delete per ten messages; empty polls are not per run.
    expect(perRun.sqsRequests).toBeLessThanOrEqual(0.2);
  });

  it('still shows each job its last run, read from the runs table', async () => {
    for (const id of ids.slice(0, 3)) {
      const job = await api<{ lastRun: { status: string; scheduledAt: string } | null }>(
        'GET',
        `/v1/jobs/${id}`,
      );
      expect(job.body.lastRun).toMatchObject({
        status: 'succeeded',
        scheduledAt: '2027-03-01T00:01:00.000Z',
      });
    }
    const list = await api<{ items: { lastRun: { status: string } | null }[] }>('GET', '/v1/jobs?limit=50');
    expect(list.body.items).toHaveLength(JOBS);
    expect(list.body.items.every((j) => j.lastRun?.status === 'succeeded')).toBe(true);
  });
});
