/**
 * Every time zone the runtime knows (and the aliases and offset zones Sundial also accepts),
 * every offset change of 2025-2030: cron and at() fire where a user expects, judged against
 * offsets read independently of the evaluator — Intl's `longOffset` name at the exact
 * instant — never against the evaluator's own arithmetic.
 *
 * Around each change (the instant T where the offset goes from `before` to `after`) the
 * expected fire times come from walking the instants minute by minute: an instant fires when
 * the wall time it shows matches the cron and no earlier instant showed that wall time. So a
 * wall time in a spring-forward gap never fires and one in a fall-back overlap fires once, at
 * its first occurrence — EventBridge Scheduler's documented daylight-saving behaviour. A
 * one-time at() in a gap fires at the wall time read with the offset before the change
 * (02:30 in a 02:00->03:00 gap fires at 03:30 new time), Sundial's rule for what AWS leaves
 * undocumented.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isValidTimeZone,
  nextFireTimes,
  type ParsedSchedule,
  parseScheduleExpression,
} from '../../functions/domain/schedule/index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const FROM = Date.UTC(2025, 0, 1);
const TO = Date.UTC(2031, 0, 1);
/**
 * No zone changes its offset twice within five weeks in 2025-2030 (Morocco's Ramadan changes
 * are the closest, 35 days apart), so reading it every four weeks sees every change.
 */
const SCAN_STEP = 28 * DAY;
const WINDOW = 4 * HOUR;

/** Names Sundial accepts beyond Intl.supportedValuesOf: links, lower case, offsets, UTC. */
const EXTRA_ZONES = [
  'UTC',
  'Etc/UTC',
  'GMT',
  'Etc/GMT-14',
  'Etc/GMT+12',
  '+05:30',
  '-08:00',
  '+13:45',
  'Antarctica/McMurdo',
  'Antarctica/South_Pole',
  'NZ',
  'NZ-CHAT',
  'US/Eastern',
  'US/Pacific',
  'Asia/Kolkata',
  'Asia/Calcutta',
  'America/Nuuk',
  'Europe/Kyiv',
  'EST5EDT',
  'CST6CDT',
  'MST7MDT',
  'PST8PDT',
  'Australia/LHI',
  'Chile/EasterIsland',
  'europe/berlin',
  'pacific/auckland',
];

/**
 * Every other name of the tz database the machine has (links such as US/Eastern and zones ICU
 * lists under another name); Sundial accepts whatever Intl accepts.
 */
function tzdataNames(): string[] {
  const file = '/usr/share/zoneinfo/tzdata.zi';
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .flatMap((f) => (f[0] === 'L' ? [f[2] ?? ''] : f[0] === 'Z' ? [f[1] ?? ''] : []));
}

const zones = [...new Set([...Intl.supportedValuesOf('timeZone'), ...EXTRA_ZONES, ...tzdataNames()])].filter(
  (z) => z !== '' && isValidTimeZone(z),
);

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset at an instant in ms, from Intl's `longOffset` name ("GMT+13:45", "GMT"). */
function offsetOracle(instant: number, timezone: string): number {
  let f = offsetFormatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hour: 'numeric', timeZoneName: 'longOffset' });
    offsetFormatters.set(timezone, f);
  }
  const text = f.format(instant);
  const m = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (!m) throw new Error(`unexpected offset name "${text}" for ${timezone}`);
  if (!m[1]) return 0;
  const ms = ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4] ?? 0)) * 1000;
  return m[1] === '-' ? -ms : ms;
}

interface Transition {
  at: number; // first instant with the new offset
  before: number;
  after: number;
}

function transitions(timezone: string): Transition[] {
  const out: Transition[] = [];
  let prev = FROM - SCAN_STEP;
  let prevOffset = offsetOracle(prev, timezone);
  for (let t = FROM; t <= TO + SCAN_STEP; t += SCAN_STEP) {
    const offset = offsetOracle(t, timezone);
    if (offset !== prevOffset) {
      // Bisect to the minute, then to the second if the change is not on a whole minute.
      let lo = prev;
      let hi = t;
      for (const unit of [MINUTE, 1000]) {
        lo = Math.floor(lo / unit) * unit;
        while (hi - lo > unit) {
          const mid = Math.floor((lo + hi) / 2 / unit) * unit;
          if (offsetOracle(mid, timezone) === offset) hi = mid;
          else lo = mid;
        }
        if (offsetOracle(hi - 1000, timezone) !== offset) break;
        lo = hi - unit;
      }
      // The offsets either side, each read at its own exact instant.
      const before = offsetOracle(hi - 1000, timezone);
      const after = offsetOracle(hi, timezone);
      if (before === after)
        throw new Error(`${timezone}: no change found near ${new Date(hi).toISOString()}`);
      if (hi >= FROM && hi < TO) out.push({ at: hi, before, after });
    }
    prev = t;
    prevOffset = offset;
  }
  return out;
}

