/**
 * What runs need to know of a job and its target, without the schemas that validate them:
 * when it fires next, whether a late firing is overtaken, how long a long attempt may run.
 * Kept apart from job.ts and target.ts so that the functions which only run jobs (the worker,
 * completion, sync) load no classic zod at cold start (issue 17); those modules re-export it.
 */
import type { Job, JobSchedule, StoredJobState } from './job.js';
import { nextFireTimes, parseScheduleExpression } from './schedule/index.js';
import type { LongTarget, Target } from './target.js';

/** A long run's attempt: at least a minute, at most 24 hours. */
export const MIN_RUN_TIMEOUT_SECONDS = 60;
export const MAX_RUN_TIMEOUT_SECONDS = 86_400;
export const DEFAULT_RUN_TIMEOUT_SECONDS = 3_600;

export function fireOptions(s: JobSchedule, after: Date, createdAt: Date) {
  return {
    timezone: s.timezone,
    after,
    count: 1,
    createdAt,
    ...(s.startAt ? { startAt: new Date(s.startAt) } : {}),
    ...(s.endAt ? { endAt: new Date(s.endAt) } : {}),
  };
}

/** The next time EventBridge Scheduler will fire this job, or null when it won't. */
export function computeNextRunAt(
  job: Pick<Job, 'schedule' | 'createdAt'> & { state: StoredJobState },
  now: Date,
  after: Date = now,
): string | null {
  if (job.state !== 'enabled' || !job.schedule) return null;
  const result = parseScheduleExpression(job.schedule.expression);
  if (!result.ok) return null;
  const [next] = nextFireTimes(result.schedule, {
    ...fireOptions(job.schedule, after, new Date(job.createdAt)),
  });
  return next ? next.toISOString() : null;
}

/**
 * Why a firing picked up behind a backlog is not run, or null to run it. With catchUp
 * `none` or `latest`, a firing that a later occurrence has already overtaken (that
 * occurrence's flexible window included) is missed, so only the latest runs; with `all`,
 * one older than catchUpWindowMinutes is.
 */
export function backlogMissReason(
  job: Pick<Job, 'schedule' | 'catchUp' | 'catchUpWindowMinutes' | 'createdAt'>,
  scheduledAt: Date,
  now: Date,
): string | null {
  if (!job.schedule) return null;
  if (job.catchUp === 'all') {
    const lateMinutes = (now.getTime() - scheduledAt.getTime()) / 60_000;
    return lateMinutes > job.catchUpWindowMinutes
      ? `picked up ${Math.round(lateMinutes)} min after its scheduled time, outside the catch-up window of ${job.catchUpWindowMinutes} min`
      : null;
  }
  const result = parseScheduleExpression(job.schedule.expression);
  if (!result.ok) return null;
  const [next] = nextFireTimes(
    result.schedule,
    fireOptions(job.schedule, scheduledAt, new Date(job.createdAt)),
  );
  if (!next || next.getTime() + job.schedule.flexibleWindowMinutes * 60_000 > now.getTime()) return null;
  return `overtaken by the occurrence at ${next.toISOString()}: with catchUp "${job.catchUp}" only the latest of a backlog runs`;
}

/** The KMS encryption context of a job's sealed webhook secret: its tenant, its job, its use. */
export function notifySecretContext(tenantId: string, jobId: string): Record<string, string> {
  return { tenantId, jobId, purpose: 'notify-secret' };
}

export function isLongTarget(target: Target): target is LongTarget {
  return (
    target.type === 'ecs' ||
    target.type === 'stepfunctions' ||
    (target.type === 'http' && target.completion === 'callback')
  );
}

/** How long an attempt of a long target may run. */
export function runTimeoutOf(target: LongTarget): number {
  return target.runTimeoutSeconds ?? DEFAULT_RUN_TIMEOUT_SECONDS;
}

/** How long a long target's heartbeats may stop, or null when they are not watched. */
export function heartbeatTimeoutOf(target: LongTarget): number | null {
  return target.type === 'stepfunctions' ? null : (target.heartbeatTimeoutSeconds ?? null);
}
