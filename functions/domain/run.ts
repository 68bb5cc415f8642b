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
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<RunStatus> = new Set([
  'succeeded',
  'failed',
  'skipped',
  'missed',
  'timed_out',
]);

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
  result: { statusCode: number | null; bodyExcerpt: string } | null;
  error: { type: string; message: string } | null;
  skipReason: string | null;
  /** Every attempt so far, oldest first; the run's own fields describe the latest. */
  attempts: AttemptRecord[];
  /** When a failed attempt will be retried; null when no retry is pending. */
  nextAttemptAt: string | null;
}

/** A run as stored: with the claim of the worker running it, while one does. */
export interface StoredRun extends Run {
  /** Until when the claiming worker owns a running run; a later claim may take it over. */
  leaseUntil?: string;
  claimToken?: string;
}

export interface AttemptRecord {
  attempt: number;
  status: 'succeeded' | 'failed' | 'timed_out';
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
export function toPublicRun(run: Run & { leaseUntil?: string; claimToken?: string }): Omit<Run, 'tenantId'> {
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
  };
}

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
