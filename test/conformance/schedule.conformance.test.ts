/**
 * Runs the conformance table (schedule-cases.ts) against Sundial's evaluator: each valid
 * expression's next fire times after the start instant, in the row's time zone, and each
 * invalid one refused. See docs/SCHEDULES.md.
 */
import { describe, expect, it } from 'vitest';
import { nextFireTimes, parseScheduleExpression } from '../../functions/domain/schedule/index.js';
import { type ScheduleCase, scheduleCases } from './schedule-cases.js';

const normal = (iso: string) => new Date(iso).toISOString();

describe('schedule expression conformance table', () => {
  it('has at least 200 cases, each with a source, unique ids, and a note where AWS is silent', () => {
    expect(scheduleCases.length).toBeGreaterThanOrEqual(200);
    expect(new Set(scheduleCases.map((c) => c.id)).size).toBe(scheduleCases.length);
    for (const c of scheduleCases) {
      expect(c.source, c.id).toMatch(/\S/);
      if (c.undocumented) expect(c.note, c.id).toMatch(/\S/);
      if (c.expected !== 'invalid') expect(c.expected.length, c.id).toBeLessThanOrEqual(c.count ?? 0);
    }
  });

  it.each(scheduleCases.map((c) => [`${c.id} ${c.expression}${c.timezone ? ` in ${c.timezone}` : ''}`, c]))(
    '%s',
    (_name, c: ScheduleCase) => {
      const parsed = parseScheduleExpression(c.expression);
      if (c.expected === 'invalid') {
        expect(parsed.ok, `${c.expression} should be refused (${c.source})`).toBe(false);
        return;
      }
      if (!parsed.ok) throw new Error(`${c.expression} should parse (${c.source}): ${parsed.message}`);
      const start = new Date(c.start);
      const times = nextFireTimes(parsed.schedule, {
        after: start,
        count: c.count ?? c.expected.length,
        createdAt: start,
        ...(c.timezone ? { timezone: c.timezone } : {}),
      });
      expect(times.map((t) => t.toISOString())).toEqual(c.expected.map(normal));
    },
  );
});
