/** Bundle size and cold initialisation of each Lambda entry, bundled as the stack bundles it. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const ENTRIES = ['api', 'worker', 'sync', 'deadletters', 'reconciler'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Cold init = importing the bundle in a fresh Node process; the median of `samples` processes. */
export async function bundles(options: { samples: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const env = {
    ...process.env,
    JOBS_TABLE_NAME: 'j',
    RUNS_TABLE_NAME: 'r',
    SCHEDULE_GROUP_NAME: 'g',
    SCHEDULER_ROLE_ARN: 'arn:aws:iam::000000000000:role/r',
    QUEUE_ARNS: '{"high":"a","default":"b","low":"c"}',
    DEAD_LETTER_QUEUE_ARNS: '{"high":"a","default":"b","low":"c"}',
    QUEUE_URL_HIGH: 'u',
    QUEUE_URL_DEFAULT: 'u',
    QUEUE_URL_LOW: 'u',
    SECRETS_KEY_ID: 'k',
    AWS_REGION: 'us-east-1',
  };
  const results: Record<string, { bytes: number; coldInitMsMedian: number; samples: number }> = {};
  for (const entry of ENTRIES) {
    const file = join(dir, `${entry}.mjs`);
    await build({
      entryPoints: [`functions/${entry}.ts`],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'node22',
      outfile: file,
      banner: {
        js: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
      },
      logLevel: 'silent',
    });
    const samples: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      const ms = execFileSync(
        process.execPath,
        [
          '-e',
          `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t)`,
          '--input-type=module',
        ],
        { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      samples.push(Number(ms.trim()));
    }
    results[entry] = {
      bytes: statSync(file).size,
      coldInitMsMedian: round(median(samples)),
      samples: samples.length,
    };
  }
  return results;
}
