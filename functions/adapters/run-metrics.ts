/**
 * What the worker reports about runs, as CloudWatch metrics (embedded metric format, via
 * Powertools): runs by final status, schedule lag (started minus scheduled) and run
 * duration, per priority. The alarms and the dashboard read these.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  CIRCUIT_OPENED_METRIC,
  DEGRADATION_LEVEL_METRIC,
  OVERDUE_RUNS_METRIC,
  PASSIVE_SKIPS_METRIC,
  PEER_HEARTBEAT_AGE_METRIC,
  type Priority,
  REGION_ACTIVE_METRIC,
  RUNS_DEFERRED_BY_CIRCUIT_METRIC,
} from '../../lib/definitions.js';
import type { DegradationLevel } from '../domain/degradation.js';
import type { DegradationStepName, EndedRun, EndedStatus, RunMetrics } from '../domain/ports.js';

export { METRICS_NAMESPACE } from '../../lib/definitions.js';

export const RUN_STATUS_METRICS = {
  succeeded: 'RunsSucceeded',
  failed: 'RunsFailed',
  timed_out: 'RunsTimedOut',
  skipped: 'RunsSkipped',
  missed: 'RunsMissed',
  cancelled: 'RunsCancelled',
} as const satisfies Record<EndedStatus, string>;

/** Each degradation step's counter (issue 17); DEGRADATION_LEVEL_METRIC is the level's gauge. */
export const DEGRADATION_STEP_METRICS = {
  'low-priority-deferred': 'LowPriorityDeferred',
  'run-history-cheap': 'RunHistoryCheap',
  'dependents-delayed': 'DependentsDelayed',
  'creates-refused': 'CreatesRefused',
} as const satisfies Record<DegradationStepName, string>;

/** The metric of messages refused as not Sundial's; an alarm watches it. */
export const FIRINGS_REJECTED_METRIC = 'FiringsRejected';

/** One worker invocation handles one queue, so its metrics carry that queue's priority. */
export class PowertoolsRunMetrics implements RunMetrics {
  private dimensioned: Priority | undefined;

  constructor(private readonly metrics: Metrics) {}

  /**
   * Sets the priority dimension once per flush: Powertools logs a warning line each time a
   * dimension is set again, which would be two needless log lines per run. A flush empties
   * the store and clears the dimensions, so an empty store means it must be set anew.
   */
  private withPriority(priority: Priority): Metrics {
    if (!this.metrics.hasStoredMetrics() || this.dimensioned !== priority) {
      this.metrics.addDimension('priority', priority);
      this.dimensioned = priority;
    }
    return this.metrics;
  }

  ended(status: EndedStatus, priority: Priority, durationMs: number | null): void {
    const m = this.withPriority(priority);
    m.addMetric(RUN_STATUS_METRICS[status], MetricUnit.Count, 1);
    if (durationMs !== null) m.addMetric('RunDuration', MetricUnit.Milliseconds, durationMs);
  }

  started(priority: Priority, lagMs: number): void {
    this.withPriority(priority).addMetric('ScheduleLag', MetricUnit.Milliseconds, Math.max(0, lagMs));
  }

  rejected(): void {
    // Its own EMF line with the service dimension only, whatever this flush's priority.
    this.metrics.singleMetric().addMetric(FIRINGS_REJECTED_METRIC, MetricUnit.Count, 1);
  }

  deferred(priority: Priority): void {
    this.withPriority(priority).addMetric('RunsDeferred', MetricUnit.Count, 1);
  }

  overdue(count: number): void {
    // As FiringsRejected: its own line with the service dimension only (an alarm watches it).
    this.metrics.singleMetric().addMetric(OVERDUE_RUNS_METRIC, MetricUnit.Count, count);
  }

  passiveSkipped(): void {
    this.metrics.singleMetric().addMetric(PASSIVE_SKIPS_METRIC, MetricUnit.Count, 1);
  }

  degradationLevel(level: DegradationLevel): void {
    this.metrics.singleMetric().addMetric(DEGRADATION_LEVEL_METRIC, MetricUnit.Count, level);
  }

