/**
 * Bundle size and cold initialisation of each Lambda entry, bundled as the stack bundles it
 * (lib/constructs/function.ts: minified ESM from the packages' ES module builds, a source map
 * without sources, run with the stack's NODE_OPTIONS), and of the floor: the smallest function
 * the design allows, one DynamoDB GetItem with the SDK bundled. No entry can be smaller than
 * the floor, so it is what the size figures are to be read against.
 *
 * `sdkExternal` is the same entry with `@aws-sdk/*` left to the Lambda runtime (here: loaded
 * from node_modules). The bundle is smaller but initialises slower, as Node then resolves and
 * compiles hundreds of SDK files; the stack bundles the SDK.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { BUNDLE_MAIN_FIELDS, ESM_REQUIRE_BANNER, FUNCTION_NODE_OPTIONS } from '../lib/constructs/function.js';
import { percentile } from './support.js';

const ENTRIES = ['api', 'worker', 'completion', 'sync', 'deadletters', 'reconciler'];
/** The name of the floor in the result: what every figure above it should be read against. */
export const FLOOR = 'floor (one DynamoDB GetItem)';

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** What the floor entry does: one client, one command, one call; nothing else. */
const FLOOR_SOURCE = `import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
const db = new DynamoDBClient({});
export const handler = async () =>
  (await db.send(new GetItemCommand({ TableName: process.env.JOBS_TABLE_NAME, Key: { pk: { S: 'HEALTH' }, sk: { S: 'HEALTH' } } }))).Item ?? null;
`;

export interface BundleFigures {
  /** Minified bundle, bytes. */
  bytes: number;
  /** Its source map (a separate file, read at cold start), bytes. */
  sourceMapBytes: number;
  /** Median of `samples` fresh Node processes importing the bundle, ms. */
  coldInitMsMedian: number;
  coldInitMsP90: number;
  samples: number;
  /** The same entry with `@aws-sdk/*` external, as the Lambda runtime would provide it. */
  sdkExternal: { bytes: number; coldInitMsMedian: number };
}

/** Cold init = importing the bundle in a fresh Node process; the median of `samples` processes. */
export async function bundles(options: { samples: number }): Promise<Record<string, BundleFigures>> {
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
    // As the stack sets them by default: allow no AWS target and no internal host.
    ALLOWED_TARGET_ARNS: '[]',
    PROTECTED_ARNS: '[]',
    ALLOWED_HTTP_HOSTS: '',
    // The worker and the completion function make callback URLs under the API's address.
    CALLBACK_BASE_URL: 'https://api.example.com/prod',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // As on Lambda: Node loads the bundle's source map at cold start.
    NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
  };
  const floorEntry = join(dir, 'floor.ts');
  writeFileSync(floorEntry, FLOOR_SOURCE);

  const bundle = async (entry: string, outfile: string, sdkExternal: boolean) => {
    const common: BuildOptions = {
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'node',
      target: 'node24',
      mainFields: [...BUNDLE_MAIN_FIELDS],
      sourcemap: true,
      sourcesContent: false,
      banner: { js: ESM_REQUIRE_BANNER },
      external: sdkExternal ? ['@aws-sdk/*'] : [],
      // The floor lives in a temporary directory; resolve its packages from here.
      nodePaths: [resolve('node_modules')],
      logLevel: 'silent',
    };
    await build({ ...common, entryPoints: [entry], outfile });
    return statSync(outfile).size;
  };
  const coldInit = (file: string) =>
    Number(
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const t=performance.now();await import(${JSON.stringify(file)});console.log(performance.now()-t)`,
        ],
        { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      ).trim(),
    );

  const results: Record<string, BundleFigures> = {};
  const entries: [string, string][] = [
    ...ENTRIES.map((e): [string, string] => [e, `functions/${e}.ts`]),
    [FLOOR, floorEntry],
  ];
  for (const [name, entry] of entries) {
    const slug = name === FLOOR ? 'floor' : name;
    const file = join(dir, `${slug}.mjs`);
    // The external variant must sit where `@aws-sdk/*` resolves: inside the project.
    const externalFile = resolve('node_modules', '.cache', 'sundial-bench', `${slug}.sdk-external.mjs`);
    const bytes = await bundle(entry, file, false);
    const sourceMapBytes = statSync(`${file}.map`).size;
    const externalBytes = await bundle(entry, externalFile, true);
    // Interleaved, so that a change in the machine's load touches both alike.
    const samples: number[] = [];
    const externalSamples: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      samples.push(coldInit(file));
      externalSamples.push(coldInit(externalFile));
    }
    results[name] = {
      bytes,
      sourceMapBytes,
      coldInitMsMedian: round(percentile(samples, 50)),
      coldInitMsP90: round(percentile(samples, 90)),
      samples: samples.length,
      sdkExternal: { bytes: externalBytes, coldInitMsMedian: round(percentile(externalSamples, 50)) },
    };
  }
  return results;
}
