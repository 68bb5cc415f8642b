/**
 * Two regions (issue 16) in the stacks: the global tables and their replica, the multi-Region
 * key and its replica, the standby stack in the standby region on the replicas, DR_REGIONS,
 * the jobs stream feeding the sync function in every deployment, the sync function's grants,
 * the region alarms and widgets, strong consistency for the runs table (MRSC: no TTL, the
 * byExpiry index and RUN_EXPIRY=sweep) and the Region sets it is refused outside, cdk-nag; and
 * that without `standbyRegion` none of it appears.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { drParameterNames } from '../../lib/constructs/dr.js';
import { SYNC_STREAM_BATCH_SIZE } from '../../lib/constructs/maintenance.js';
import { REPLICATION_LATENCY_ALARM_MS } from '../../lib/constructs/monitoring.js';
import {
  JOBS_TABLE,
  PASSIVE_SKIPS_METRIC,
  PEER_HEARTBEAT_AGE_METRIC,
  PEER_STALE_SECONDS,
  QUEUES,
  REGION_ACTIVE_METRIC,
  runsTableFor,
  TABLES,
} from '../../lib/definitions.js';
import { ENV, FUNCTION_ENVIRONMENT, FUNCTION_IDS, type FunctionId } from '../../lib/environment.js';
import { type DrContext, MRSC_REGION_SETS, parseDrContext } from '../../lib/stage.js';
import { SundialStack, type SundialStackProps } from '../../lib/sundial-stack.js';

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  DependsOn?: string[];
};
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

const HOME = 'us-east-1';
const STANDBY = 'us-west-2';
const REGIONS: DrContext = { homeRegion: HOME, standbyRegion: STANDBY, consistency: 'eventual' };

/** The two stacks as bin/sundial.ts makes them, unbundled (the constructs are under test). */
function twoRegions(
  props: Omit<SundialStackProps, 'dr' | 'env' | 'stage'> & { stage?: 'dev' | 'prod' } = {},
  regions: DrContext = REGIONS,
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stage = props.stage ?? 'dev';
  const home = new SundialStack(app, `Sundial-${stage}`, {
    ...props,
    stage,
    dr: { ...regions, role: 'home' },
    env: { region: regions.homeRegion },
  });
  const standby = new SundialStack(app, `Sundial-${stage}-standby`, {
    ...props,
    stage,
    dr: { ...regions, role: 'standby' },
    env: { region: regions.standbyRegion },
  });
  return { app, home, standby };
}

const resourcesOf = (t: Template) => t.toJSON().Resources as Record<string, Resource>;
const ofType = (t: Template, type: string) =>
  Object.entries(resourcesOf(t)).filter(([, r]) => r.Type === type);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);
