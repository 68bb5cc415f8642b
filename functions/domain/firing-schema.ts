/**
 * The firing message's schema: every receiver parses a firing here (domain/firing.ts makes
 * them). A module of its own so that the functions that only send firings (the api, the
 * completion function, sync, the reconciler) do not load zod at their cold start: esbuild
 * places a module's code in the chunk of every entry that imports it, used or not (issue 17).
 */
// zod/mini, not classic zod: the worker and the archiver load it at cold start.
import * as z from 'zod/mini';

/** The fields every firing has, built with the schema (see firingMessageSchema). */
const baseFields = () => ({
  v: z.literal(1),
  tenantId: z.string().check(z.minLength(1)),
  jobId: z.string().check(z.minLength(1)),
  scheduledTime: z.iso.datetime({ offset: true }),
  /** Not to be worked on before this instant (retry delays, a firing waiting its turn). */
  notBefore: z.optional(z.iso.datetime({ offset: true })),
  /**
   * The job's version the sender made it from: the worker reads the job eventually consistent
   * (half a strong read's price) and reads it again, strongly, if that copy is older.
   */
  jobVersion: z.optional(z.int().check(z.minimum(1))),
  /** The API request that caused it (run now), for following one request through the logs. */
  correlationId: z.optional(z.string().check(z.maxLength(128))),
  /** How often fair share has put it back (its next wait grows with it). */
  deferrals: z.optional(z.int().check(z.minimum(0), z.maximum(10_000))),
  /**
   * How often it waited on its target's open circuit: a scheduled firing that did then
   * follows the job's catch-up rule when it is finally picked up (issue 17).
   */
  circuitWaits: z.optional(z.int().check(z.minimum(0), z.maximum(100_000))),
  /** Proves Sundial sent it (invariant 8); checked before anything else. */
  mac: z.optional(z.string().check(z.maxLength(128))),
});

/** The schema, built when first used (see firingMessageSchema). */
function buildSchema() {
  const base = baseFields();
  return z.discriminatedUnion('trigger', [
    z.object({ ...base, trigger: z.literal('schedule') }),
    z.object({
      ...base,
      trigger: z.literal('catch_up'),
      /**
       * Record the occurrence as missed with this reason instead of running it: an occurrence
       * of a failover's gap that the job's catch-up policy does not run (issue 16).
       */
      missReason: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
    }),
    // An occurrence run on request by the backfill API, with the occurrence's identity.
    z.object({ ...base, trigger: z.literal('backfill') }),
    /**
     * Not a run: the news that a long attempt's outcome was reported (a callback) or that a run
     * was cancelled, for the worker to settle what follows (a retry, the lock, dependents, a
     * stopped task). The sweep settles it too if this message is lost.
     */
    z.object({
      ...base,
      trigger: z.literal('settle'),
      runId: z.string().check(z.minLength(1)),
      attempt: z.int().check(z.minimum(1)),
    }),
    z.object({
      ...base,
      trigger: z.literal('retry'),
      runId: z.string().check(z.minLength(1)),
      attempt: z.int().check(z.minimum(2)),
    }),
    z.object({ ...base, trigger: z.literal('manual'), runId: z.string().check(z.minLength(1)) }),
    z.object({ ...base, trigger: z.literal('dependency'), runId: z.string().check(z.minLength(1)) }),
  ]);
}

let schema: ReturnType<typeof buildSchema> | undefined;
/**
 * Built at the first message parsed, not at load: zod builds a schema's objects when it is
 * declared. (The worker and the archiver parse at their first message: for them it moves
 * from the cold start to the first invocation.)
 */
export const firingMessageSchema = {
  parse: (value: unknown) => built().parse(value),
  safeParse: (value: unknown) => built().safeParse(value),
};
function built() {
  schema ??= buildSchema();
  return schema;
}
export type FiringMessage = z.infer<ReturnType<typeof buildSchema>>;
