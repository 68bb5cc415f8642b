/**
 * The firing message: what the Scheduler, the API and the worker put on a queue for the
 * worker to run. One type, one constructor per trigger: every sender builds it here, and
 * every receiver parses it with firing-schema.ts's parser of that same type, so the shapes
 * cannot drift apart.
 */
import type { FiringMessage } from './firing-schema.js';
import { scheduledRunId } from './run.js';

export type { FiringMessage };

/** Why a run exists. */
export const RUN_TRIGGERS = ['schedule', 'manual', 'retry', 'dependency', 'catch_up', 'backfill'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

/** What Scheduler writes into a schedule's Input at each firing: the occurrence's time. */
export const SCHEDULED_TIME_PLACEHOLDER = '<aws.scheduler.scheduled-time>';

/** The job a firing is for, at the version it was read (if the sender has it). */
export interface FiringJob {
  tenantId: string;
  id: string;
  version?: number;
}

type Extras = Pick<FiringMessage, 'correlationId'>;
const extras = (e: Extras = {}) => (e.correlationId ? { correlationId: e.correlationId } : {});
const versionOf = (job: FiringJob) => (job.version ? { jobVersion: job.version } : {});

/** The constructors: every firing Sundial sends is made by one of these. */
export const firing = {
  /**
   * A schedule's Input, as Scheduler keeps it: `scheduledTime` is the placeholder Scheduler
   * fills in at each occurrence (so it is not a valid message until then).
   */
  scheduleTemplate(job: FiringJob): Omit<FiringMessage, 'scheduledTime'> & { scheduledTime: string } {
    return {
      v: 1,
      tenantId: job.tenantId,
      jobId: job.id,
      ...versionOf(job),
      trigger: 'schedule',
      scheduledTime: SCHEDULED_TIME_PLACEHOLDER,
    };
  },
  /** An occurrence missed while the job was paused, run on resume with the occurrence's identity. */
  catchUp(job: FiringJob, scheduledAt: Date): FiringMessage {
    return firing.occurrence(job, 'catch_up', scheduledAt);
  },
  /** An occurrence a failover's gap holds that the job's catch-up policy does not run: recorded missed. */
  catchUpMissed(job: FiringJob, scheduledAt: Date, reason: string): FiringMessage {
    return {
      v: 1,
      tenantId: job.tenantId,
      jobId: job.id,
      ...versionOf(job),
      trigger: 'catch_up',
      scheduledTime: scheduledAt.toISOString(),
      missReason: reason,
    };
  },
  /** An occurrence of the schedule, identified by its time: as Scheduler fires it, or on resume or backfill. */
  occurrence(
    job: FiringJob,
    trigger: 'schedule' | 'catch_up' | 'backfill',
    scheduledAt: Date,
    e?: Extras,
  ): FiringMessage {
    return {
      v: 1,
      tenantId: job.tenantId,
      jobId: job.id,
      ...versionOf(job),
      trigger,
      scheduledTime: scheduledAt.toISOString(),
      ...extras(e),
    };
  },
  /** "Run now": its own run id, so it never takes the next occurrence's place (invariant 2). */
  manual(job: FiringJob, runId: string, requestedAt: Date, e?: Extras): FiringMessage {
    return {
      v: 1,
      tenantId: job.tenantId,
      jobId: job.id,
      ...versionOf(job),
      trigger: 'manual',
      scheduledTime: requestedAt.toISOString(),
      runId,
      ...extras(e),
    };
  },
  /** A run started by a dependency's success, identified by that success. */
  dependency(job: FiringJob, runId: string, satisfiedAt: string): FiringMessage {
    return {
      v: 1,
      tenantId: job.tenantId,
      jobId: job.id,
      ...versionOf(job),
      trigger: 'dependency',
      scheduledTime: satisfiedAt,
      runId,
    };
  },
  /** The next attempt of a run, not before `notBefore`. */
  retry(
    of: Pick<FiringMessage, 'tenantId' | 'jobId' | 'scheduledTime' | 'jobVersion'> & Extras,
    runId: string,
    attempt: number,
    notBefore: Date,
  ): FiringMessage {
    return {
      v: 1,
      tenantId: of.tenantId,
      jobId: of.jobId,
      ...(of.jobVersion ? { jobVersion: of.jobVersion } : {}),
      trigger: 'retry',
      scheduledTime: of.scheduledTime,
      runId,
      attempt,
      notBefore: notBefore.toISOString(),
      ...extras(of),
    };
  },
  /** An occurrence in a backfill's range, run with the occurrence's identity. */
  backfill(job: FiringJob, scheduledAt: Date, e?: Extras): FiringMessage {
    return firing.occurrence(job, 'backfill', scheduledAt, e);
  },
  /** Settle what a reported outcome or a cancel leaves to do for attempt `attempt` of a run. */
  settle(run: {
    tenantId: string;
    jobId: string;
    id: string;
    scheduledAt: string;
    attempt: number;
  }): FiringMessage {
    return {
      v: 1,
      tenantId: run.tenantId,
      jobId: run.jobId,
      trigger: 'settle',
      scheduledTime: run.scheduledAt,
      runId: run.id,
      attempt: Math.max(1, run.attempt),
    };
  },
  /** The same firing, put back until `notBefore` (a wait behind a running run, fair share, a long delay). */
  delayed(message: FiringMessage, notBefore: Date, deferrals?: number): FiringMessage {
    return {
      ...message,
      notBefore: notBefore.toISOString(),
      ...(deferrals === undefined ? {} : { deferrals }),
    };
  },
};

/**
 * The run a message is about. A firing (and a catch-up run standing in for a missed
 * occurrence) is identified by its scheduled time; manual, dependency runs and retries
 * carry their id.
 */
export function runIdOf(message: FiringMessage): string {
  return message.trigger === 'schedule' || message.trigger === 'catch_up' || message.trigger === 'backfill'
    ? scheduledRunId(new Date(message.scheduledTime))
    : message.runId;
}

/** A message that is a run's firing (everything but a settle). */
export type RunFiring = Exclude<FiringMessage, { trigger: 'settle' }>;
export type SettleMessage = Extract<FiringMessage, { trigger: 'settle' }>;
