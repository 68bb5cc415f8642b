import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Stage } from '../stage.js';

export interface SundialFunctionProps {
  /** Entry file, relative to the repository root. */
  entry: string;
  description: string;
  timeout: Duration;
  memorySize?: number;
  environment: Record<string, string>;
  stage: Stage;
  /** X-Ray active tracing (default). Off: Lambda passes an upstream decision through and Powertools Tracer is disabled. */
  tracing?: boolean;
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
 * Every Sundial function is named `sundial-<stage>-<id>`, so one ARN pattern names them all
 * (PROTECTED_ARNS, invariant 9) without an environment referring to its own function.
 * Generated names (`<stack>-<logicalId>-<suffix>`) would not do: CloudFormation truncates
 * both the stack name and the logical id of a name over 64 characters, by an undocumented
 * rule, so no stack-name prefix is sure to match. The stage already scopes Sundial's other
 * fixed names (the schedule group `sundial-<stage>` is unique per account and region), so
 * fixed function names add no new limit on deploying the stack twice.
 */
export const functionNamePrefix = (stage: Stage) => `sundial-${stage}-`;

/** Sundial's Lambda defaults in one place: Node.js 24 on arm64, bundled ESM, own log group. */
export class SundialFunction extends Construct {
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: SundialFunctionProps) {
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
      tracing: props.tracing === false ? Tracing.PASS_THROUGH : Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'sundial',
        NODE_OPTIONS: FUNCTION_NODE_OPTIONS,
        ...(props.tracing === false ? { POWERTOOLS_TRACE_ENABLED: 'false' } : {}),
        ...props.environment,
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
      },
    });
  }
}
