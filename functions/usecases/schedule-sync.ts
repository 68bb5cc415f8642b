/**
 * Keeping each job's schedule in step with the job (invariant 1): applied after every
 * change by the job service, and, for what a crash left behind (the sync marker still
 * set), by the sweeper. Needs only the jobs table and the Scheduler.
 */
import { SYNC_SHARDS } from '../../lib/definitions.js';
import type { StoredJob } from '../domain/job.js';
import type { Clock, JobRepository, Logger, ScheduleWriter } from '../domain/ports.js';

export interface ScheduleSyncDeps {
  jobs: Pick<JobRepository, 'get' | 'deleteIfVersion' | 'clearSyncMarker' | 'listSyncPending'>;
  schedules: ScheduleWriter;
  clock: Clock;
  logger: Logger;
}

/** Attempts of the write-apply-clear loop when the job keeps changing under us. */
const MAX_SYNC_ROUNDS = 5;

export class ScheduleSync {
  constructor(private readonly deps: ScheduleSyncDeps) {}

  /**
   * Makes the schedule match the latest stored job. Safe to run any number of times from
   * anywhere: it re-reads the job, applies it, and clears the marker only for the version
   * it applied, looping if a newer write landed meanwhile.
   *
   * `written`: the job as the caller has just written it (marker set), to apply without
   * reading it back. Safe: if anything wrote the job since, clearing the marker for this
   * version fails and the next round reads what is there.
   */
  async syncJob(
    tenantId: string,
    jobId: string,
    written?: StoredJob,
  ): Promise<'synced' | 'deleted' | 'absent' | 'clean'> {
    for (let round = 0; round < MAX_SYNC_ROUNDS; round++) {
      const job = round === 0 && written ? written : await this.deps.jobs.get(tenantId, jobId);
      if (!job) return 'absent';
      if (!job.syncPendingAt && job !== written) return 'clean';
      if (job.state === 'deleting') {
        await this.deps.schedules.remove(jobId);
        if (await this.deps.jobs.deleteIfVersion(job)) return 'deleted';
        continue;
      }
      await this.deps.schedules.apply(job);
      // When the write was done: the reconciler reads a schedule modified later than this.
      const syncedAt = this.deps.clock.now().toISOString();
      if (await this.deps.jobs.clearSyncMarker(tenantId, jobId, job.version, syncedAt)) return 'synced';
    }
    throw new Error(`job ${jobId} kept changing during schedule sync; the sweeper will retry`);
  }

  /**
   * Repairs jobs whose sync marker is older than `graceSeconds`: what a crash between the
   * table write and the Scheduler call left behind. Returns how many it repaired.
   */
  async sweepSyncPending(
    graceSeconds: number,
    perShardLimit = 100,
  ): Promise<{ repaired: number; failed: number }> {
    const before = new Date(this.deps.clock.now().getTime() - graceSeconds * 1000).toISOString();
    let repaired = 0;
    let failed = 0;
    for (let shard = 0; shard < SYNC_SHARDS; shard++) {
      const pending = await this.deps.jobs.listSyncPending(shard, before, perShardLimit);
      for (const { tenantId, jobId } of pending) {
        try {
          const outcome = await this.syncJob(tenantId, jobId);
          if (outcome === 'synced' || outcome === 'deleted') repaired++;
          this.deps.logger.info('schedule repaired by sweeper', { tenantId, jobId, outcome });
        } catch (error) {
          failed++;
          this.deps.logger.error('schedule repair failed', { tenantId, jobId, error: String(error) });
        }
      }
    }
    return { repaired, failed };
  }
}
