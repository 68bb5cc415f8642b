/**
 * Dependencies: a job with `dependsOn` runs (trigger "dependency") once every job it
 * depends on has succeeded since its own last run. Called whenever a run succeeds, and
 * again on a redelivery of that run's message, so a crash in between loses nothing.
 *
 * The run's identity comes from the satisfaction it answers (the latest of the
 * dependencies' successes), so two workers finding the same satisfaction queue the same
 * run, and its claim makes it run once (invariant 2).
 */
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import type {
  Clock,
  Degradation,
  FiringQueue,
  JobRepository,
  Logger,
  RunMetrics,
  RunRepository,
} from '../domain/ports.js';
import { scheduledRunId } from '../domain/run.js';

export interface DependencyDeps {
  jobs: Pick<JobRepository, 'get' | 'listDependents' | 'recordSuccess' | 'advanceDependencyCursor'>;
  runs: Pick<RunRepository, 'latest'>;
  queue: FiringQueue;
  logger: Logger;
  /** From degradation level 3, dependency runs are sent with a delay (issue 17); needs the clock. */
  degradation?: Pick<Degradation, 'level' | 'settings'>;
  clock?: Clock;
  metrics?: Pick<RunMetrics, 'degraded'>;
}

/** The run a dependency satisfaction at `satisfiedAt` stands for. */
export function dependencyRunId(satisfiedAt: Date): string {
  return `${scheduledRunId(satisfiedAt)}_d`;
}

/**
 * `jobId` succeeded at `succeededAt`: if any job depends on it, records the success (only
 * then: a job nobody depends on gets no write) and queues a run of every dependent whose
 * dependencies have all succeeded. Returns how many runs were queued.
 *
 * `hasDependents` is the job's flag as its run read it: false means no job depended on it
 * when the run started, and nothing is read (a dependent created during the run waits for
 * the next success). Unknown (undefined) means look.
 */
export async function triggerDependents(
  deps: DependencyDeps,
  tenantId: string,
  jobId: string,
  succeededAt: string,
  hasDependents?: boolean,
): Promise<number> {
  if (hasDependents === false) return 0;
  const dependents = await deps.jobs.listDependents(tenantId, jobId);
  if (dependents.length === 0) return 0;
  await deps.jobs.recordSuccess(tenantId, jobId, succeededAt);
  // Degradation's third step: dependents still run, later. The run's identity is the
  // satisfaction's, so a delayed message and a redelivery's prompt one are the same run.
  const delayUntil =
    deps.degradation && deps.clock && (await deps.degradation.level()) >= 3
      ? new Date(deps.clock.now().getTime() + deps.degradation.settings.dependencyDelaySeconds * 1000)
      : undefined;
  let queued = 0;
  for (const dependentId of dependents) {
    const dependent = await deps.jobs.get(tenantId, dependentId);
    // A stale edge, a job being deleted, or a paused job: nothing to run.
    if (dependent?.state !== 'enabled' || !(dependent.dependsOn ?? []).includes(jobId)) continue;
    const satisfiedAt = await satisfaction(deps, dependent);
    if (!satisfiedAt) continue;
    const runId = dependencyRunId(new Date(satisfiedAt));
    // The message goes first: a crash after it is healed by the run's claim, one before
    // it by the redelivery that calls this again.
    const message = firing.dependency(dependent, runId, satisfiedAt);
    await deps.queue.send(dependent.priority, delayUntil ? firing.delayed(message, delayUntil) : message);
    await deps.jobs.advanceDependencyCursor(tenantId, dependent.id, satisfiedAt);
    queued++;
    if (delayUntil) deps.metrics?.degraded?.('dependents-delayed');
    deps.logger.info('dependency run queued', {
      tenantId,
      jobId: dependent.id,
      runId,
      after: jobId,
      ...(delayUntil ? { delayedUntil: delayUntil.toISOString() } : {}),
    });
  }
  return queued;
}

/**
 * When every dependency has succeeded since the dependent's own last run (or its last
 * dependency run, or its creation), the latest of those successes; otherwise null.
 */
async function satisfaction(deps: DependencyDeps, dependent: StoredJob): Promise<string | null> {
  const ownLast = await deps.runs.latest(dependent.tenantId, dependent.id);
  const since = [dependent.createdAt, ownLast?.scheduledAt, dependent.dependencyCursor]
    .filter((t): t is string => typeof t === 'string')
    .reduce((a, b) => (a > b ? a : b));
  let latest = '';
  for (const id of dependent.dependsOn ?? []) {
    const dependency = await deps.jobs.get(dependent.tenantId, id);
    const succeededAt = dependency?.lastSucceededAt;
    if (!succeededAt || succeededAt <= since) return null;
    if (succeededAt > latest) latest = succeededAt;
  }
  return latest || null;
}
