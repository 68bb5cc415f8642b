import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import {
  FIRINGS_REJECTED_METRIC,
  InMemoryRunMetrics,
  METRICS_NAMESPACE,
  PowertoolsRunMetrics,
  RUN_STATUS_METRICS,
} from '../../functions/adapters/run-metrics.js';
import { ENDED_STATUSES } from '../../functions/domain/ports.js';
import { OVERDUE_RUNS_METRIC } from '../../lib/definitions.js';

/** A Metrics whose EMF documents and warnings are captured instead of printed. */
function capturedMetrics() {
  const warnings: string[] = [];
  const documents: Record<string, unknown>[] = [];
  const logger = { warn: (m: string) => warnings.push(m), debug() {}, info() {}, error() {} };
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial', logger });
  // Powertools prints EMF through its own console; take its lines instead.
  const capture = (m: Metrics) => {
    (m as unknown as { console: { log: (s: string) => void } }).console = {
      log: (s: string) => documents.push(JSON.parse(s)),
    };
    return m;
  };
  capture(metrics);
  // A single metric is printed by a Metrics of its own, at once: capture its lines too.
  const single = metrics.singleMetric.bind(metrics);
  metrics.singleMetric = () => capture(single());
  const flush = () => metrics.publishStoredMetrics();
  return { metrics, warnings, documents, flush };
}

describe('PowertoolsRunMetrics', () => {
  it('sets the priority dimension once per flush, so a batch of runs logs no warnings', () => {
    const { metrics, warnings, documents, flush } = capturedMetrics();
    const runs = new PowertoolsRunMetrics(metrics);
    for (let i = 0; i < 10; i++) {
      runs.started('high', 1000 + i);
      runs.ended('succeeded', 'high', 50 + i);
    }
    flush();
    // The next invocation serves another queue: the dimension follows it.
    runs.started('low', 5);
    runs.ended('failed', 'low', 7);
    flush();

    expect(warnings).toEqual([]);
    expect(documents).toHaveLength(2);
    const first = documents[0] as { priority: string; RunsSucceeded: number[]; ScheduleLag: number[] };
    expect(first.priority).toBe('high');
    expect(first.RunsSucceeded).toHaveLength(10);
    expect(first.ScheduleLag).toHaveLength(10);
    expect(documents[1]).toMatchObject({ priority: 'low', RunsFailed: 1 });
  });

  it('counts a cancelled run as RunsCancelled, by priority, with its duration', () => {
    const { metrics, warnings, documents, flush } = capturedMetrics();
    const runs = new PowertoolsRunMetrics(metrics);
    runs.ended('cancelled', 'default', 1200);
    flush();
    expect(warnings).toEqual([]);
    expect(documents[0]).toMatchObject({ priority: 'default', RunsCancelled: 1, RunDuration: 1200 });
  });

  it('has a metric for every status a run ends in', () => {
    expect(Object.keys(RUN_STATUS_METRICS).sort()).toEqual([...ENDED_STATUSES].sort());
    expect(new Set(Object.values(RUN_STATUS_METRICS)).size).toBe(ENDED_STATUSES.length);
  });

  it('reports overdue long runs on a line of their own, without the priority, as the alarm reads them', () => {
    const { metrics, warnings, documents, flush } = capturedMetrics();
    const runs = new PowertoolsRunMetrics(metrics);
    runs.ended('succeeded', 'high', 10);
    runs.overdue(3);
    runs.rejected();
    flush();
    expect(warnings).toEqual([]);
    const overdue = documents.find((d) => OVERDUE_RUNS_METRIC in d)!;
    expect(overdue).toMatchObject({ [OVERDUE_RUNS_METRIC]: 3, service: 'sundial' });
    expect(overdue).not.toHaveProperty('priority');
    expect(documents.find((d) => FIRINGS_REJECTED_METRIC in d)).not.toHaveProperty('priority');
    expect(documents.find((d) => 'RunsSucceeded' in d)).toMatchObject({ priority: 'high' });
  });
});

describe('InMemoryRunMetrics', () => {
  it('counts ends by status and priority, keeps durations, and adds up overdue runs', () => {
    const runs = new InMemoryRunMetrics();
    runs.ended('cancelled', 'low', 500);
    runs.ended('succeeded', 'low', null);
    runs.ended('timed_out', 'high', 3_600_000);
    runs.overdue(2);
    runs.overdue(1);
    expect(runs.counts).toEqual({
      'RunsCancelled/low': 1,
      'RunsSucceeded/low': 1,
      'RunsTimedOut/high': 1,
      [OVERDUE_RUNS_METRIC]: 3,
    });
    expect(runs.durationsMs).toEqual([
      { status: 'cancelled', durationMs: 500 },
      { status: 'timed_out', durationMs: 3_600_000 },
    ]);
  });
});