const functionIdIn = (t: Template, id: FunctionId) => {
  const found = ofType(t, 'AWS::Lambda::Function').filter(([, r]) =>
    String(r.Properties.FunctionName ?? '').endsWith(`-${id}`),
  );
  expect(found, id).toHaveLength(1);
  return found[0]![0];
};
const environmentIn = (t: Template, id: FunctionId) =>
  (
    resourcesOf(t)[functionIdIn(t, id)]!.Properties.Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;
const roleOf = (t: Template, id: FunctionId) =>
  (resourcesOf(t)[functionIdIn(t, id)]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
const statementsOfRole = (t: Template, roleId: string) =>
  ofType(t, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
const allStatements = (t: Template) =>
  ofType(t, 'AWS::IAM::Policy').flatMap(
    ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
const alarmsOf = (t: Template) =>
  Object.fromEntries(ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => [String(a.Properties.AlarmName), a]));
/** The functions whose configuration reads a variable. */
const readersOf = (key: 'drRegions') =>
  FUNCTION_IDS.filter(
    (id) =>
      FUNCTION_ENVIRONMENT[id].required.includes(key) || FUNCTION_ENVIRONMENT[id].optional.includes(key),
  );
/** The statements of a role that grant one of `matching`'s actions, actions sorted. */
const grantsOf = (t: Template, id: FunctionId, matching: RegExp) =>
  statementsOfRole(t, roleOf(t, id))
    .filter((s) => actions(s).some((a) => matching.test(a)))
    .map((s) => ({ actions: [...actions(s)].sort(), resources: asList(s.Resource) }));
const queueIdsOf = (t: Template) =>
  ofType(t, 'AWS::SQS::Queue')
    .filter(([, q]) => q.Properties.RedrivePolicy)
    .map(([id]) => id)
    .sort();
const syncDlqIdOf = (t: Template) => {
  const found = ofType(t, 'AWS::SQS::Queue').filter(([id]) => id.startsWith('SyncDlqQueue'));
  expect(found).toHaveLength(1);
  return found[0]![0];
};

let single: Template;
let home: Template;
let standby: Template;
let homeStack: SundialStack;
let standbyStack: SundialStack;

beforeAll(() => {
  const one = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  single = Template.fromStack(new SundialStack(one, 'Sundial-dev', { stage: 'dev', env: { region: HOME } }));
  const two = twoRegions();
  homeStack = two.home;
  standbyStack = two.standby;
  home = Template.fromStack(two.home);
  standby = Template.fromStack(two.standby);
});

describe('context: -c standbyRegion, -c tableConsistency, -c witnessRegion, -c thirdReplicaRegion', () => {
  const context = (values: Record<string, string>) => (key: string) => values[key];

  it('is one region without standbyRegion, and two with it (eventual consistency by default)', () => {
    expect(parseDrContext(context({}), HOME)).toBeUndefined();
    expect(parseDrContext(context({ standbyRegion: STANDBY }), HOME)).toEqual(REGIONS);
    expect(parseDrContext(context({ standbyRegion: STANDBY, tableConsistency: 'eventual' }), HOME)).toEqual(
      REGIONS,
    );
  });

  it('refuses what makes no sense: a bad or repeated region, no home region, options without a standby', () => {
    expect(() => parseDrContext(context({ standbyRegion: 'mars-1' }), HOME)).toThrow(
      'standbyRegion must be an AWS Region name such as us-west-2, got "mars-1"',
    );
    expect(() => parseDrContext(context({ standbyRegion: HOME }), HOME)).toThrow(
      'standbyRegion must differ from the home region us-east-1',
    );
    expect(() => parseDrContext(context({ standbyRegion: STANDBY }), undefined)).toThrow(
      /standbyRegion needs the home region, the primary stack's/,
    );
    expect(() =>
      parseDrContext(context({ tableConsistency: 'strong', witnessRegion: 'us-east-2' }), HOME),
    ).toThrow('tableConsistency and witnessRegion need two regions: pass -c standbyRegion=<region> as well');
    expect(() =>
      parseDrContext(context({ standbyRegion: STANDBY, tableConsistency: 'linear' }), HOME),
    ).toThrow('tableConsistency must be one of eventual, strong, got "linear"');
    expect(() =>
      parseDrContext(context({ standbyRegion: STANDBY, witnessRegion: 'us-east-2' }), HOME),
    ).toThrow(/for -c tableConsistency=strong only/);
  });

  it('takes strong consistency with a witness or a third replica in the same MRSC Region set', () => {
    expect(
      parseDrContext(
        context({ standbyRegion: STANDBY, tableConsistency: 'strong', witnessRegion: 'us-east-2' }),
        HOME,
      ),
    ).toEqual({ ...REGIONS, consistency: 'strong', witnessRegion: 'us-east-2' });
    expect(
      parseDrContext(
        context({
          standbyRegion: 'eu-west-1',
          tableConsistency: 'strong',
          thirdReplicaRegion: 'eu-central-1',
        }),
        'eu-west-2',
      ),
    ).toEqual({
      homeRegion: 'eu-west-2',
      standbyRegion: 'eu-west-1',
      consistency: 'strong',
      thirdReplicaRegion: 'eu-central-1',
    });
    expect(Object.keys(MRSC_REGION_SETS)).toEqual(['US', 'EU', 'AP']);
  });

  it('refuses a strongly consistent set of Regions AWS does not offer', () => {
    const strong = (values: Record<string, string>, home = HOME) =>
      parseDrContext(context({ standbyRegion: STANDBY, tableConsistency: 'strong', ...values }), home);
    expect(() => strong({})).toThrow(/needs a third Region, exactly one of -c witnessRegion/);
    expect(() => strong({ witnessRegion: 'us-east-2', thirdReplicaRegion: 'us-east-2' })).toThrow(
      /exactly one of -c witnessRegion/,
    );
    expect(() => strong({ witnessRegion: STANDBY })).toThrow(/needs three different Regions/);
    expect(() => strong({ witnessRegion: 'eu-west-1' })).toThrow(
      /only within one Region set, and us-east-1, us-west-2, eu-west-1 are not all in one \(US: us-east-1, us-east-2, us-west-2; EU: /,
    );
    // us-west-1 is in no MRSC Region set.
    expect(() => strong({ witnessRegion: 'us-east-2' }, 'us-west-1')).toThrow(/not all in one/);
  });
});

describe('one region (no standbyRegion)', () => {
  it('has nothing of two regions: plain tables, a single-Region key, no replica, parameter or custom resource', () => {
    single.resourceCountIs('AWS::DynamoDB::Table', 2);
    single.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    single.resourceCountIs('AWS::KMS::ReplicaKey', 0);
    single.resourceCountIs('AWS::SSM::Parameter', 0);
    single.resourceCountIs('Custom::AWS', 0);
    for (const [, key] of ofType(single, 'AWS::KMS::Key')) expect(key.Properties.MultiRegion).toBeUndefined();
    for (const id of FUNCTION_IDS) expect(environmentIn(single, id), id).not.toHaveProperty(ENV.drRegions);
    const names = Object.keys(alarmsOf(single));
    expect(names.filter((n) => /ReplicationLatency|PeerHeartbeat/.test(n))).toEqual([]);
    const dashboard = JSON.stringify(ofType(single, 'AWS::CloudWatch::Dashboard'));
    for (const metric of [
      'ReplicationLatency',
      REGION_ACTIVE_METRIC,
      PEER_HEARTBEAT_AGE_METRIC,
      PASSIVE_SKIPS_METRIC,
    ])
      expect(dashboard).not.toContain(metric);
    // The table names stay CloudFormation's (the logical ids too: stack.test.ts).
    for (const [, table] of ofType(single, 'AWS::DynamoDB::Table'))
      expect(table.Properties.TableName).toBeUndefined();
  });

  it('streams the jobs table (new and old images) to the sync function, as in two regions; the runs table has no stream', () => {
    const tables = ofType(single, 'AWS::DynamoDB::Table');
    const jobs = tables.find(([id]) => id.startsWith('JobsTable'))!;
    const runs = tables.find(([id]) => id.startsWith('RunsTable'))!;
    expect(jobs[1].Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(runs[1].Properties.StreamSpecification).toBeUndefined();
    single.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionIdIn(single, 'Sync') },
      EventSourceArn: { 'Fn::GetAtt': [jobs[0], 'StreamArn'] },
      // Only jobs and the active-region item invoke it, not every rate-limit counter.
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ dynamodb: { Keys: { sk: { S: [{ prefix: 'JOB#' }] } } } }) },
          {
            Pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: ['REGION'] }, sk: { S: ['ACTIVE'] } } } }),
          },
        ],
      },
    });
  });
});

