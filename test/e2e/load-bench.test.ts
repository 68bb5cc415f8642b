/**
 * The bench's load section at its tiny size (`npm run bench -- --only load`): Sundial over
 * HTTP from a generator in another process, and the baseline straight to DynamoDB Local,
 * each operation of the mix counted with its percentiles, errors and 429s, written into
 * the reports beside the sections already there.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import type { LoadResults, OpFigures, PhaseFigures } from '../../bench/load.js';
import { OPERATIONS } from '../../bench/load-generator.js';

const count = (n: number) => Number.isInteger(n) && n >= 0;

function expectFigures(f: OpFigures) {
  expect(f.count).toBeGreaterThan(0);
  for (const p of [f.p50Ms, f.p95Ms, f.p99Ms, f.maxMs]) expect(Number.isFinite(p)).toBe(true);
  expect(f.p50Ms).toBeLessThanOrEqual(f.p95Ms);
  expect(f.p95Ms).toBeLessThanOrEqual(f.p99Ms);
  expect(count(f.errors) && count(f.networkErrors) && count(f.throttled)).toBe(true);
}

function expectPhase(phase: PhaseFigures) {
  for (const op of OPERATIONS) expectFigures(phase.ops[op]);
  expect(phase.all.count).toBe(OPERATIONS.reduce((sum, op) => sum + phase.ops[op].count, 0));
  expect(phase.sent).toBe(phase.all.count);
  expect(Number.isFinite(phase.lag.p99Ms)).toBe(true);
  expect(phase.cores.apiProcess).toBeGreaterThanOrEqual(0);
}

it('measures the mix over HTTP from another process, and the baseline, into the reports', async () => {
  const out = mkdtempSync(join(tmpdir(), 'sundial-load-bench-'));
  // --only writes into the reports already there: the committed ones, as a start.
  for (const file of ['benchmarks.json', 'BENCHMARKS.md']) copyFileSync(join('docs', file), join(out, file));
  const before = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8'));
  await promisify(execFile)('npx', ['tsx', 'bench/run.ts', '--only', 'load'], {
    env: { ...process.env, BENCH_SIZE: 'tiny', BENCH_OUT: out },
    timeout: 300_000,
  });
  const json = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8'));
  const load = json.load as LoadResults;
  expect(load.size).toBe('tiny');
  expect(load.command).toBe('BENCH_SIZE=tiny npm run bench -- --only load');

  // The generators ran in processes of their own, not in the API's (nor in this test's).
  const { api, sundialGenerator, baselineGenerator } = load.pids;
  expect(api).not.toBe(process.pid);
  for (const pid of [sundialGenerator, baselineGenerator]) {
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(api);
    expect(pid).not.toBe(process.pid);
  }
  expect(sundialGenerator).not.toBe(baselineGenerator);

  // Sustained, then peak (and the profiled peak), for Sundial; the same two for the baseline.
  expect(load.sundial.map((p) => p.name)).toEqual(['sustained', 'peak', 'profiled peak']);
  expect(load.baseline.map((p) => p.name)).toEqual(['sustained', 'peak']);
  expect(load.sundial[1]!.rps).toBe(3 * load.sundial[0]!.rps);
  for (const phase of [...load.sundial, ...load.baseline, ...load.steps, ...load.baselineSteps]) {
    expectPhase(phase);
  }
  expect(load.steps.length).toBeGreaterThan(0);
  expect(load.baselineSteps.map((p) => p.rps)).toEqual(load.steps.map((p) => p.rps));

  // The API process saw each request and the calls it made; the development key is verified
  // once and then accepted for 10 s, so a list of jobs (no GetItem of its own) reads almost none.
  for (const op of OPERATIONS) {
    const server = load.sundial[0]!.server![op];
    expect(server.requests).toBeGreaterThan(0);
    expect(Object.values(server.callsPerRequest).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(server.handler.p95Ms)).toBe(true);
  }
  expect(load.sundial[0]!.server!['list jobs'].callsPerRequest['DynamoDB.GetItem'] ?? 0).toBeLessThan(0.5);
  expect(load.baseline[0]!.server).toBeUndefined();
  for (const op of OPERATIONS) expect(Number.isFinite(load.difference.sustained![op].p95Ms)).toBe(true);
  expect(load.targets.map((t) => t.phase)).toEqual(['sustained', 'peak']);
  expect(load.limits.defaults.requestsPerSecond).toBe(100);
  expect(load.profile?.byCategory).toBeDefined();
  expect(load.diagnosis.length).toBeGreaterThan(0);

  // The other sections are as they were.
  expect(json.dr).toEqual(before.dr);
  expect(json.scale).toEqual(before.scale);
  const report = readFileSync(join(out, 'BENCHMARKS.md'), 'utf8');
  expect(report.startsWith(readFileSync(join('docs', 'BENCHMARKS.md'), 'utf8').split('\n## Load')[0]!)).toBe(
    true,
  );
  expect(report).toContain('## Load: ');
  expect(report).toContain('### Baseline: the same schedule and mix straight to DynamoDB Local and fauxqs');
  expect(report).toContain('### What Sundial adds (Sundial − baseline)');
  for (const op of OPERATIONS) expect(report).toContain(`| ${op} |`);
}, 300_000);
