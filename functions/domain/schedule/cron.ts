/**
 * EventBridge cron: cron(minutes hours day-of-month month day-of-week year), evaluated in
 * a time zone. No cron library matches AWS's dialect (six fields, `?` required in one day
 * field, L/W/# wildcards, 1 = SUN) and its daylight-saving rules, so it is written here.
 */
import { dayOfWeek, daysInMonth, firstInstantsOfDay } from './zoned.js';

export const MIN_YEAR = 1970;
export const MAX_YEAR = 2199;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** Largest step `/n` allowed. */
  maxStep: number;
  /** Whether a range may run past the end of the field and wrap round (22-2, FRI-MON). */
  wraps: boolean;
}

/*
 * Steps: AWS refuses a step larger than the field, e.g. cron(*\/60 * * * ? *). The limits are
 * the field's largest value, as in the Quartz dialect AWS follows (minutes 59, hours 23,
 * day-of-month 31, month 12); for the year, a step larger than 2199 - 1970 = 229 can never
 * reach a second year. Ranges may wrap round the end of the field (AWS's own example
 * cron(0/30 20-2 ? * MON-FRI *)), except in the year.
 */
const FIELDS = {
  minutes: { name: 'minutes', min: 0, max: 59, maxStep: 59, wraps: true },
  hours: { name: 'hours', min: 0, max: 23, maxStep: 23, wraps: true },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31, maxStep: 31, wraps: true },
  month: { name: 'month', min: 1, max: 12, names: MONTHS, maxStep: 12, wraps: true },
  dayOfWeek: { name: 'day-of-week', min: 1, max: 7, names: DAYS, maxStep: 7, wraps: true },
  year: { name: 'year', min: MIN_YEAR, max: MAX_YEAR, maxStep: MAX_YEAR - MIN_YEAR, wraps: false },
} satisfies Record<string, FieldSpec>;

export type DayOfMonthRule =
  | { kind: 'any' }
  | { kind: 'values'; values: Set<number> }
  | { kind: 'last'; offset: number } // L, or L-n: n days before the last
  | { kind: 'lastWeekday' }
  | { kind: 'nearestWeekday'; day: number };

export type DayOfWeekRule =
  | { kind: 'any' }
  | { kind: 'values'; values: Set<number> }
  | { kind: 'lastOf'; weekday: number }
  | { kind: 'nth'; weekday: number; n: number };

export interface CronFields {
  minutes: number[];
  hours: number[];
  months: Set<number>;
  years: Set<number>;
  dayOfMonth: DayOfMonthRule | null; // null when `?`
  dayOfWeek: DayOfWeekRule | null;
}

export class CronError extends Error {}

function parseNumber(token: string, spec: FieldSpec): number {
  const upper = token.toUpperCase();
  const named = spec.names?.indexOf(upper) ?? -1;
  if (named >= 0) return named + 1;
  if (!/^\d+$/.test(token)) {
    const hint = spec.names ? ` or a name (${spec.names[0]}-${spec.names[spec.names.length - 1]})` : '';
    throw new CronError(`${spec.name} value "${token}" is not a number${hint}`);
  }
  const value = Number(token);
  if (value < spec.min || value > spec.max) {
    throw new CronError(`${spec.name} value ${value} is out of range ${spec.min}-${spec.max}`);
  }
  return value;
}

function parseStep(stepText: string, item: string, spec: FieldSpec): number {
  if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
    throw new CronError(`${spec.name} step "${stepText}" in "${item}" must be a positive whole number`);
  }
  const step = Number(stepText);
  if (step > spec.maxStep) {
    throw new CronError(
      `${spec.name} step ${step} in "${item}" is larger than the field allows (at most ${spec.maxStep}, the field being ${spec.min}-${spec.max})`,
    );
  }
  return step;
}

