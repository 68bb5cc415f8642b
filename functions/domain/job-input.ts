/**
 * A job's input as a client sends it, validated: the schemas of a job's fields and the check
 * of a whole job. Only creating, changing and applying jobs need them, so the API loads this
 * module (and the target schemas) at its first such request, not at its cold start.
 */
import { PRIORITIES } from '../../lib/definitions.js';
import { ValidationError } from './errors.js';
import {
  JOB_ID,
  JOB_STATES,
  type JobInput,
  LEVELS_ABOVE_TARGET_FIELDS,
  MAX_DEPENDENCIES,
  MAX_STORED_DEPTH,
  OVERLAP_POLICIES,
  storageProblem,
  validateSchedule,
  zodIssuesToFieldErrors,
} from './job.js';
import type { ParsedSchedule } from './schedule/index.js';
import { targetSchema } from './target.js';
import * as z from './zod.js';

const isoDateTime = z.iso.datetime({
  offset: true,
  error: 'must be an ISO-8601 date-time, e.g. 2026-12-24T18:00:00Z',
});

const scheduleSchema = z.strictObject({
  expression: z
    .string({
      error: 'is required, e.g. "cron(0 2 * * ? *)", "rate(5 minutes)" or "at(2026-12-24T18:00:00)"',
    })
    .check(z.minLength(1, 'must not be empty'), z.maxLength(256, 'must be at most 256 characters')),
  timezone: z._default(z.string().check(z.minLength(1), z.maxLength(64)), 'UTC'),
  startAt: z._default(z.nullable(isoDateTime), null),
  endAt: z._default(z.nullable(isoDateTime), null),
  flexibleWindowMinutes: z._default(z.int().check(z.minimum(0), z.maximum(1440)), 0),
});

/** Names with a meaning on every JavaScript object; refused as tag names. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

const tagsSchema = z
  .record(
    z.string().check(
      z.minLength(1),
      z.maxLength(128),
      z.refine((k) => !RESERVED_NAMES.has(k), 'tag names must not be __proto__, constructor or prototype'),
    ),
    z.string().check(z.maxLength(256)),
  )
  .check(z.refine((t) => Object.keys(t).length <= 50, 'at most 50 tags'));

/** The target, with its JSON fields (payload, detail) as a stored job can hold them. */
const storableTargetSchema = targetSchema.check(
  z.superRefine((target, ctx) => {
    for (const [field, value] of Object.entries(target)) {
      const problem = storageProblem(value, MAX_STORED_DEPTH - LEVELS_ABOVE_TARGET_FIELDS);
      if (problem) ctx.addIssue({ code: 'custom', path: [field, ...problem.path], message: problem.message });
    }
  }),
);

const retryPolicySchema = z
  .strictObject({
    maxAttempts: z._default(z.int().check(z.minimum(1), z.maximum(10)), 1),
    initialDelaySeconds: z._default(z.int().check(z.minimum(1), z.maximum(86_400)), 30),
    multiplier: z._default(z.number().check(z.minimum(1), z.maximum(10)), 2),
    maxDelaySeconds: z._default(z.int().check(z.minimum(1), z.maximum(86_400)), 900),
  })
  .check(
    z.refine((p) => p.maxDelaySeconds >= p.initialDelaySeconds, {
      message: 'maxDelaySeconds must be at least initialDelaySeconds',
      path: ['maxDelaySeconds'],
    }),
  );

const notifySchema = z
  .strictObject({
    onFailure: z._default(
      z
        .array(
          z.strictObject({
            url: z
              .url({ protocol: /^https?$/, error: 'must be an absolute http:// or https:// URL' })
              .check(z.maxLength(2048)),
          }),
        )
        .check(z.maxLength(5, 'at most 5 webhooks')),
      [],
    ),
    // Write-only: used to sign webhook calls, never returned by the API.
    secret: z._default(
      z.nullable(z.string().check(z.minLength(16, 'must be at least 16 characters'), z.maxLength(256))),
      null,
    ),
  })
  .check(
    z.refine((n) => n.onFailure.length === 0 || n.secret !== null, {
      message: 'is required when onFailure webhooks are set: they are signed with it',
      path: ['secret'],
    }),
  );

