/**
 * The reconciler over the in-memory jobs table and schedule group: what it repairs (a
 * missing schedule, a hand-edited one, an orphan), what it leaves to a job's own sync,
 * what it costs (ListSchedules pages, GetSchedule calls) and how it stops at its budget.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { StoredJob } from '../../functions/domain/job.js';
import { type ReconcileDeps, reconcile } from '../../functions/usecases/reconcile.js';
import { ManualClock } from '../../local/manual-clock.js';
import { InMemoryJobs, InMemorySchedules, RecordingLogger } from '../fakes/in-memory.js';
import { aJob, MINUTE } from '../fakes/world.js';

/** When Sundial last wrote the schedules; the reconciler runs a day later. */
const WRITTEN = '2027-01-01T00:00:00.000Z';
const RUN_AT = '2027-01-02T00:00:00.000Z';

let clock: ManualClock;
let jobs: InMemoryJobs;
let schedules: InMemorySchedules;
let logger: RecordingLogger;

beforeEach(() => {
  clock = new ManualClock(WRITTEN);
  jobs = new InMemoryJobs();
  schedules = new InMemorySchedules({ clock });
  logger = new RecordingLogger();
});

/** A job whose schedule Sundial wrote at WRITTEN, in step: what every job is most of the time. */
async function synced(id: string, overrides: Partial<StoredJob> = {}): Promise<StoredJob> {
  clock.set(WRITTEN);
  const job = aJob({ id, version: 3, scheduleSyncedAt: WRITTEN, ...overrides });
  await schedules.apply(job);
  return jobs.seed(job);
}

function deps(extra: Partial<ReconcileDeps> = {}): ReconcileDeps {
  return { jobs, gateway: schedules, logger, clock, ...extra };
}

/** Runs the reconciler at RUN_AT (after anything the test did earlier). */
async function reconcileNow(extra: Partial<ReconcileDeps> = {}) {
  if (clock.now().getTime() < Date.parse(RUN_AT)) clock.set(RUN_AT);
  return reconcile(deps(extra));
}

async function wanted(job: StoredJob) {
  return schedules.desired({ ...job, schedule: job.schedule! });
}

/** The schedule without its modification time: what it is made of. */
function content(name: string) {
  const { modifiedAt: _m, ...rest } = schedules.peek(name)!;
  return rest;
}

describe('an unchanged group', () => {
  it('costs one listing per 100 schedules and no GetSchedule at all, and changes nothing', async () => {
    for (let i = 0; i < 250; i++) await synced(`job_${String(i).padStart(3, '0')}`);

    const report = await reconcileNow();

    expect(report).toMatchObject({
      completed: true,
      jobs: 250,
      schedules: 250,
      listCalls: 3,
      getScheduleCalls: 0,
      missing: 0,
      drifted: 0,
      orphaned: 0,
      failed: 0,
      skipped: 0,
    });
    expect(schedules.calls).toEqual({ list: 3, get: 0, apply: 250, remove: 0 }); // the 250 applies are the setup's
    expect(jobs.writes).toEqual([]);
  });
});

describe('drift repaired', () => {
  it('a schedule gone missing is re-created from its job, and the write recorded on the job', async () => {
    const job = await synced('job_Lost');
    schedules.handDelete(job.id);

    const report = await reconcileNow();

    expect(report).toMatchObject({ completed: true, missing: 1, drifted: 0, orphaned: 0 });
    expect(content(job.id)).toEqual(await wanted(job));
    expect(jobs.peek(job.tenantId, job.id)!.scheduleSyncedAt).toBe(RUN_AT);
    expect(logger.messages('warn')).toContain('schedule drift repaired');
  });

  it.each([
    {
      edit: 'its expression',
      change: { expression: 'cron(0 0 * * ? *)' },
      getCalls: 1,
    },
    { edit: 'its time zone', change: { timezone: 'Europe/Berlin' }, getCalls: 1 },
    {
      edit: 'its input',
      change: { input: '{"v":1,"tenantId":"evil","jobId":"job_X","trigger":"schedule"}' },
      getCalls: 1,
    },
    // The listing shows state and target: no GetSchedule needed to see those.
    { edit: 'its state', change: { enabled: false }, getCalls: 0 },
    {
      edit: 'its target',
      change: { targetArn: 'arn:aws:sqs:eu-west-1:999999999999:elsewhere' },
      getCalls: 0,
    },
  ])('a schedule whose $edit was edited by hand is re-applied', async ({ change, getCalls }) => {
    const job = await synced('job_Edited');
    clock.set('2027-01-01T12:00:00.000Z');
    schedules.handEdit(job.id, change);

    const report = await reconcileNow();

    expect(report).toMatchObject({ completed: true, drifted: 1, missing: 0, getScheduleCalls: getCalls });
    expect(content(job.id)).toEqual(await wanted(job));
    expect(schedules.peek(job.id)!.modifiedAt).toBe(RUN_AT);
  });

  it('a paused job whose schedule was switched on by hand is switched off again', async () => {
    const job = await synced('job_Paused', { state: 'paused' });
    clock.set('2027-01-01T12:00:00.000Z');
    schedules.handEdit(job.id, { enabled: true });

    const report = await reconcileNow();

    expect(report.drifted).toBe(1);
    expect(schedules.peek(job.id)!.enabled).toBe(false);
  });

  it('a schedule touched by hand but still right is read once, recorded as checked, and not read again', async () => {
    const job = await synced('job_Touched');
    clock.set('2027-01-01T12:00:00.000Z');
    schedules.handEdit(job.id, {});

    const first = await reconcileNow();
    expect(first).toMatchObject({ drifted: 0, getScheduleCalls: 1, verified: 1 });
    expect(jobs.peek(job.tenantId, job.id)!.scheduleSyncedAt).toBe('2027-01-01T12:00:00.000Z');

    const second = await reconcileNow();
    expect(second).toMatchObject({ drifted: 0, getScheduleCalls: 0, verified: 0 });
  });

  it('a schedule with no job is deleted; the jobs with theirs are left alone', async () => {
    const job = await synced('job_Kept');
    schedules.plant({ ...(await wanted(job)), name: 'job_Deleted' });

    const report = await reconcileNow();

    expect(report).toMatchObject({ completed: true, orphaned: 1, missing: 0, drifted: 0 });
    expect(schedules.names()).toEqual([job.id]);
  });

  it('a schedule left behind by a job that no longer has one is removed', async () => {
    const job = await synced('job_OnDemand');
    jobs.seed({ ...job, schedule: null });

    const report = await reconcileNow();

    expect(report.orphaned).toBe(1);
    expect(schedules.names()).toEqual([]);
  });
});

