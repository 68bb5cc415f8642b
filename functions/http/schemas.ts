/**
 * What the API sends, as zod schemas: every response body, named as it appears in the
 * OpenAPI document (openapi.ts makes each one a component of that name). Built from the
 * domain's own schemas where a response echoes what a client sent (a job's schedule,
 * target, retry policy, ...), so a field added to the input shows up in the output too.
 *
 * Nothing here validates at run time; the end-to-end walkthrough validates the API's real
 * answers against the document built from these, and the type checks in
 * test/unit/openapi.test.ts hold them to the types the code returns. They are made on first
 * use (`apiSchemas()`), when the document is: a cold start of the API does not pay for them.
 */
import * as z from 'zod';
import { PRIORITIES } from '../../lib/definitions.js';
import { ROLES } from '../domain/auth.js';
import { BREAKER_STATES } from '../domain/breaker.js';
import { DEGRADATION_STEP_NAMES } from '../domain/degradation.js';
import { RUN_TRIGGERS } from '../domain/firing.js';
import { JOB_ID, JOB_STATES } from '../domain/job.js';
import { jobInputSchema, jobPatchSchema } from '../domain/job-input.js';
import { type AttemptRecord, RUN_STATUSES } from '../domain/run.js';
import { targetSchema } from '../domain/target.js';
import { PROBLEM_BASE } from './problem.js';

// The domain's schemas are zod/mini (functions/domain/zod.ts), so they are taken apart by
// their definitions; classic zod composes them as they are.
const withoutDefault = (schema: z.core.$ZodType): z.core.$ZodType =>
  schema._zod.def.type === 'default' ? (schema._zod.def as z.core.$ZodDefaultDef).innerType : schema;

/** An object's fields, each optional and without its default: what a patch of it may send. */
const partialObject = (schema: { shape: z.core.$ZodShape }) =>
  z.strictObject(
    Object.fromEntries(
      Object.entries(schema.shape).map(([key, value]) => [key, z.optional(withoutDefault(value))]),
    ),
  );

/** A patch's shape of one job field: schedule, target and notify are merged one level deep. */
function patchField(key: string, input: typeof jobInputSchema.shape): z.core.$ZodType {
  if (key === 'version') return jobPatchSchema.shape.version;
  if (key === 'schedule')
    return partialObject(input.schedule.def.innerType.def.innerType).nullable().optional();
  if (key === 'notify') return partialObject(input.notify.def.innerType).optional();
  if (key === 'target') return z.union(targetSchema.def.options.map(partialObject)).optional();
  // A key that is no job field (none today; the unit test says so) is shown as the API checks it.
  if (!Object.hasOwn(input, key)) return jobPatchSchema.shape[key as keyof typeof jobPatchSchema.shape];
  return z.optional(withoutDefault(input[key as keyof typeof input]));
}