  degraded(step: DegradationStepName, count = 1): void {
    // Its own line (service dimension only): the API publishes these with no flush of its own.
    this.metrics.singleMetric().addMetric(DEGRADATION_STEP_METRICS[step], MetricUnit.Count, count);
  }

  circuitOpened(): void {
    // No tenant or target dimension: each would be a metric of its own (and a bill); the log line names them.
    this.metrics.singleMetric().addMetric(CIRCUIT_OPENED_METRIC, MetricUnit.Count, 1);
  }

  deferredByCircuit(priority: Priority): void {
    this.withPriority(priority).addMetric(RUNS_DEFERRED_BY_CIRCUIT_METRIC, MetricUnit.Count, 1);
  }

  region(active: boolean, peerHeartbeatAgeSeconds: number | null): void {
    const line = this.metrics.singleMetric();
    line.addMetric(REGION_ACTIVE_METRIC, MetricUnit.Count, active ? 1 : 0);
    // No heartbeat from the other region at all: reported as very old, so its alarm fires.
    line.addMetric(PEER_HEARTBEAT_AGE_METRIC, MetricUnit.Seconds, peerHeartbeatAgeSeconds ?? 86_400);
  }
}

/** A run that ended, as the local runtime reports it. */
export interface RunEndedReport extends EndedRun {
  status: EndedStatus;
  durationMs: number | null;
}

/** Counts kept in memory: what the local runtime reports, and what tests read. */
export class InMemoryRunMetrics implements RunMetrics {
  readonly counts: Record<string, number> = {};
  readonly lagsMs: number[] = [];
  /** Durations of ended runs, by status. */
  readonly durationsMs: { status: EndedStatus; durationMs: number }[] = [];

  /** `onEnded`: told of each run that ends (the local runtime prints a line per run). */
  constructor(private readonly onEnded?: (ended: RunEndedReport) => void) {}

  ended(status: EndedStatus, priority: Priority, durationMs: number | null = null, run?: EndedRun): void {
    const key = `${RUN_STATUS_METRICS[status]}/${priority}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    if (durationMs !== null) this.durationsMs.push({ status, durationMs });
    if (run && this.onEnded) this.onEnded({ ...run, status, durationMs });
  }

  overdue(count: number): void {
    this.counts[OVERDUE_RUNS_METRIC] = (this.counts[OVERDUE_RUNS_METRIC] ?? 0) + count;
  }

  started(_priority: Priority, lagMs: number): void {
    this.lagsMs.push(lagMs);
  }

  rejected(): void {
    this.counts[FIRINGS_REJECTED_METRIC] = (this.counts[FIRINGS_REJECTED_METRIC] ?? 0) + 1;
  }

  deferred(priority: Priority): void {
    const key = `RunsDeferred/${priority}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  passiveSkipped(): void {
    this.counts[PASSIVE_SKIPS_METRIC] = (this.counts[PASSIVE_SKIPS_METRIC] ?? 0) + 1;
  }

  /** The degradation levels published, oldest first. */
  readonly degradationLevels: DegradationLevel[] = [];

  degradationLevel(level: DegradationLevel): void {
    this.degradationLevels.push(level);
  }

  degraded(step: DegradationStepName, count = 1): void {
    const key = DEGRADATION_STEP_METRICS[step];
    this.counts[key] = (this.counts[key] ?? 0) + count;
  }

  circuitOpened(): void {
    this.counts[CIRCUIT_OPENED_METRIC] = (this.counts[CIRCUIT_OPENED_METRIC] ?? 0) + 1;
  }

  deferredByCircuit(priority: Priority): void {
    const key = `${RUNS_DEFERRED_BY_CIRCUIT_METRIC}/${priority}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }

  /** The latest region report. */
  regionReport: { active: boolean; peerHeartbeatAgeSeconds: number | null } | undefined;

  region(active: boolean, peerHeartbeatAgeSeconds: number | null): void {
    this.regionReport = { active, peerHeartbeatAgeSeconds };
  }
}
