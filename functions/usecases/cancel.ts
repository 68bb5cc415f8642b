/**
 * Cancel: a queued run (waiting for its first attempt, a retry or its turn) or a long run
 * ends `cancelled` at once, and is never retried. The task or execution of a long run is
 * stopped after (the settle message, or the sweep), and a later callback answers 409. A
 * synchronous call in flight cannot be cancelled: it ends within its timeout.
 */
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import { isLongTarget } from '../domain/job-rules.js';
import { longAttemptRecord, startedAttempt, watchShardOf } from '../domain/long-run.js';
import type { Clock, FiringQueue, RunExpectation, RunRepository } from '../domain/ports.js';
import { type AttemptRecord, type StoredRun, TERMINAL_STATUSES } from '../domain/run.js';
import { transition } from '../domain/run-lifecycle.js';

export interface CancelDeps {
  runs: RunRepository;
  queue: FiringQueue;
  clock: Clock;
}

export async function cancelRun(
  deps: CancelDeps,
  job: StoredJob,
  runId: string,
  by: string,
): Promise<StoredRun> {
  // A run that moves while we cancel it (an attempt starts) is read again.
  for (let tries = 0; tries < 3; tries++) {
    const run = await deps.runs.get(job.tenantId, job.id, runId);
    if (!run) throw new NotFoundError(`run ${runId}`);
    if (TERMINAL_STATUSES.has(run.status) || run.reported) {
      throw new ConflictError(
        `run ${runId} has already ended (${run.reported ? 'its outcome was reported' : run.status})`,
      );
    }
    const out = run.status === 'running' && startedAttempt(run);
    if (run.status === 'running' && !out) {
      throw new ConflictError(
        isLongTarget(job.target)
          ? `run ${runId} is starting attempt ${run.attempt}; try again in a moment`
          : `run ${runId} is a synchronous call in flight; it cannot be cancelled and ends within its timeout (${job.target.timeoutSeconds}s)`,
      );
    }
    const now = deps.clock.now();
    const error = { type: 'cancelled', message: `cancelled by ${by}` };
    const attempts: AttemptRecord[] = [...(run.attempts ?? [])];
    // A long attempt that was out ends with the run; a queued run has no attempt in progress.
    if (out) attempts.push(longAttemptRecord(run, { status: 'cancelled', error, result: {} }, now));
    const cancelled = transition(run, 'cancel', {
      finishedAt: now.toISOString(),
      durationMs: run.startedAt ? Math.max(0, now.getTime() - Date.parse(run.startedAt)) : null,
      error,
      cancelledBy: by,
      nextAttemptAt: null,
      attempts,
      // Watched until the worker (or the sweep) has stopped what runs and counted the cancel.
      watchShard: watchShardOf(run.id),
      watchAt: now.toISOString(),
      ...(run.long ? { long: { ...run.long, stop: out || run.long.stop === true } } : {}),
    });
    const expected: RunExpectation = {
      status: run.status,
      attempt: run.attempt,
      unreported: true,
      ...(out && run.long ? { key: run.long.key } : {}),
    };
    if (!(await deps.runs.replaceIf(cancelled, expected, now))) continue;
    // The job's next run need not wait for a cancelled one.
    await deps.runs.releaseLock(job.tenantId, job.id, runId);
    await deps.runs.clearBuffered(job.tenantId, job.id, runId);
    await deps.queue.send(job.priority, firing.settle(cancelled));
    return cancelled;
  }
  throw new ConflictError(`run ${runId} changed while it was being cancelled; try again`);
}
