/**
 * The job: what a team asks Sundial to run. Pure domain code — no AWS SDK — shared by the
 * API, the worker and the sync sweeper; its input's schemas are in job-input.ts.
 */

import type { Priority } from '../../lib/definitions.js';
import { type FieldError, ValidationError } from './errors.js';
import type { jobInputSchema } from './job-input.js';
import { fireOptions } from './job-rules.js';
import { isPlainObject, jsonPath, walkJson } from './json-walk.js';
import {
  isValidTimeZone,
  nextFireTimes,
  type ParsedSchedule,
  parseScheduleExpression,
} from './schedule/index.js';
import type * as z from './zod.js';

/** Dependencies per job; a run that completes checks each of its dependents. */
export const MAX_DEPENDENCIES = 10;

export const JOB_STATES = ['enabled', 'paused'] as const;
export const OVERLAP_POLICIES = ['allow', 'skip', 'buffer_one'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** A job being deleted: hidden from the API while its schedule is removed. */
export type StoredJobState = JobState | 'deleting';

/** A job id as Sundial makes them (`job_<ULID>`); nothing else can name a job. */
export const JOB_ID = /^job_[0-9A-Za-z]{1,64}$/;

/**
 * DynamoDB nests maps and lists at most 32 levels deep, the item counting as one. A job is
 * stored deepest inside its idempotency record (item, job, target), so the JSON a target
 * holds (payload, detail) can nest at most 29 levels.
 */
export const MAX_STORED_DEPTH = 32;
/** Levels above a target's fields where a job is stored deepest: record, job, target. */
export const LEVELS_ABOVE_TARGET_FIELDS = 3;

/**
 * Why DynamoDB cannot store a JSON value as sent, and where in it; null when it can. Checks
 * nesting (at most `levels` deep, counting the value) and numbers: the marshaller refuses any
 * beyond ±2^53 (JSON.parse has already rounded them) and DynamoDB any closer to zero than
 * 1e-130. Iterative, so no nesting overflows the stack.
 */
export function storageProblem(value: unknown, levels: number): { path: string[]; message: string } | null {
  return (
    walkJson(value, (node): { path: string[]; message: string } | undefined => {
      const { value: item, depth } = node;
      if (typeof item === 'number') {
        if (Math.abs(item) > Number.MAX_SAFE_INTEGER) {
          return {
            path: jsonPath(node),
            message: `${item} is beyond ±${Number.MAX_SAFE_INTEGER}, the largest number kept exactly; send it as a string`,
          };
        }
        if (item !== 0 && Math.abs(item) < 1e-130) {
          return {
            path: jsonPath(node),
            message: `${item} is closer to zero than 1e-130, the smallest number DynamoDB stores; send it as a string`,
          };
        }
      }
      if (typeof item === 'object' && item !== null && depth > levels) {
        return {
          path: [],
          message: `must nest at most ${levels} levels of objects and arrays (a job is stored in DynamoDB, which nests ${MAX_STORED_DEPTH})`,
        };
      }
      return undefined;
    }) ?? null
  );
}

export type JobInput = z.infer<typeof jobInputSchema>;
export type JobSchedule = NonNullable<JobInput['schedule']>;
export type { HttpTarget, Target } from './target.js';

export interface RunSummary {
  id: string;
  status: string;
  scheduledAt: string;
  finishedAt: string | null;
}

export interface Job extends JobInput {
  id: string;
  /** When the job was last paused; cleared on resume (drives catch-up). */
  pausedAt?: string | null;
  /** Why it was paused, as the pause said (≤ 256 characters); cleared on resume. */
  pausedReason?: string | null;
  tenantId: string;
  state: JobState;
  nextRunAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export function zodIssuesToFieldErrors(error: z.core.$ZodError, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ field: base ? `${base}.${key}` : key, message: 'is not a known field' });
      }
      continue;
    }
    // A refused record key: say why (the key's own issues), not only "Invalid key in record".
    if (issue.code === 'invalid_key' && issue.issues.length > 0) {
      for (const keyIssue of issue.issues) out.push({ field: base || '(body)', message: keyIssue.message });
      continue;
    }
    out.push({ field: base || '(body)', message: issue.message });
  }
  return out;
}

