/**
 * A region's side of a two-region deployment over the in-memory ports: the takeover (schedules
 * enabled, each job's failover gap by its catch-up policy, runs left behind driven again), the
 * stand-down, the heartbeat that carries out a change of role the stream's news of was missed,
 * the jobs stream in a passive region, and a passive worker.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { CachedRegionGate } from '../../functions/adapters/region-gate.js';
import type { FiringMessage } from '../../functions/domain/firing.js';
import type { StoredJob } from '../../functions/domain/job.js';
import {
  type Heartbeat,
  initialState,
  passiveRunId,
  type RegionState,
} from '../../functions/domain/region.js';
import { newRun, type StoredRun, scheduledRunId } from '../../functions/domain/run.js';
import { executeFiring } from '../../functions/usecases/execute-firing.js';
import {
  changeRole,
  heartbeat,
  onJobsTableChange,
  type RegionRoleDeps,
} from '../../functions/usecases/region-role.js';
import { ManualClock } from '../../local/manual-clock.js';
import {
  InMemoryJobs,
  InMemoryRuns,
  InMemorySchedules,
  RecordingLogger,
  RecordingQueue,
} from '../fakes/in-memory.js';
import { aJob, MINUTE, TENANT, workerWorld } from '../fakes/world.js';

const HOME = 'us-east-1';
const STANDBY = 'us-west-2';
const REGIONS = [HOME, STANDBY];
const T0 = '2027-03-01T10:00:00.000Z';

/** The replicated active item and heartbeats, as one region's table has them. */
class FakeRegionTable {
  current: RegionState = initialState(REGIONS);
  beats = new Map<string, Heartbeat>();
  async state() {
    return this.current;
  }
  async beat(h: Heartbeat) {
    this.beats.set(h.region, structuredClone(h));
  }
  async heartbeats() {
    return [...this.beats.values()];
  }
}

let clock: ManualClock;
let jobs: InMemoryJobs;
let runs: InMemoryRuns;
let queue: RecordingQueue;
let schedules: InMemorySchedules;
let table: FakeRegionTable;
let deps: RegionRoleDeps;

beforeEach(() => {
  clock = new ManualClock(T0);
  jobs = new InMemoryJobs();
  runs = new InMemoryRuns();
  queue = new RecordingQueue();
  schedules = new InMemorySchedules({ clock });
  table = new FakeRegionTable();
  deps = {
    gate: new CachedRegionGate(STANDBY, table, clock),
    store: table,
    jobs,
    runs,
    queue,
    gateway: schedules,
    clock,
    logger: new RecordingLogger(),
  };
});

const failedOverToStandby = (): RegionState => ({
  activeRegion: STANDBY,
  epoch: 1,
  changedAt: clock.now().toISOString(),
  changedBy: 'test',
  previousRegion: HOME,
  reason: 'failover',
});

/** A job every minute whose schedule the standby holds disabled, as a passive region keeps it. */
async function standbyJob(overrides: Partial<StoredJob> = {}): Promise<StoredJob> {
  const job = aJob({ schedule: { ...aJob().schedule!, expression: 'rate(1 minute)' }, ...overrides });
  jobs.seed(job);
  await schedules.apply({ ...job, state: 'paused' });
  return job;
}

/** The home region ran the occurrence at `at` (replicated here). */
function ranAt(job: StoredJob, at: string, extra: Partial<StoredRun> = {}): StoredRun {
  const run = {
    ...newRun({
      id: scheduledRunId(new Date(at)),
      jobId: job.id,
      tenantId: job.tenantId,
      scheduledAt: at,
      trigger: 'schedule',
      status: 'succeeded',
      attempt: 1,
    }),
    finishedAt: at,
    ...extra,
  } as StoredRun;
  runs.seed(run);
  return run;
}

const minutes = (n: number) => new Date(Date.parse(T0) + n * MINUTE).toISOString();
const sent = () => queue.peek().map((m) => m.message);
const gapOf = (messages: FiringMessage[]) =>
  messages
    .filter((m) => m.trigger === 'catch_up')
    .map((m) => `${m.scheduledTime.slice(11, 16)} ${'missReason' in m && m.missReason ? 'missed' : 'run'}`);

