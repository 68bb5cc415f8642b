/** A run: one firing of a job and what came of it. */
import type { RunTrigger } from './firing.js';

export type { RunTrigger };

export const RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'missed',
  'timed_out',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'failed',
  'skipped',
  'missed',
  'timed_out',
  'cancelled',
]);

/** A JSON value, as a callback's output is. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What the target answered or left behind: what a run shows as its result. */
export interface RunResult {
  statusCode: number | null;
  bodyExcerpt: string;
  /** ECS: the exit code of the container that decided the outcome (null when it never ran). */
  exitCode?: number | null;
  /** ECS: the task that ran the attempt. */
  taskArn?: string;
  /** Step Functions: the execution of the attempt. */
  executionArn?: string;
  /** ECS: where the task's awslogs output goes, when its task definition logs with awslogs. */
  logs?: { group: string; stream: string; region: string };
}

/** What a long attempt is waiting on, and how it will be watched: stored, never shown. */
export interface LongAttempt {
  kind: 'callback' | 'ecs' | 'stepfunctions';
  /** The attempt key: ECS startedBy and client token, the execution name, the event pointer. */
  key: string;
  /** The task or execution ARN, once started. */
  ref: string | null;
  /** ECS: the cluster the task runs in (to describe and stop it). */
  cluster?: string;
  startedAt: string;
  /** How many describe-call polls have been made (the poll cadence backs off with it). */
  polls: number;
  heartbeatTimeoutSeconds: number | null;
  /** The run ended (cancelled, timed out) while its task or execution may still run: stop it. */
  stop?: boolean;
}

/** How a long attempt ended, as its target or its deadline said. */
export interface LongOutcome {
  status: 'succeeded' | 'failed' | 'timed_out';
  error: { type: string; message: string } | null;
  result: Partial<RunResult>;
  /** The callback's output (JSON, at most 64 KiB). */
  output?: JsonValue;
}

export interface Run {
  id: string;
  jobId: string;
  tenantId: string;
  scheduledAt: string;
  trigger: RunTrigger;
  status: RunStatus;
  attempt: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  result: RunResult | null;
  error: { type: string; message: string } | null;
  skipReason: string | null;
  /** Every attempt so far, oldest first; the run's own fields describe the latest. */
  attempts: AttemptRecord[];
  /** When a failed attempt will be retried, or a waiting run tried; null when nothing is pending. */
  nextAttemptAt: string | null;
  /** Why a queued run waits (its target's circuit is open); null when it does not. */
  waitReason?: string | null;
  /** A long attempt: when it must have ended (runTimeoutSeconds). */
  deadlineAt?: string | null;
  /** A long attempt's latest heartbeat, and what it said. */
  heartbeatAt?: string | null;
  progress?: number | null;
  progressMessage?: string | null;
  /** What a callback target reported with its outcome (JSON, at most 64 KiB). */
  output?: JsonValue | null;
  /** Who cancelled the run (an API key's or user's id). */
  cancelledBy?: string | null;
}

/** A run as stored: with the claim of the worker running it, while one does. */
export interface StoredRun extends Run {
  /** Until when the claiming worker owns a running run; a later claim may take it over. */
  leaseUntil?: string;
  claimToken?: string;
  /** A long attempt in progress (or ended and not yet settled). */
  long?: LongAttempt;
  /** An outcome reported by a callback, not yet settled into the run's next move. */
  reported?: LongOutcome;
  /** The sparse watch index (byWatch): set while a long attempt needs watching. */
  watchShard?: string;
  watchAt?: string;
}

export interface AttemptRecord {
  attempt: number;
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: { type: string; message: string } | null;
}

/**
 * The identity of a scheduled run: derived from the scheduled time alone (invariant 2),
 * so every redelivery of the same firing maps to the same run and sorts by time.
 * `2026-11-23T01:00:00Z` -> `run_20261123T010000000Z`.
 */
export function scheduledRunId(scheduledAt: Date): string {
  return `run_${scheduledAt.toISOString().replace(/[-:.]/g, '')}`;
}

export const BODY_EXCERPT_CHARS = 1024;

/**
 * The identity of a manual run ("run now"): its own time and a random suffix, so it never
 * collides with, or swallows, a scheduled occurrence (invariant 2).
 */
export function manualRunId(requestedAt: Date, suffix: string): string {
  return `${scheduledRunId(requestedAt)}_m${suffix}`;
}

/** A run as the API shows it: no lease bookkeeping, stable field order. */
export function toPublicRun(run: StoredRun): PublicRun {
  return {
    id: run.id,
    jobId: run.jobId,
    scheduledAt: run.scheduledAt,
    trigger: run.trigger,
    status: run.status,
    attempt: run.attempt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.durationMs,
    result: run.result,
    error: run.error,
    skipReason: run.skipReason,
    attempts: run.attempts ?? [],
    nextAttemptAt: run.nextAttemptAt ?? null,
    waitReason: run.status === 'queued' ? (run.waitReason ?? null) : null,
    deadlineAt: run.deadlineAt ?? null,
    heartbeatAt: run.heartbeatAt ?? null,
    progress: run.progress ?? null,
    progressMessage: run.progressMessage ?? null,
    output: run.output ?? null,
    cancelledBy: run.cancelledBy ?? null,
  };
}

export type PublicRun = Omit<Run, 'tenantId'> &
  Required<
    Pick<
      Run,
      'waitReason' | 'deadlineAt' | 'heartbeatAt' | 'progress' | 'progressMessage' | 'output' | 'cancelledBy'
    >
  >;

/** A run with nothing yet known beyond what identifies it. */
export function newRun(
  fields: Pick<Run, 'id' | 'jobId' | 'tenantId' | 'scheduledAt' | 'trigger' | 'status' | 'attempt'> &
    Partial<Run>,
): Run {
  return {
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    result: null,
    error: null,
    skipReason: null,
    attempts: [],
    nextAttemptAt: null,
    ...fields,
  };
}