/** Numbers, names, `*`, ranges `a-b` (wrapping when a > b), steps `a/n`, `*\/n`, `a-b/n`, lists. */
function parseValues(field: string, spec: FieldSpec): Set<number> {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    if (item === '') throw new CronError(`${spec.name} field "${field}" has an empty list item`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) throw new CronError(`${spec.name} item "${item}" has more than one "/"`);
    const step = stepText === undefined ? 1 : parseStep(stepText, item, spec);
    let start: number;
    let end: number;
    if (range === '*') {
      start = spec.min;
      end = spec.max;
    } else if (range?.includes('-')) {
      const [a, b, more] = range.split('-');
      if (more !== undefined || !a || !b)
        throw new CronError(`${spec.name} range "${range}" must look like 1-5`);
      start = parseNumber(a, spec);
      end = parseNumber(b, spec);
      if (start > end) {
        if (!spec.wraps) {
          throw new CronError(
            `${spec.name} range "${range}" runs backwards; the start must not be after the end`,
          );
        }
        // Wraps round the end of the field: 22-2 is 22, 23, 0, 1, 2.
        end += spec.max - spec.min + 1;
      }
    } else {
      start = parseNumber(range ?? '', spec);
      // `a/n` means from a to the end of the field in steps of n.
      end = stepText !== undefined ? spec.max : start;
    }
    const size = spec.max - spec.min + 1;
    for (let v = start; v <= end; v += step) values.add(spec.min + ((v - spec.min) % size));
  }
  return values;
}

