/**
 * Fire times as a person reads them: the wall time in a zone, its UTC offset, and whether a
 * daylight-saving change (any change of the zone's offset) falls since the previous fire
 * time, which moves this one against UTC or against the wall clock. Shared by the CLI's
 * `preview` and the console's job page; plain Intl, so it runs in Node and browsers.
 */

export interface FireTimeView {
  /** The instant, ISO 8601 UTC, as the API gave it. */
  at: string;
  /** `2026-03-08 09:00` in `timezone`. */
  local: string;
  /** `+01:00`, `-05:00`, `+05:45`. */
  offset: string;
  /** The zone's offset differs from the one at the previous fire time (or at `since`). */
  dstChange: boolean;
  /** e.g. `offset -05:00 → -04:00`, when `dstChange`. */
  change?: string;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(timezone: string): Intl.DateTimeFormat {
  let f = formats.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: timezone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formats.set(timezone, f);
  }
  return f;
}

/** The wall time (`YYYY-MM-DD HH:MM`, seconds when not zero) and UTC offset of `instant` in `timezone`. */
export function wallTime(instant: Date | string, timezone: string): { local: string; offset: string } {
  const parts = Object.fromEntries(
    format(timezone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  const seconds = parts.second && parts.second !== '00' ? `:${parts.second}` : '';
  // "GMT" alone is UTC; otherwise "GMT+05:45".
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : String(parts.timeZoneName).replace('GMT', '');
  return {
    local: `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds}`,
    offset,
  };
}

/**
 * Each fire time in `timezone`, marked where the offset changed since the previous one (the
 * first is compared with the offset at `since`, when given: e.g. now, or the preview's start).
 */
export function describeFireTimes(
  fireTimes: readonly string[],
  timezone: string,
  since?: Date | string,
): FireTimeView[] {
  let previous = since === undefined ? undefined : wallTime(since, timezone).offset;
  return fireTimes.map((at) => {
    const { local, offset } = wallTime(at, timezone);
    const dstChange = previous !== undefined && previous !== offset;
    const view: FireTimeView = { at, local, offset, dstChange };
    if (dstChange) view.change = `offset ${previous} → ${offset}`;
    previous = offset;
    return view;
  });
}

/** A short "in 3 h", "5 min ago" for people, from `now`. */
export function relative(instant: Date | string, now: Date = new Date()): string {
  const ms = new Date(instant).getTime() - now.getTime();
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  const [size, unit] = units.find(([size]) => abs >= size) ?? [1000, 's'];
  const n = Math.round(abs / size);
  return ms >= 0 ? `in ${n} ${unit}` : `${n} ${unit} ago`;
}

/** `1.2 s`, `3 min 4 s`, `2 h 5 min` for a duration in milliseconds. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
