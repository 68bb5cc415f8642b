/**
 * The reconciler: compares the jobs table (the truth) with the schedules in Sundial's
 * schedule group and repairs drift both ways — a missing or disabled/enabled-wrong
 * schedule is re-applied, one whose expression, time zone, window or target was edited by
 * hand is re-applied, and a schedule with no job is deleted. A maintenance job: it scans
 * the table and pages through the group.
 *
 * Its cost follows the number of jobs only through the scan and the listing (one
 * ListSchedules call per 100 schedules). The listing already tells, per schedule, whether
 * it exists, its state, its target and when it was last modified; a schedule is read in
 * full (GetSchedule) only when it was modified after the time its job records as
 * `scheduleSyncedAt` — Sundial's own last write, or the modification the reconciler last
 * compared and found good — so an unchanged group costs no GetSchedule at all. A run that
 * runs out of time stops cleanly and says so; what it checked and repaired is recorded on
 * the jobs, so the next run goes quickly past it.
 */
import type { StoredJob } from '../domain/job.js';
import type { Clock, JobRepository, Logger, ScheduleGateway, ScheduleView } from '../domain/ports.js';

export interface ReconcileDeps {
  jobs: JobRepository;
  /** Sundial's schedule group, listed, read and written. */
  gateway: ScheduleGateway;
  logger: Logger;
  /** Waits before each Scheduler call, keeping under its rate quota. */
  pace?: () => Promise<void>;
  /** Sundial's clock: what `scheduleSyncedAt` is written in after a repair. */
  clock: Clock;
  /** Milliseconds the run may still take (a Lambda's remaining time); unlimited without. */
  timeLeftMs?: () => number;
  /** Stop once less than this is left, to finish, log and return in time. Default 30 s. */
  reserveMs?: number;
  /**
   * Judge schedules by the listing alone (state, target, presence): no GetSchedule. A
   * region's takeover or stand-down only enables or disables, and a passive region's jobs
   * carry the times of the active region's Scheduler writes, which say nothing of its own.
   */
  listingOnly?: boolean;
}

export interface ReconcileReport {
  /** Jobs read from the table (all of them when `completed`). */
  jobs: number;
  /** Schedules listed in the group. */
  schedules: number;
  /** Enabled jobs whose schedule was gone: re-created. */
  missing: number;
  /** Schedules that differed from their job (state, expression, target…): re-applied. */
  drifted: number;
  /** Schedules with no job (or a job without a schedule): deleted. */
  orphaned: number;
  failed: number;
  /** Jobs left to their own sync: a pending marker, being deleted, or changed during the run. */
  skipped: number;
  /** ListSchedules pages read (100 schedules each). */
  listCalls: number;
  /** GetSchedule calls: only for schedules modified since Sundial last wrote or checked them. */
  getScheduleCalls: number;
  /** Schedules read in full, found to match, and recorded so that later runs skip them. */
  verified: number;
  /** False when the run stopped at its time budget; then orphans were not looked for. */
  completed: boolean;
  /** Where an incomplete run stopped. */
  stoppedIn?: 'listing' | 'jobs' | 'orphans';
  durationMs: number;
}

/** What the listing says of one schedule: enough to judge most jobs without a GetSchedule. */
interface Listed {
  enabled: boolean;
  target: string | undefined;
  /** LastModificationDate, epoch ms. */
  modifiedAt: number | undefined;
}

const DEFAULT_RESERVE_MS = 30_000;

class OutOfTime extends Error {
  constructor(readonly phase: NonNullable<ReconcileReport['stoppedIn']>) {
    super(`out of time while ${phase}`);
  }
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const started = performance.now();
  const pace = deps.pace ?? (() => Promise.resolve());
  const { clock } = deps;
  const reserve = deps.reserveMs ?? DEFAULT_RESERVE_MS;
  const report: ReconcileReport = {
    jobs: 0,
    schedules: 0,
    missing: 0,
    drifted: 0,
    orphaned: 0,
    failed: 0,
    skipped: 0,
    listCalls: 0,
    getScheduleCalls: 0,
    verified: 0,
    completed: false,
    durationMs: 0,
  };
  const checkTime = (phase: NonNullable<ReconcileReport['stoppedIn']>) => {
    if (deps.timeLeftMs && deps.timeLeftMs() < reserve) throw new OutOfTime(phase);
  };

  // A job (re)synced after this instant may be newer than what the listing showed of it.
  const listStartedAt = clock.now().toISOString();
  // ~150 bytes a schedule (its name, the map entry, a small record; target ARNs shared):
  // 100,000 schedules hold ~15 MB (measured), which a 512 MB function carries easily.
  const listed = new Map<string, Listed>();
  const targets = new Map<string, string>();

  const repair = async (kind: 'missing' | 'drifted' | 'orphaned', name: string, fix: () => Promise<void>) => {
    try {
      await pace();
      await fix();
      report[kind]++;
      deps.logger.warn('schedule drift repaired', { kind, schedule: name });
    } catch (error) {
      report.failed++;
      deps.logger.error('schedule drift repair failed', { kind, schedule: name, error: String(error) });
    }
  };