function parseDayOfMonth(field: string): DayOfMonthRule | null {
  const spec = FIELDS.dayOfMonth;
  if (field === '?') return null;
  if (field === '*') return { kind: 'any' };
  const upper = field.toUpperCase();
  if (upper === 'L') return { kind: 'last', offset: 0 };
  // L-n, n days before the last day (Quartz; AWS's docs name only L): L-2 is the 29th of a
  // 31-day month; a month too short for it (L-30 in February) has no such day.
  const lastOffset = /^L-(\d+)$/.exec(upper);
  if (lastOffset) {
    const offset = Number(lastOffset[1]);
    if (offset < 1 || offset > 30) {
      throw new CronError(`day-of-month "${field}": the offset after L- must be 1-30`);
    }
    return { kind: 'last', offset };
  }
  if (upper === 'LW') return { kind: 'lastWeekday' };
  if (upper.endsWith('W')) {
    const day = upper.slice(0, -1);
    if (!/^\d+$/.test(day)) {
      throw new CronError(
        `day-of-month "${field}": W follows a single day number, e.g. 15W (weekday nearest the 15th)`,
      );
    }
    return { kind: 'nearestWeekday', day: parseNumber(day, spec) };
  }
  if (/[LW#]/i.test(field)) {
    throw new CronError(
      `day-of-month "${field}": L and W stand alone (L, L-2, LW, 15W) and # belongs in day-of-week`,
    );
  }
  return { kind: 'values', values: parseValues(field, spec) };
}

function parseDayOfWeek(field: string): DayOfWeekRule | null {
  const spec = FIELDS.dayOfWeek;
  if (field === '?') return null;
  if (field === '*') return { kind: 'any' };
  const upper = field.toUpperCase();
  // `L` alone is the last day of the week: Saturday.
  if (upper === 'L') return { kind: 'values', values: new Set([7]) };
  if (upper.includes('#')) {
    if (upper.includes(',')) {
      throw new CronError(
        `day-of-week "${field}": with # the field holds one expression only (AWS: "3#1,6#3" is not valid)`,
      );
    }
    const [day, n, more] = upper.split('#');
    if (more !== undefined || !day || !n || !/^[1-5]$/.test(n)) {
      throw new CronError(`day-of-week "${field}": # needs a day and an occurrence 1-5, e.g. 3#2 or TUE#2`);
    }
    return { kind: 'nth', weekday: parseNumber(day, spec), n: Number(n) };
  }
  if (upper.endsWith('L')) {
    const day = upper.slice(0, -1);
    return { kind: 'lastOf', weekday: parseNumber(day, spec) };
  }
  if (/[LW]/.test(upper.replace(/[A-Z]{3}/g, ''))) {
    throw new CronError(
      `day-of-week "${field}": L goes after a single day (6L = last Friday) and W is day-of-month only`,
    );
  }
  // AWS's day-of-week takes , - * ? L # but not / (its field table and its validators).
  if (field.includes('/')) {
    throw new CronError(
      `day-of-week "${field}": / (increments) is not allowed in day-of-week; list the days instead, e.g. MON,WED,FRI`,
    );
  }
  return { kind: 'values', values: parseValues(field, spec) };
}

export function parseCronFields(body: string): CronFields {
  const parts = body.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 6) {
    throw new CronError(
      `cron() needs 6 fields (minutes hours day-of-month month day-of-week year) but got ${parts.length}: "${body.trim()}"`,
    );
  }
  const [min, hour, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  for (const [field, spec] of [
    [min, FIELDS.minutes],
    [hour, FIELDS.hours],
    [month, FIELDS.month],
    [year, FIELDS.year],
  ] as const) {
    if (field === '?')
      throw new CronError(`? is allowed only in day-of-month or day-of-week, not in ${spec.name}`);
    if (/[LW#]/i.test(field.replace(/[A-Z]{3}/gi, (m) => (MONTHS.includes(m.toUpperCase()) ? '' : m)))) {
      throw new CronError(`${spec.name} "${field}": L, W and # are allowed only in the day fields`);
    }
  }
  if (dom === '?' && dow === '?') {
    throw new CronError('day-of-month and day-of-week cannot both be ?; give one of them a value or *');
  }
  if (dom !== '?' && dow !== '?') {
    throw new CronError('day-of-month and day-of-week cannot both be specified; use ? in one of them');
  }
  return {
    minutes: [...parseValues(min, FIELDS.minutes)].sort((a, b) => a - b),
    hours: [...parseValues(hour, FIELDS.hours)].sort((a, b) => a - b),
    dayOfMonth: parseDayOfMonth(dom),
    months: parseValues(month, FIELDS.month),
    dayOfWeek: parseDayOfWeek(dow),
    years: parseValues(year, FIELDS.year),
  };
}

function isWeekday(year: number, month: number, day: number): boolean {
  const dow = dayOfWeek(year, month, day);
  return dow >= 2 && dow <= 6;
}

function nearestWeekday(year: number, month: number, target: number): number | null {
  const last = daysInMonth(year, month);
  if (target > last) return null;
  const dow = dayOfWeek(year, month, target);
  if (dow === 7) return target === 1 ? 3 : target - 1; // Saturday: Friday, or Monday the 3rd
  if (dow === 1) return target === last ? target - 2 : target + 1; // Sunday: Monday, or Friday before
  return target;
}

function dayMatches(fields: CronFields, year: number, month: number, day: number): boolean {
  const dom = fields.dayOfMonth;
  if (dom) {
    switch (dom.kind) {
      case 'any':
        return true;
      case 'values':
        return dom.values.has(day);
      case 'last':
        return day === daysInMonth(year, month) - dom.offset;
      case 'lastWeekday': {
        let last = daysInMonth(year, month);
        while (!isWeekday(year, month, last)) last--;
        return day === last;
      }
      case 'nearestWeekday':
        return nearestWeekday(year, month, dom.day) === day;
    }
  }
  const dow = fields.dayOfWeek;
  if (!dow) return false;
  const weekday = dayOfWeek(year, month, day);
  switch (dow.kind) {
    case 'any':
      return true;
    case 'values':
      return dow.values.has(weekday);
    case 'lastOf':
      return weekday === dow.weekday && day + 7 > daysInMonth(year, month);
    case 'nth':
      return weekday === dow.weekday && Math.ceil(day / 7) === dow.n;
  }
}

/**
 * Fire times strictly after `after` (and not after `until`), in time order. Walks the
 * calendar in the zone, skipping whole years and months that cannot match, so even an
 * expression that never fires again answers quickly.
 */
export function cronFireTimes(
  fields: CronFields,
  timezone: string,
  after: number,
  until: number,
  count: number,
): Date[] {
  const out: Date[] = [];
  if (count <= 0) return out;
  // Start on the local day before `after` so no wall time that maps after it is missed.
  const start = new Date(after - 36 * 3600 * 1000);
  let year = start.getUTCFullYear();
  let month = start.getUTCMonth() + 1;
  let day = start.getUTCDate();
  while (year <= MAX_YEAR) {
    if (!fields.years.has(year)) {
      year++;
      month = 1;
      day = 1;
      continue;
    }
    if (!fields.months.has(month)) {
      month++;
      day = 1;
      if (month > 12) {
        month = 1;
        year++;
      }
      continue;
    }
    if (dayMatches(fields, year, month, day)) {
      const firstInstant = firstInstantsOfDay(year, month, day, timezone);
      for (const hour of fields.hours) {
        for (const minute of fields.minutes) {
          // In a fall-back overlap the wall time occurs twice: fire only at the first. In a
          // spring-forward gap it does not occur: no fire.
          const instant = firstInstant(hour, minute);
          if (instant === undefined || instant <= after) continue;
          if (instant > until) return out;
          out.push(new Date(instant));
          if (out.length >= count) return out;
        }
      }
    }
    day++;
    if (day > daysInMonth(year, month)) {
      day = 1;
      month++;
      if (month > 12) {
        month = 1;
        year++;
      }
    }
  }
  return out;
}
