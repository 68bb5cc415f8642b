/**
 * What the worker does with one firing: load the job, claim the run for (job, scheduled
 * time), call the target, record the outcome. Each path ends in a run record or a
 * deliberate drop with a log line (invariant 3).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { HttpCaller } from '../adapters/http-target.js';
import type { JobStore } from '../adapters/job-store.js';
import type { RunStore, StoredRun } from '../adapters/run-store.js';
import type { Clock } from '../commons/clock.js';
import { computeNextRunAt, type Job } from '../domain/job.js';
import { scheduledRunId, TERMINAL_STATUSES } from '../domain/run.js';
import type { JobServiceLogger } from './jobs.js';

export const firingMessageSchema = z.object({
  v: z.literal(1),
  tenantId: z.string().min(1),
  jobId: z.string().min(1),
  scheduledTime: z.iso.datetime({ offset: true }),
  trigger: z.literal('schedule'),
});
export type FiringMessageBody = z.infer<typeof firingMessageSchema>;

export interface ExecuteDeps {
  jobs: JobStore;
  runs: RunStore;
  callTarget: HttpCaller;
  clock: Clock;
  logger: JobServiceLogger;
}

/**
 * - `done`: the firing is fully handled (run recorded, duplicate, or deliberately dropped);
 * - `retry`: another worker holds a live claim; let SQS redeliver later.
 */
export type FiringOutcome =
  | { result: 'done'; detail: string; run?: StoredRun }
  | { result: 'retry'; detail: string };

/** Seconds a claim outlives the target timeout, covering the bookkeeping around the call. */
const LEASE_MARGIN_SECONDS = 30;

export async function executeFiring(deps: ExecuteDeps, message: FiringMessageBody): Promise<FiringOutcome> {
  const { tenantId, jobId } = message;
  const scheduledAt = new Date(message.scheduledTime);
  const runId = scheduledRunId(scheduledAt);
  const log = { tenantId, jobId, runId, scheduledTime: message.scheduledTime };

  const job = await deps.jobs.get(tenantId, jobId);
  if (!job || job.state === 'deleting') {
    deps.logger.info('firing dropped: job no longer exists', log);
    return { result: 'done', detail: 'job deleted' };
  }

  const now = deps.clock.now();
  const base: StoredRun = {
    id: runId,
    jobId,
    tenantId,
    scheduledAt: scheduledAt.toISOString(),
    trigger: 'schedule',
    status: 'running',
    attempt: 1,
    startedAt: now.toISOString(),
    finishedAt: null,
    durationMs: null,
    result: null,
    error: null,
    skipReason: null,
  };

  if (job.state === 'paused') {
    // A firing that raced a pause: recorded, not run.
    const skipped: StoredRun = {
      ...base,
      status: 'skipped',
      startedAt: null,
      finishedAt: now.toISOString(),
      skipReason: 'job is paused',
    };
    const claim = await deps.runs.claim(skipped, now);
    if (claim.claimed) await recordOnJob(deps, job as Job, skipped, now);
    deps.logger.info('firing skipped: job is paused', log);
    return { result: 'done', detail: 'skipped', run: claim.claimed ? skipped : claim.existing };
  }

  const claimToken = randomUUID();
  const leaseUntil = new Date(now.getTime() + (job.target.timeoutSeconds + LEASE_MARGIN_SECONDS) * 1000);
  const claim = await deps.runs.claim({ ...base, claimToken, leaseUntil: leaseUntil.toISOString() }, now);
  if (!claim.claimed) {
    const existing = claim.existing;
    if (existing && TERMINAL_STATUSES.has(existing.status)) {
      deps.logger.info('duplicate firing ignored: run already recorded', { ...log, status: existing.status });
      return { result: 'done', detail: 'duplicate', run: existing };
    }
    return { result: 'retry', detail: 'run in progress elsewhere' };
  }

  const started = deps.clock.now();
  const outcome = await deps.callTarget(job.target, { jobId, runId, scheduledAt: base.scheduledAt });
  const finished = deps.clock.now();
  const durationMs = Math.max(0, finished.getTime() - started.getTime());
  const run: StoredRun = { ...base, claimToken, finishedAt: finished.toISOString(), durationMs };
  if (outcome.kind === 'response') {
    run.result = { statusCode: outcome.statusCode, bodyExcerpt: outcome.bodyExcerpt };
    if (outcome.statusCode >= 200 && outcome.statusCode < 300) {
      run.status = 'succeeded';
    } else {
      run.status = 'failed';
      run.error = { type: 'http_status', message: `target answered HTTP ${outcome.statusCode}` };
    }
  } else if (outcome.kind === 'timeout') {
    run.status = 'timed_out';
    run.error = { type: 'timeout', message: outcome.message };
  } else {
    run.status = 'failed';
    run.error = { type: 'network', message: outcome.message };
  }
  const { leaseUntil: _lease, ...finalRun } = run;
  if (!(await deps.runs.finish(finalRun, claimToken, finished))) {
    deps.logger.warn('run outcome not recorded: claim was taken over', log);
    return { result: 'done', detail: 'claim lost' };
  }
  await recordOnJob(deps, job as Job, finalRun, finished);
  deps.logger.info('run finished', { ...log, status: run.status, durationMs });
  return { result: 'done', detail: run.status, run: finalRun };
}

async function recordOnJob(deps: ExecuteDeps, job: Job, run: StoredRun, now: Date): Promise<void> {
  await deps.jobs.recordLastRun(
    job.tenantId,
    job.id,
    { id: run.id, status: run.status, scheduledAt: run.scheduledAt, finishedAt: run.finishedAt },
    computeNextRunAt(job, now),
  );
}