describe('the home stack', () => {
  it('makes the jobs and runs tables global tables with a replica in the standby region, as lib/definitions.ts defines them', () => {
    home.resourceCountIs('AWS::DynamoDB::Table', 0);
    const tables = ofType(home, 'AWS::DynamoDB::GlobalTable');
    expect(tables.map(([id]) => id).sort()).toEqual(['JobsTable1970BC16', 'RunsTable9D121A51']);
    for (const def of TABLES) {
      const [, table] = tables.find(([id]) => id.startsWith(`${def.id}Table`))!;
      expect(table.Properties, def.id).toMatchObject({
        TableName: `sundial-dev-${def.id.toLowerCase()}`,
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
        TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
        GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey!.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
      });
      const replicas = table.Properties.Replicas as Record<string, unknown>[];
      expect(replicas.map((r) => r.Region).sort(), def.id).toEqual([HOME, STANDBY]);
      for (const replica of replicas) {
        expect(replica, `${def.id} ${String(replica.Region)}`).toMatchObject({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: false,
          GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((i) => ({ IndexName: i.indexName })),
        });
      }
      // Eventual consistency (DynamoDB's default): no mode, no witness.
      expect(table.Properties.MultiRegionConsistency).toBeUndefined();
      expect(table.Properties.GlobalTableWitnesses).toBeUndefined();
    }
  });

  it('protects every replica in prod: deletion protection and retention', () => {
    const prod = Template.fromStack(twoRegions({ stage: 'prod' }).home);
    for (const [id, table] of ofType(prod, 'AWS::DynamoDB::GlobalTable')) {
      expect(table.DeletionPolicy, id).toBe('Retain');
      for (const replica of table.Properties.Replicas as Record<string, unknown>[])
        expect(replica.DeletionProtectionEnabled, `${id} ${String(replica.Region)}`).toBe(true);
    }
  });

  it('seals secrets with a multi-Region primary key (rotated) and publishes its ARN for the standby', () => {
    const keys = ofType(home, 'AWS::KMS::Key');
    expect(keys.map(([id]) => id)).toEqual(['SecretsKey317DCF94']);
    expect(keys[0]![1].Properties).toMatchObject({ MultiRegion: true, EnableKeyRotation: true });
    home.resourceCountIs('AWS::KMS::ReplicaKey', 0);
    home.hasResourceProperties('AWS::SSM::Parameter', {
      Name: drParameterNames('dev').secretsKeyArn,
      Value: { 'Fn::GetAtt': ['SecretsKey317DCF94', 'Arn'] },
    });
  });

  it("publishes its user pool's issuer and app client for the standby's API", () => {
    const parameters = Object.fromEntries(
      ofType(home, 'AWS::SSM::Parameter').map(([, p]) => [String(p.Properties.Name), p.Properties.Value]),
    );
    const names = drParameterNames('dev');
    expect(Object.keys(parameters).sort()).toEqual(Object.values(names).sort());
    expect(JSON.stringify(parameters[names.jwtIssuer])).toContain(
      'https://cognito-idp.us-east-1.amazonaws.com/',
    );
    expect(parameters[names.jwtAudience]).toEqual({ Ref: expect.stringMatching(/^UsersApiClient/) });
    // The api verifies that issuer's tokens itself, as in one region.
    expect(JSON.stringify(environmentIn(home, 'Api')[ENV.jwtIssuer])).toContain('cognito-idp.us-east-1');
  });

  it("grants its functions this region's tables only, never a replica in the standby region", () => {
    const policies = JSON.stringify(allStatements(home));
    expect(policies).not.toContain(STANDBY);
    expect(environmentIn(home, 'Worker')[ENV.jobsTable]).toEqual({ Ref: 'JobsTable1970BC16' });
    expect(environmentIn(home, 'Worker')[ENV.runsTable]).toEqual({ Ref: 'RunsTable9D121A51' });
  });

  it('keeps the logical ids of the one-region stack for what it shares with it', () => {
    const ids = (t: Template) => new Set(Object.keys(resourcesOf(t)));
    const one = ids(single);
    const both = [...ids(home)].filter((id) => one.has(id));
    // Everything but the tables' type, the DR parameters and the API deployment (a hash).
    expect([...one].filter((id) => !both.includes(id) && !id.startsWith('RestApiDeployment'))).toEqual([]);
    expect(resourcesOf(home).JobsTable1970BC16!.Type).toBe('AWS::DynamoDB::GlobalTable');
  });
});

