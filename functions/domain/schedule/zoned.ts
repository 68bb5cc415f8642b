/**
 * Wall-clock time in IANA time zones with nothing but Intl: local parts of an instant,
 * and the instant of a local wall time (absent in a spring-forward gap, the first of two
 * in a fall-back overlap — EventBridge Scheduler's own daylight-saving rules).
 */

export interface LocalParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

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

/** Offset of the zone from UTC at an instant, in ms (positive east of Greenwich). */
function offsetAt(instant: number, timezone: string): number {
  const p = localParts(instant, timezone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

const HALF_DAY = 12 * 3600 * 1000;

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
  const wall = Date.UTC(year, month - 1, day, hour, minute, 0);
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return [wall];
  // Offsets in force half a day either side cover any single transition near this time.
  const candidates = new Set([
    wall - offsetAt(wall - HALF_DAY, timezone),
    wall - offsetAt(wall + HALF_DAY, timezone),
  ]);
  const result: number[] = [];
  for (const t of candidates) {
    const p = localParts(t, timezone);
    if (p.year === year && p.month === month && p.day === day && p.hour === hour && p.minute === minute) {
      result.push(t);
    }
  }
  return result.sort((a, b) => a - b);
}

/**
 * The instant of a wall time for a one-time schedule. In a spring-forward gap the time
 * does not exist; it is read with the offset in force before the gap, which lands the
 * same distance past the transition (02:30 in a 02:00->03:00 gap fires at 03:30).
 */
export function instantOfLocalLenient(
  parts: Omit<LocalParts, 'second'> & { second: number },
  timezone: string,
): number {
  const found = instantsOfLocal(parts.year, parts.month, parts.day, parts.hour, parts.minute, timezone);
  if (found.length > 0) return found[0]! + parts.second * 1000;
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - offsetAt(wall - HALF_DAY, timezone);
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = Sunday ... 7 = Saturday, EventBridge's numbering. */
export function dayOfWeek(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}
