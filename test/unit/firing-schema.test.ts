/**
 * The firing parser is checked by hand (issue 17: zod was a tenth of the worker's cold
 * start). This holds it to the zod/mini schema it replaced, input for input: the same
 * messages accepted, the same ones refused, and the same data out (unknown fields dropped,
 * in the same order).
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { firing } from '../../functions/domain/firing.js';
import { firingMessageSchema } from '../../functions/domain/firing-schema.js';

/** The schema as it was (functions/domain/firing.ts before the parser was written by hand). */
function zodSchema() {
  const base = {
    v: z.literal(1),
    tenantId: z.string().check(z.minLength(1)),
    jobId: z.string().check(z.minLength(1)),
    scheduledTime: z.iso.datetime({ offset: true }),
    notBefore: z.optional(z.iso.datetime({ offset: true })),
    jobVersion: z.optional(z.int().check(z.minimum(1))),
    correlationId: z.optional(z.string().check(z.maxLength(128))),
    deferrals: z.optional(z.int().check(z.minimum(0), z.maximum(10_000))),
    circuitWaits: z.optional(z.int().check(z.minimum(0), z.maximum(100_000))),
    mac: z.optional(z.string().check(z.maxLength(128))),
  };
  return z.discriminatedUnion('trigger', [
    z.object({ ...base, trigger: z.literal('schedule') }),
    z.object({
      ...base,
      trigger: z.literal('catch_up'),
      missReason: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
    }),
    z.object({ ...base, trigger: z.literal('backfill') }),
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

const FULL = {
  v: 1,
  tenantId: 't-1',
  jobId: 'j-1',
  scheduledTime: '2027-03-01T10:00:00.000Z',
  notBefore: '2027-03-01T10:00:05Z',
  jobVersion: 3,
  correlationId: 'req-1',
  deferrals: 2,
  circuitWaits: 1,
  mac: 'abc',
  missReason: 'a gap',
  runId: 'r-1',
  attempt: 2,
};
const TRIGGERS = ['schedule', 'catch_up', 'backfill', 'settle', 'retry', 'manual', 'dependency'];

/** Odd values for any field: wrong types, edges of each range, near-miss timestamps. */
const ODD: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(512),
  'x'.repeat(513),
  0,
  1,
  2,
  -1,
  1.5,
  10_000,
  10_001,
  100_000,
  100_001,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '1',
  true,
  [],
  {},
  [1],
  '2027-03-01T10:00:00Z',
  '2027-03-01T10:00:00.123456789+05:30',
  '2027-03-01T10:00:00-23:59',
  '2027-03-01T10:00:00+24:00',
  '2027-03-01T10:00Z',
  '2027-03-01T10:00:00',
  '2027-03-01 10:00:00Z',
  '2027-02-29T10:00:00Z',
  '2028-02-29T10:00:00Z',
  '2100-02-29T10:00:00Z',
  '2000-02-29T10:00:00Z',
  '2027-04-31T10:00:00Z',
  '2027-13-01T10:00:00Z',
  '2027-03-01T24:00:00Z',
  '2027-03-01T10:60:00Z',
  '2027-03-01T10:00:60Z',
  '2027-03-01T10:00:00.Z',
  '2027-03-01T10:00:00+0530',
  ' 2027-03-01T10:00:00Z',
  '2027-03-01T10:00:00z',
  ...TRIGGERS,
  'cancel',
];

function inputs(): unknown[] {
  const out: unknown[] = [null, undefined, 1, 'x', [], [FULL], {}];
  for (const trigger of TRIGGERS) {
    const whole = { ...FULL, trigger };
    out.push(whole, { ...whole, extra: 1, __proto__x: 2 });
    for (const key of [...Object.keys(FULL), 'trigger']) {
      const { [key]: _left, ...without } = whole as Record<string, unknown>;
      out.push(without);
      for (const odd of ODD) out.push({ ...whole, [key]: odd });
    }
    // The bare minimum of each trigger.
    out.push({
      v: 1,
      tenantId: 't',
      jobId: 'j',
      scheduledTime: FULL.scheduledTime,
      trigger,
      runId: 'r',
      attempt: 2,
    });
  }
  out.push({
    ...firing.scheduleTemplate({ tenantId: 't', id: 'j', version: 2 }),
    scheduledTime: FULL.scheduledTime,
  });
  return out;
}

describe('the firing parser', () => {
  it('accepts, refuses and returns exactly what the zod schema it replaced did', () => {
    const schema = zodSchema();
    const all = inputs();
    let accepted = 0;
    for (const input of all) {
      const ours = firingMessageSchema.safeParse(input);
      const theirs = schema.safeParse(input);
      expect(ours.success, JSON.stringify(input)).toBe(theirs.success);
      if (ours.success && theirs.success) {
        accepted++;
        // Same fields, same values, same order.
        expect(Object.entries(ours.data)).toEqual(Object.entries(theirs.data));
      }
    }
    // Both outcomes were exercised, many times over.
    expect(all.length).toBeGreaterThan(5_000);
    expect(accepted).toBeGreaterThan(500);
    expect(all.length - accepted).toBeGreaterThan(2_000);
  });

  it('names what is wrong, and parse throws it', () => {
    const bad = { ...FULL, trigger: 'retry', attempt: 1 };
    const parsed = firingMessageSchema.safeParse(bad);
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(parsed.error.message).toBe('not a firing: attempt');
    expect(() => firingMessageSchema.parse({ ...FULL, trigger: 'later' })).toThrow('not a firing: trigger');
  });
});