describe('the standby stack', () => {
  it('lives in the standby region, after the home stack, named as bin/sundial.ts names it', () => {
    expect(standbyStack.region).toBe(STANDBY);
    expect(homeStack.region).toBe(HOME);
    expect(standbyStack.stackName).toBe('Sundial-dev-standby');
  });

  it('has no table of its own: its functions use the replicas by name', () => {
    standby.resourceCountIs('AWS::DynamoDB::Table', 0);
    standby.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    for (const id of ['Api', 'Worker', 'Completion', 'Sync'] as const) {
      expect(environmentIn(standby, id)[ENV.jobsTable], id).toBe('sundial-dev-jobs');
    }
    for (const id of ['Api', 'Worker', 'Completion', 'DeadLetters', 'Sync'] as const) {
      expect(environmentIn(standby, id)[ENV.runsTable], id).toBe('sundial-dev-runs');
    }
    // Grants name this region's replica and its indexes, nothing in the home region but the
    // parameters the custom resources read there.
    const worker = JSON.stringify(statementsOfRole(standby, roleOf(standby, 'Worker')));
    expect(worker).toContain(`:dynamodb:${STANDBY}:`);
    expect(worker).toContain(':table/sundial-dev-jobs/index/*');
    expect(worker).not.toContain(HOME);
  });

  it("reads its replica's stream ARN with DescribeTable on that replica alone, and feeds it to the sync function", () => {
    const readers = Object.fromEntries(
      ofType(standby, 'Custom::AWS').map(([id, r]) => [
        id,
        JSON.parse(String(r.Properties.Create)) as Record<string, unknown>,
      ]),
    );
    const [streamId, describe] = Object.entries(readers).find(([, c]) => c.action === 'describeTable')!;
    expect(describe).toMatchObject({
      service: 'DynamoDB',
      parameters: { TableName: 'sundial-dev-jobs' },
      outputPaths: ['Table.LatestStreamArn'],
    });
    expect(describe.region).toBeUndefined();
    standby.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionIdIn(standby, 'Sync') },
      EventSourceArn: { 'Fn::GetAtt': [streamId, 'Table.LatestStreamArn'] },
    });
    const policy = ofType(standby, 'AWS::IAM::Policy').find(([id]) =>
      id.startsWith(`${streamId.replace(/[0-9A-F]{8}$/, '')}CustomResourcePolicy`),
    )!;
    expect((policy[1].Properties.PolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Action: 'dynamodb:DescribeTable',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              `:dynamodb:${STANDBY}:`,
              { Ref: 'AWS::AccountId' },
              ':table/sundial-dev-jobs',
            ],
          ],
        },
      },
    ]);
  });

  it("seals secrets with a replica of the home region's multi-Region key, read from the home stack's parameter", () => {
    standby.resourceCountIs('AWS::KMS::Key', 0);
    const [[keyId, key]] = ofType(standby, 'AWS::KMS::ReplicaKey') as [[string, Resource]];
    const reader = String(
      (key.Properties.PrimaryKeyArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
    );
    expect(key.Properties.PrimaryKeyArn).toEqual({ 'Fn::GetAtt': [reader, 'Parameter.Value'] });
    expect(JSON.parse(String(resourcesOf(standby)[reader]!.Properties.Create))).toMatchObject({
      service: 'SSM',
      action: 'getParameter',
      parameters: { Name: drParameterNames('dev').secretsKeyArn },
      region: HOME,
    });
    expect(JSON.stringify(key.Properties.KeyPolicy)).toContain(':root');
    // Every function that seals or opens secrets does it with the replica, in this region.
    for (const id of ['Api', 'Worker', 'Completion', 'Sync', 'Reconciler', 'DeadLetters'] as const) {
      expect(environmentIn(standby, id)[ENV.secretsKey], id).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(
        grantsOf(standby, id, /^kms:/).every(
          (g) => JSON.stringify(g.resources) === JSON.stringify([{ 'Fn::GetAtt': [keyId, 'Arn'] }]),
        ),
        id,
      ).toBe(true);
    }
  });

  it("accepts the home user pool's tokens (Cognito pools are regional) and has no pool of its own", () => {
    standby.resourceCountIs('AWS::Cognito::UserPool', 0);
    standby.resourceCountIs('AWS::SSM::Parameter', 0);
    const env = environmentIn(standby, 'Api');
    const readerOf = (value: unknown) => {
      const [id, attribute] = (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      expect(attribute).toBe('Parameter.Value');
      return JSON.parse(String(resourcesOf(standby)[id]!.Properties.Create)) as Record<string, unknown>;
    };
    expect(readerOf(env[ENV.jwtIssuer])).toMatchObject({
      parameters: { Name: drParameterNames('dev').jwtIssuer },
      region: HOME,
    });
    expect(readerOf(env[ENV.jwtAudience])).toMatchObject({
      parameters: { Name: drParameterNames('dev').jwtAudience },
      region: HOME,
    });
    // The hosted sign-in's callbacks are the home console's: the standby's console uses keys.
    expect(env).not.toHaveProperty(ENV.consoleSignInDomain);
  });

  it('takes the same external issuer as the home stack when one is given, reading nothing for it', () => {
    const jwt = { issuer: 'https://login.example.com/', audience: 'sundial' };
    const two = twoRegions({ jwt });
    const [h, s] = [Template.fromStack(two.home), Template.fromStack(two.standby)];
    for (const t of [h, s]) {
      expect(environmentIn(t, 'Api')).toMatchObject({
        [ENV.jwtIssuer]: jwt.issuer,
        [ENV.jwtAudience]: jwt.audience,
      });
      t.resourceCountIs('AWS::Cognito::UserPool', 0);
    }
    expect(ofType(h, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name)).toEqual([
      drParameterNames('dev').secretsKeyArn,
    ]);
    expect(
      ofType(s, 'Custom::AWS')
        .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))
        .sort(),
    ).toEqual(['HomeParametersecretsKeyArn', 'JobsReplicaStream']);
  });

  it('has the same functions, queues, schedule group, API, alarms and dashboard as the home stack', () => {
    const count = (t: Template, type: string) => ofType(t, type).length;
    for (const type of [
      'AWS::SQS::Queue',
      'AWS::SQS::QueuePolicy',
      'AWS::Scheduler::ScheduleGroup',
      'AWS::ApiGateway::RestApi',
      'AWS::ApiGateway::Stage',
      'AWS::Events::Rule',
      'AWS::Lambda::EventSourceMapping',
      'AWS::SNS::Topic',
      'AWS::CloudWatch::CompositeAlarm',
      'AWS::CloudWatch::Dashboard',
    ]) {
      expect(count(standby, type), type).toBe(count(home, type));
    }
    const names = (t: Template) =>
      ofType(t, 'AWS::Lambda::Function')
        .map(([, f]) => f.Properties.FunctionName)
        .filter(Boolean)
        .sort();
    expect(names(standby)).toEqual(names(home));
    expect(names(standby)).toEqual(FUNCTION_IDS.map((id) => `sundial-dev-${id}`).sort());
    expect(Object.keys(alarmsOf(standby)).sort()).toEqual(Object.keys(alarmsOf(home)).sort());
    standby.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'sundial-dev' });
    // Dashboard names are global to the account.
    expect(ofType(home, 'AWS::CloudWatch::Dashboard')[0]![1].Properties.DashboardName).toBe('sundial-dev');
    expect(ofType(standby, 'AWS::CloudWatch::Dashboard')[0]![1].Properties.DashboardName).toBe(
      'sundial-dev-standby',
    );
  });

  it('refuses to be made for a region other than the one its role names', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    expect(
      () =>
        new SundialStack(app, 'Sundial-dev-standby', {
          stage: 'dev',
          dr: { ...REGIONS, role: 'standby' },
          env: { region: HOME },
        }),
    ).toThrow(
      'the standby stack Sundial-dev-standby must be deployed to us-west-2, its env.region is us-east-1',
    );
  });
});

