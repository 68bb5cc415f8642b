import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type IFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
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
 * Sundial's Lambda defaults in one place: Node.js 24 on arm64, bundled ESM, own log group.
 * Its environment is exactly what its configuration reads (lib/environment.ts): each
 * variable is set with `bind`, together with the permission that goes with it, a variable
 * the function does not read is refused, and the synth fails if a required one is missing.
 */
export class SundialFunction extends Construct {
  readonly function: NodejsFunction;
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
    this.function = new NodejsFunction(this, 'Function', {
      functionName: `${functionNamePrefix(props.stage)}${id}`,
      entry: props.entry,
      handler: 'handler',
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
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // The SDK is bundled (not taken from the runtime) so the deployed code runs the
        // exact versions the tests ran; tree-shaken, it stays small. `npm run bench` measures
        // each bundle against the floor (one DynamoDB GetItem) and the SDK-external variant.
        externalModules: [],
        mainFields: [...BUNDLE_MAIN_FIELDS],
        forceDockerBundling: false,
        banner: ESM_REQUIRE_BANNER,
        ...(props.afterBundling
          ? {
              commandHooks: {
                beforeBundling: () => [],
                beforeInstall: () => [],
                afterBundling: props.afterBundling,
              },
            }
          : {}),
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