describe("left to a job's own sync", () => {
  it('a job with a pending sync marker is skipped, its missing schedule not written by the reconciler', async () => {
    const job = await synced('job_Changing', { syncPendingAt: '2027-01-01T23:59:59.000Z' });
    schedules.handDelete(job.id);

    const report = await reconcileNow();

    expect(report).toMatchObject({ skipped: 1, missing: 0 });
    expect(schedules.peek(job.id)).toBeUndefined();
  });

  it('a job edited while the reconciler runs is skipped, not repaired from the copy it scanned', async () => {
    const first = await synced('job_1');
    const second = await synced('job_2');
    schedules.handDelete(first.id);
    schedules.handDelete(second.id);
    let paces = 0;
    // Before each Scheduler call: the listing, then the first repair. During that repair a
    // user edits the second job (the API's first step: the new version, with its marker).
    const pace = async () => {
      if (++paces === 2) {
        const edited = {
          ...second,
          name: 'renamed',
          schedule: { ...second.schedule!, expression: 'rate(1 hour)' },
        };
        expect(await jobs.replace({ ...edited, version: 4 }, 3, clock.now().toISOString())).toBe(true);
      }
    };

    const report = await reconcileNow({ pace });

    expect(report).toMatchObject({ completed: true, missing: 1, skipped: 1 });
    expect(content(first.id)).toEqual(await wanted(first));
    // Not the old expression from the scan: the job's own sync writes the new one.
    expect(schedules.peek(second.id)).toBeUndefined();
    expect(jobs.peek(second.tenantId, second.id)).toMatchObject({ version: 4, syncPendingAt: RUN_AT });
  });

  it('a job being deleted is skipped, and its schedule is not counted as an orphan', async () => {
    const job = await synced('job_Going', { state: 'deleting', syncPendingAt: WRITTEN });

    const report = await reconcileNow();

    expect(report).toMatchObject({ skipped: 1, orphaned: 0 });
    expect(schedules.names()).toEqual([job.id]);
  });
});

describe('the time budget', () => {
  /** A budget that allows `checks` checks, then says less than the reserve is left. */
  const budget = (checks: number) => {
    let n = 0;
    return () => (n++ < checks ? 10 * MINUTE : 10_000);
  };

  it('running out while judging jobs stops there: completed false, stoppedIn jobs, orphans not touched', async () => {
    for (const id of ['job_1', 'job_2', 'job_3', 'job_4', 'job_5']) await synced(id);
    schedules.handDelete('job_5');
    schedules.plant({ ...(await wanted(aJob({ id: 'job_Orphan' }))) });

    // One check for the listing, three for jobs.
    const report = await reconcileNow({ timeLeftMs: budget(4) });

    expect(report).toMatchObject({ completed: false, stoppedIn: 'jobs', jobs: 3, missing: 0, orphaned: 0 });
    expect(schedules.peek('job_5')).toBeUndefined();
    expect(schedules.peek('job_Orphan')).toBeDefined();
    expect(logger.messages('warn').some((m) => m.startsWith('reconciliation stopped before the end'))).toBe(
      true,
    );

    // The next run, with time, finishes the work.
    const next = await reconcileNow();
    expect(next).toMatchObject({ completed: true, missing: 1, orphaned: 1 });
    expect(next).not.toHaveProperty('stoppedIn');
  });

  it('running out while listing stops before judging any job', async () => {
    for (let i = 0; i < 150; i++) await synced(`job_${String(i).padStart(3, '0')}`);
    schedules.handDelete('job_000');

    const report = await reconcileNow({ timeLeftMs: budget(1) });

    expect(report).toMatchObject({
      completed: false,
      stoppedIn: 'listing',
      listCalls: 1,
      jobs: 0,
      missing: 0,
    });
    expect(schedules.peek('job_000')).toBeUndefined();
  });

  it('running out among the orphans stops there, after every job was judged', async () => {
    const job = await synced('job_1');
    schedules.handDelete(job.id);
    schedules.plant({ ...(await wanted(aJob({ id: 'job_Orphan' }))) });

    // The listing, the one job, then none left for the orphan.
    const report = await reconcileNow({ timeLeftMs: budget(2) });

    expect(report).toMatchObject({
      completed: false,
      stoppedIn: 'orphans',
      jobs: 1,
      missing: 1,
      orphaned: 0,
    });
    expect(schedules.names()).toEqual(['job_1', 'job_Orphan']);
  });
});
