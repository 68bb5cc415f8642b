import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  Architecture,
  Code,
  type IFunction,
  Function as LambdaFn,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type BuildOptions, type BuildResult, buildSync } from 'esbuild';
import { ENV, type EnvKey, FUNCTION_ENVIRONMENT, type FunctionId } from '../environment.js';
import type { Stage } from '../stage.js';

export interface SundialFunctionProps {
  /** Entry file, relative to the repository root. */
  entry: string;
  description: string;
  timeout: Duration;
  memorySize?: number;
  stage: Stage;
  /** X-Ray active tracing (default). Off: Lambda passes an upstream decision through and Powertools Tracer is disabled. */
  tracing?: boolean;
  /** Concurrency set aside for this function (and its ceiling); the account's unreserved pool when not set. */
  reservedConcurrency?: number;
  /** Shell commands run after bundling, to add files to the package (e.g. the console's). */
  afterBundling?: (inputDir: string, outputDir: string) => string[];
}

/**
 * Prefer each package's ES module build: esbuild then tree-shakes the SDK clients per
 * command (their CommonJS build is one file per client, kept whole).
 */
export const BUNDLE_MAIN_FIELDS = ['module', 'main'] as const;
/**
 * Stack traces name the TypeScript lines. The source map holds mappings only, not the sources:
 * Node reads and parses the whole map at cold start, and the sources made it three times larger
 * (worker 3.9 MB -> 1.3 MB; cold init about 7 ms less, `npm run bench`).
 */
export const FUNCTION_NODE_OPTIONS = '--enable-source-maps';
/** ESM bundles need require() for the CommonJS parts of dependencies. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);";

/** The repository root: entries are given relative to it. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The bundle's entry module in the function's package (`index.mjs`); the handler is its `handler` export. */
const ENTRY_NAME = 'index';
export const FUNCTION_ENTRY_FILE = `${ENTRY_NAME}.mjs`;

/**
 * How every function is bundled, by the stack and by `npm run bench` alike: minified ESM with
 * the SDK bundled (the exact versions the tests ran), split into chunks. A dynamic `import()`
 * becomes a chunk of its own, loaded and parsed only when that code first runs: the tracer
 * (sampled invocations only) and each AWS target's SDK client (the first job of that type) do
 * not cost a cold start that does not use them. Code shared by the entry and such a chunk is
 * in chunks the entry imports statically, so it is loaded once. (NodejsFunction bundles to one
 * `--outfile` and cannot split, hence esbuild's own API here.)
 */
export const FUNCTION_BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  splitting: true,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  sourcesContent: false,
  external: [],
  mainFields: [...BUNDLE_MAIN_FIELDS],
  // @middy/core's one use of Node's web streams, answered without loading them (see the file).
  alias: { 'node:stream/web': './functions/commons/stream-web.ts' },
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
};

/** Bundles a function's entry (relative to the repository root) into `outdir`, as deployed. */
export function bundleFunction(entry: string, outdir: string, overrides: BuildOptions = {}): BuildResult {
  return buildSync({
    ...FUNCTION_BUILD_OPTIONS,
    absWorkingDir: PROJECT_ROOT,
    ...overrides,
    entryPoints: { [ENTRY_NAME]: resolve(PROJECT_ROOT, entry) },
    outdir,
  });
}

/**
 * The variables the construct sets on every function itself, outside lib/environment.ts:
 * Powertools' and Node's own, read by libraries rather than by Sundial's configuration.
 */
export const CONSTRUCT_ENVIRONMENT = ['POWERTOOLS_SERVICE_NAME', 'NODE_OPTIONS', 'POWERTOOLS_TRACE_ENABLED'];

/** Variables lib/environment.ts lists that a deployment must never set, and why. */
const NEVER_SET: Partial<Record<EnvKey, string>> = {
  region: 'Lambda sets it, and CloudFormation refuses a function that sets it',
  sqsEndpoint: 'it points the SDK at a local emulator',
};

/**
 * Every Sundial function is named `sundial-<stage>-<id>`, so one ARN pattern names them all
 * (PROTECTED_ARNS, invariant 9) without an environment referring to its own function.
 * Generated names (`<stack>-<logicalId>-<suffix>`) would not do: CloudFormation truncates
 * both the stack name and the logical id of a name over 64 characters, by an undocumented
 * rule, so no stack-name prefix is sure to match. The stage already scopes Sundial's other
 * fixed names (the schedule group `sundial-<stage>` is unique per account and region), so
 * fixed function names add no new limit on deploying the stack twice.
 */
export const functionNamePrefix = (stage: Stage) => `sundial-${stage}-`;

/** Grants the function what reading a variable implies (a table's actions, a queue's send…). */
export type Grant = (fn: IFunction) => unknown;

