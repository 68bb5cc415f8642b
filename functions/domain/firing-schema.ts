/**
 * The firing message's shape and its parser: every receiver (the worker, the dead-letter
 * archiver, redrive) parses a firing here; domain/firing.ts makes them.
 *
 * Checked by hand, not with zod: the message is Sundial's own (signed, on queues only
 * Sundial can send to), its shape is fixed, and zod's code and the schema's construction were
 * about 7 ms of the worker's and the archiver's every cold start (issue 17). A unit test holds
 * this parser to the zod schema it replaced, input for input.
 */

import { isPlainObject } from './json-walk.js';

/** The fields every firing has. */
interface FiringBase {
  v: 1;
  tenantId: string;
  jobId: string;
  scheduledTime: string;
  /** Not to be worked on before this instant (retry delays, a firing waiting its turn). */
  notBefore?: string | undefined;
  /**
   * The job's version the sender made it from: the worker reads the job eventually consistent
   * (half a strong read's price) and reads it again, strongly, if that copy is older.
   */
  jobVersion?: number | undefined;
  /** The API request that caused it (run now), for following one request through the logs. */
  correlationId?: string | undefined;
  /** How often fair share has put it back (its next wait grows with it). */
  deferrals?: number | undefined;
  /**
   * How often it waited on its target's open circuit: a scheduled firing that did then
   * follows the job's catch-up rule when it is finally picked up (issue 17).
   */
  circuitWaits?: number | undefined;
  /** Proves Sundial sent it (invariant 8); checked before anything else. */
  mac?: string | undefined;
}

export type FiringMessage =
  | (FiringBase & { trigger: 'schedule' })
  | (FiringBase & {
      trigger: 'catch_up';
      /**
       * Record the occurrence as missed with this reason instead of running it: an occurrence
       * of a failover's gap that the job's catch-up policy does not run (issue 16).
       */
      missReason?: string | undefined;
    })
  // An occurrence run on request by the backfill API, with the occurrence's identity.
  | (FiringBase & { trigger: 'backfill' })
  /**
   * Not a run: the news that a long attempt's outcome was reported (a callback) or that a run
   * was cancelled, for the worker to settle what follows (a retry, the lock, dependents, a
   * stopped task). The sweep settles it too if this message is lost.
   */
  | (FiringBase & { trigger: 'settle'; runId: string; attempt: number })
  | (FiringBase & { trigger: 'retry'; runId: string; attempt: number })
  | (FiringBase & { trigger: 'manual'; runId: string })
  | (FiringBase & { trigger: 'dependency'; runId: string });

type Check = (value: unknown) => boolean;
/** A field: its name, its check, and whether it may be left out. */
type Field = readonly [name: string, check: Check, optional: boolean];

const text =
  (min: number, max = Number.POSITIVE_INFINITY): Check =>
  (v) =>
    typeof v === 'string' && v.length >= min && v.length <= max;
const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
/**
 * RFC 3339 with seconds and a `Z` or `±hh:mm` offset, and real dates only (29 February in
 * leap years): what zod's `iso.datetime({ offset: true })` accepted.
 */
const DATETIME =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|([+-](?:[01]\d|2[0-3]):[0-5]\d)))$/;
const datetime: Check = (v) => typeof v === 'string' && DATETIME.test(v);

const BASE: readonly Field[] = [
  ['v', (v) => v === 1, false],
  ['tenantId', text(1), false],
  ['jobId', text(1), false],
  ['scheduledTime', datetime, false],
  ['notBefore', datetime, true],
  ['jobVersion', integer(1), true],
  ['correlationId', text(0, 128), true],
  ['deferrals', integer(0, 10_000), true],
  ['circuitWaits', integer(0, 100_000), true],
  ['mac', text(0, 128), true],
];
const runId: Field = ['runId', text(1), false];
/** Each trigger's fields beyond the base. */
const BY_TRIGGER: Record<FiringMessage['trigger'], readonly Field[]> = {
  schedule: [],
  catch_up: [['missReason', text(1, 512), true]],
  backfill: [],
  settle: [runId, ['attempt', integer(1), false]],
  retry: [runId, ['attempt', integer(2), false]],
  manual: [runId],
  dependency: [runId],
};

export type FiringParse = { success: true; data: FiringMessage } | { success: false; error: Error };

function safeParse(value: unknown): FiringParse {
  const fail = (why: string): FiringParse => ({ success: false, error: new Error(`not a firing: ${why}`) });
  if (!isPlainObject(value)) return fail('not an object');
  const input = value;
  const trigger = input.trigger;
  if (typeof trigger !== 'string' || !Object.hasOwn(BY_TRIGGER, trigger)) return fail('trigger');
  // Only the trigger's own fields, base first: anything else in the body is dropped.
  const data: Record<string, unknown> = {};
  const take = ([name, check, optional]: Field): boolean => {
    const v = input[name];
    if (v === undefined && optional) {
      if (Object.hasOwn(input, name)) data[name] = undefined;
      return true;
    }
    if (!check(v)) return false;
    data[name] = v;
    return true;
  };
  for (const field of BASE) if (!take(field)) return fail(field[0]);
  data.trigger = trigger;
  for (const field of BY_TRIGGER[trigger as FiringMessage['trigger']])
    if (!take(field)) return fail(field[0]);
  return { success: true, data: data as unknown as FiringMessage };
}

export const firingMessageSchema = {
  safeParse,
  parse(value: unknown): FiringMessage {
    const parsed = safeParse(value);
    if (!parsed.success) throw parsed.error;
    return parsed.data;
  },
};
