/**
 * Bundle size and cold initialisation of each Lambda entry, bundled by the stack's own
 * `bundleFunction` (lib/constructs/function.ts: minified ESM from the packages' ES module
 * builds, split into chunks, a source map without sources, run with the stack's NODE_OPTIONS),
 * and of the floor, bundled the same way: the smallest function the design allows, one
 * DynamoDB GetItem with the SDK bundled. No entry can be smaller than the floor, so it is what
 * the size figures are to be read against. A bundle's size is what its cold start loads: the
 * entry and the chunks it imports statically, not those only a dynamic `import()` loads.
 *
 * The bundles are imported round by round, each once a round, so that other load on the machine
 * touches them alike: each figure is also given over the floor's from the same rounds, and as
 * CPU time (user + system), which that load moves less than wall time.
 *
 * `sdkExternal` is the same entry with `@aws-sdk/*` left to the Lambda runtime (here: loaded
 * from node_modules). The bundle is smaller but initialises slower, as Node then resolves and
 * compiles hundreds of SDK files; the stack bundles the SDK.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Metafile } from 'esbuild';
import { bundleFunction, FUNCTION_ENTRY_FILE, FUNCTION_NODE_OPTIONS } from '../lib/constructs/function.js';
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
  /** What a cold start loads, minified, bytes: the entry and the chunks it imports statically. */
  bytes: number;
  /** The whole package's JavaScript, bytes: with the chunks loaded only by a dynamic `import()`. */
  packageBytes: number;
  /** The source maps of what a cold start loads (separate files, read at load), bytes. */
  sourceMapBytes: number;
  /** Median of `samples` fresh Node processes importing the bundle, ms. */
  coldInitMsMedian: number;
  coldInitMsP90: number;
  /** The median cold init over the floor's, both measured in the same rounds. */
  coldInitVsFloor: number;
  /** CPU time (user + system) of the same imports, median, ms: less moved by other load on the machine. */
  coldInitCpuMsMedian: number;
  coldInitCpuVsFloor: number;
  samples: number;
  /** The same entry with `@aws-sdk/*` external, as the Lambda runtime would provide it. */
  sdkExternal: { bytes: number; coldInitMsMedian: number };
  /** What each kind of first request loads beyond the cold start (FIRST_USE), and how long it takes. */
  firstUse?: { what: string; bytes: number; msMedian: number }[];
}

/**
 * Code a cold start leaves to the first request that needs it, measured after the init: for
 * the api, the first request with a query or a body loads zod and the request schemas, and
 * the first create or change of a job the job schemas and the Scheduler client too.
 */
const FIRST_USE: Record<string, { what: string; inputs: string[] }[]> = {
  api: [
    {
      what: 'first request with a query or a body to check (a list, a preview; zod and the request schemas)',
      inputs: ['functions/http/requests.ts'],
    },
    {
      what: 'first create or change of a job (zod, the job and target schemas, the Scheduler client)',
      inputs: ['functions/domain/job-input.ts', 'node_modules/@aws-sdk/client-scheduler/'],
    },
  ],
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The entry and every chunk it imports statically, transitively: what its cold start loads. */
function loadedAtInit(metafile: Metafile, entry: string): string[] {
  return loadedFrom(metafile, [entry]);
}

/** The files and every chunk they import statically, transitively. */
function loadedFrom(metafile: Metafile, files: string[]): string[] {
  const outputs = new Map(Object.entries(metafile.outputs).map(([f, o]) => [resolve(f), o]));
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of outputs.get(file)?.imports ?? []) {
      if (i.kind === 'import-statement' && !i.external) visit(resolve(i.path));
    }
  };
  for (const file of files) visit(resolve(file));
  return [...seen];
}

/** The chunks that hold any of `inputs`, with what they import, less what the cold start loaded. */
function loadedAtFirstUse(metafile: Metafile, initial: string[], inputs: string[]): string[] {
  const holding = Object.entries(metafile.outputs)
    .filter(
      ([f, o]) => f.endsWith('.mjs') && Object.keys(o.inputs).some((i) => inputs.some((n) => i.includes(n))),
    )
    .map(([f]) => f);
  const loaded = new Set(initial);
  return loadedFrom(metafile, holding).filter((f) => !loaded.has(f));
}

/** Every variable a function requires, with placeholder values: enough to load any bundle outside AWS. */
export const PLACEHOLDER_ENV = {
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
};