function define() {
  /** An instant Sundial itself made (`Date#toISOString`): always UTC, with milliseconds. */
  const instant = z.iso.datetime().describe('An instant in UTC, e.g. 2026-11-23T01:00:00.000Z.');
  const int = z.number().int();
  /** A ULID, as `ulid()` makes them: 26 Crockford base32 characters. */
  const ulid = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  const cursor = z
    .string()
    .nullable()
    .describe('Pass as `cursor` to get the next page; null on the last page.');

  const input = jobInputSchema.shape;
  const [httpTarget, lambdaTarget, sqsTarget, eventBridgeTarget, ecsTarget, stepFunctionsTarget] =
    targetSchema.def.options;
  const { secretHeaders: _writeOnly, ...httpTargetShown } = httpTarget.shape;

  /** A target as shown: an HTTP target's secret header values are write-only; their names are shown. */
  const publicTargetSchema = z.discriminatedUnion('type', [
    z.strictObject({
      ...httpTargetShown,
      secretHeaderNames: z
        .array(z.string())
        .describe('Names of the secret headers sent with every call (their values are never shown).'),
    }),
    lambdaTarget,
    sqsTarget,
    eventBridgeTarget,
    ecsTarget,
    stepFunctionsTarget,
  ]);

  /** The newest run of a job, as a job shows it. */
  const runSummarySchema = z.strictObject({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    scheduledAt: instant,
    finishedAt: instant.nullable(),
  });

  const jobSchema = z
    .strictObject({
      id: z.string().regex(JOB_ID),
      name: input.name,
      description: input.description,
      schedule: input.schedule,
      target: publicTargetSchema,
      dependsOn: input.dependsOn,
      retryPolicy: input.retryPolicy,
      overlapPolicy: input.overlapPolicy,
      misfireGraceSeconds: input.misfireGraceSeconds,
      notify: z.strictObject({
        onFailure: input.notify.def.innerType.shape.onFailure,
        secretSet: z.boolean().describe('Whether a webhook signing secret is set (it is never shown).'),
      }),
      catchUp: input.catchUp,
      catchUpWindowMinutes: input.catchUpWindowMinutes,
      priority: input.priority,
      state: z.enum(JOB_STATES),
      pausedReason: z
        .string()
        .nullable()
        .describe('Why the job was paused, as its pause said; null when enabled or paused without one.'),
      tags: input.tags,
      nextRunAt: instant
        .nullable()
        .describe('When EventBridge Scheduler fires the job next; null when it will not.'),
      lastRun: runSummarySchema.nullable(),
      createdAt: instant,
      updatedAt: instant,
      version: int.min(1).describe('Increases with every change; the ETag carries it.'),
    })
    .describe('A job as the API shows it: what was sent, with defaults applied, and what Sundial keeps.');

  const runErrorSchema = z.strictObject({ type: z.string(), message: z.string() });

  const ATTEMPT_STATUSES = [
    'succeeded',
    'failed',
    'timed_out',
    'cancelled',
  ] as const satisfies readonly AttemptRecord['status'][];

  const attemptSchema = z.strictObject({
    attempt: int.min(1),
    status: z.enum(ATTEMPT_STATUSES),
    startedAt: instant,
    finishedAt: instant,
    durationMs: int.min(0),
    statusCode: int.nullable(),
    error: runErrorSchema.nullable(),
  });

  const runSchema = z.strictObject({
    id: z.string(),
    jobId: z.string().regex(JOB_ID),
    scheduledAt: instant,
    trigger: z.enum(RUN_TRIGGERS),
    status: z.enum(RUN_STATUSES),
    attempt: int.min(0).describe('The attempt the run is on; 0 while a manual run waits for its first.'),
    startedAt: instant.nullable(),
    finishedAt: instant.nullable(),
    durationMs: int.min(0).nullable(),
    result: z
      .strictObject({
        statusCode: int.nullable(),
        bodyExcerpt: z
          .string()
          .describe('What the target answered (a Step Functions output), cut to 1,024 characters.'),
        exitCode: int
          .nullable()
          .optional()
          .describe('ECS: the exit code of the container that decided the outcome.'),
        taskArn: z.string().optional().describe('ECS: the task that ran the attempt.'),
        executionArn: z.string().optional().describe('Step Functions: the execution of the attempt.'),
        logs: z
          .strictObject({ group: z.string(), stream: z.string(), region: z.string() })
          .optional()
          .describe("ECS: where the task's output goes, when its task definition logs with awslogs."),
      })
      .nullable(),
    error: runErrorSchema.nullable(),
    skipReason: z.string().nullable(),
    attempts: z.array(attemptSchema).describe('Every attempt so far, oldest first.'),
    nextAttemptAt: instant
      .nullable()
      .describe(
        'When a failed attempt is retried, or a run waiting on an open circuit is tried; null when nothing is pending.',
      ),
    waitReason: z
      .string()
      .nullable()
      .describe(
        "Why a queued run waits: its target's circuit is open (with the failures and the next try); null otherwise.",
      ),
    deadlineAt: instant
      .nullable()
      .describe('A long attempt: when it ends timed out if no outcome came (runTimeoutSeconds).'),
    heartbeatAt: instant.nullable().describe("A long attempt's latest heartbeat."),
    progress: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe('What the latest heartbeat said of progress, 0 to 1.'),
    progressMessage: z
      .string()
      .nullable()
      .describe('What the latest heartbeat said, at most 256 characters.'),
    output: z
      .json()
      .nullable()
      .describe('What a callback target reported with its outcome (JSON, at most 64 KiB).'),
    cancelledBy: z.string().nullable().describe('Who cancelled the run: `key:<id>` or a token subject.'),
  });

  const breakerSchema = z
    .strictObject({
      id: z
        .string()
        .regex(/^brk_[A-Za-z0-9_-]+$/)
        .describe('The breaker, in URLs: brk_<base64url of the target>.'),
      target: z
        .string()
        .describe(
          "The target it guards: an HTTP target's host[:port], an AWS target's ARN (SQS: its queue URL).",
        ),
      state: z
        .enum(BREAKER_STATES)
        .describe('closed: calls go; open: none go until retryAt; half_open: one attempt probes the target.'),
      failures: int.min(0).describe('Consecutive failures since the last success.'),
      openedAt: instant.nullable().describe('When it last opened; null while closed.'),
      retryAt: instant
        .nullable()
        .describe(
          'Open: when the cool-down ends and one attempt may probe; half-open: when the probe ends at the latest.',
        ),
      lastError: z.string().nullable().describe('What the latest failure was.'),
      lastFailureAt: instant.nullable(),
      closedAt: instant.nullable().describe('When a success (or a reset) last closed it after failures.'),
      updatedAt: instant,
    })
    .describe(
      "The tenant's circuit breaker for one target: after repeated failures it stops calls for a cool-down, then lets one attempt probe.",
    );

  const backfillResultSchema = z
    .strictObject({
      runs: int.min(0).describe('Occurrences queued now; those that already ran are not counted.'),
    })
    .describe('What a backfill queued.');

  const fieldErrorSchema = z.strictObject({ field: z.string(), message: z.string() });

  const problemFields = {
    type: z.url().describe(`${PROBLEM_BASE}<slug>, e.g. ${PROBLEM_BASE}not-found`),
    title: z.string(),
    status: int.min(400).max(599),
    detail: z.string(),
  };

  /** RFC 9457 problem details: every error the API answers. */
  const problemSchema = z.strictObject({
    ...problemFields,
    errors: z.array(fieldErrorSchema).optional().describe('With 400: each field refused and why.'),
    currentVersion: int.min(1).optional().describe("With 412: the job's current version."),
    retryAfterSeconds: int
      .min(0)
      .optional()
      .describe(
        'With 503 (type …/degraded): seconds until the degradation level steps down, as Retry-After.',
      ),
  });

  /** 400: the request was refused field by field. */
  const validationProblemSchema = z.strictObject({
    ...problemFields,
    errors: z.array(fieldErrorSchema).min(1),
  });

  /** 412: If-Match (or the body's `version`) named a version that is no longer the job's. */
  const versionMismatchProblemSchema = z.strictObject({
    ...problemFields,
    currentVersion: int.min(1),
  });

  const apiKeySchema = z.strictObject({
    id: ulid,
    name: z.string(),
    role: z.enum(ROLES),
    createdAt: instant,
    createdBy: z.string().describe('Who made it: `key:<id>` or a token subject.'),
    revokedAt: instant.nullable(),
  });

  const createdApiKeySchema = apiKeySchema
    .extend({
      key: z
        .string()
        .regex(/^sk_[0-9A-HJKMNP-TV-Z]{26}_[A-Za-z0-9_-]{43}$/)
        .describe('The key itself, shown in this answer only (Sundial keeps a hash).'),
    })
    .describe('A new API key, with the key itself.');

  const deadLetterSchema = z.strictObject({
    id: z.string(),
    jobId: z.string().nullable(),
    runId: z.string().nullable(),
    priority: z.enum(PRIORITIES),
    body: z.string().describe('The message as the queue held it.'),
    reason: z.string(),
    receiveCount: int.min(0),
    deadLetteredAt: instant,
    status: z.enum(['dead', 'redriven']),
    redrivenAt: instant.nullable(),
    redrivenBy: z.string().nullable(),
  });

  const redriveResultSchema = z.strictObject({
    redriven: z.array(z.string()),
    alreadyRedriven: z.array(z.string()).describe('Already redriven before: sent nowhere.'),
  });

  const auditEntrySchema = z.strictObject({
    id: ulid,
    at: instant,
    actor: z.string(),
    action: z
      .string()
      .describe('e.g. key.create, key.revoke, dead-letters.redrive, breaker.reset, signing-secret.rotate'),
    target: z.string().describe('What it was done to: a key id, dead-letter ids, a secret id.'),
    details: z.record(z.string(), z.unknown()),
  });

  const signingSecretSchema = z
    .strictObject({
      id: z.string().regex(/^ss_[0-9A-HJKMNP-TV-Z]{26}$/),
      secret: z.string().regex(/^whsec_[A-Za-z0-9_-]{43}$/),
      createdAt: instant,
      previous: z
        .strictObject({ id: z.string(), retiresAt: instant })
        .nullable()
        .describe('The secret it replaced, which still signs calls until retiresAt.'),
    })
    .describe("The tenant's secret for the Sundial-Signature of HTTP target calls.");

  const healthSchema = z.strictObject({
    status: z.enum(['ok', 'unhealthy']),
    checks: z.record(z.string(), z.enum(['ok', 'failing'])).describe('Each dependency checked.'),
    degradation: z
      .strictObject({
        level: int
          .min(0)
          .max(4)
          .describe(
            '0 calm; 1 low-priority firings deferred; 2 also run history read eventually consistent in ' +
              'small pages; 3 also dependency runs delayed; 4 also job creation refused (503).',
          ),
        steps: z
          .array(z.enum(DEGRADATION_STEP_NAMES))
          .describe('The steps in force, in the order they are taken.'),
        stepDownInSeconds: int
          .min(0)
          .describe('Seconds until the level steps down by one if the pressure is not measured again.'),
      })
      .optional()
      .describe(
        "This region's graceful degradation (issue 17): it rises with the pressure and falls by itself.",
      ),
  });

  const fireTimesSchema = z.strictObject({ fireTimes: z.array(instant) });

  const page = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item), nextCursor: cursor });

  /**
   * The PATCH body, for the document: the keys `jobPatchSchema` accepts, each with the shape
   * `jobInputSchema` checks it by once merged. Not used to validate: the API checks the keys
   * with `jobPatchSchema`, merges, and validates the merged job as a whole.
   */
  const jobPatchDocSchema = z
    .strictObject(
      Object.fromEntries(Object.keys(jobPatchSchema.shape).map((key) => [key, patchField(key, input)])),
    )
    .describe(
      'Any of the fields of a job. schedule, target and notify are merged one level deep into the ' +
        "job's (a target of another type replaces the old one); version, like If-Match, refuses the " +
        'change with 412 when the job is no longer at that version.',
    );

  return {
    /** Every response body, and the parts they share, by the name each has in the OpenAPI document. */
    responses: {
      Instant: instant,
      Job: jobSchema,
      JobPage: page(jobSchema),
      RunSummary: runSummarySchema,
      Run: runSchema,
      RunPage: page(runSchema),
      Attempt: attemptSchema,
      FireTimes: fireTimesSchema,
      Health: healthSchema,
      Problem: problemSchema,
      ValidationProblem: validationProblemSchema,
      VersionMismatchProblem: versionMismatchProblemSchema,
      ApiKey: apiKeySchema,
      CreatedApiKey: createdApiKeySchema,
      ApiKeyPage: page(apiKeySchema),
      DeadLetter: deadLetterSchema,
      DeadLetterPage: page(deadLetterSchema),
      RedriveResult: redriveResultSchema,
      AuditEntry: auditEntrySchema,
      AuditPage: page(auditEntrySchema),
      SigningSecret: signingSecretSchema,
      BackfillResult: backfillResultSchema,
      Breaker: breakerSchema,
      BreakerPage: page(breakerSchema),
    },
    jobPatch: jobPatchDocSchema,
  };
}

let defined: ReturnType<typeof define> | undefined;
/** The response schemas by component name, and the PATCH body's shape for the document. */
export function apiSchemas(): ReturnType<typeof define> {
  defined ??= define();
  return defined;
}

export type ResponseSchemas = ReturnType<typeof define>['responses'];
export type ResponseName = keyof ResponseSchemas;
/** The body of each response, as a type. */
export type ResponseBody<N extends ResponseName> = z.output<ResponseSchemas[N]>;
