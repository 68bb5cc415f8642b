/**
 * Wall-clock time in IANA time zones with nothing but Intl: local parts of an instant,
 * and the instant of a local wall time (absent in a spring-forward gap, the first of two
 * in a fall-back overlap — EventBridge Scheduler's own daylight-saving rules).
 *
 * Works for every offset the tz database has (-12:00 to +14:00, :30 and :45 zones): the
 * offsets are read a whole day either side of a wall time, and on a day with a change the
 * instant of the change is found to the second, so a wall time is placed by the offset
 * actually in force at its instant. It assumes at most one change within three days, which
 * holds for every zone since 1970.
 */

export interface LocalParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const SECOND = 1000;
const DAY = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

export function isValidTimeZone(timezone: string): boolean {
  if (typeof timezone !== 'string' || timezone.length === 0 || timezone.length > 64) return false;
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}

export function localParts(instant: number, timezone: string): LocalParts {
  const out: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  return {
    year: out.year!,
    month: out.month!,
    day: out.day!,
    hour: out.hour!,
    minute: out.minute!,
    second: out.second!,
  };
}

function isUtc(timezone: string): boolean {
  return timezone === 'UTC' || timezone === 'Etc/UTC';
}

/** "12/31/2026, 23:59:59" as en-US formats it with hourCycle h23. */
const FORMATTED = /^(\d+)\/(\d+)\/(\d+), (\d+):(\d+):(\d+)$/;

/** Offset of the zone from UTC at an instant, in ms (positive east of Greenwich). */
export function offsetAt(instant: number, timezone: string): number {
  if (isUtc(timezone)) return 0;
  const whole = Math.floor(instant / SECOND) * SECOND;
  // format() and a regular expression are several times faster than formatToParts().
  const m = FORMATTED.exec(formatter(timezone).format(whole));
  let asUtc: number;
  if (m) {
    asUtc = Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]));
  } else {
    const p = localParts(whole, timezone);
    asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  }
  return asUtc - whole;
}

/**
 * The offsets that can apply to a wall time on one local calendar day. Every instant whose
 * wall time falls on the day lies within a day either side of it (offsets stay within
 * ±24 h), so the offsets at those two ends and the one change between them, if any, say
 * where each of the day's wall times is.
 */
interface DayOffsets {
  /** Offset in force before the change (the only offset when there is none). */
  before: number;
  /** Offset in force from `change` on. */
  after: number;
  /** First whole second with the `after` offset; null on a day without a change. */
  change: number | null;
}

const dayCache = new Map<string, DayOffsets>();
const DAY_CACHE_LIMIT = 20_000;
/** Changes already found, per zone: neighbouring days share them. */
const knownChanges = new Map<string, { at: number; before: number; after: number }[]>();

function findChange(lo: number, hi: number, before: number, after: number, timezone: string): number {
  const known = knownChanges.get(timezone) ?? [];
  const hit = known.find((c) => c.at > lo && c.at <= hi && c.before === before && c.after === after);
  if (hit) return hit.at;
  // Bisect to the minute (changes fall on whole minutes), then to the second if need be.
  let a = lo;
  let b = hi;
  for (const unit of [60 * SECOND, SECOND]) {
    a = Math.floor(a / unit) * unit;
    b = Math.ceil(b / unit) * unit;
    while (b - a > unit) {
      const mid = Math.floor((a + b) / 2 / unit) * unit;
      if (offsetAt(mid, timezone) === after) b = mid;
      else a = mid;
    }
    if (offsetAt(b - SECOND, timezone) !== after) break;
    a = b - unit;
  }
  if (known.length >= 64) known.shift();
  known.push({ at: b, before, after });
  knownChanges.set(timezone, known);
  return b;
}

function offsetsOfDay(dayStartWall: number, timezone: string): DayOffsets {
  const key = `${timezone}\u0000${dayStartWall}`;
  const cached = dayCache.get(key);
  if (cached) return cached;
  const lo = dayStartWall - DAY;
  const hi = dayStartWall + 2 * DAY;
  const before = offsetAt(lo, timezone);
  const after = offsetAt(hi, timezone);
  const change = before === after ? null : findChange(lo, hi, before, after, timezone);
  const result = { before, after, change };
  if (dayCache.size >= DAY_CACHE_LIMIT) dayCache.clear();
  dayCache.set(key, result);
  return result;
}

/** Every instant at which the wall time (given as if it were UTC) is shown, earliest first. */
function instantsOfWall(wall: number, timezone: string): number[] {
  if (isUtc(timezone)) return [wall];
  const dayStart = Math.floor(wall / DAY) * DAY;
  const { before, after, change } = offsetsOfDay(dayStart, timezone);
  if (change === null) return [wall - before];
  const out: number[] = [];
  const early = wall - before;
  const late = wall - after;
  if (early < change) out.push(early);
  if (late >= change && late !== early) out.push(late);
  return out.sort((x, y) => x - y);
}

/**
 * For one local calendar day: the first instant at which the clocks show hour:minute, or
 * undefined when that wall time does not exist (a spring-forward gap). Resolves the day's
 * offsets once, for walking many wall times of the same day.
 */
export function firstInstantsOfDay(
  year: number,
  month: number,
  day: number,
  timezone: string,
): (hour: number, minute: number) => number | undefined {
  const dayStart = Date.UTC(year, month - 1, day);
  if (isUtc(timezone)) return (hour, minute) => dayStart + hour * 3_600_000 + minute * 60_000;
  const { before, after, change } = offsetsOfDay(dayStart, timezone);
  return (hour, minute) => {
    const wall = dayStart + hour * 3_600_000 + minute * 60_000;
    const early = wall - before;
    if (change === null || early < change) return early;
    const late = wall - after;
    return late >= change ? late : undefined;
  };
}

/**
 * Every instant at which the zone's clocks show this wall time, earliest first:
 * none in a spring-forward gap, two in a fall-back overlap, one otherwise.
 */
export function instantsOfLocal(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timezone: string,
): number[] {
  return instantsOfWall(Date.UTC(year, month - 1, day, hour, minute, 0), timezone);
}

/**
 * The instant of a wall time for a one-time schedule: the first of two in an overlap. In a
 * spring-forward gap the time does not exist; it is read with the offset in force before
 * the gap, which lands the same distance past the change (02:30 in a 02:00->03:00 gap
 * fires at 03:30).
 */
export function instantOfLocalLenient(parts: LocalParts, timezone: string): number {
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  const [first] = instantsOfWall(wall, timezone);
  if (first !== undefined) return first;
  return wall - offsetsOfDay(Math.floor(wall / DAY) * DAY, timezone).before;
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday, EventBridge's numbering. */
export function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}
