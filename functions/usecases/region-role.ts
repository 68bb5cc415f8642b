/**
 * A region's side of a two-region deployment (issue 16), run by its sync function:
 *
 * - every minute, its heartbeat (when it ran, the role it believes it has, how far its last
 *   change of role got), and the change of role itself if the stream's news of it was missed;
 * - on the jobs table's stream: a passive region keeps every job's schedule in its own
 *   Scheduler, disabled, in step with the replicated job; a change of the active item makes
 *   it take over or stand down.
 *
 * Take over: each enabled job's schedule is applied from the job, enabled (paced under
 * Scheduler's quota, many at once, so 100,000 jobs take minutes, not an hour of one call
 * after another), then its failover gap — the occurrences after the last one the old region
 * recorded, up to now, and the older ones it never recorded — is handled by its catch-up policy with the occurrence's identity
 * (`trigger: catch_up`; the ones the policy does not run are recorded missed), and the runs
 * the old region left queued or running are driven again. Stand down: every job's schedule
 * applied disabled. Both are idempotent: a retried stream batch or the next heartbeat
 * carries on where one stopped.
 */
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import type {
  Clock,
  FiringQueue,
  JobRepository,
  Logger,
  RegionGate,
  RunRepository,
  ScheduleGateway,
} from '../domain/ports.js';
import type { Heartbeat, RegionState, RoleChange } from '../domain/region.js';
import { type StoredRun, scheduledRunId } from '../domain/run.js';
import { nextFireTimes, parseScheduleExpression } from '../domain/schedule/index.js';

export interface RegionRoleDeps {
  gate: RegionGate;
  store: {
    state(): Promise<RegionState>;
    beat(heartbeat: Heartbeat): Promise<void>;
    heartbeats(): Promise<Heartbeat[]>;
  };
  jobs: JobRepository;
  runs: Pick<RunRepository, 'list'>;
  queue: FiringQueue;
  gateway: ScheduleGateway;
  clock: Clock;
  logger: Logger;
  /** Waits before each Scheduler call of a takeover or stand-down (its rate quota). */
  pace?: () => Promise<void>;
  /** Told each minute: whether this region is active, and how old the other's heartbeat is. */
  report?: (active: boolean, peerHeartbeatAgeSeconds: number | null) => void;
  /** Jobs worked on at once by a change of role. Default 32. */
  concurrency?: number;
}