describe('a takeover', () => {
  it('enables every schedule, and records how far it got on the heartbeat', async () => {
    const a = await standbyJob({ id: 'job_A' });
    const b = await standbyJob({ id: 'job_B', state: 'paused' });
    table.current = failedOverToStandby();
    const change = await changeRole(deps, table.current);
    expect(schedules.peek(a.id)?.enabled).toBe(true);
    expect(schedules.peek(b.id)?.enabled).toBe(false);
    expect(change).toMatchObject({ epoch: 1, role: 'active', state: 'done', schedules: 1 });
    expect(table.beats.get(STANDBY)?.change).toMatchObject({ epoch: 1, state: 'done' });
  });

  it.each([
    ['all', 60, ['10:03 run', '10:04 run', '10:05 run', '10:06 run', '10:07 run']],
    ['all', 3, ['10:03 missed', '10:04 run', '10:05 run', '10:06 run', '10:07 run']],
    ['latest', 60, ['10:03 missed', '10:04 missed', '10:05 missed', '10:06 missed', '10:07 run']],
    ['none', 60, ['10:03 missed', '10:04 missed', '10:05 missed', '10:06 missed', '10:07 missed']],
  ] as const)('handles the gap with catchUp %s (window %i min)', async (catchUp, window, expected) => {
    const job = await standbyJob({ catchUp, catchUpWindowMinutes: window, createdAt: minutes(1) });
    ranAt(job, minutes(1));
    ranAt(job, minutes(2));
    clock.set(minutes(7));
    await changeRole(deps, failedOverToStandby());
    expect(gapOf(sent())).toEqual(expected);
    const missed = sent().find((m) => m.trigger === 'catch_up' && 'missReason' in m && m.missReason);
    if (missed && 'missReason' in missed) {
      expect(missed.missReason).toContain(`from ${HOME} to ${STANDBY} (epoch 1)`);
    }
  });

  it('counts every unrecorded occurrence: a passive skip or a manual run is no record of one', async () => {
    const job = await standbyJob({ catchUp: 'all', createdAt: minutes(0) });
    ranAt(job, minutes(1));
    runs.seed({
      ...ranAt(job, minutes(2)),
      id: passiveRunId(scheduledRunId(new Date(minutes(4))), STANDBY),
      scheduledAt: minutes(4),
      status: 'skipped',
    } as StoredRun);
    runs.seed({
      ...ranAt(job, minutes(2)),
      id: `${scheduledRunId(new Date(minutes(5)))}_mabc`,
      trigger: 'manual',
      scheduledAt: minutes(5),
    } as StoredRun);
    clock.set(minutes(5));
    await changeRole(deps, failedOverToStandby());
    expect(gapOf(sent())).toEqual(['10:03 run', '10:04 run', '10:05 run']);
  });

  it('includes an older occurrence still in flight in the lost region, back to 15 minutes before the newest recorded', async () => {
    const job = await standbyJob({ catchUp: 'all', createdAt: minutes(-60) });
    for (let m = -30; m <= 2; m++) if (m !== -5 && m !== -20) ranAt(job, minutes(m));
    clock.set(minutes(3));
    await changeRole(deps, failedOverToStandby());
    // 09:55 waited on the lost region's queue while 09:56-10:02 ran; 09:40 is past the horizon.
    expect(gapOf(sent())).toEqual(['09:55 run', '10:03 run']);
  });

  it('reaches back no further than the job’s creation, and runs nothing for a paused job', async () => {
    await standbyJob({ id: 'job_new', catchUp: 'all', createdAt: minutes(4) });
    await standbyJob({ id: 'job_paused', catchUp: 'all', state: 'paused', createdAt: minutes(-60) });
    clock.set(minutes(6));
    await changeRole(deps, failedOverToStandby());
    // Strictly after its creation, as Scheduler fires a new schedule.
    expect(sent().map((m) => `${m.jobId} ${m.scheduledTime.slice(11, 16)}`)).toEqual([
      'job_new 10:05',
      'job_new 10:06',
    ]);
  });

  it('drives again the runs the old region left queued for a retry or running, but not a long run', async () => {
    const job = await standbyJob({ catchUp: 'none', createdAt: minutes(-60) });
    ranAt(job, minutes(1), { status: 'queued', attempt: 1, nextAttemptAt: minutes(3) });
    ranAt(job, minutes(2), { status: 'running', attempt: 1 });
    ranAt(job, minutes(3), { status: 'running', attempt: 1, deadlineAt: minutes(60) });
    clock.set(minutes(3));
    await changeRole(deps, failedOverToStandby());
    const redriven = sent().filter((m) => m.trigger !== 'catch_up');
    // Newest first, as the runs are read.
    expect(redriven).toEqual([
      expect.objectContaining({ trigger: 'schedule', scheduledTime: minutes(2) }),
      expect.objectContaining({
        trigger: 'retry',
        runId: scheduledRunId(new Date(minutes(1))),
        attempt: 2,
        notBefore: minutes(3),
      }),
    ]);
    expect(table.beats.get(STANDBY)?.change).toMatchObject({ redriven: 2 });
  });

  it('records a failure on the heartbeat and throws, for the next heartbeat or stream retry to carry on', async () => {
    await standbyJob();
    const failing = {
      ...deps,
      gateway: Object.assign(Object.create(schedules), {
        apply: async () => {
          throw new Error('throttled');
        },
      }),
    };
    await expect(changeRole(failing, failedOverToStandby())).rejects.toThrow(/could not be changed/);
    expect(table.beats.get(STANDBY)?.change).toMatchObject({ state: 'failed' });
    table.current = failedOverToStandby();
    const beat = await heartbeat(deps);
    expect(beat.change).toMatchObject({ epoch: 1, state: 'done' });
  });
});

