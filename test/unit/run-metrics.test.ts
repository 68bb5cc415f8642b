import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, PowertoolsRunMetrics } from '../../functions/adapters/run-metrics.js';

/** A Metrics whose EMF documents and warnings are captured instead of printed. */
function capturedMetrics() {
  const warnings: string[] = [];
  const documents: Record<string, unknown>[] = [];
  const logger = { warn: (m: string) => warnings.push(m), debug() {}, info() {}, error() {} };
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'sundial', logger });
  // Powertools prints EMF through its own console; take its lines instead.
  (metrics as unknown as { console: { log: (s: string) => void } }).console = {
    log: (s: string) => documents.push(JSON.parse(s)),
  };
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
});