/** With `requireFutureFire`, a schedule that will never fire again is rejected. */
export function validateSchedule(
  s: JobSchedule,
  now: Date,
  prefix: string,
  requireFutureFire = true,
): ParsedSchedule {
  const errors: FieldError[] = [];
  const field = (name: string) => (prefix ? `${prefix}.${name}` : name);
  const result = parseScheduleExpression(s.expression);
  if (!result.ok) errors.push({ field: field('expression'), message: result.message });
  if (!isValidTimeZone(s.timezone)) {
    errors.push({
      field: field('timezone'),
      message: `"${s.timezone}" is not an IANA time zone, e.g. "Europe/Berlin" or "UTC"`,
    });
  }
  if (s.startAt && s.endAt && Date.parse(s.endAt) <= Date.parse(s.startAt)) {
    errors.push({ field: field('endAt'), message: 'must be after startAt' });
  }
  if (errors.length > 0 || !result.ok) throw new ValidationError(errors);
  if (!requireFutureFire) return result.schedule;
  const next = nextFireTimes(result.schedule, fireOptions(s, now, now));
  if (next.length === 0) {
    throw ValidationError.of(
      field('expression'),
      'never fires after now within startAt/endAt; check the date, year field and end time',
    );
  }
  return result.schedule;
}

export { backlogMissReason, computeNextRunAt, fireOptions, notifySecretContext } from './job-rules.js';

/** Merges a validated patch into a job's input fields (objects one level deep). */
export function mergePatch(
  job: Omit<Job, 'state'> & { state: StoredJobState },
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const current: Record<string, unknown> = {
    name: job.name,
    description: job.description,
    schedule: job.schedule,
    target: job.target,
    dependsOn: job.dependsOn ?? [],
    retryPolicy: job.retryPolicy,
    overlapPolicy: job.overlapPolicy,
    misfireGraceSeconds: job.misfireGraceSeconds ?? null,
    notify: job.notify ?? { onFailure: [], secret: null },
    catchUp: job.catchUp ?? 'none',
    catchUpWindowMinutes: job.catchUpWindowMinutes ?? 60,
    priority: job.priority,
    state: job.state,
    tags: job.tags,
  };
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'version' || value === undefined) continue;
    const existing = Object.hasOwn(current, key) ? current[key] : undefined;
    // A target of another type is replaced, not merged: its fields are not the old ones.
    // Own properties only: nothing a client sends may be read through a prototype.
    const retyped =
      key === 'target' &&
      isPlainObject(value) &&
      Object.hasOwn(value, 'type') &&
      isPlainObject(existing) &&
      value.type !== existing.type;
    if (
      (key === 'schedule' || key === 'target' || key === 'notify') &&
      !retyped &&
      isPlainObject(existing) &&
      isPlainObject(value)
    ) {
      current[key] = { ...existing, ...value };
    } else {
      current[key] = value;
    }
  }
  return current;
}

export type { Priority };
export { isPlainObject };

/** A job as stored: its public fields and the bookkeeping Sundial keeps on it. */
export interface StoredJob extends Omit<Job, 'state'> {
  state: StoredJobState;
  syncPendingAt?: string;
  /**
   * When the job's schedule was last known to match this version of the job: the time
   * Sundial finished writing it, or the LastModificationDate the reconciler read when it
   * compared the two. A schedule modified after it may have been edited by hand.
   */
  scheduleSyncedAt?: string;
  /** When the job's latest successful run finished (what its dependents wait for). */
  lastSucceededAt?: string;
  /**
   * False while no job has ever depended on this one: its runs then skip the dependents
   * Query. Set true (never back) in the transaction that adds an edge to it; absent on jobs
   * written before it existed, which are queried as before.
   */
  hasDependents?: boolean;
  /** The dependency satisfaction a dependency run was last queued for. */
  dependencyCursor?: string;
  /** An HTTP target's secret headers: their names, and their values sealed with KMS. */
  secretHeaders?: { names: string[]; ciphertext: string } | null;
  /**
   * The secret the job's failure webhooks are signed with, sealed with KMS under
   * `notifySecretContext`; `notify.secret` is then stored as null. Jobs written before it
   * existed carry the secret in `notify.secret` instead, until their next edit seals it.
   */
  sealedNotifySecret?: string | null;
}
