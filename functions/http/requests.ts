/**
 * The API's query and body schemas (the job's are in domain/job-input.ts). A chunk of its
 * own, loaded by the first request with a query or a body to check: zod's code and the
 * schemas' construction cost a tenth of the floor's cold start (issue 17), and a read of one
 * job or run needs neither. openapi.ts describes the same schemas.
 */
import { ROLES } from '../domain/auth.js';
import { JOB_STATES } from '../domain/job.js';
import { RUN_STATUSES } from '../domain/run.js';
import * as z from '../domain/zod.js';

/** A page's size, from a query string: 20 unless asked, at most 100. */
const limit = () => z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 20);
const cursor = () => z.optional(z.string().check(z.minLength(1), z.maxLength(2048)));

export const listJobsQuery = z.strictObject({
  limit: limit(),
  cursor: cursor(),
  state: z.optional(z.enum(JOB_STATES)),
  // As tags are: a name of 1-128 characters, a value of at most 256.
  tag: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^[^:]{1,128}:[\s\S]{0,256}$/,
          'must be key:value, e.g. team:billing (a name of at most 128 characters, a value of at most 256)',
        ),
      ),
  ),
});

export const listRunsQuery = z.strictObject({
  limit: limit(),
  cursor: cursor(),
  status: z.optional(z.enum(RUN_STATUSES)),
});

export const listDeadLettersQuery = z.strictObject({
  limit: limit(),
  cursor: cursor(),
  status: z.optional(z.enum(['dead', 'redriven'])),
});

export const redriveBody = z.strictObject({
  ids: z
    .array(z.string().check(z.minLength(1), z.maxLength(128)), {
      error: 'is required: the ids of the dead letters to redrive',
    })
    .check(
      z.minLength(1, 'name at least one dead letter'),
      z.maxLength(50, 'at most 50 dead letters per request'),
    ),
});

export const pauseBody = z.strictObject({
  reason: z.optional(
    z
      .string({ error: 'must be a string, e.g. "the upstream API is down"' })
      .check(
        z.minLength(1, 'must not be empty (leave it out instead)'),
        z.maxLength(256, 'must be at most 256 characters'),
      ),
  ),
});

export const pageQuery = z.strictObject({ limit: limit(), cursor: cursor() });

export const createKeyBody = z.strictObject({
  name: z.string({ error: 'is required, e.g. "billing-service"' }).check(z.minLength(1), z.maxLength(128)),
  role: z.enum(ROLES, { error: 'must be one of viewer, operator, admin' }),
});

export const previewBody = z.strictObject({
  expression: z.string({ error: 'is required' }).check(z.minLength(1), z.maxLength(256)),
  timezone: z._default(z.string().check(z.minLength(1), z.maxLength(64)), 'UTC'),
  startAt: z._default(z.nullable(z.iso.datetime({ offset: true })), null),
  endAt: z._default(z.nullable(z.iso.datetime({ offset: true })), null),
  count: z._default(z.int().check(z.minimum(1), z.maximum(100)), 10),
});

export const idempotencyKey = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(255),
    z.regex(/^[\x21-\x7e]+$/, 'must be 1-255 visible ASCII characters'),
  );
