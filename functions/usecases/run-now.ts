/**
 * "Run now": a manual run with its own identity (never the next scheduled occurrence's),
 * queued on the job's priority queue for the worker.
 */
import { randomBytes } from 'node:crypto';
import { firing } from '../domain/firing.js';
import type { Clock, FiringQueue, RunRepository } from '../domain/ports.js';
import { manualRunId, newRun, type StoredRun } from '../domain/run.js';
import type { JobService } from './jobs.js';

export interface RunNowDeps {
  jobs: Pick<JobService, 'get'>;
  runs: Pick<RunRepository, 'putQueued'>;
  queue: FiringQueue;
  clock: Clock;
}

export async function runNow(
  deps: RunNowDeps,
  tenantId: string,
  jobId: string,
  correlationId?: string,
): Promise<StoredRun> {
  const job = await deps.jobs.get(tenantId, jobId);
  const now = deps.clock.now();
  const runId = manualRunId(now, randomBytes(5).toString('hex'));
  const scheduledAt = now.toISOString();
  // The message goes first: if the record below is never written, the worker creates it.
  await deps.queue.send(job.priority, firing.manual(job, runId, now, correlationId ? { correlationId } : {}));
  const run: StoredRun = newRun({
    id: runId,
    jobId,
    tenantId,
    scheduledAt,
    trigger: 'manual',
    status: 'queued',
    attempt: 0,
  });
  await deps.runs.putQueued(run, now);
  return run;
}
