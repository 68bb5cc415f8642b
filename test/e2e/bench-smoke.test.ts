/** The benchmark harness still runs: every part, on tiny sizes, writing both reports. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('writes BENCHMARKS.md and benchmarks.json with measured figures', async () => {
  const out = mkdtempSync(join(tmpdir(), 'sundial-bench-smoke-'));
  await promisify(execFile)('npx', ['tsx', 'bench/run.ts'], {
    env: { ...process.env, BENCH_SIZE: 'tiny', BENCH_OUT: out },
    timeout: 300_000,
  });
  const json = JSON.parse(readFileSync(join(out, 'benchmarks.json'), 'utf8'));
  expect(json.size).toBe('tiny');
  expect(json.bundles.worker.bytes).toBeGreaterThan(10_000);
  expect(json.bundles.worker.coldInitMsMedian).toBeGreaterThan(0);
  const run = json.endToEnd['10'].perOperation['scheduled run (worker: claim, call, record)'];
  expect(run.dynamoRequests).toBeGreaterThan(0);
  expect(json.endToEnd['1'].runsPerSecond).toBeGreaterThan(0);
  expect(json.cost.perMillionRuns.total).toBeGreaterThan(1);
  expect(readFileSync(join(out, 'BENCHMARKS.md'), 'utf8')).toContain('## Cost model');
}, 300_000);
