/**
 * Output for people: aligned columns, times in the viewer's zone (and a job's), colour only
 * on a terminal. Nothing here is printed with --json.
 */
import { stripVTControlCharacters } from 'node:util';
import { relative, wallTime } from '../client/fire-times.js';

/** Colour when stdout is a terminal and NO_COLOR is unset; FORCE_COLOR (not "0") forces it. */
export function useColour(stream: { isTTY?: boolean } = process.stdout, env = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== '') return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return Boolean(stream.isTTY);
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
export type Style = keyof typeof CODES;

let colourOn = useColour();
export function setColour(on: boolean): void {
  colourOn = on;
}

export function paint(style: Style | undefined, text: string): string {
  if (!colourOn || !style || text === '') return text;
  return `\x1b[${CODES[style]}m${text}\x1b[0m`;
}

// Escape sequences take no room on screen: measured without them.
const width = (text: string) => [...stripVTControlCharacters(text)].length;

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table(header: string[], rows: string[][]): string {
  const all = [header.map((h) => paint('bold', h)), ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => width(row[i] ?? ''))));
  return all
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `label:  value` lines, labels aligned. */
export function fields(pairs: [string, string][]): string {
  const w = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(w)}  ${value}`).join('\n');
}

/** The zone of whoever reads the output: TZ when set, else the system's. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** `2026-12-01 17:00` in `zone`. */
export function at(instant: string | null | undefined, zone = viewerZone()): string {
  if (!instant) return '-';
  return wallTime(instant, zone).local;
}

/** `2026-12-01 17:00 (in 3 h)` in the viewer's zone. */
export function when(instant: string | null | undefined, now = new Date()): string {
  if (!instant) return '-';
  return `${at(instant)} (${relative(instant, now)})`;
}

const STATUS_STYLE: Record<string, Style> = {
  succeeded: 'green',
  failed: 'red',
  timed_out: 'red',
  cancelled: 'magenta',
  running: 'cyan',
  queued: 'blue',
  skipped: 'yellow',
  missed: 'yellow',
  paused: 'yellow',
  enabled: 'green',
  dead: 'red',
  redriven: 'green',
  // Circuit breakers.
  closed: 'green',
  open: 'red',
  half_open: 'yellow',
};

export function status(text: string): string {
  return paint(STATUS_STYLE[text], text);
}

/** Cut to `max` characters with an ellipsis. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