describe('both stacks', () => {
  it('set DR_REGIONS, the home region first, on exactly the functions that read it', () => {
    expect(readersOf('drRegions')).toEqual([
      'Api',
      'Worker',
      'Completion',
      'DeadLetters',
      'Sync',
      'Reconciler',
    ]);
    for (const t of [home, standby]) {
      for (const id of FUNCTION_IDS) {
        const env = environmentIn(t, id);
        if (readersOf('drRegions').includes(id))
          expect(env[ENV.drRegions], id).toBe(JSON.stringify([HOME, STANDBY]));
        else expect(env, id).not.toHaveProperty(ENV.drRegions);
      }
    }
  });

  it('feed the sync function from the jobs stream: in order, split on error, retried until the stream drops a record, then to an encrypted DLQ', () => {
    for (const [name, t] of [
      ['one region', single],
      ['home', home],
      ['standby', standby],
    ] as const) {
      const sync = functionIdIn(t, 'Sync');
      const mappings = ofType(t, 'AWS::Lambda::EventSourceMapping').filter(
        ([, m]) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: sync }),
      );
      expect(mappings, name).toHaveLength(1);
      const dlq = syncDlqIdOf(t);
      expect(mappings[0]![1].Properties, name).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: SYNC_STREAM_BATCH_SIZE,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: -1,
        MaximumRecordAgeInSeconds: 24 * 3600,
        ParallelizationFactor: 1,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
      });
      expect(resourcesOf(t)[dlq]!.Properties.SqsManagedSseEnabled, name).toBe(true);
      // A takeover of 100,000 jobs takes minutes: the function has Lambda's longest limit.
      expect(resourcesOf(t)[sync]!.Properties.Timeout, name).toBe(900);
    }
  });

  it('grant the sync function exactly what a takeover and a stand-down need', () => {
    for (const [name, t] of [
      ['one region', single],
      ['home', home],
      ['standby', standby],
    ] as const) {
      const runsArn = (s: Template) =>
        s === single
          ? {
              'Fn::GetAtt': [
                ofType(s, 'AWS::DynamoDB::Table').find(([id]) => id.startsWith('RunsTable'))![0],
                'Arn',
              ],
            }
          : expect.objectContaining({ 'Fn::Join': expect.anything() });
      // The runs table itself, no index: Query for a job's recent runs, a conditional PutItem for
      // a missed one, GetItem and UpdateItem to drive runs left behind.
      const runs = grantsOf(t, 'Sync', /^dynamodb:(PutItem|Query)$/).filter(
        (g) =>
          !JSON.stringify(g.resources).includes('sundial-dev-jobs') &&
          !JSON.stringify(g.resources).includes('JobsTable'),
      );
      expect(runs, name).toEqual([
        {
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          resources: [runsArn(t)],
        },
      ]);
      expect(JSON.stringify(runs[0]!.resources), name).not.toContain('index');
      // SendMessage on the three main queues (and the stream DLQ, the event source's destination).
      const sends = grantsOf(t, 'Sync', /^sqs:SendMessage$/);
      const sent = sends
        .flatMap((g) => g.resources.map((r) => (r as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0]))
        .sort();
      expect(sent, name).toEqual([...queueIdsOf(t), syncDlqIdOf(t)].sort());
      for (const g of sends)
        expect(g.actions, name).toEqual(['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
      // The schedules as before, and listing them (no resource-level permission: "*").
      const scheduler = grantsOf(t, 'Sync', /^scheduler:/);
      expect(
        scheduler
          .flatMap((g) => g.actions)
          .filter((a) => a.startsWith('scheduler:'))
          .sort(),
        name,
      ).toEqual([
        'scheduler:CreateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
        'scheduler:ListSchedules',
        'scheduler:UpdateSchedule',
      ]);
      for (const g of scheduler.filter((x) => x.resources.includes('*')))
        expect(
          g.actions.filter((a) => !a.startsWith('xray:')),
          name,
        ).toEqual(['scheduler:ListSchedules']);
      // Reading the stream: that one stream ARN, nothing on "*".
      const stream = grantsOf(
        t,
        'Sync',
        /^dynamodb:(GetRecords|ListStreams|DescribeStream|GetShardIterator)$/,
      );
      expect(stream.flatMap((g) => g.actions).sort(), name).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ]);
      for (const g of stream) {
        expect(g.resources, name).toHaveLength(1);
        expect(JSON.stringify(g.resources), name).toMatch(/StreamArn|Table\.LatestStreamArn/);
      }
      // KMS as before.
      expect(
        grantsOf(t, 'Sync', /^kms:/)
          .flatMap((g) => g.actions)
          .sort(),
        name,
      ).toEqual(['kms:Decrypt', 'kms:Encrypt']);
      expect(environmentIn(t, 'Sync'), name).toMatchObject({
        [ENV.queueUrlHigh]: { Ref: expect.stringMatching(/^JobsHighQueue/) },
        [ENV.queueUrlDefault]: { Ref: expect.stringMatching(/^JobsDefaultQueue/) },
        [ENV.queueUrlLow]: { Ref: expect.stringMatching(/^JobsLowQueue/) },
        [ENV.runRetentionDays]: '30',
      });
    }
  });

  it('let the sync function send to each priority queue besides the Scheduler role, the api, the worker and the completion function (invariant 8)', () => {
    for (const t of [home, standby]) {
      const roles = (['Api', 'Worker', 'Completion', 'Sync'] as const).map((id) => roleOf(t, id));
      for (const queue of queueIdsOf(t)) {
        const [, policy] = ofType(t, 'AWS::SQS::QueuePolicy').find(
          ([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queue }]),
        )!;
        const deny = (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement.find(
          (s) => s.Effect === 'Deny' && actions(s).includes('sqs:SendMessage'),
        )!;
        const exempt = (
          deny.Condition as { ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [string] }[] } }
        ).ArnNotEquals['aws:PrincipalArn'].map((r) => r['Fn::GetAtt'][0]);
        expect(exempt.sort(), queue).toEqual(
          [...roles, exempt.find((r) => r.startsWith('SchedulerRole'))!].sort(),
        );
        expect(exempt).toHaveLength(QUEUES.length + 2);
      }
    }
  });

  it('grant nothing on "*" but what has no resource-level permission', () => {
    for (const t of [home, standby]) {
      const star = allStatements(t).filter((s) => asList(s.Resource).includes('*'));
      expect([...new Set(star.flatMap(actions))].sort()).toEqual([
        'scheduler:ListSchedules',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
    }
    // The standby's custom resources: one GetParameter each on the home stack's parameters.
    const readers = ofType(standby, 'AWS::IAM::Policy').filter(([id]) => id.includes('CustomResourcePolicy'));
    const reads = readers.flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    expect(reads.map((s) => s.Action).sort()).toEqual([
      'dynamodb:DescribeTable',
      'ssm:GetParameter',
      'ssm:GetParameter',
      'ssm:GetParameter',
    ]);
    for (const s of reads.filter((x) => x.Action === 'ssm:GetParameter'))
      expect(JSON.stringify(s.Resource)).toMatch(/:ssm:us-east-1:.*:parameter\/sundial\/dev\/dr\/[a-z-]+"/);
  });

  it('grant each function the same actions, on as many resources, as one region does (least privilege, invariant 6)', () => {
    const grants = (t: Template, id: FunctionId) =>
      statementsOfRole(t, roleOf(t, id))
        .flatMap((s) => actions(s).flatMap((a) => asList(s.Resource).map(() => a)))
        .sort();
    for (const id of FUNCTION_IDS) {
      expect(grants(home, id), id).toEqual(grants(single, id));
      expect(grants(standby, id), id).toEqual(grants(single, id));
    }
  });

  it("tell the functions that check targets the peer region's functions and tables too (invariant 9)", () => {
    for (const [t, peer] of [
      [home, STANDBY],
      [standby, HOME],
    ] as const) {
      const env = JSON.stringify(environmentIn(t, 'Worker')[ENV.protectedArns]);
      expect(env).toContain(`:lambda:${peer}:`);
      expect(env).toContain(`:function:sundial-dev-*`);
      for (const def of TABLES) {
        expect(env).toContain(`:dynamodb:${peer}:`);
        expect(env).toContain(`table/sundial-dev-${def.id.toLowerCase()}/*`);
      }
    }
    expect(JSON.stringify(environmentIn(single, 'Worker')[ENV.protectedArns])).not.toContain(STANDBY);
  });
});

describe('alarms and dashboard', () => {
  it('alarm in the home stack on replication to the standby of each table, well inside the 5-minute RPO', () => {
    expect(REPLICATION_LATENCY_ALARM_MS).toBeLessThan(5 * 60_000);
    for (const def of TABLES) {
      const alarm = alarmsOf(home)[`sundial-dev-ReplicationLatency-${def.id.toLowerCase()}`]!;
      expect(alarm.Properties, def.id).toMatchObject({
        Namespace: 'AWS/DynamoDB',
        MetricName: 'ReplicationLatency',
        Dimensions: [
          { Name: 'ReceivingRegion', Value: STANDBY },
          { Name: 'TableName', Value: `sundial-dev-${def.id.toLowerCase()}` },
        ],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: REPLICATION_LATENCY_ALARM_MS,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        TreatMissingData: 'notBreaching',
      });
      // The standby watches the way back, which carries the writes after a failover.
      expect(
        alarmsOf(standby)[`sundial-dev-ReplicationLatency-${def.id.toLowerCase()}`]!.Properties.Dimensions,
      ).toEqual([
        { Name: 'ReceivingRegion', Value: HOME },
        { Name: 'TableName', Value: `sundial-dev-${def.id.toLowerCase()}` },
      ]);
    }
  });

  it("alarm in both on a stale peer heartbeat, and on no heartbeat data at all (this region's sweeper stopped)", () => {
    for (const t of [home, standby]) {
      expect(alarmsOf(t)['sundial-dev-PeerHeartbeatStale']!.Properties).toMatchObject({
        Namespace: 'Sundial',
        MetricName: PEER_HEARTBEAT_AGE_METRIC,
        Dimensions: [{ Name: 'service', Value: 'sundial' }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: PEER_STALE_SECONDS,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'breaching',
      });
    }
  });

  it("alarm in every deployment on the sync DLQ, and join every alarm on Sundial's health to the composite", () => {
    for (const t of [single, home, standby]) {
      const dlq = syncDlqIdOf(t);
      const alarm = alarmsOf(t)['sundial-dev-SyncStreamDeadLetters']!;
      expect(alarm.Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      });
      const rule = JSON.stringify(ofType(t, 'AWS::CloudWatch::CompositeAlarm')[0]![1].Properties.AlarmRule);
      // All but a tenant's breaker opening (its endpoint, not Sundial).
      for (const [id, a] of ofType(t, 'AWS::CloudWatch::Alarm')) {
        if (a.Properties.AlarmName === 'sundial-dev-CircuitOpened') expect(rule, id).not.toContain(id);
        else expect(rule, id).toContain(id);
      }
    }
  });

  it('graph both regions on each dashboard: replication both ways, the active region, heartbeats, passive skips', () => {
    for (const t of [home, standby]) {
      const body = JSON.stringify(ofType(t, 'AWS::CloudWatch::Dashboard')[0]![1].Properties.DashboardBody);
      for (const metric of [
        'ReplicationLatency',
        REGION_ACTIVE_METRIC,
        PEER_HEARTBEAT_AGE_METRIC,
        PASSIVE_SKIPS_METRIC,
      ])
        expect(body, metric).toContain(metric);
      // The peer's metrics are named by its region; each region's lines by their region.
      const peer = t === home ? STANDBY : HOME;
      expect(body).toContain(`\\"region\\":\\"${peer}\\"`);
      for (const region of [HOME, STANDBY]) expect(body).toContain(`\\"label\\":\\"${region}\\"`);
      expect(body).toContain('sundial-dev-jobs');
      expect(body).toContain('sundial-dev-runs');
    }
  });
});

describe('strong consistency (-c tableConsistency=strong)', () => {
  const WITNESS: DrContext = { ...REGIONS, consistency: 'strong', witnessRegion: 'us-east-2' };
  const THIRD_REPLICA: DrContext = { ...REGIONS, consistency: 'strong', thirdReplicaRegion: 'us-east-2' };
  let strongHome: Template;
  let strongStandby: Template;
  let strongStacks: { home: SundialStack; standby: SundialStack };

  beforeAll(() => {
    const two = twoRegions({}, WITNESS);
    strongStacks = { home: two.home, standby: two.standby };
    strongHome = Template.fromStack(two.home);
    strongStandby = Template.fromStack(two.standby);
  });

  const tableOf = (t: Template, id: 'Jobs' | 'Runs') =>
    ofType(t, 'AWS::DynamoDB::GlobalTable').find(([logicalId]) => logicalId.startsWith(`${id}Table`))![1]
      .Properties;
  const regionsOf = (table: Record<string, unknown>) =>
    (table.Replicas as { Region: string }[]).map((r) => r.Region).sort();
  const sweepReaders = FUNCTION_IDS.filter((id) => FUNCTION_ENVIRONMENT[id].optional.includes('runExpiry'));

  it('makes the runs table strongly consistent with two replicas and a witness: no TTL, the byExpiry index, no stream', () => {
    const runs = tableOf(strongHome, 'Runs');
    expect(runs.TableName).toBe('sundial-dev-runs');
    expect(runs.MultiRegionConsistency).toBe('STRONG');
    expect(runs.GlobalTableWitnesses).toEqual([{ Region: 'us-east-2' }]);
    expect(regionsOf(runs)).toEqual([HOME, STANDBY]);
    // MRSC tables have no TTL (Amazon DynamoDB Developer Guide, "How DynamoDB global tables work").
    expect(runs.TimeToLiveSpecification).toBeUndefined();
    expect(runs.StreamSpecification).toBeUndefined();
    for (const replica of runs.Replicas as Record<string, unknown>[])
      expect(replica.StreamSpecification, String(replica.Region)).toBeUndefined();
    expect(runs.LocalSecondaryIndexes).toBeUndefined();
    const sweep = runsTableFor('sweep');
    expect(sweep.timeToLiveAttribute).toBeUndefined();
    expect((runs.GlobalSecondaryIndexes as { IndexName: string }[]).map((i) => i.IndexName)).toEqual(
      sweep.globalSecondaryIndexes.map((i) => i.indexName),
    );
    expect(runs.GlobalSecondaryIndexes).toContainEqual({
      IndexName: 'byExpiry',
      KeySchema: [
        { AttributeName: 'expiryShard', KeyType: 'HASH' },
        { AttributeName: 'expiresAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    });
    expect(runs.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: 'expiryShard', AttributeType: 'S' },
        { AttributeName: 'expiresAt', AttributeType: 'N' },
      ]),
    );
    for (const replica of runs.Replicas as Record<string, unknown>[]) {
      expect(replica, String(replica.Region)).toMatchObject({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: sweep.globalSecondaryIndexes.map((i) => ({ IndexName: i.indexName })),
      });
    }
  });

  it('keeps the jobs table eventually consistent, with TTL and its stream, as in the eventual deployment', () => {
    const jobs = tableOf(strongHome, 'Jobs');
    expect(jobs.MultiRegionConsistency ?? 'EVENTUAL').toBe('EVENTUAL');
    expect(jobs.GlobalTableWitnesses).toBeUndefined();
    expect(regionsOf(jobs)).toEqual([HOME, STANDBY]);
    expect(jobs.TimeToLiveSpecification).toEqual({
      AttributeName: JOBS_TABLE.timeToLiveAttribute,
      Enabled: true,
    });
    expect(jobs.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(jobs).toEqual(tableOf(home, 'Jobs'));
  });

  it('or with three replicas, the third in a region with no Sundial stack, and no witness', () => {
    const t = Template.fromStack(twoRegions({}, THIRD_REPLICA).home);
    const runs = tableOf(t, 'Runs');
    expect(runs.MultiRegionConsistency).toBe('STRONG');
    expect(runs.GlobalTableWitnesses).toBeUndefined();
    expect(regionsOf(runs)).toEqual([HOME, 'us-east-2', STANDBY]);
    expect(runs.TimeToLiveSpecification).toBeUndefined();
    expect(runs.StreamSpecification).toBeUndefined();
    expect(regionsOf(tableOf(t, 'Jobs'))).toEqual([HOME, STANDBY]);
  });

  it('sets RUN_EXPIRY=sweep on every function that reads it, in both stacks, and on no other', () => {
    expect(sweepReaders).toEqual(['Api', 'Worker', 'Completion', 'DeadLetters', 'Sync']);
    for (const [name, t] of [
      ['home', strongHome],
      ['standby', strongStandby],
    ] as const) {
      for (const id of FUNCTION_IDS) {
        const env = environmentIn(t, id);
        if (sweepReaders.includes(id)) expect(env[ENV.runExpiry], `${name} ${id}`).toBe('sweep');
        else expect(env, `${name} ${id}`).not.toHaveProperty(ENV.runExpiry);
      }
      expect(environmentIn(t, 'Reconciler'), name).not.toHaveProperty(ENV.runExpiry);
    }
  });

  it('sets no RUN_EXPIRY in an eventually consistent deployment, one region or two', () => {
    for (const t of [single, home, standby]) expect(JSON.stringify(t.toJSON())).not.toContain(ENV.runExpiry);
  });

  it("lets the completion function Query the byExpiry index and DeleteItem on its own region's runs table, nothing more", () => {
    for (const [name, stack, t] of [
      ['home', strongStacks.home, strongHome],
      ['standby', strongStacks.standby, strongStandby],
    ] as const) {
      const runsArn = stack.resolve(stack.data.runs.tableArn);
      const expiryIndexArn = stack.resolve(`${stack.data.runs.tableArn}/index/byExpiry`);
      const deletes = grantsOf(t, 'Completion', /^dynamodb:DeleteItem$/);
      expect(deletes, name).toHaveLength(1);
      expect(deletes[0]!.resources, name).toEqual([runsArn]);
      const queries = grantsOf(t, 'Completion', /^dynamodb:Query$/).flatMap((g) => g.resources);
      expect(queries, name).toContainEqual(expiryIndexArn);
      const region = stack.region;
      const policies = JSON.stringify(statementsOfRole(t, roleOf(t, 'Completion')));
      expect(policies, name).toContain(`:dynamodb:${region}:`);
      for (const other of [HOME, STANDBY, 'us-east-2'].filter((r) => r !== region))
        expect(policies, `${name} ${other}`).not.toContain(`:dynamodb:${other}:`);
      // Nothing else deletes runs, and no function is granted a runs-table index by wildcard.
      for (const id of FUNCTION_IDS.filter((f) => f !== 'Completion')) {
        const onRuns = grantsOf(t, id, /^dynamodb:DeleteItem$/).filter((g) =>
          JSON.stringify(g.resources).match(/RunsTable|sundial-dev-runs/),
        );
        expect(onRuns, `${name} ${id}`).toEqual([]);
      }
      expect(JSON.stringify(allStatements(t)), name).not.toContain('sundial-dev-runs/index/*');
    }
    // The standby's view of the runs table names the byExpiry index in its own region.
    expect(JSON.stringify(statementsOfRole(strongStandby, roleOf(strongStandby, 'Completion')))).toContain(
      ':table/sundial-dev-runs/index/byExpiry',
    );
  });

  it('grant every other function exactly what the eventual deployment does, and the completion function those two more', () => {
    const grants = (t: Template, id: FunctionId) =>
      statementsOfRole(t, roleOf(t, id))
        .flatMap((s) => actions(s).flatMap((a) => asList(s.Resource).map(() => a)))
        .sort();
    for (const id of FUNCTION_IDS) {
      const extra = id === 'Completion' ? ['dynamodb:DeleteItem', 'dynamodb:Query'] : [];
      expect(grants(strongHome, id), id).toEqual([...grants(home, id), ...extra].sort());
      expect(grants(strongStandby, id), id).toEqual([...grants(standby, id), ...extra].sort());
    }
  });

  it('alarms on the replication latency of the jobs table only: ReplicationLatency is documented for MREC replicas', () => {
    for (const [t, peer] of [
      [strongHome, STANDBY],
      [strongStandby, HOME],
    ] as const) {
      const names = Object.keys(alarmsOf(t)).filter((n) => n.includes('ReplicationLatency'));
      expect(names).toEqual(['sundial-dev-ReplicationLatency-jobs']);
      expect(alarmsOf(t)['sundial-dev-ReplicationLatency-jobs']!.Properties.Dimensions).toEqual([
        { Name: 'ReceivingRegion', Value: peer },
        { Name: 'TableName', Value: 'sundial-dev-jobs' },
      ]);
      expect(Object.keys(alarmsOf(t))).toContain('sundial-dev-PeerHeartbeatStale');
      const body = JSON.stringify(ofType(t, 'AWS::CloudWatch::Dashboard')[0]![1].Properties.DashboardBody);
      expect(body).toContain('sundial-dev-jobs');
      expect(body).not.toContain('sundial-dev-runs');
    }
  });

  it('keeps the standby stack on the replicas by name, with no table of its own', () => {
    strongStandby.resourceCountIs('AWS::DynamoDB::Table', 0);
    strongStandby.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
    for (const id of sweepReaders)
      expect(environmentIn(strongStandby, id)[ENV.runsTable], id).toBe('sundial-dev-runs');
  });
});

describe('cdk-nag AwsSolutions', () => {
  type NagReport = {
    conclusion: string;
    violations: { ruleName: string; severity: string }[];
    suppressedViolations?: { ruleName: string; reason?: string; violatingResources?: unknown[] }[];
  };
  /** The AwsSolutions report of both stacks of an app, synthesized with cdk-nag. */
  const nagReportOf = (app: App): NagReport => {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: (NagReport & { pluginName: string })[];
    };
    const nag = report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
    expect(nag).toHaveLength(1);
    return nag[0]!;
  };
  /** Each acknowledged finding once, by rule: what the stacks leave, decided. */
  const acknowledged = (report: NagReport) =>
    [...new Set((report.suppressedViolations ?? []).map((v) => v.ruleName))].sort();

  it('passes on both stacks, dev and prod, with every finding fixed or acknowledged with a reason', () => {
    for (const stage of ['dev', 'prod'] as const) {
      const nag = nagReportOf(twoRegions({ stage }).app);
      expect(
        nag.violations.map((v) => `${v.severity} ${v.ruleName}`),
        stage,
      ).toEqual([]);
      expect(nag.conclusion, stage).toBe('success');
      for (const a of nag.suppressedViolations ?? []) expect(a.reason?.trim(), a.ruleName).toBeTruthy();
    }
  });

  it('finds nothing new in the strongly consistent stacks, a witness or a third replica', () => {
    const eventual = acknowledged(nagReportOf(twoRegions().app));
    for (const regions of [
      { ...REGIONS, consistency: 'strong', witnessRegion: 'us-east-2' },
      { ...REGIONS, consistency: 'strong', thirdReplicaRegion: 'us-east-2' },
    ] satisfies DrContext[]) {
      const nag = nagReportOf(twoRegions({}, regions).app);
      const name = regions.witnessRegion ? 'witness' : 'third replica';
      expect(
        nag.violations.map((v) => `${v.severity} ${v.ruleName}`),
        name,
      ).toEqual([]);
      expect(nag.conclusion, name).toBe('success');
      expect(acknowledged(nag), name).toEqual(eventual);
    }
  });
});

describe('the app (bin/sundial.ts)', () => {
  /**
   * Runs the app as the CLI would (its region, its context), unbundled, into a fresh directory;
   * cdk-nag runs as the app adds it, which makes a run take a while.
   */
  const runApp = (context: Record<string, string>) =>
    new Promise<{ error: string; artifacts: Record<string, Artifact> }>((resolve) => {
      const outdir = mkdtempSync(join(tmpdir(), 'sundial-app-'));
      execFile(
        join('node_modules', '.bin', 'tsx'),
        ['bin/sundial.ts'],
        {
          encoding: 'utf8',
          env: {
            ...process.env,
            CDK_OUTDIR: outdir,
            CDK_DEFAULT_REGION: HOME,
            CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
          },
        },
        (failure, _stdout, stderr) => {
          try {
            if (failure) return resolve({ error: stderr || String(failure), artifacts: {} });
            const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
              artifacts: Record<string, Artifact>;
            };
            resolve({
              error: '',
              artifacts: Object.fromEntries(
                Object.entries(manifest.artifacts).filter(([, a]) => a.type === 'aws:cloudformation:stack'),
              ),
            });
          } finally {
            rmSync(outdir, { recursive: true, force: true });
          }
        },
      );
    });
  type Artifact = { type: string; environment?: string; dependencies?: string[] };

  it('makes Sundial-<stage> alone without standbyRegion, and Sundial-<stage>-standby in the standby region after it with', async () => {
    const [one, two] = await Promise.all([runApp({}), runApp({ standbyRegion: STANDBY, stage: 'prod' })]);
    expect(one.error).toBe('');
    expect(Object.keys(one.artifacts)).toEqual(['Sundial-dev']);
    expect(two.error).toBe('');
    expect(Object.keys(two.artifacts).sort()).toEqual(['Sundial-prod', 'Sundial-prod-standby']);
    expect(two.artifacts['Sundial-prod']!.environment).toBe(`aws://unknown-account/${HOME}`);
    expect(two.artifacts['Sundial-prod-standby']!.environment).toBe(`aws://unknown-account/${STANDBY}`);
    expect(two.artifacts['Sundial-prod-standby']!.dependencies).toContain('Sundial-prod');
  }, 240_000);

  it('synthesizes strong consistency in one Region set, and stops at synth with the refusal of any other', async () => {
    const [strong, apart, witnessApart] = await Promise.all([
      runApp({ standbyRegion: STANDBY, tableConsistency: 'strong', witnessRegion: 'us-east-2' }),
      runApp({ standbyRegion: 'eu-west-1', tableConsistency: 'strong', witnessRegion: 'us-east-2' }),
      runApp({ standbyRegion: STANDBY, tableConsistency: 'strong', witnessRegion: 'eu-west-1' }),
    ]);
    expect(strong.error).toBe('');
    expect(Object.keys(strong.artifacts).sort()).toEqual(['Sundial-dev', 'Sundial-dev-standby']);
    expect(apart.error).toMatch(/only within one Region set/);
    expect(witnessApart.error).toMatch(
      /tableConsistency=strong: DynamoDB offers multi-Region strong consistency only within one Region set, and us-east-1, us-west-2, eu-west-1 are not all in one/,
    );
  }, 240_000);
});
