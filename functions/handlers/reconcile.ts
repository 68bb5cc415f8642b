import { pacer } from '../commons/pace.js';
import { type ReconcileReport, reconcile } from '../usecases/reconcile.js';
import type { ReconcilerServices } from '../wiring/maintenance.js';

/** Two regions' roles: loaded only where a deployment has two (most have one). */
const regionRole = () => import('../usecases/region-role.js');

/**
 * Scheduler's default request-rate quotas are per account and shared with the API and the
 * sweeper (1,000/s for Get/Update/Delete in the large Regions, 250/s elsewhere); the
 * reconciler stays far under them, and under ListSchedules' lower one.
 */
const SCHEDULER_CALLS_PER_SECOND = 20;

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
      ...(passive ? { jobs: (await regionRole()).passiveJobs(services.jobs), listingOnly: true } : {}),
      pace,
      ...(options.timeLeftMs ? { timeLeftMs: options.timeLeftMs } : {}),
      ...(options.reserveMs !== undefined ? { reserveMs: options.reserveMs } : {}),
    });
  };
}
