/**
 * What follows a run's end, whoever ended it (the worker, the completion function, the
 * API's cancel): counted in the metrics, a failure announced, dependents told of a
 * success, and a backfill's next occurrence sent. Shared so every path ends a run alike.
 */
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import {
  type Clock,
  type Degradation,
  ENDED_STATUSES,
  type EndedStatus,
  type FailureNotifier,
  type FiringQueue,
  type JobRepository,
  type Logger,
  type RunMetrics,
  type RunRepository,
} from '../domain/ports.js';
import { type StoredRun, toPublicRun } from '../domain/run.js';
import { triggerDependents } from './dependencies.js';

export interface EndingDeps {
  clock: Clock;
  jobs: JobRepository;
  runs: RunRepository;
  queue: FiringQueue;
  notifier?: FailureNotifier;
  metrics?: RunMetrics;
  logger: Logger;
  /** From degradation level 3, dependents told of a success run later (issue 17). */
  degradation?: Degradation;
}

const FAILED_STATUSES: ReadonlySet<string> = new Set(['failed', 'timed_out', 'missed']);
const isEnded = (status: string): status is EndedStatus =>
  (ENDED_STATUSES as readonly string[]).includes(status);

/**
 * A run ended: counted, and a failure announced. Nothing is written to the job: the run
 * record is the history, and the API reads a job's last run from it.
 */
export async function ended(deps: EndingDeps, job: StoredJob, run: StoredRun): Promise<void> {
  if (isEnded(run.status)) {
    deps.metrics?.ended(run.status, job.priority, run.durationMs, {
      tenantId: run.tenantId,
      jobId: run.jobId,
      jobName: job.name,
      runId: run.id,
    });
  }
  if (deps.notifier && FAILED_STATUSES.has(run.status)) {
    await deps.notifier.runFailed(job, toPublicRun(run));
  }
}

/** Whether a job's runs take its overlap lock. */
export function isExclusive(job: StoredJob): boolean {
  return job.overlapPolicy !== 'allow';
}

/** After a run reached its final status and was recorded: the lock, the count, dependents, backfill. */
export async function afterFinal(deps: EndingDeps, job: StoredJob, run: StoredRun): Promise<void> {
  if (isExclusive(job)) {
    await deps.runs.releaseLock(run.tenantId, run.jobId, run.id);
    await wakeBuffered(deps, job);
  }
  await afterEnded(deps, job, run);
}

/** What follows any recorded final status, lock aside: the count, a failure announced, dependents, backfill. */
export async function afterEnded(deps: EndingDeps, job: StoredJob, run: StoredRun): Promise<void> {
  await ended(deps, job, run);
  if (run.status === 'succeeded' && run.finishedAt) {
    await triggerDependents(deps, run.tenantId, run.jobId, run.finishedAt, job.hasDependents);
  }
  if (run.trigger === 'backfill') await continueBackfill(deps, job, run);
}

/**
 * A backfill of a job whose runs may not overlap runs its occurrences one after another:
 * when one ends, the next is sent. Idempotent: only the run the backfill is at moves it on.
 */
export async function continueBackfill(
  deps: Pick<EndingDeps, 'runs' | 'queue' | 'logger'>,
  job: StoredJob,
  run: Pick<StoredRun, 'scheduledAt'>,
): Promise<void> {
  if (!isExclusive(job)) return;
  const next = await deps.runs.advanceBackfill(job.tenantId, job.id, run.scheduledAt);
  if (next) await deps.queue.send(job.priority, firing.backfill(job, new Date(next)));
}

/**
 * The lock was freed: the firing waiting behind it (buffer_one) goes now rather than at its
 * next look. A copy of the waiting firing, so the one still circulating finds it run.
 */
export async function wakeBuffered(
  deps: Pick<EndingDeps, 'runs' | 'queue'> & { clock: Clock },
  job: StoredJob,
): Promise<void> {
  if (job.overlapPolicy !== 'buffer_one') return;
  const { buffered } = await deps.runs.readLock(job.tenantId, job.id);
  if (!buffered) return;
  const run = await deps.runs.get(job.tenantId, job.id, buffered);
  if (run?.status !== 'queued' || run.attempt !== 0) return;
  const at = new Date(run.scheduledAt);
  const message =
    run.trigger === 'manual'
      ? firing.manual(job, run.id, at)
      : run.trigger === 'dependency'
        ? firing.dependency(job, run.id, run.scheduledAt)
        : firing.occurrence(job, run.trigger === 'retry' ? 'schedule' : run.trigger, at);
  // Delayed (to now): a firing that waited its turn is not a backlog to catch up on.
  await deps.queue.send(job.priority, firing.delayed(message, deps.clock.now()));
}
