/**
 * Two local regions (issue 16): each its own runtime (DynamoDB Local, queues, Scheduler
 * emulator, functions), a stream replicator between the tables standing in for global tables,
 * one injected clock. The home region is active; the standby keeps every schedule disabled,
 * refuses writes and records what reaches its workers as skipped; a failover moves all of it.
 */
import { GetScheduleCommand } from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { firing } from '../../functions/domain/firing.js';
import { passiveRunId } from '../../functions/domain/region.js';
import { scheduledRunId } from '../../functions/domain/run.js';
import { drStatus, failover } from '../../functions/usecases/regions.js';
import { LOCAL_SCHEDULE_GROUP, type LocalRuntime } from '../../local/runtime.js';
import { startTwoRegions, type TwoRegions } from '../../local/two-regions.js';
import { type ApiClient, apiClient, type Job, type Run } from '../support/api.js';
import { MINUTE, SECOND, TestClock } from '../support/clock.js';
import { deleteAllJobs, RecordingTarget } from './support.js';

const clock = new TestClock();
const target = new RecordingTarget();
let two: TwoRegions;
let home: LocalRuntime;
let standby: LocalRuntime;
let homeApi: ApiClient;
let standbyApi: ApiClient;

beforeAll(async () => {
  await target.start();
  two = await startTwoRegions({
    clock,
    logLevel: (process.env.DR_LOG as 'WARN') ?? 'SILENT',
    failedVisibilityTimeoutSeconds: 0,
  });
  ({ home, standby } = two);
  homeApi = apiClient(home.apiUrl, home.devApiKey);
  standbyApi = apiClient(standby.apiUrl, standby.devApiKey);
});

afterAll(async () => {
  await two?.stop();
  await target.stop();
});

beforeEach(() => {
  clock.fresh();
  target.reset();
});

// No job outlives its test: a later test's clock jump would otherwise fire a day of its schedule.
afterEach(async () => {
  if (!homeAlive) return;
  await deleteAllJobs(homeApi);
  await settle();
});
let homeAlive = true;

const settle = () => two.settle();

/** Both regions' minute: their sweepers (heartbeats) and schedules, then replication. */
async function minute(...runtimes: LocalRuntime[]): Promise<void> {
  clock.advance(MINUTE);
  for (const rt of runtimes) {
    await rt.sweep();
    await rt.tick();
  }
  await settle();
}

const schedule = (rt: LocalRuntime, name: string) =>
  rt.clients.scheduler
    .send(new GetScheduleCommand({ Name: name, GroupName: LOCAL_SCHEDULE_GROUP }))
    .catch(() => undefined);

