/** The benchmark harness still runs: every part, on tiny sizes, writing both reports. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { WATCH_SHARDS } from '../../lib/definitions.js';

it('writes BENCHMARKS.md and benchmarks.json with measured figures', async () => {
  const out = mkdtempSync(join(tmpdir(), 'sundial-bench-smoke-'));
  await promisify(execFile)('npx', ['tsx', 'bench/run.ts'], {
    env: { ...process.env, BENCH_SIZE: 'tiny', BENCH_OUT: out },
    timeout: 540_000,
  });
  const json = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8'));
  expect(json.size).toBe('tiny');
  expect(json.bundles.worker.bytes).toBeGreaterThan(10_000);
  expect(json.bundles.worker.coldInitMsMedian).toBeGreaterThan(0);
  const run = json.endToEnd['10'].perOperation['scheduled run (worker: claim, call, record)'];
  expect(run.dynamoRequests).toBeGreaterThan(0);
  expect(json.endToEnd['1'].runsPerSecond).toBeGreaterThan(0);
  // The scheduler's own price is a floor no run goes below.
  expect(json.cost.batch10.perMillionRuns.total).toBeGreaterThan(1);
  expect(json.cost.batch10.perMillionRuns.parts.scheduler).toBe(1);
  // A plain run of a one-team deployment claims and records itself: two writes. Once several
  // teams share the queues, its tenant's runs in the batch take and give back their
  // fair-share places in one write each way: a fraction of a write per run.
  const worked = (counts: string) =>
    json.endToEnd[counts].perOperation['scheduled run (worker: claim, call, record)'];
  expect(run.dynamoWcu).toBe(2);
  expect(worked('1').dynamoWcu).toBe(2);
  expect(worked('10-shared').dynamoWcu).toBeGreaterThan(2);
  expect(worked('10-shared').dynamoWcu).toBeLessThan(2.5);
  expect(json.cost.batch10Shared.perMillionRuns.total).toBeGreaterThan(
    json.cost.batch10.perMillionRuns.total,
  );
  expect(json.logVolume.emfBytesPerInvocation).toBeGreaterThan(100);
  // The scale part ran at two sizes and the reconciler saw every job.
  expect(json.scale.at.map((a: { jobs: number }) => a.jobs)).toEqual([50, 200]);
  expect(json.scale.at[1].reconcile.report.jobs).toBe(200);
  expect(json.scale.creation.jobsPerSecond).toBeGreaterThan(0);
  expect(json.targets).toHaveLength(7);
  // Cold init is read against the floor's, measured in the same rounds.
  expect(json.bundles['floor (one DynamoDB GetItem)'].coldInitVsFloor).toBe(1);
  expect(json.bundles.worker.coldInitCpuVsFloor).toBeGreaterThan(1);
  // The worker is untraced by default; traced, X-Ray is priced from Lambda's rule: every
  // invocation below one a second, less above.
  expect(json.cost.batch10.perMillionRuns.parts.xray).toBe(0);
  expect(json.cost.batch10Traced.tracedShareOfInvocations).toBe(1);
  expect(json.cost.batch10TracedHighVolume.tracedShareOfInvocations).toBeLessThan(1);
  expect(json.cost.batch10TracedHighVolume.perMillionRuns.parts.xray).toBeLessThan(
    json.cost.batch10Traced.perMillionRuns.parts.xray,
  );
  // Fixed costs are counted from the synthesized stack: every alarm has a price.
  expect(json.fixedMonthly.counted.alarms).toBeGreaterThan(10);
  expect(json.fixedMonthly.total).toBeGreaterThan(json.fixedMonthly.parts.dashboard);
  // Long runs: one of each kind followed to its end at 1 hour and at 24 hours, every call
  // credited to a function; a day's run costs at most the polls an hour's did not make.
  const long = json.longRuns;
  for (const kind of ['callback', 'ecs', 'stepfunctions']) {
    const hour = long.runs[kind]['1h'];
    const day = long.runs[kind]['24h'];
    expect(hour.status).toBe('succeeded');
    expect(day.status).toBe('succeeded');
    expect(hour.byFunction.scheduler.sqsRequests).toBe(1);
    expect(hour.byFunction.worker.invocations).toBeGreaterThan(0);
    expect(day.polls).toBeLessThanOrEqual(6);
    expect(day.awsCalls).toBeLessThanOrEqual(hour.awsCalls + 4 * (6 - hour.polls));
    expect(hour.cost.perMillionRuns.total).toBeGreaterThan(1);
  }
  expect(long.runs.callback['1h'].byFunction.api.invocations).toBe(7); // six heartbeats and the callback
  expect(long.runs.ecs['1h'].byFunction.worker.byCommand['ECSClient.RunTaskCommand'].calls).toBe(1);
  expect(long.runs.ecs['1h'].byFunction['completion (event)'].invocations).toBe(1);
  expect(long.runs.stepfunctions['1h'].total.byCommand['SFNClient.StartExecutionCommand'].calls).toBe(1);
  // The sweep's own Query of each shard is a fixed cost, not a run's.
  expect(long.emptySweep.byCommand['DynamoDBClient.QueryCommand'].calls).toBe(WATCH_SHARDS);
  expect(long.runs.ecs['24h'].byFunction['completion (sweep)'].byCommand['DynamoDBClient.QueryCommand']).toBe(
    undefined,
  );
  expect(long.fixedMonthly.total).toBeGreaterThan(0);
  // Failover: the standby took over every job (each schedule enabled once, each job's gap
  // handled: the jobs at minutes 1-3 of the hour, 12 of 200), and the model has a row per quota.
  const failover = json.dr;
  expect(failover.jobs).toBe(200);
  expect(failover.takeover.change.state).toBe('done');
  expect(failover.takeover.schedulesEnabledAfter).toBe(200);
  expect(failover.takeover.byKind['SchedulerClient.UpdateSchedule'].calls).toBe(200);
  expect(failover.takeover.byKind['DynamoDBClient.Query'].calls).toBe(200);
  expect(failover.takeover.change.missed).toBe(12);
  expect(failover.model.rows).toHaveLength(4);
  const report = readFileSync(join(out, 'BENCHMARKS.md'), 'utf8');
  expect(report).toContain('## Cost model');
  expect(report).toContain('## Scale');
  expect(report).toContain('## Long runs');
  expect(report).toContain("## Failover: enabling the standby's schedules");
  // Load: the mix over HTTP from a generator in another process, and the baseline straight to
  // DynamoDB Local, every operation counted (test/e2e/load-bench.test.ts checks it in full).
  expect(json.load.sundial[0].all.count).toBeGreaterThan(0);
  expect(json.load.baseline[0].all.count).toBeGreaterThan(0);
  expect(json.load.pids.sundialGenerator).not.toBe(json.load.pids.api);
  expect(report).toContain('## Load: ');
}, 540_000);