describe('a stand-down', () => {
  it('disables every schedule and writes nothing to the jobs, which are the active region’s', async () => {
    const job = aJob({ scheduleSyncedAt: T0, syncPendingAt: T0 } as Partial<StoredJob>);
    jobs.seed(job);
    await schedules.apply(job);
    const before = structuredClone(jobs.peek(job.tenantId, job.id));
    const change = await changeRole(deps, initialState(REGIONS));
    expect(change).toMatchObject({ role: 'passive', state: 'done', schedules: 1 });
    expect(schedules.peek(job.id)?.enabled).toBe(false);
    expect(jobs.peek(job.tenantId, job.id)).toEqual(before);
  });
});

describe('the heartbeat', () => {
  it('lays down a passive region’s disabled schedules on its first run, then only beats', async () => {
    await jobs.seed(aJob());
    const first = await heartbeat(deps);
    expect(first).toMatchObject({
      region: STANDBY,
      role: 'passive',
      epoch: 0,
      change: { role: 'passive', state: 'done' },
    });
    expect(schedules.peek('job_A')?.enabled).toBe(false);
    clock.advance(MINUTE);
    const second = await heartbeat(deps);
    expect(second.at).toBe(clock.now().toISOString());
    expect(second.change?.startedAt).toBe(first.change?.startedAt);
  });

  it('takes over when the active item says so and the stream’s news of it was missed', async () => {
    await standbyJob();
    await heartbeat(deps);
    table.current = failedOverToStandby();
    clock.advance(MINUTE);
    const beat = await heartbeat(deps);
    expect(beat).toMatchObject({ role: 'active', epoch: 1, change: { role: 'active', state: 'done' } });
    expect(schedules.peek('job_A')?.enabled).toBe(true);
  });

  it('reports the role and the other region’s heartbeat age', async () => {
    const reports: [boolean, number | null][] = [];
    table.beats.set(HOME, { region: HOME, at: minutes(-2), role: 'active', epoch: 0, change: null });
    await heartbeat({ ...deps, report: (active, age) => reports.push([active, age]) });
    expect(reports).toEqual([[false, 120]]);
  });
});