async function createJob(api: ApiClient, path: string, extra: Record<string, unknown> = {}): Promise<Job> {
  const res = await api<Job>('POST', '/v1/jobs', {
    name: `dr-${path.slice(1)}`,
    schedule: { expression: 'rate(1 minute)' },
    target: { type: 'http', url: `${target.url}${path}`, method: 'POST' },
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const runsIn = async (api: ApiClient, jobId: string) =>
  (await api<{ items: Run[] }>('GET', `/v1/jobs/${jobId}/runs?limit=100`)).body.items;

describe('the standby region while the home region is active', () => {
  it('keeps every job’s schedule, disabled, in step with the replicated job', async () => {
    await minute(home, standby);
    const job = await createJob(homeApi, '/standby-sync');
    await settle();
    expect((await schedule(home, job.id))?.State).toBe('ENABLED');
    const copy = await schedule(standby, job.id);
    expect(copy?.State).toBe('DISABLED');
    expect(copy?.ScheduleExpression).toBe('rate(1 minute)');

    const patched = await homeApi<Job>('PATCH', `/v1/jobs/${job.id}`, {
      schedule: { expression: 'rate(5 minutes)' },
    });
    expect(patched.status).toBe(200);
    await settle();
    expect((await schedule(standby, job.id))?.ScheduleExpression).toBe('rate(5 minutes)');
    expect((await schedule(standby, job.id))?.State).toBe('DISABLED');

    expect((await homeApi('DELETE', `/v1/jobs/${job.id}`)).status).toBe(204);
    await settle();
    expect(await schedule(standby, job.id)).toBeUndefined();
  });

  it('answers reads and refuses writes with 409 naming the active region', async () => {
    const job = await createJob(homeApi, '/standby-api');
    await settle();
    const read = await standbyApi<Job>('GET', `/v1/jobs/${job.id}`);
    expect(read.status).toBe(200);
    expect(read.body.name).toBe('dr-standby-api');
    const region = await standbyApi('GET', '/v1/region');
    expect(region.body).toEqual({
      region: 'us-west-2',
      activeRegion: 'us-east-1',
      active: false,
      epoch: 0,
      regions: ['us-east-1', 'us-west-2'],
    });
    for (const [method, path, body] of [
      ['POST', '/v1/jobs', { name: 'x', target: { type: 'http', url: `${target.url}/x`, method: 'POST' } }],
      ['PATCH', `/v1/jobs/${job.id}`, { description: 'changed' }],
      ['POST', `/v1/jobs/${job.id}/runs`, undefined],
      ['DELETE', `/v1/jobs/${job.id}`, undefined],
    ] as const) {
      const res = await standbyApi(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(409);
      expect(res.body.type).toMatch(/region-passive$/);
      expect(res.body.activeRegion).toBe('us-east-1');
      expect(String(res.body.detail)).toContain('us-east-1');
    }
    // Nothing changed.
    await settle();
    expect((await homeApi<Job>('GET', `/v1/jobs/${job.id}`)).body.description ?? null).toBeNull();
    expect(await runsIn(homeApi, job.id)).toEqual([]);
  });

  it('records a firing its workers receive as skipped, under an id of its own, and never calls the target', async () => {
    const job = await createJob(homeApi, '/standby-worker');
    await settle();
    const at = new Date(clock.now().getTime() + 30 * SECOND);
    clock.advance(30 * SECOND);
    // A firing that reached the standby's queue anyway (a schedule enabled by hand, say).
    await standby.services.worker.queue.send(
      'default',
      firing.occurrence({ tenantId: 'dev', id: job.id }, 'schedule', at),
    );
    await standby.drain();
    await settle();
    expect(target.callsTo('/standby-worker')).toEqual([]);
    const runs = await runsIn(homeApi, job.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: passiveRunId(scheduledRunId(at), 'us-west-2'),
      status: 'skipped',
      scheduledAt: at.toISOString(),
    });
    expect(runs[0]!.skipReason).toContain('us-west-2 is passive');
    expect(runs[0]!.skipReason).toContain('us-east-1 is the active region');
    expect(standby.metrics.counts.FiringsSkippedPassive).toBeGreaterThan(0);
  });
});

describe('a failover', () => {
  it('moves firing to the standby, fences the old region, catches up the gap and fails back', async () => {
    const job = await createJob(homeApi, '/moved', { catchUp: 'all', catchUpWindowMinutes: 30 });
    await settle();
    for (let i = 0; i < 3; i++) await minute(home, standby);
    const firedHome = target.callsTo('/moved').length;
    expect(firedHome).toBe(3);

    // The home region stops: its functions, Scheduler and replication; its table stays readable.
    await two.replication.aToB.stop();
    await home.kill();
    homeAlive = false;
    for (let i = 0; i < 4; i++) await minuteStandbyOnly();

    // As the operator sees it: the home region's table does not answer either.
    const down = async (): Promise<never> => {
      throw new Error('connect ETIMEDOUT');
    };
    const lost = {
      ...two.dr,
      tables: { ...two.dr.tables, 'us-east-1': { state: down, write: down, heartbeats: down } },
    };
    await expect(failover(lost, { to: 'us-west-2', by: 'test' })).rejects.toThrow(
      /us-east-1 last wrote its heartbeat \d+ s ago/,
    );
    const result = await failover(lost, { to: 'us-west-2', by: 'test', force: true });
    expect(result.state).toMatchObject({ activeRegion: 'us-west-2', epoch: 1, previousRegion: 'us-east-1' });
    expect(result.fencedDirectly).toBe(false);

    // The standby reads the change from its stream: takeover.
    await standby.pollStreams();
    await standby.drain();
    expect((await schedule(standby, job.id))?.State).toBe('ENABLED');
    const status = await drStatus({ ...two.dr, tables: { 'us-west-2': two.dr.tables['us-west-2']! } });
    const west = status.summary.find((s) => s.region === 'us-west-2');
    expect(west?.change).toMatchObject({ epoch: 1, role: 'active', state: 'done' });
    expect(west?.change?.caughtUp).toBe(4);

    await minuteStandbyOnly();
    const runs = await runsIn(standbyApi, job.id);
    const byOccurrence = new Map<string, Run[]>();
    for (const r of runs) byOccurrence.set(r.scheduledAt, [...(byOccurrence.get(r.scheduledAt) ?? []), r]);
    // 3 before, 4 in the gap (caught up), 1 after: each occurrence once.
    expect(runs).toHaveLength(8);
    expect([...byOccurrence].filter(([, list]) => list.length !== 1)).toEqual([]);
    expect(runs.filter((r) => r.trigger === 'catch_up')).toHaveLength(4);
    expect(
      runs
        .map((r) => `${r.trigger} ${r.status} ${r.skipReason ?? ''}`)
        .filter((s) => !s.includes('succeeded')),
    ).toEqual([]);
    // The API there takes writes now.
    expect((await standbyApi('POST', `/v1/jobs/${job.id}/pause`, {})).status).toBe(200);
  });

  async function minuteStandbyOnly(): Promise<void> {
    clock.advance(MINUTE);
    await standby.sweep();
    await standby.tick();
  }
});
