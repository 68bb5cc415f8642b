import { type ReconcileReport, reconcile } from '../usecases/reconcile.js';
import { passiveJobs } from '../usecases/region-role.js';
import type { ReconcilerServices } from '../wiring/maintenance.js';

/**
 * Scheduler's default request-rate quotas are per account and shared with the API and the
 * sweeper (1,000/s for Get/Update/Delete in the large Regions, 250/s elsewhere); the
 * reconciler stays far under them, and under ListSchedules' lower one.
 */
const SCHEDULER_CALLS_PER_SECOND = 20;

/**
 * Spaces calls at most `perSecond` apart: a caller waits only for what is left of the
 * interval since the previous call, so the time a call itself takes counts toward it.
 */
export function pacer(perSecond: number): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = performance.now();
    const wait = next - now;
    next = Math.max(now, next) + interval;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  };
}

export interface ReconcileRunOptions {
  /** Milliseconds the run may still take: on Lambda, `context.getRemainingTimeInMillis`. */
  timeLeftMs?: () => number;
  /** Stop once less than this is left. Default 30 s. */
  reserveMs?: number;
}

/** The reconciler over injected services: the stack runs it every 15 minutes, `npm start` every 5. */
export function createReconcileHandler(
  services: ReconcilerServices,
  pace: () => Promise<void> = pacer(SCHEDULER_CALLS_PER_SECOND),
): (options?: ReconcileRunOptions) => Promise<ReconcileReport> {
  return async (options = {}) => {
    // A passive region keeps every schedule disabled and writes nothing to the jobs (issue 16).
    const passive = services.region.multiRegion && !(await services.region.current()).active;
    return reconcile({
      ...services,
      ...(passive ? { jobs: passiveJobs(services.jobs), listingOnly: true } : {}),
      pace,
      ...(options.timeLeftMs ? { timeLeftMs: options.timeLeftMs } : {}),
      ...(options.reserveMs !== undefined ? { reserveMs: options.reserveMs } : {}),
    });
  };
}