/** Fields a client may send when creating a job. */
export const jobInputSchema = z.strictObject({
  name: z
    .string({ error: 'is required' })
    .check(z.minLength(1, 'must not be empty'), z.maxLength(128, 'must be at most 128 characters')),
  description: z._default(
    z.nullable(z.string().check(z.maxLength(1024, 'must be at most 1024 characters'))),
    null,
  ),
  // None for a job that runs only on demand or when its dependencies succeed.
  schedule: z._default(z.nullable(scheduleSchema), null),
  target: storableTargetSchema,
  // Runs (trigger "dependency") once each of these jobs has succeeded since its own last run.
  dependsOn: z._default(
    z.array(z.string().check(z.regex(JOB_ID, 'must be a job id, e.g. "job_01JD6Z..."'))).check(
      z.maxLength(MAX_DEPENDENCIES, `at most ${MAX_DEPENDENCIES} dependencies`),
      z.refine((ids) => new Set(ids).size === ids.length, 'must not list a job twice'),
    ),
    [],
  ),
  retryPolicy: z._default(retryPolicySchema, {
    maxAttempts: 1,
    initialDelaySeconds: 30,
    multiplier: 2,
    maxDelaySeconds: 900,
  }),
  // What a firing does while the job's previous run is still running.
  overlapPolicy: z._default(z.enum(OVERLAP_POLICIES), 'allow'),
  // A firing picked up later than this after its scheduled time is recorded as missed, not run.
  misfireGraceSeconds: z._default(z.nullable(z.int().check(z.minimum(1), z.maximum(86_400))), null),
  notify: z._default(notifySchema, { onFailure: [], secret: null }),
  // On resume after a pause: run none, the latest, or all occurrences missed in the window.
  catchUp: z._default(z.enum(['none', 'latest', 'all']), 'none'),
  catchUpWindowMinutes: z._default(z.int().check(z.minimum(1), z.maximum(10_080)), 60),
  priority: z._default(z.enum(PRIORITIES), 'default'),
  state: z._default(z.enum(JOB_STATES), 'enabled'),
  tags: z._default(tagsSchema, {}),
});

/** The changeable fields of a job; objects are merged one level deep. */
export const jobPatchSchema = z.strictObject({
  name: z.optional(z.unknown()),
  description: z.optional(z.unknown()),
  schedule: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  target: z.optional(z.record(z.string(), z.unknown())),
  dependsOn: z.optional(z.unknown()),
  retryPolicy: z.optional(z.unknown()),
  overlapPolicy: z.optional(z.unknown()),
  priority: z.optional(z.unknown()),
  state: z.optional(z.unknown()),
  tags: z.optional(z.record(z.string(), z.unknown())),
  notify: z.optional(z.record(z.string(), z.unknown())),
  misfireGraceSeconds: z.optional(z.unknown()),
  catchUp: z.optional(z.unknown()),
  catchUpWindowMinutes: z.optional(z.unknown()),
  version: z.optional(z.int().check(z.minimum(1))),
});

/**
 * Validates a complete job input, including what a schema cannot: the expression,
 * the time zone, the window and that the schedule will fire at least once more.
 */
export function validateJobInput(
  raw: unknown,
  now: Date,
  options: { requireFutureFire?: boolean } = {},
): { input: JobInput; schedule: ParsedSchedule | null } {
  const parsed = jobInputSchema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(zodIssuesToFieldErrors(parsed.error));
  const input = parsed.data;
  const schedule = input.schedule
    ? validateSchedule(input.schedule, now, 'schedule', options.requireFutureFire ?? true)
    : null;
  return { input, schedule };
}
