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
}

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
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'sundial',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // The SDK is bundled (not taken from the runtime) so the deployed code runs the
        // exact versions the tests ran; tree-shaken, it stays small.
        externalModules: [],
        forceDockerBundling: false,
        // ESM bundles need require() for the CommonJS parts of dependencies.
        banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
      },
    });
  }
}