const iso = (t: number) => new Date(t).toISOString();

const parsedCache = new Map<string, ParsedSchedule>();

function parse(expression: string): ParsedSchedule {
  let schedule = parsedCache.get(expression);
  if (!schedule) {
    const parsed = parseScheduleExpression(expression);
    if (!parsed.ok) throw new Error(`${expression}: ${parsed.message}`);
    schedule = parsed.schedule;
    parsedCache.set(expression, schedule);
  }
  return schedule;
}

const crons = {
  hourly: { schedule: parse('cron(0 * * * ? *)'), minutes: [0], hours: null as number[] | null },
  quarterHourly: { schedule: parse('cron(0/15 * * * ? *)'), minutes: [0, 15, 30, 45], hours: null },
};

/**
 * The window around a change, minute by minute: for each wall minute of the day (0-1439), the
 * instants that show it for the first time, in time order. An instant that shows a wall time
 * already shown (the second pass through a fall-back overlap) is left out, as is any instant
 * showing a wall time with seconds (none in 2025-2030).
 */
function firstShowings(tr: Transition, from: number, to: number): Map<number, number[]> {
  const byMinuteOfDay = new Map<number, number[]>();
  for (let u = Math.floor(from / MINUTE) * MINUTE + MINUTE; u <= to; u += MINUTE) {
    const wall = u + (u < tr.at ? tr.before : tr.after);
    if (u >= tr.at && wall - tr.before < tr.at) continue; // shown before the change too
    if (wall % MINUTE !== 0) continue;
    const minuteOfDay = Math.floor((((wall % DAY) + DAY) % DAY) / MINUTE);
    const list = byMinuteOfDay.get(minuteOfDay);
    if (list) list.push(u);
    else byMinuteOfDay.set(minuteOfDay, [u]);
  }
  return byMinuteOfDay;
}

/** What a user sees: the instants whose wall time matches and shows for the first time. */
function expectedFires(shown: Map<number, number[]>, minutes: number[], hours: number[] | null): number[] {
  const out: number[] = [];
  for (const hour of hours ?? Array.from({ length: 24 }, (_, h) => h)) {
    for (const minute of minutes) out.push(...(shown.get(hour * 60 + minute) ?? []));
  }
  return out.sort((a, b) => a - b);
}