/** Runs `work` on each item with at most `limit` at once; the errors, counted. */
async function forEachAtOnce<T>(
  items: AsyncIterable<T>,
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<{ failed: number; firstError: unknown }> {
  const running = new Set<Promise<void>>();
  let failed = 0;
  let firstError: unknown;
  for await (const item of items) {
    const task: Promise<void> = work(item)
      .catch((error: unknown) => {
        failed++;
        firstError ??= error;
      })
      .finally(() => running.delete(task));
    running.add(task);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  return { failed, firstError };
}

/** How far back a failover's gap is looked at: older occurrences are left alone (and logged). */
export const GAP_LOOKBACK_HOURS = 24;
/** At most this many gap occurrences of one job are handled (the newest). */
export const MAX_GAP_OCCURRENCES = 1_000;
/**
 * How far before the newest recorded occurrence an unrecorded one still counts as in the gap:
 * a firing can wait on the lost region's queues that long (fair share, a buffered turn, SQS
 * redelivery) before it is recorded, newer occurrences recorded meanwhile.
 */
export const IN_FLIGHT_HORIZON_MS = 15 * 60_000;
/** Runs read per page, and at most so many pages, to cover the horizon. */
const RUNS_PAGE = 100;
const MAX_RUN_PAGES = 5;

/** A job as a passive region keeps its schedule: disabled, whatever the job's state. */
export function passiveView(job: StoredJob): StoredJob {
  const { syncPendingAt: _marker, scheduleSyncedAt: _synced, ...rest } = job;
  return { ...rest, state: job.state === 'enabled' ? 'paused' : job.state } as StoredJob;
}

/** The jobs as the passive reconciler sees them: disabled, and nothing written back. */
export function passiveJobs(jobs: JobRepository): JobRepository {
  // Every other method as the store has it (its prototype), these three as a passive region sees them.
  const view = Object.create(jobs) as JobRepository;
  view.get = async (tenantId, jobId) => {
    const job = await jobs.get(tenantId, jobId);
    return job && passiveView(job);
  };
  view.scanAll = async function* () {
    for await (const job of jobs.scanAll()) yield passiveView(job);
  };
  // The jobs are the active region's items: a passive one never writes them (last writer wins).
  view.clearSyncMarker = async () => true;
  return view;
}

/** The minute's heartbeat; runs the change of role the active item asks for if not done yet. */
export async function heartbeat(deps: RegionRoleDeps): Promise<Heartbeat> {
  const region = deps.gate.region;
  deps.gate.invalidate();
  const [state, beats] = await Promise.all([deps.store.state(), deps.store.heartbeats()]);
  const own = beats.find((h) => h.region === region);
  const role = state.activeRegion === region ? 'active' : 'passive';
  let change = own?.change ?? null;
  // The stream's news of the change was missed or its handling failed: do it now. A region
  // that never changed role (first start) passive lays down its disabled schedules.
  const due =
    change === null
      ? role === 'passive' || state.epoch > 0
      : change.epoch !== state.epoch || change.state === 'failed';
  if (due) change = await changeRole(deps, state).catch(() => null);
  const now = deps.clock.now();
  const beat: Heartbeat = { region, at: now.toISOString(), role, epoch: state.epoch, change };
  await deps.store.beat(beat);
  const peer = beats.find((h) => h.region !== region);
  deps.report?.(role === 'active', peer ? Math.round((now.getTime() - Date.parse(peer.at)) / 1000) : null);
  return beat;
}

/**
 * Takes over or stands down as `state` says, recording its progress on this region's
 * heartbeat (what `sundial dr status` and the drill read). Throws if it failed; what it did
 * stays done, and a retry carries on.
 */
export async function changeRole(deps: RegionRoleDeps, state: RegionState): Promise<RoleChange> {
  const region = deps.gate.region;
  deps.gate.invalidate();
  const role = state.activeRegion === region ? 'active' : 'passive';
  const startedAt = deps.clock.now().toISOString();
  const change: RoleChange = {
    epoch: state.epoch,
    role,
    state: 'running',
    startedAt,
    finishedAt: null,
    schedules: 0,
    caughtUp: 0,
    missed: 0,
    redriven: 0,
    error: null,
  };
  const record = async () =>
    deps.store.beat({ region, at: deps.clock.now().toISOString(), role, epoch: state.epoch, change });
  await record();
  deps.logger.warn(
    role === 'active'
      ? 'taking over: this region is now active'
      : 'standing down: this region is now passive',
    {
      region,
      epoch: state.epoch,
      previousRegion: state.previousRegion,
    },
  );
  try {
    const pace = deps.pace ?? (async () => undefined);
    const now = deps.clock.now();
    const { failed, firstError } = await forEachAtOnce(
      deps.jobs.scanAll(),
      deps.concurrency ?? 32,
      async (job) => {
        if (job.state === 'deleting' || !job.schedule) return;
        if (role === 'passive') {
          await pace();
          await deps.gateway.apply(passiveView(job), { exists: true });
          change.schedules++;
          return;
        }
        if (job.state !== 'enabled') return; // a passive region keeps it disabled already
        await pace();
        await deps.gateway.apply(job, { exists: true });
        change.schedules++;
        // As the reconciler records a repair: the schedule is this version's as of now. A job
        // with a sync marker is left to the sweeper, which applies and clears it.
        if (!job.syncPendingAt)
          await deps.jobs.clearSyncMarker(job.tenantId, job.id, job.version, now.toISOString());
        const done = await catchUpGap(deps, job, state, now);
        change.caughtUp += done.run;
        change.missed += done.missed;
        change.redriven += done.redriven;
      },
    );
    if (failed > 0) {
      throw new Error(
        `${failed} jobs could not be changed (first: ${firstError instanceof Error ? firstError.message : String(firstError)})`,
      );
    }
    change.state = 'done';
  } catch (error) {
    change.state = 'failed';
    change.error = error instanceof Error ? error.message : String(error);
    deps.logger.error('change of role failed; the next heartbeat or stream retry carries on', {
      region,
      epoch: state.epoch,
      error: change.error,
    });
  }
  change.finishedAt = deps.clock.now().toISOString();
  await record();
  if (change.state === 'failed') throw new Error(change.error ?? 'change of role failed');
  deps.logger.warn('change of role done', { region, ...change });
  return change;
}

const OCCURRENCE_TRIGGERS = new Set(['schedule', 'catch_up']);
const IN_PROGRESS = new Set(['queued', 'running']);

/**
 * One job's failover gap: every occurrence up to `now` with no record (by either region),
 * from 15 minutes before the newest recorded one (what may still have been in flight in the
 * lost region) or the job's creation, each sent to run or to be recorded missed as the job's
 * catch-up policy says;
 * and its runs left queued or running sent again, so the worker here resumes or takes them
 * over (a live claim makes it wait; a long run is the completion sweep's, which reads the
 * same replicated index).
 */
async function catchUpGap(
  deps: RegionRoleDeps,
  job: StoredJob,
  state: RegionState,
  now: Date,
): Promise<{ run: number; missed: number; redriven: number }> {
  const done = { run: 0, missed: 0, redriven: 0 };
  if (job.state !== 'enabled') return done;
  const lookback = now.getTime() - GAP_LOOKBACK_HOURS * 3_600_000;
  // The runs back to the in-flight horizon before the newest recorded occurrence: what was
  // recorded (by either region), and what was left in progress.
  const recent: StoredRun[] = [];
  // Strictly after the creation, as Scheduler fires a new schedule (and the emulator does).
  let floor = Math.max(Date.parse(job.createdAt), lookback);
  let newest = 0;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_RUN_PAGES; page++) {
    const { items, nextCursor } = await deps.runs.list(job.tenantId, job.id, {
      limit: RUNS_PAGE,
      ...(cursor ? { cursor } : {}),
    });
    for (const r of items) {
      if (r.id.includes('_passive_')) continue;
      recent.push(r);
      if (OCCURRENCE_TRIGGERS.has(r.trigger)) newest = Math.max(newest, Date.parse(r.scheduledAt));
    }
    if (newest > 0) floor = Math.max(floor, newest - IN_FLIGHT_HORIZON_MS);
    const oldest = items.at(-1);
    cursor = nextCursor ?? undefined;
    if (!cursor || !oldest || Date.parse(oldest.scheduledAt) <= floor) break;
  }
  for (const run of recent) {
    if (!IN_PROGRESS.has(run.status) || run.deadlineAt) continue;
    const message = redrive(job, run);
    if (!message) continue;
    await deps.queue.send(job.priority, message);
    done.redriven++;
  }
  if (!job.schedule) return done;
  const parsed = parseScheduleExpression(job.schedule.expression);
  if (!parsed.ok) return done;
  const recorded = new Set(recent.map((r) => r.id));
  const schedule = job.schedule;
  // Every occurrence after the floor with no record: after the newest recorded one, and the
  // older ones still in flight in the lost region (on its queues, waiting their turn).
  const gap = nextFireTimes(parsed.schedule, {
    timezone: schedule.timezone,
    after: new Date(floor),
    endAt: now,
    count: MAX_GAP_OCCURRENCES,
    createdAt: new Date(job.createdAt),
    ...(schedule.startAt ? { startAt: new Date(schedule.startAt) } : {}),
  }).filter(
    (t) => (!schedule.endAt || t.getTime() <= Date.parse(schedule.endAt)) && !recorded.has(scheduledRunId(t)),
  );
  if (gap.length === 0) return done;
  const windowStart = now.getTime() - job.catchUpWindowMinutes * 60_000;
  const from = state.previousRegion ?? 'the previous region';
  for (const [i, t] of gap.entries()) {
    const runIt =
      job.catchUp === 'all' ? t.getTime() >= windowStart : job.catchUp === 'latest' && i === gap.length - 1;
    if (runIt) {
      await deps.queue.send(job.priority, firing.catchUp(job, t));
      done.run++;
    } else {
      const why =
        job.catchUp === 'none'
          ? 'its catchUp policy is "none"'
          : job.catchUp === 'latest'
            ? 'with catchUp "latest" only the newest of the gap runs'
            : `it is older than the catch-up window of ${job.catchUpWindowMinutes} min`;
      const reason = `fell in the failover gap from ${from} to ${deps.gate.region} (epoch ${state.epoch}) and is not run: ${why}`;
      await deps.queue.send(job.priority, firing.catchUpMissed(job, t, reason));
      done.missed++;
    }
  }
  deps.logger.info('failover gap handled', { tenantId: job.tenantId, jobId: job.id, ...done });
  return done;
}

/** The message that makes this region's worker carry on with a run another region left. */
function redrive(job: StoredJob, run: StoredRun) {
  const scheduledAt = new Date(run.scheduledAt);
  if (run.status === 'queued' && run.attempt > 0) {
    // Waiting for its next attempt: the retry the old region's queue held.
    const notBefore = run.nextAttemptAt ? new Date(run.nextAttemptAt) : scheduledAt;
    return firing.retry(
      { tenantId: job.tenantId, jobId: job.id, scheduledTime: run.scheduledAt, jobVersion: job.version },
      run.id,
      run.attempt + 1,
      notBefore,
    );
  }
  switch (run.trigger) {
    case 'schedule':
    case 'catch_up':
    case 'backfill':
      return firing.occurrence(job, run.trigger, scheduledAt);
    case 'manual':
      return firing.manual(job, run.id, scheduledAt);
    case 'dependency':
      return firing.dependency(job, run.id, run.scheduledAt);
    default:
      return undefined;
  }
}

/**
 * One record of the jobs table's stream, as a passive region acts on it: a job's schedule
 * applied disabled (or removed), or a change of the active item (take over or stand down).
 * An active region's own API keeps its schedules in step, so job records change nothing there.
 */
export async function onJobsTableChange(
  deps: RegionRoleDeps,
  change: {
    keys: { pk: string; sk: string };
    newItem?: Record<string, unknown>;
    toJob: (item: Record<string, unknown>) => StoredJob;
  },
): Promise<string> {
  const { pk, sk } = change.keys;
  if (pk === 'REGION' && sk === 'ACTIVE') {
    deps.gate.invalidate();
    const state = await deps.store.state();
    const own = (await deps.store.heartbeats()).find((h) => h.region === deps.gate.region);
    if (own?.change && own.change.epoch === state.epoch && own.change.state === 'done')
      return 'role unchanged';
    const done = await changeRole(deps, state);
    return `${done.role} at epoch ${done.epoch}`;
  }
  if (!sk.startsWith('JOB#')) return 'not a job';
  if ((await deps.gate.current()).active) return 'active: the API syncs';
  const jobId = sk.slice('JOB#'.length);
  const item = change.newItem;
  if (!item || item.state === 'deleting') {
    await deps.gateway.remove(jobId);
    return 'schedule removed';
  }
  await deps.gateway.apply(passiveView(change.toJob(item)));
  return 'schedule applied disabled';
}
