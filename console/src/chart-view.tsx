import { duration, wallTime } from '../../client/fire-times.js';
import { viewerZone } from './api.js';
import { type ChartRun, layoutChart, summarize } from './chart.js';

const BOX = { width: 720, height: 200, left: 64, right: 16, top: 12, bottom: 36 };

/**
 * Durations and outcomes of a job's runs over time, drawn as an inline SVG: one stem per
 * run, coloured and shaped by status. The run table below holds the same data as text.
 */
export function RunChart({ runs }: { runs: readonly ChartRun[] }) {
  const zone = viewerZone();
  const layout = layoutChart(runs, BOX);
  const summary = summarize(runs);
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${BOX.width} ${BOX.height}`}
        role="img"
        aria-labelledby="chart-title chart-desc"
        preserveAspectRatio="xMidYMid meet"
      >
        <title id="chart-title">Run durations over time</title>
        <desc id="chart-desc">{summary}. The run history table below lists each run.</desc>
        {layout.yTicks.map((t) => (
          <g key={t.value} class="tick">
            <line x1={BOX.left} x2={BOX.width - BOX.right} y1={t.y} y2={t.y} class="grid" />
            <text x={BOX.left - 8} y={t.y + 4} text-anchor="end">
              {duration(t.value)}
            </text>
          </g>
        ))}
        {layout.xTicks.map((t, i) => (
          <text
            key={t.at}
            class="tick"
            x={t.x}
            y={BOX.height - 12}
            text-anchor={i === 0 ? 'start' : i === layout.xTicks.length - 1 ? 'end' : 'middle'}
          >
            {wallTime(new Date(t.at), zone).local}
          </text>
        ))}
        <line
          x1={BOX.left}
          x2={BOX.width - BOX.right}
          y1={layout.baseline}
          y2={layout.baseline}
          class="axis"
        />
        {layout.points.map((p) => (
          <g key={p.id} class={`point status-${p.status}`}>
            <title>
              {`${p.status.replace('_', ' ')} · ${duration(p.durationMs)} · ${wallTime(new Date(p.at), zone).local}`}
            </title>
            {p.durationMs !== null && <line x1={p.x} x2={p.x} y1={layout.baseline} y2={p.y} class="stem" />}
            {p.status === 'succeeded' ? (
              <circle cx={p.x} cy={p.y} r={4.5} />
            ) : (
              <rect x={p.x - 4.5} y={p.y - 4.5} width={9} height={9} transform={`rotate(45 ${p.x} ${p.y})`} />
            )}
          </g>
        ))}
      </svg>
      <figcaption class="muted small">
        {summary}. Height: duration; circle: succeeded, diamond: any other outcome. Times in {zone}.
      </figcaption>
    </figure>
  );
}
