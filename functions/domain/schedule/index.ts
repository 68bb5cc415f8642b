/**
 * Schedule expressions in EventBridge Scheduler's syntax, and the times they fire.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
import { CronError, type CronFields, cronFireTimes, MAX_YEAR, parseCronFields } from './cron.js';
import type { FireTimeOptions, ParsedSchedule, ParseResult } from './types.js';
import { daysInMonth, instantOfLocalLenient, isValidTimeZone } from './zoned.js';

export type * from './types.js';
export { isValidTimeZone };

const MINUTE = 60_000;
const UNIT_MS = { minutes: MINUTE, hours: 60 * MINUTE, days: 24 * 60 * MINUTE } as const;
const END_OF_TIME = Date.UTC(MAX_YEAR, 11, 31, 23, 59, 59);

export function parseScheduleExpression(expression: string): ParseResult {
  if (typeof expression !== 'string') return { ok: false, message: 'must be a string' };
  // AWS refuses an expression with white space around it, e.g. " rate(10 minutes)".
  if (expression !== expression.trim()) {
    return { ok: false, message: 'must not begin or end with white space' };
  }
  const match = /^(cron|rate|at)\((.*)\)$/s.exec(expression);
  if (!match) {
    return {
      ok: false,
      message:
        'must be cron(...), rate(...) or at(...), e.g. "cron(0 2 * * ? *)", "rate(5 minutes)" or "at(2026-12-24T18:00:00)"',
    };
  }
  const [, kind, body = ''] = match;
  try {
    if (kind === 'cron') {
      return { ok: true, schedule: { kind: 'cron', expression, fields: parseCronFields(body) } };
    }
    if (kind === 'rate') return parseRate(expression, body);
    return parseAt(expression, body);
  } catch (error) {
    if (error instanceof CronError) return { ok: false, message: error.message };
    throw error;
  }
}

function parseRate(expression: string, body: string): ParseResult {
  // AWS refuses rate( 10 minutes ) and rate(10 MINUTES): no spaces inside the parentheses,
  // a lowercase unit.
  if (body !== body.trim()) {
    return { ok: false, message: 'rate() must not have white space just inside its parentheses' };
  }
  const match = /^(\S+) +(\S+)$/.exec(body);
  if (!match) {
    return { ok: false, message: 'rate() needs a value and a unit, e.g. rate(5 minutes) or rate(1 hour)' };
  }
  const [, valueText = '', unit = ''] = match;
  if (!/^\d+$/.test(valueText) || Number(valueText) < 1 || !Number.isSafeInteger(Number(valueText))) {
    return { ok: false, message: `rate() value "${valueText}" must be a positive whole number` };
  }
  const value = Number(valueText);
  const lower = unit.toLowerCase();
  const plural = (['minutes', 'hours', 'days'] as const).find((u) => u === lower || u.slice(0, -1) === lower);
  if (!plural) return { ok: false, message: `rate() unit "${unit}" must be minute(s), hour(s) or day(s)` };
  if (unit !== lower) return { ok: false, message: `rate() unit "${unit}" must be lowercase ("${lower}")` };
  if (value === 1 && unit === plural) {
    return {
      ok: false,
      message: `rate() unit must be singular ("${plural.slice(0, -1)}") when the value is 1`,
    };
  }
  if (value > 1 && unit !== plural) {
    return {
      ok: false,
      message: `rate() unit must be plural ("${plural}") when the value is greater than 1`,
    };
  }
  return {
    ok: true,
    schedule: { kind: 'rate', expression, value, unit: plural, intervalMs: value * UNIT_MS[plural] },
  };
}

function parseAt(expression: string, body: string): ParseResult {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!match) {
    return { ok: false, message: 'at() needs yyyy-mm-ddThh:mm:ss, e.g. at(2026-12-24T18:00:00)' };
  }
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return { ok: false, message: `at() month ${month} is out of range 01-12` };
  if (day < 1 || day > daysInMonth(year, month)) {
    return { ok: false, message: `at() date ${body.slice(0, 10)} does not exist` };
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return { ok: false, message: `at() time ${body.slice(11)} is not a valid time of day` };
  }
  if (year < 1970 || year > MAX_YEAR)
    return { ok: false, message: `at() year ${year} is out of range 1970-${MAX_YEAR}` };
  return { ok: true, schedule: { kind: 'at', expression, localDateTime: body } };
}

/**
 * Fire times strictly after `options.after`, at most `options.count`.
 * - cron: in the time zone; a wall time skipped by a spring-forward change does not fire,
 *   one repeated by a fall-back change fires once (AWS's documented DST behaviour).
 * - rate: every interval from the anchor (startAt, else createdAt) rounded up to the whole
 *   minute — Scheduler starts a rate schedule without StartDate right away, with minute
 *   precision. Time zones do not apply; `days` are 24-hour durations.
 * - at: once, at the wall time in the zone; StartDate/EndDate do not apply (as on AWS).
 */
export function nextFireTimes(schedule: ParsedSchedule, options: FireTimeOptions): Date[] {
  const timezone = options.timezone ?? 'UTC';
  const after = options.after.getTime();
  const until = options.endAt ? options.endAt.getTime() : END_OF_TIME;
  const startAt = options.startAt?.getTime();
  if (options.count <= 0) return [];

  if (schedule.kind === 'at') {
    const [date = '', time = ''] = schedule.localDateTime.split('T');
    const [year, month, day] = date.split('-').map(Number) as [number, number, number];
    const [hour, minute, second] = time.split(':').map(Number) as [number, number, number];
    const instant = instantOfLocalLenient({ year, month, day, hour, minute, second }, timezone);
    return instant > after ? [new Date(instant)] : [];
  }

  if (schedule.kind === 'rate') {
    const anchorRaw = startAt ?? options.createdAt?.getTime() ?? after;
    const anchor = Math.ceil(anchorRaw / MINUTE) * MINUTE;
    const out: Date[] = [];
    let k = after < anchor ? 0 : Math.floor((after - anchor) / schedule.intervalMs) + 1;
    for (; out.length < options.count; k++) {
      const t = anchor + k * schedule.intervalMs;
      if (t > until || t > END_OF_TIME) break;
      out.push(new Date(t));
    }
    return out;
  }

  // cron: nothing before StartDate.
  const from = startAt !== undefined && startAt - 1 > after ? startAt - 1 : after;
  return cronFireTimes(schedule.fields as CronFields, timezone, from, until, options.count);
}
