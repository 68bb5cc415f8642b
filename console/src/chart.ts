/** Scales for the run-history chart: durations (y) of runs over time (x). Pure, so it is unit-tested. */

export interface ChartRun {
  id: string;
  status: string;
  scheduledAt: string;
  durationMs: number | null;
}

export interface ChartBox {
  width: number;
  height: number;
  /** Room for the axis labels. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface ChartPoint {
  id: string;
  status: string;
  at: number;
  durationMs: number | null;
  x: number;
  /** Top of the bar; equals `baseline` for runs without a duration (skipped, missed, queued). */
  y: number;
}

export interface ChartLayout {
  points: ChartPoint[];
  baseline: number;
  yTicks: { value: number; y: number }[];
  xTicks: { at: number; x: number }[];
  yMax: number;
}

/** The smallest 1, 2 or 5 × 10^k at least `value` (1 for nothing). */
export function niceStep(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * power >= value - 1e-9 * power) return m * power;
  return 10 * power;
}

/** A run stands at its scheduled time: a backfill's runs spread over the occurrences they stand for. */
export function timeOf(run: ChartRun): number {
  return Date.parse(run.scheduledAt);
}

export function layoutChart(runs: readonly ChartRun[], box: ChartBox, yTickCount = 4): ChartLayout {
  const innerW = box.width - box.left - box.right;
  const innerH = box.height - box.top - box.bottom;
  const baseline = box.top + innerH;
  const times = runs.map(timeOf).filter(Number.isFinite);
  let t0 = times.length ? Math.min(...times) : 0;
  let t1 = times.length ? Math.max(...times) : 1;
  if (t1 - t0 < 60_000) {
    // One run, or a burst within a minute: centre them in a two-minute window.
    const mid = (t0 + t1) / 2;
    t0 = mid - 60_000;
    t1 = mid + 60_000;
  }
  const maxDuration = Math.max(0, ...runs.map((r) => r.durationMs ?? 0));
  const step = niceStep(maxDuration / yTickCount);
  const yMax = Math.max(step, Math.ceil(maxDuration / step) * step);
  const x = (t: number) => box.left + ((t - t0) / (t1 - t0)) * innerW;
  const y = (d: number) => baseline - (d / yMax) * innerH;
  const points = runs
    .map((r) => ({ r, at: timeOf(r) }))
    .filter(({ at }) => Number.isFinite(at))
    .sort((a, b) => a.at - b.at)
    .map(({ r, at }) => ({
      id: r.id,
      status: r.status,
      at,
      durationMs: r.durationMs,
      x: x(at),
      y: r.durationMs === null ? baseline : y(r.durationMs),
    }));
  const yTicks = [];
  for (let v = 0; v <= yMax + step / 2; v += step) yTicks.push({ value: v, y: y(v) });
  const xTicks = [t0, (t0 + t1) / 2, t1].map((at) => ({ at, x: x(at) }));
  return { points, baseline, yTicks, xTicks, yMax };
}

/** "12 runs: 10 succeeded, 2 failed" for the chart's text alternative. */
export function summarize(runs: readonly { status: string }[]): string {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s.replace('_', ' ')}`);
  return `${runs.length} run${runs.length === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