  /**
   * Re-applies a job's schedule from a fresh read of the job, unless it changed since the
   * scan (its own sync then applies it), and records when the write was done.
   */
  const repairJob = async (kind: 'missing' | 'drifted' | 'orphaned', scanned: StoredJob) => {
    const job = await deps.jobs.get(scanned.tenantId, scanned.id);
    if (
      !job ||
      job.syncPendingAt ||
      job.state === 'deleting' ||
      job.version !== scanned.version ||
      (job.scheduleSyncedAt !== undefined && job.scheduleSyncedAt > listStartedAt)
    ) {
      report.skipped++;
      return;
    }
    await repair(kind, job.id, async () => {
      await deps.gateway.apply(job);
      const recorded = await deps.jobs.clearSyncMarker(
        job.tenantId,
        job.id,
        job.version,
        clock.now().toISOString(),
      );
      // Changed meanwhile: the change's own sync applies the newer version.
      if (!recorded) deps.logger.warn('job changed during its repair', { schedule: job.id });
    });
  };

  try {
    let token: string | undefined;
    do {
      checkTime('listing');
      await pace();
      const page = await deps.gateway.list(token);
      report.listCalls++;
      for (const s of page.schedules) {
        const arn = s.targetArn;
        // One string per queue ARN, shared by every schedule that names it.
        let target = arn === undefined ? undefined : targets.get(arn);
        if (arn !== undefined && target === undefined) {
          target = arn;
          targets.set(arn, arn);
        }
        listed.set(s.name, {
          enabled: s.enabled,
          target,
          modifiedAt: s.modifiedAt ? Date.parse(s.modifiedAt) : undefined,
        });
      }
      token = page.nextToken;
    } while (token);
    report.schedules = listed.size;

    for await (const job of deps.jobs.scanAll()) {
      checkTime('jobs');
      report.jobs++;
      const name = job.id;
      const schedule = listed.get(name);
      // What is left in `listed` after the scan belongs to no job.
      listed.delete(name);
      // A job being changed or deleted is the sync sweeper's: its marker is still set.
      if (job.syncPendingAt || job.state === 'deleting') {
        report.skipped++;
        continue;
      }
      if (!job.schedule) {
        if (schedule) await repairJob('orphaned', job);
        continue;
      }
      if (!schedule) {
        await repairJob('missing', job);
        continue;
      }
      const verdict = await judge(deps, job, schedule);
      if (verdict === 'clean') continue;
      if (verdict === 'drifted') {
        await repairJob('drifted', job);
        continue;
      }
      // Modified after Sundial last wrote or checked it: read it in full.
      let got: ScheduleView | undefined;
      try {
        await pace();
        report.getScheduleCalls++;
        got = await deps.gateway.get(name);
      } catch (error) {
        report.failed++;
        deps.logger.error('schedule could not be read', { schedule: name, error: String(error) });
        continue;
      }
      if (!got || (await differs(deps, job, got))) {
        await repairJob(got ? 'drifted' : 'missing', job);
        continue;
      }
      await verified(deps, job, got, report);
    }

    for (const name of listed.keys()) {
      checkTime('orphans');
      await repair('orphaned', name, () => deps.gateway.remove(name));
    }
    report.completed = true;
  } catch (error) {
    if (!(error instanceof OutOfTime)) throw error;
    report.stoppedIn = error.phase;
  }
  report.durationMs = Math.round(performance.now() - started);
  if (report.completed) deps.logger.info('reconciliation finished', { ...report });
  else
    deps.logger.warn(
      'reconciliation stopped before the end at its time budget; the next run continues (checked jobs are recorded)',
      { ...report },
    );
  return report;
}

/**
 * What the listing tells of a job's schedule: drifted (state or target differ), clean
 * (not modified since Sundial last wrote or checked it), or unknown (read it in full).
 */
async function judge(
  deps: ReconcileDeps,
  job: StoredJob,
  schedule: Listed,
): Promise<'clean' | 'drifted' | 'unknown'> {
  const want = await deps.gateway.desired({ ...job, schedule: job.schedule! });
  if (schedule.enabled !== want.enabled || schedule.target !== want.targetArn) return 'drifted';
  if (deps.listingOnly) return 'clean';
  if (job.scheduleSyncedAt === undefined || schedule.modifiedAt === undefined) return 'unknown';
  // No margin for clock skew: one that makes Sundial's own write look later costs one
  // GetSchedule, after which the exact modification time is recorded; a margin would
  // instead hide every hand edit made within it after Sundial's write.
  return schedule.modifiedAt <= Date.parse(job.scheduleSyncedAt) ? 'clean' : 'unknown';
}

/** Records that the schedule, as last modified, matches this version of the job. */
async function verified(
  deps: ReconcileDeps,
  job: StoredJob,
  got: ScheduleView,
  report: ReconcileReport,
): Promise<void> {
  if (!got.modifiedAt) return;
  const at = got.modifiedAt;
  try {
    // The job had no marker and, at the same version, still has none: this only sets the time.
    if (await deps.jobs.clearSyncMarker(job.tenantId, job.id, job.version, at)) report.verified++;
  } catch (error) {
    deps.logger.warn('schedule check could not be recorded', { schedule: job.id, error: String(error) });
  }
}

/** Whether the schedule in Scheduler is not what the job says it should be. */
async function differs(deps: ReconcileDeps, job: StoredJob, got: ScheduleView): Promise<boolean> {
  const want = await deps.gateway.desired({ ...job, schedule: job.schedule! });
  return SCHEDULE_FIELDS.some((field) => got[field] !== want[field]);
}

/** What a schedule must match of its job: all it is made of but its name and modification time. */
const SCHEDULE_FIELDS = [
  'expression',
  'timezone',
  'enabled',
  'startAt',
  'endAt',
  'flexibleWindowMinutes',
  'targetArn',
  'roleArn',
  'input',
] as const satisfies readonly (keyof ScheduleView)[];