/**
 * The function's package: its entry bundled with esbuild (`bundleFunction`) on the machine that
 * synthesizes, never in Docker; the asset's hash is the bundle's, as NodejsFunction's is.
 */
function bundledCode(props: SundialFunctionProps): Code {
  return Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the API, never pulled: local bundling below always succeeds or throws.
      image: DockerImage.fromRegistry('dummy'),
      // Never run either, but part of the key CDK caches bundles by within a synth: without
      // the entry in it, every function of the stack would get the first one's bundle.
      command: ['bundleFunction', props.entry],
      local: {
        tryBundle(outputDir) {
          bundleFunction(props.entry, outputDir);
          for (const command of props.afterBundling?.(PROJECT_ROOT, outputDir) ?? []) {
            execFileSync('bash', ['-c', command], {
              cwd: PROJECT_ROOT,
              stdio: ['ignore', process.stderr, 'inherit'],
            });
          }
          return true;
        },
      },
    },
  });
}

/**
 * Sundial's Lambda defaults in one place: Node.js 24 on arm64, bundled ESM, own log group.
 * Its environment is exactly what its configuration reads (lib/environment.ts): each
 * variable is set with `bind`, together with the permission that goes with it, a variable
 * the function does not read is refused, and the synth fails if a required one is missing.
 */
export class SundialFunction extends Construct {
  readonly function: LambdaFn;
  private readonly bound = new Map<EnvKey, string>();

  constructor(
    scope: Construct,
    readonly id: FunctionId,
    props: SundialFunctionProps,
  ) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.stage === 'prod' ? RetentionDays.ONE_YEAR : RetentionDays.ONE_MONTH,
      removalPolicy: props.stage === 'prod' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.function = new LambdaFn(this, 'Function', {
      functionName: `${functionNamePrefix(props.stage)}${id}`,
      code: bundledCode(props),
      handler: `${ENTRY_NAME}.handler`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      tracing: props.tracing === false ? Tracing.PASS_THROUGH : Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'sundial',
        NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
        ...(props.tracing === false ? { POWERTOOLS_TRACE_ENABLED: 'false' } : {}),
      },
    });
    // Checked when the app is synthesized, after every part has bound what it binds.
    this.node.addValidation({
      validate: () =>
        FUNCTION_ENVIRONMENT[id].required
          .filter((key) => !this.bound.has(key))
          .map((key) => `${this.describe(key)} is required by ${id} but was never bound`),
    });
  }

  /** Whether the function's configuration reads this variable (required or optional). */
  reads(key: EnvKey): boolean {
    const { required, optional } = FUNCTION_ENVIRONMENT[this.id];
    return required.includes(key) || optional.includes(key);
  }

  /**
   * Sets a variable the function reads and, in the same call, grants what using it needs:
   * `fn.bind('jobsTable', jobs.tableName, (f) => jobs.grant(f, 'dynamodb:GetItem'))`.
   * Throws, naming the variable, when the function does not read it or it is already set.
   */
  bind(key: EnvKey, value: string, ...grants: Grant[]): this {
    const never = NEVER_SET[key];
    if (never) throw new Error(`${this.describe(key)} is never set on a function: ${never}`);
    if (!this.reads(key)) {
      throw new Error(
        `${this.id} does not read ${this.describe(key)}: FUNCTION_ENVIRONMENT in lib/environment.ts lists what it reads`,
      );
    }
    if (this.bound.has(key)) throw new Error(`${this.describe(key)} is already bound on ${this.id}`);
    this.bound.set(key, value);
    this.function.addEnvironment(ENV[key], value);
    for (const grant of grants) grant(this.function);
    return this;
  }

  /** A setting that needs no permission (a limit, an allowlist). */
  setEnv(key: EnvKey, value: string): this {
    return this.bind(key, value);
  }

  /** Sets those of `values` the function reads; the others are for other functions. */
  setEnvWhereRead(values: Partial<Record<EnvKey, string>>): this {
    for (const [key, value] of Object.entries(values) as [EnvKey, string | undefined][]) {
      if (value !== undefined && this.reads(key)) this.setEnv(key, value);
    }
    return this;
  }

  /** A table's name, and the given actions on it (and its indexes). */
  bindTable(key: EnvKey, table: ITable, ...actions: string[]): this {
    return this.bind(key, table.tableName, (fn) => table.grant(fn, ...actions));
  }

  /** A queue's URL, and sending to it. */
  bindQueue(key: EnvKey, queue: IQueue): this {
    return this.bind(key, queue.queueUrl, (fn) => queue.grantSendMessages(fn));
  }

  /** A KMS key's ARN, and the given actions with it. */
  bindKey(key: EnvKey, kmsKey: IKey, ...actions: string[]): this {
    return this.bind(key, kmsKey.keyArn, (fn) => kmsKey.grant(fn, ...actions));
  }

  private describe(key: EnvKey): string {
    return `${ENV[key]} (${key})`;
  }
}
