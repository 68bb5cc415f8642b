/**
 * Backfill: every occurrence of a job's schedule in [from, to), run now with the
 * occurrence's own identity (`trigger: backfill`), so an occurrence that already ran is
 * not run again and a second identical backfill runs nothing. A job whose runs may
 * overlap (`allow`) gets them all at once, within its tenant's fair share; any other runs
 * them one after another, in order, through the job's backfill line.
 */

import { ConflictError, ValidationError } from '../domain/errors.js';
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import { fireOptions } from '../domain/job-rules.js';
import type { Clock, FiringQueue, RunRepository } from '../domain/ports.js';
import { newRun, scheduledRunId } from '../domain/run.js';
import { nextFireTimes, parseScheduleExpression } from '../domain/schedule/index.js';
import * as z from '../domain/zod.js';
import { isExclusive } from './run-ending.js';

export const MAX_BACKFILL_RUNS = 1_000;
/** How far a range is counted to say how many occurrences it holds. */
const COUNT_CEILING = 10_000;

export const backfillBody = z
  .strictObject({
    from: z.iso.datetime({
      offset: true,
      error: 'is required: an ISO 8601 instant, e.g. 2026-11-01T00:00:00Z',
    }),
    to: z.iso.datetime({
      offset: true,
      error: 'is required: an ISO 8601 instant, e.g. 2026-11-02T00:00:00Z',
    }),
    maxRuns: z._default(z.int().check(z.minimum(1), z.maximum(MAX_BACKFILL_RUNS)), MAX_BACKFILL_RUNS),
  })
  .check(
    z.refine((b) => Date.parse(b.to) > Date.parse(b.from), { message: 'must be after from', path: ['to'] }),
  );

export interface BackfillDeps {
  runs: RunRepository;
  queue: FiringQueue;
  clock: Clock;
}

export async function backfill(
  deps: BackfillDeps,
  job: StoredJob,
  body: z.infer<typeof backfillBody>,
  correlationId?: string,
): Promise<{ runs: number; occurrences: number }> {
  if (job.state === 'paused') throw new ConflictError(`job ${job.id} is paused; resume it to backfill`);
  if (!job.schedule)
    throw new ConflictError(`job ${job.id} has no schedule, so it has no occurrences to backfill`);
  const now = deps.clock.now();
  const from = new Date(body.from);
  const to = new Date(body.to);
  if (to.getTime() > now.getTime()) {
    throw ValidationError.of(
      'to',
      `must not be in the future (now is ${now.toISOString()}): the schedule runs those itself`,
    );
  }
  const parsed = parseScheduleExpression(job.schedule.expression);
  if (!parsed.ok) throw new ConflictError(`job ${job.id}'s schedule cannot be read: ${parsed.message}`);
  const options = fireOptions(job.schedule, new Date(from.getTime() - 1), new Date(job.createdAt));
  const occurrences = nextFireTimes(parsed.schedule, { ...options, count: COUNT_CEILING + 1 }).filter(
    (t) => t.getTime() < to.getTime(),
  );
  if (occurrences.length > body.maxRuns) {
    const count =
      occurrences.length > COUNT_CEILING ? `more than ${COUNT_CEILING}` : String(occurrences.length);
    throw ValidationError.of(
      'maxRuns',
      `the range holds ${count} occurrences, more than maxRuns (${body.maxRuns}); narrow the range or raise maxRuns (at most ${MAX_BACKFILL_RUNS})`,
    );
  }
  const extras = correlationId ? { correlationId } : {};
  const fresh: Date[] = [];
  for (const at of occurrences) {
    // One consistent read each: an occurrence that ran (or is queued) is left alone.
    if (!(await deps.runs.get(job.tenantId, job.id, scheduledRunId(at)))) fresh.push(at);
  }
  const queued = (at: Date) =>
    newRun({
      id: scheduledRunId(at),
      jobId: job.id,
      tenantId: job.tenantId,
      scheduledAt: at.toISOString(),
      trigger: 'backfill',
      status: 'queued',
      attempt: 0,
    });
  if (!isExclusive(job)) {
    for (const at of fresh) {
      // The message first: if the record is never written, the worker's claim makes it.
      await deps.queue.send(job.priority, firing.backfill(job, at, extras));
      await deps.runs.putQueued(queued(at), now);
    }
  } else {
    // The line first: whatever becomes of the records, the line sends every occurrence once.
    await deps.runs.enqueueBackfill(
      job.tenantId,
      job.id,
      fresh.map((t) => t.toISOString()),
    );
    for (const at of fresh) await deps.runs.putQueued(queued(at), now);
    const first = await deps.runs.advanceBackfill(job.tenantId, job.id, null);
    if (first) await deps.queue.send(job.priority, firing.backfill(job, new Date(first), extras));
  }
  return { runs: fresh.length, occurrences: occurrences.length };
}