describe('the jobs stream in a passive region', () => {
  const keys = (job: StoredJob) => ({ pk: `TENANT#${job.tenantId}`, sk: `JOB#${job.id}` });
  const toJob = (item: Record<string, unknown>) => item as unknown as StoredJob;

  it('applies a changed job’s schedule disabled, and removes a deleted job’s', async () => {
    const job = aJob();
    expect(await onJobsTableChange(deps, { keys: keys(job), newItem: job as never, toJob })).toBe(
      'schedule applied disabled',
    );
    expect(schedules.peek(job.id)).toMatchObject({ enabled: false, expression: job.schedule!.expression });
    expect(
      await onJobsTableChange(deps, {
        keys: keys(job),
        newItem: { ...job, state: 'deleting' } as never,
        toJob,
      }),
    ).toBe('schedule removed');
    expect(schedules.peek(job.id)).toBeUndefined();
  });

  it('leaves job changes to the API in the active region, and acts on a change of the active item', async () => {
    table.current = failedOverToStandby();
    const job = await standbyJob();
    expect(await onJobsTableChange(deps, { keys: keys(job), newItem: job as never, toJob })).toBe(
      'active: the API syncs',
    );
    expect(await onJobsTableChange(deps, { keys: { pk: 'REGION', sk: 'ACTIVE' }, toJob })).toBe(
      'active at epoch 1',
    );
    expect(schedules.peek(job.id)?.enabled).toBe(true);
    expect(await onJobsTableChange(deps, { keys: { pk: 'REGION', sk: 'ACTIVE' }, toJob })).toBe(
      'role unchanged',
    );
  });
});

describe('a passive worker', () => {
  it('records a firing as skipped under an id of its own and calls no target', async () => {
    const world = workerWorld();
    const job = world.jobs.seed(aJob());
    const gate = new CachedRegionGate(STANDBY, table, world.clock);
    const at = new Date(world.clock.now().getTime());
    const outcome = await executeFiring(
      { ...world.deps, region: gate },
      { v: 1, tenantId: TENANT, jobId: job.id, trigger: 'schedule', scheduledTime: at.toISOString() },
    );
    expect(outcome).toMatchObject({ result: 'done', detail: 'passive' });
    expect(world.target.calls).toEqual([]);
    const id = passiveRunId(scheduledRunId(at), STANDBY);
    expect(world.runs.peek(TENANT, job.id, id)).toMatchObject({
      status: 'skipped',
      skipReason: expect.stringContaining(`${HOME} is the active region`),
    });
    expect(world.runs.peek(TENANT, job.id, scheduledRunId(at))).toBeUndefined();
  });

  it('drops a settle message: the active region’s sweep settles the run', async () => {
    const world = workerWorld();
    const job = world.jobs.seed(aJob());
    const gate = new CachedRegionGate(STANDBY, table, world.clock);
    const outcome = await executeFiring(
      { ...world.deps, region: gate },
      {
        v: 1,
        tenantId: TENANT,
        jobId: job.id,
        trigger: 'settle',
        scheduledTime: T0,
        runId: 'run_x',
        attempt: 1,
      },
    );
    expect(outcome).toMatchObject({ result: 'done', detail: 'passive' });
  });

  it('runs the firing once the region becomes active (after the gate’s few seconds)', async () => {
    const world = workerWorld();
    const job = world.jobs.seed(aJob());
    const gate = new CachedRegionGate(STANDBY, table, world.clock);
    await gate.current();
    table.current = failedOverToStandby();
    world.clock.advance(5_000);
    const at = world.clock.now();
    const outcome = await executeFiring(
      { ...world.deps, region: gate },
      { v: 1, tenantId: TENANT, jobId: job.id, trigger: 'schedule', scheduledTime: at.toISOString() },
    );
    expect(outcome.detail).not.toBe('passive');
    expect(world.target.calls).toHaveLength(1);
  });
});
