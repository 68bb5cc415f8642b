/**
 * Two regions (issue 16): what the home stack and the standby stack share by name rather than
 * by reference, so that neither needs a cross-region reference (CloudFormation has none; CDK's
 * `crossRegionReferences` writes SSM parameters through custom resources and pins the values
 * while the consumer uses them).
 *
 * - The jobs and runs tables are DynamoDB global tables defined in the home stack, replicas
 *   included (AWS advises defining every replica in one Region's stack: Amazon DynamoDB
 *   Developer Guide, "Best practices for global tables", Using AWS CloudFormation,
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/globaltables-bestpractices.html).
 *   Their names are fixed (`sundial-<stage>-jobs`, `sundial-<stage>-runs`): every replica
 *   has the global table's name, so the standby stack finds its own by name.
 * - What has no predictable name is published by the home stack as SSM parameters in its own
 *   region (`/sundial/<stage>/dr/...`: the secrets key's ARN, the user pool's issuer and app
 *   client) and read by the standby stack at deploy time with one GetParameter call each.
 * - The replica's stream ARN carries a label DynamoDB picks when the replica is created: the
 *   standby stack reads it with DescribeTable on its own replica.
 *
 * Deploy the home stack first (`cdk deploy --all` does: the standby depends on it).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import type { RunExpiry, TableDefinition } from '../definitions.js';
import type { DrContext, Stage } from '../stage.js';

/** The two-region settings of one stack: which of the two it is, and the regions. */
export interface DrSettings extends DrContext {
  role: 'home' | 'standby';
}

/** The region this stack's peer runs in. */
export const peerRegion = (dr: DrSettings): string => (dr.role === 'home' ? dr.standbyRegion : dr.homeRegion);

/** DR_REGIONS: the two regions, the home region first. */
export const drRegionsJson = (dr: DrContext): string => JSON.stringify([dr.homeRegion, dr.standbyRegion]);

/** The fixed name of a replicated table: the same in every region. */
export const drTableName = (stage: Stage, id: TableDefinition['id']): string =>
  `sundial-${stage}-${id.toLowerCase()}`;

/** The SSM parameters the home stack publishes for the standby stack, by what they hold. */
export const drParameterNames = (stage: Stage) =>
  ({
    secretsKeyArn: `/sundial/${stage}/dr/secrets-key-arn`,
    jwtIssuer: `/sundial/${stage}/dr/jwt-issuer`,
    jwtAudience: `/sundial/${stage}/dr/jwt-audience`,
  }) as const;
export type DrParameter = keyof ReturnType<typeof drParameterNames>;

/** In the home stack: a value the standby stack reads by name. */
export function publishForStandby(
  scope: Construct,
  stage: Stage,
  parameter: DrParameter,
  value: string,
  description: string,
): StringParameter {
  return new StringParameter(scope, `DrParameter-${parameter}`, {
    parameterName: drParameterNames(stage)[parameter],
    stringValue: value,
    description: `Sundial ${stage}, for the standby stack: ${description}`,
  });
}

/**
 * In the standby stack: a value the home stack published, read in the home region when the
 * standby is deployed (a GetParameter on that one parameter; the value is read again when the
 * parameter's name changes, not on every deployment: the published values never change for
 * the life of the home stack).
 */
export function readFromHome(scope: Construct, dr: DrSettings, stage: Stage, parameter: DrParameter): string {
  const name = drParameterNames(stage)[parameter];
  const arn = Stack.of(scope).formatArn({
    service: 'ssm',
    region: dr.homeRegion,
    resource: 'parameter',
    resourceName: name.slice(1),
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
  const read = new AwsCustomResource(scope, `HomeParameter-${parameter}`, {
    onUpdate: {
      service: 'SSM',
      action: 'getParameter',
      parameters: { Name: name },
      region: dr.homeRegion,
      physicalResourceId: PhysicalResourceId.of(name),
    },
    policy: AwsCustomResourcePolicy.fromStatements([
      new PolicyStatement({ actions: ['ssm:GetParameter'], resources: [arn] }),
    ]),
    installLatestAwsSdk: false,
  });
  return read.getResponseField('Parameter.Value');
}

/**
 * In the standby stack: the stream ARN of this region's replica of a global table (its label
 * is DynamoDB's choice), from DescribeTable on that replica alone.
 */
export function replicaStreamArn(scope: Construct, id: string, tableName: string): string {
  const stack = Stack.of(scope);
  const read = new AwsCustomResource(scope, id, {
    onUpdate: {
      service: 'DynamoDB',
      action: 'describeTable',
      parameters: { TableName: tableName },
      physicalResourceId: PhysicalResourceId.of(`${tableName}-stream`),
      // The response holds the whole table description; only the stream ARN is kept.
      outputPaths: ['Table.LatestStreamArn'],
    },
    policy: AwsCustomResourcePolicy.fromStatements([
      new PolicyStatement({
        actions: ['dynamodb:DescribeTable'],
        resources: [stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: tableName })],
      }),
    ]),
    installLatestAwsSdk: false,
  });
  return read.getResponseField('Table.LatestStreamArn');
}

/**
 * How old records leave the runs table in a deployment: `sweep` when the runs table has
 * multi-Region strong consistency, `ttl` otherwise (one region, or two eventually consistent).
 * AWS: "TTLs and local secondary indexes are not supported for MRSC global tables", MRSC
 * replicas refuse TransactWriteItems and TransactGetItems, and an MRSC global table spans
 * exactly three Regions of one Region set, two replicas and a witness or three replicas
 * (Amazon DynamoDB Developer Guide, "How DynamoDB global tables work",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
 * So strong consistency is for the runs table alone, where a run's claim is a conditional
 * write two regions must not both win; it has no LSI, and without TTL its records are deleted
 * by the completion sweep through the byExpiry index (lib/definitions.ts runsTableFor). The
 * jobs table stays eventually consistent: the job store writes it with transactions.
 */
export const runExpiryOf = (dr: DrContext | undefined): RunExpiry =>
  dr?.consistency === 'strong' ? 'sweep' : 'ttl';