/** Checks one change; returns what went wrong, if anything. */
function checkTransition(timezone: string, tr: Transition): string[] {
  const problems: string[] = [];
  const from = tr.at - WINDOW;
  const to = tr.at + WINDOW;
  const where = `${timezone} at ${iso(tr.at)} (${tr.before / MINUTE} -> ${tr.after / MINUTE} min)`;
  const shownFirst = firstShowings(tr, from, to);

  for (const [name, c] of Object.entries(crons)) {
    const got = nextFireTimes(c.schedule, {
      timezone,
      after: new Date(from),
      endAt: new Date(to),
      count: 1000,
    }).map((d) => d.getTime());
    const want = expectedFires(shownFirst, c.minutes, c.hours);
    if (got.join() !== want.join()) {
      problems.push(`${where} ${name}: got ${got.map(iso).join(' ')}; want ${want.map(iso).join(' ')}`);
      continue;
    }
    for (let i = 0; i < got.length; i++) {
      const t = got[i]!;
      if (i > 0 && t <= got[i - 1]!) problems.push(`${where} ${name}: not strictly increasing at ${iso(t)}`);
      // The wall time at the fire instant, with the offset read at that very instant (within
      // two hours of the change, one hour for the quarter-hourly cron, to keep the sweep quick).
      if (Math.abs(t - tr.at) > (name === 'quarterHourly' ? HOUR : 2 * HOUR)) continue;
      const wall = new Date(t + offsetOracle(t, timezone));
      if (!c.minutes.includes(wall.getUTCMinutes()) || wall.getUTCSeconds() !== 0) {
        problems.push(`${where} ${name}: ${iso(t)} shows ${wall.toISOString()}`);
      }
    }
  }

  // Wall times inside the gap or overlap, and either side of it: a daily cron and a
  // one-time at() on the day of the change.
  const wallBefore = tr.at + tr.before; // the wall time the clocks leave
  const wallAfter = tr.at + tr.after; // the wall time they jump or fall back to
  const lo = Math.min(wallBefore, wallAfter);
  const hi = Math.max(wallBefore, wallAfter);
  const probes = [lo - MINUTE, lo, (lo + hi) / 2, hi - MINUTE, hi].map(
    (w) => Math.floor(w / MINUTE) * MINUTE,
  );
  for (const w of probes) {
    const d = new Date(w);
    const hour = d.getUTCHours();
    const minute = d.getUTCMinutes();
    const cron = parse(`cron(${minute} ${hour} * * ? *)`);
    const got = nextFireTimes(cron, { timezone, after: new Date(from), endAt: new Date(to), count: 10 }).map(
      (x) => x.getTime(),
    );
    const want = expectedFires(shownFirst, [minute], [hour]);
    if (got.join() !== want.join()) {
      problems.push(
        `${where} cron(${minute} ${hour} * * ? *): got ${got.map(iso).join(' ')}; want ${want.map(iso).join(' ')}`,
      );
    }
    const local = d.toISOString().slice(0, 19);
    const at = parse(`at(${local})`);
    const [fired] = nextFireTimes(at, { timezone, after: new Date(0), count: 1 }).map((x) => x.getTime());
    const shown = [w - tr.before, w - tr.after].filter((u) => (u < tr.at ? tr.before : tr.after) === w - u);
    // First occurrence; in a gap, the offset before the change.
    const wantAt = shown.length > 0 ? Math.min(...shown) : w - tr.before;
    if (fired !== wantAt)
      problems.push(`${where} at(${local}): got ${fired && iso(fired)}; want ${iso(wantAt)}`);
    if (shown.length > 0 && fired !== undefined && fired + offsetOracle(fired, timezone) !== w) {
      problems.push(`${where} at(${local}) fires at ${iso(fired)}, which does not show ${local}`);
    }
  }
  return problems;
}

describe('daylight saving in every zone, 2025-2030', () => {
  const found = new Map<string, Transition[]>();
  for (const zone of zones) found.set(zone, transitions(zone));

  it('finds the changes it should (the sweep itself is sound)', () => {
    expect(zones.length).toBeGreaterThan(400);
    for (const zone of [
      'Pacific/Auckland',
      'Antarctica/McMurdo',
      'Pacific/Chatham',
      'Australia/Lord_Howe',
      'America/New_York',
      'Europe/Berlin',
    ]) {
      expect(found.get(zone)?.length, zone).toBe(12);
    }
    expect(found.get('Asia/Tokyo')).toEqual([]);
    if (zones.includes('+05:30')) expect(found.get('+05:30')).toEqual([]);
    const total = [...found.values()].reduce((n, t) => n + t.length, 0);
    expect(total).toBeGreaterThan(1000);
  });

  it('fires every wall time once, at its first occurrence, and none in a gap', () => {
    const problems: string[] = [];
    for (const [zone, trs] of found) for (const tr of trs) problems.push(...checkTransition(zone, tr));
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it('places plain wall times by the offset in force, in every zone', () => {
    const daily = parse('cron(30 12 * * ? *)');
    const problems: string[] = [];
    for (const zone of zones) {
      for (const after of [Date.UTC(2026, 0, 14), Date.UTC(2026, 6, 14)]) {
        const [t] = nextFireTimes(daily, { timezone: zone, after: new Date(after), count: 1 });
        if (!t) {
          problems.push(`${zone} after ${iso(after)}: no fire time`);
          continue;
        }
        const wall = new Date(t.getTime() + offsetOracle(t.getTime(), zone));
        if (wall.getUTCHours() !== 12 || wall.getUTCMinutes() !== 30 || t.getTime() - after > 2 * DAY) {
          problems.push(`${zone} after ${iso(after)}: ${iso(t.getTime())} shows ${wall.toISOString()}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