/** Cold init = importing the bundle in a fresh Node process; the median of `samples` processes. */
export async function bundles(options: { samples: number }): Promise<Record<string, BundleFigures>> {
  const dir = mkdtempSync(join(tmpdir(), 'sundial-bench-'));
  const env = {
    ...process.env,
    ...PLACEHOLDER_ENV,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // As on Lambda: Node loads the bundle's source map at cold start.
    NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
  };
  const floorEntry = join(dir, 'floor.ts');
  writeFileSync(floorEntry, FLOOR_SOURCE);

  /** Bundles as the stack does; what the entry loads at cold start, and the whole package, bytes. */
  const bundle = (
    entry: string,
    outdir: string,
    sdkExternal: boolean,
    firstUses: { inputs: string[] }[] = [],
  ) => {
    rmSync(outdir, { recursive: true, force: true });
    const { metafile } = bundleFunction(entry, outdir, {
      metafile: true,
      ...(sdkExternal ? { external: ['@aws-sdk/*'] } : {}),
      // The floor lives in a temporary directory; resolve its packages from here.
      nodePaths: [resolve('node_modules')],
      logLevel: 'silent',
    });
    const loaded = loadedAtInit(metafile as Metafile, join(outdir, FUNCTION_ENTRY_FILE));
    const js = Object.keys((metafile as Metafile).outputs).filter((f) => f.endsWith('.mjs'));
    const later = firstUses.map((use) => {
      const files = loadedAtFirstUse(metafile as Metafile, loaded, use.inputs);
      return { files, bytes: sum(files.map((f) => statSync(f).size)) };
    });
    return {
      file: join(outdir, FUNCTION_ENTRY_FILE),
      later,
      bytes: sum(loaded.map((f) => statSync(f).size)),
      sourceMapBytes: sum(loaded.map((f) => statSync(`${f}.map`).size)),
      packageBytes: sum(js.map((f) => statSync(resolve(f)).size)),
    };
  };
  /**
   * Wall and CPU time of importing the bundle in a fresh Node process, ms; with `later`, the
   * wall time of importing those chunks after it, as the first request that needs them does.
   */
  const coldInit = (file: string, later: string[] = []) => {
    const [wall, cpu, after] = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const t=performance.now();const c=process.cpuUsage();await import(${JSON.stringify(file)});const u=process.cpuUsage(c);const l=performance.now();for(const f of ${JSON.stringify(later)})await import(f);console.log(l-t,(u.user+u.system)/1000,performance.now()-l)`,
      ],
      { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    )
      .trim()
      .split(' ')
      .map(Number);
    return { wall: wall ?? Number.NaN, cpu: cpu ?? Number.NaN, later: after ?? Number.NaN };
  };

  const built: {
    name: string;
    file: string;
    bytes: number;
    packageBytes: number;
    sourceMapBytes: number;
    externalFile: string;
    externalBytes: number;
    later: { files: string[]; bytes: number }[];
  }[] = [];
  const entries: [string, string][] = [
    ...ENTRIES.map((e): [string, string] => [e, `functions/${e}.ts`]),
    [FLOOR, floorEntry],
  ];
  for (const [name, entry] of entries) {
    const slug = name === FLOOR ? 'floor' : name;
    const deployed = bundle(entry, join(dir, slug), false, FIRST_USE[name]);
    // The external variant must sit where `@aws-sdk/*` resolves: inside the project.
    const external = bundle(
      entry,
      resolve('node_modules', '.cache', 'sundial-bench', `${slug}.sdk-external`),
      true,
    );
    built.push({ name, ...deployed, externalFile: external.file, externalBytes: external.bytes });
  }
  // Round by round, every bundle (the floor too) and its external variant once each, so a
  // change in the machine's load touches them all alike and the ratios to the floor hold.
  const wall = new Map<string, number[]>(built.map((b) => [b.name, []]));
  const cpu = new Map<string, number[]>(built.map((b) => [b.name, []]));
  const external = new Map<string, number[]>(built.map((b) => [b.name, []]));
  // Per function, per kind of first use: its samples.
  const later = new Map<string, number[][]>(built.map((b) => [b.name, b.later.map(() => [])]));
  for (let i = 0; i < options.samples; i++) {
    for (const b of built) {
      const t = coldInit(b.file);
      wall.get(b.name)?.push(t.wall);
      cpu.get(b.name)?.push(t.cpu);
      // Each in a process of its own, so the cold init above is not also the first use's.
      b.later.forEach((use, k) => {
        later.get(b.name)?.[k]?.push(
          coldInit(
            b.file,
            use.files.map((f) => resolve(f)),
          ).later,
        );
      });
      external.get(b.name)?.push(coldInit(b.externalFile).wall);
    }
  }
  const median = (xs: number[] | undefined) => percentile(xs ?? [], 50);
  const floorWall = median(wall.get(FLOOR));
  const floorCpu = median(cpu.get(FLOOR));
  const results: Record<string, BundleFigures> = {};
  for (const b of built) {
    const samples = wall.get(b.name) ?? [];
    results[b.name] = {
      bytes: b.bytes,
      packageBytes: b.packageBytes,
      sourceMapBytes: b.sourceMapBytes,
      coldInitMsMedian: round(median(samples)),
      coldInitMsP90: round(percentile(samples, 90)),
      coldInitVsFloor: round(median(samples) / floorWall),
      coldInitCpuMsMedian: round(median(cpu.get(b.name))),
      coldInitCpuVsFloor: round(median(cpu.get(b.name)) / floorCpu),
      samples: samples.length,
      sdkExternal: { bytes: b.externalBytes, coldInitMsMedian: round(median(external.get(b.name))) },
      ...(b.later.length > 0
        ? {
            firstUse: b.later.map((use, k) => ({
              what: FIRST_USE[b.name]![k]!.what,
              bytes: use.bytes,
              msMedian: round(median(later.get(b.name)?.[k])),
            })),
          }
        : {}),
    };
  }
  return results;
}
