/** The synthesized stack: resources, wiring, least privilege and cdk-nag, from a real synth. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSTRUCT_ENVIRONMENT } from '../../lib/constructs/function.js';
import {
  CIRCUIT_OPENED_METRIC,
  JOBS_TABLE,
  METRICS_NAMESPACE,
  QUEUES,
  RUNS_DEFERRED_BY_CIRCUIT_METRIC,
  RUNS_TABLE,
  WORKER_TIMEOUT_SECONDS,
} from '../../lib/definitions.js';
import {
  ENV,
  type EnvKey,
  environmentNames,
  FUNCTION_ENVIRONMENT,
  FUNCTION_IDS,
  type FunctionId,
} from '../../lib/environment.js';
import {
  parseAllowedHttpHosts,
  parseAllowedTargetArns,
  parseCapacity,
  parseJwtContext,
  parseRetentionDays,
  parseStage,
  parseTenantLimits,
  parseTraceSampling,
  parseWorkerTracing,
} from '../../lib/stage.js';
import { SundialStack } from '../../lib/sundial-stack.js';
import FUNCTION_IAM from './fixtures/function-iam.json' with { type: 'json' };
import LOGICAL_IDS from './fixtures/logical-ids.json' with { type: 'json' };

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

let template: Template;
let resources: Record<string, Resource>;

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalIdOf = (type: string, match: (r: Resource) => boolean) => {
  const found = ofType(type).find(([, r]) => match(r));
  if (!found) throw new Error(`no ${type} matching`);
  return found[0];
};
/** The priority queues' DLQs: each the redrive target of a main queue. */
const mainDlqIds = () =>
  ofType('AWS::SQS::Queue')
    .filter(([, q]) => q.Properties.RedrivePolicy)
    .map(
      ([, q]) =>
        (q.Properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string] } })
          .deadLetterTargetArn['Fn::GetAtt'][0],
    )
    .sort();
/** The DLQ of the completion function's rules and asynchronous invocations. */
const completionDlqId = () => {
  const found = ofType('AWS::SQS::Queue').filter(([id]) => id.startsWith('CompletionDlqQueue'));
  expect(found).toHaveLength(1);
  return found[0]![0];
};
/** The on-failure destination of the sync function's jobs-stream event source. */
const syncDlqId = () => {
  const found = ofType('AWS::SQS::Queue').filter(([id]) => id.startsWith('SyncDlqQueue'));
  expect(found).toHaveLength(1);
  return found[0]![0];
};
const ofTypeIn = (t: Template, type: string) =>
  Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);
const roleIdOf = (fn: Resource) => (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
/** The logical id of the Sundial function named `sundial-dev-<id>` in a template. */
const functionIn = (t: Template, id: FunctionId) => {
  const found = ofTypeIn(t, 'AWS::Lambda::Function').filter(
    ([, r]) => r.Properties.FunctionName === `sundial-dev-${id}`,
  );
  expect(found, id).toHaveLength(1);
  return found[0]![0];
};
const sundialFunction = (id: FunctionId) => functionIn(template, id);
const environmentIn = (t: Template, id: FunctionId) =>
  (t.toJSON().Resources[functionIn(t, id)].Properties.Environment as { Variables: Record<string, unknown> })
    .Variables;
/** The functions whose configuration reads a variable. */
const readersOf = (key: EnvKey) =>
  FUNCTION_IDS.filter(
    (id) =>
      FUNCTION_ENVIRONMENT[id].required.includes(key) || FUNCTION_ENVIRONMENT[id].optional.includes(key),
  );
/** Every statement of the IAM policies attached to a role. */
const statementsOfRole = (roleId: string) =>
  ofType('AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

/**
 * A template value as the string CloudFormation would make of it, in eu-west-1 of account
 * 123456789012: resources' ARNs by logical id (a function's by its FunctionName).
 */
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
};
const arnOf = (id: string): string => {
  const r = resources[id];
  if (!r) throw new Error(`no resource ${id}`);
  const base = (service: string) => `arn:aws:${service}:eu-west-1:123456789012`;
  switch (r.Type) {
    case 'AWS::SQS::Queue':
      return `${base('sqs')}:${id}`;
    case 'AWS::SNS::Topic':
      return `${base('sns')}:${id}`;
    case 'AWS::DynamoDB::Table':
      return `${base('dynamodb')}:table/${id}`;
    case 'AWS::Lambda::Function':
      return `${base('lambda')}:function:${String(r.Properties.FunctionName ?? id)}`;
    default:
      throw new Error(`no ARN for ${r.Type}`);
  }
};
const resolve = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) {
    const ref = String(v.Ref);
    if (PSEUDO[ref]) return PSEUDO[ref];
    if (resources[ref]?.Type === 'AWS::SNS::Topic') return arnOf(ref);
    throw new Error(`no Ref value for ${ref}`);
  }
  if ('Fn::GetAtt' in v) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    if (attribute !== 'Arn') throw new Error(`no ${attribute} for ${id}`);
    return arnOf(id);
  }
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(resolve).join(separator);
  }
  throw new Error(`cannot resolve ${JSON.stringify(value)}`);
};
/** An ARN pattern matched as IAM matches resources: `*` any characters, `?` any one. */
const matchesArn = (pattern: string, arn: string) =>
  new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  ).test(arn);

/** Extra stacks skip esbuild bundling (the main template bundles for real), keeping the suite fast. */
const unbundledApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

let assemblyDir: string;

beforeAll(() => {
  const app = new App();
  const stack = new SundialStack(app, 'Sundial-test', { stage: 'dev' });
  template = Template.fromStack(stack);
  assemblyDir = app.outdir;
  resources = template.toJSON().Resources as Record<string, Resource>;
});

describe('data', () => {
  it('has the jobs and runs tables with PITR, encryption, TTL, the sync index and the watch index', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    for (const def of [JOBS_TABLE, RUNS_TABLE]) {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: def.timeToLiveAttribute, Enabled: true },
      });
    }
    // Each table's indexes as lib/definitions.ts defines them (sparse, keys only).
    for (const def of [JOBS_TABLE, RUNS_TABLE]) {
      expect(def.globalSecondaryIndexes.map((i) => i.indexName)).toEqual(
        def === JOBS_TABLE ? ['bySyncPending'] : ['byWatch'],
      );
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: Match.arrayWith([{ AttributeName: def.partitionKey.name, KeyType: 'HASH' }]),
        GlobalSecondaryIndexes: def.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey!.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
      });
    }
  });

  it('has a queue per priority, each redriving to its own DLQ, the completion and sync DLQs, all encrypted', () => {
    template.resourceCountIs('AWS::SQS::Queue', QUEUES.length * 2 + 2);
    const queues = ofType('AWS::SQS::Queue');
    const mains = queues.filter(([, q]) => q.Properties.RedrivePolicy);
    expect(mains).toHaveLength(QUEUES.length);
    const dlqTargets = new Set<string>();
    for (const [, q] of mains) {
      const redrive = q.Properties.RedrivePolicy as {
        deadLetterTargetArn: { 'Fn::GetAtt': [string, string] };
        maxReceiveCount: number;
      };
      expect(redrive.maxReceiveCount).toBe(QUEUES[0]!.maxReceiveCount);
      expect(q.Properties.VisibilityTimeout).toBe(WORKER_TIMEOUT_SECONDS * 6);
      dlqTargets.add(redrive.deadLetterTargetArn['Fn::GetAtt'][0]);
    }
    expect(dlqTargets.size).toBe(QUEUES.length);
    for (const [, q] of queues) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    expect(completionDlqId()).not.toBe(undefined);
    expect(syncDlqId()).not.toBe(undefined);
    // enforceSSL: every queue has a policy denying insecure transport.
    const policies = ofType('AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(QUEUES.length * 2 + 2);
    for (const [, p] of policies) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });
});

describe('scheduler', () => {
  it('has a schedule group and a role Scheduler can assume only for this account', () => {
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'sundial-dev' });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
    });
  });

  it("lets the Scheduler role send only to Sundial's three main queues", () => {
    const roleId = logicalIdOf('AWS::IAM::Role', (r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
    const policies = ofType('AWS::IAM::Policy').filter(([, p]) =>
      JSON.stringify(p.Properties.Roles).includes(roleId),
    );
    expect(policies).toHaveLength(1);
    const statements = (policies[0]![1].Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Action).toBe('sqs:SendMessage');
    const mainQueueIds = ofType('AWS::SQS::Queue')
      .filter(([, q]) => q.Properties.RedrivePolicy)
      .map(([id]) => id)
      .sort();
    const targets = asList(statements[0]!.Resource).map(
      (r) => (r as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0],
    );
    expect(targets.sort()).toEqual(mainQueueIds);
  });
});

describe('functions', () => {
  it('runs every function of lib/environment.ts, named sundial-<stage>-<Id>, on arm64 Node.js 24', () => {
    const names = ofType('AWS::Lambda::Function').map(([, fn]) => fn.Properties.FunctionName);
    expect(names.sort()).toEqual(FUNCTION_IDS.map((id) => `sundial-dev-${id}`).sort());
    for (const id of FUNCTION_IDS) {
      const fn = resources[sundialFunction(id)]!;
      expect(fn.Properties.Runtime, id).toBe('nodejs24.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      // Every function but the worker is traced (see the tracing test below).
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: id === 'Worker' ? 'PassThrough' : 'Active' });
      expect(fn.Properties.LoggingConfig, id).toEqual({ LogGroup: { Ref: expect.stringMatching(/Logs/) } });
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('traces the worker only with -c workerTracing=true, and always the other functions', () => {
    expect(parseWorkerTracing(undefined)).toBe(false);
    expect(parseWorkerTracing('false')).toBe(false);
    expect(parseWorkerTracing('true')).toBe(true);
    expect(() => parseWorkerTracing('sometimes')).toThrow(/workerTracing must be true or false/);
    const modesOf = (template: Template) =>
      ofTypeIn(template, 'AWS::Lambda::Function').map(([, fn]) => ({
        worker: String(fn.Properties.Description).startsWith('Sundial worker'),
        mode: (fn.Properties.TracingConfig as { Mode: string }).Mode,
        tracer: (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
          .POWERTOOLS_TRACE_ENABLED,
      }));
    const traced = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-traced', { stage: 'dev', workerTracing: true }),
    );
    expect(modesOf(traced).filter((m) => m.worker)).toEqual([
      { worker: true, mode: 'Active', tracer: undefined },
    ]);
    // The default stack, as `cdk deploy` makes it without the flag.
    const untraced = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-untraced', { stage: 'dev' }),
    );
    const modes = modesOf(untraced);
    expect(modes.filter((m) => m.worker)).toEqual([{ worker: true, mode: 'PassThrough', tracer: 'false' }]);
    expect(modes.filter((m) => !m.worker).every((m) => m.mode === 'Active' && m.tracer === undefined)).toBe(
      true,
    );
  });

  it('samples API traces by an X-Ray rule for its stage: 1 a second then 5%, or -c apiTraceRate / apiTraceReservoir', () => {
    const [rule, ...others] = ofType('AWS::XRay::SamplingRule');
    expect(others).toEqual([]);
    const [, api] = ofType('AWS::ApiGateway::RestApi')[0]!;
    const [, stage] = ofType('AWS::ApiGateway::Stage')[0]!;
    // API Gateway matches a rule by `<api name>/<stage>` and its own service type.
    expect(rule![1].Properties.SamplingRule).toEqual({
      RuleName: `${api.Properties.Name}-api`,
      ServiceName: `${api.Properties.Name}/${stage.Properties.StageName}`,
      ServiceType: 'AWS::ApiGateway::Stage',
      FixedRate: 0.05,
      ReservoirSize: 1,
      Priority: 1000,
      Host: '*',
      HTTPMethod: '*',
      URLPath: '*',
      ResourceARN: '*',
      Version: 1,
    });
    expect(stage.Properties.TracingEnabled).toBe(true);

    const context = (values: Record<string, string>) => (key: string) => values[key];
    expect(parseTraceSampling(context({}))).toEqual({ rate: 0.05, reservoirPerSecond: 1 });
    expect(parseTraceSampling(context({ apiTraceRate: '0.01', apiTraceReservoir: '0' }))).toEqual({
      rate: 0.01,
      reservoirPerSecond: 0,
    });
    expect(() => parseTraceSampling(context({ apiTraceRate: '5' }))).toThrow(
      /apiTraceRate must be a share from 0 to 1/,
    );
    expect(() => parseTraceSampling(context({ apiTraceReservoir: '1.5' }))).toThrow(
      /apiTraceReservoir must be a whole number/,
    );
    const sampled = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-sampled', {
        stage: 'dev',
        apiTraceSampling: { rate: 0.01, reservoirPerSecond: 0 },
      }),
    );
    sampled.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({ FixedRate: 0.01, ReservoirSize: 0 }),
    });
  });

  it('feeds the worker from each queue with partial batch responses and a concurrency cap', () => {
    const worker = logicalIdOf('AWS::Lambda::Function', (r) =>
      String(r.Properties.Description).startsWith('Sundial worker'),
    );
    // One mapping per main queue for the worker, one per DLQ for the dead-letter archiver, the
    // jobs stream's for the sync function (test/cdk/dr.test.ts).
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', QUEUES.length * 2 + 1);
    for (const def of QUEUES) {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: worker },
        EventSourceArn: {
          'Fn::GetAtt': [
            Match.stringLikeRegexp(`^Jobs${def.priority[0]!.toUpperCase()}${def.priority.slice(1)}Queue`),
            'Arn',
          ],
        },
        BatchSize: def.batchSize,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: def.maxConcurrency },
      });
    }
    expect(resources[worker]!.Properties.Timeout).toBe(WORKER_TIMEOUT_SECONDS);
  });

  it('scopes schedule management to the group and PassRole to the Scheduler role', () => {
    const statements = ofType('AWS::IAM::Policy').flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const scheduler = statements.filter((s) =>
      actions(s).some((a) => a.startsWith('scheduler:') && a !== 'scheduler:ListSchedules'),
    );
    expect(scheduler).toHaveLength(3); // api, sync and reconciler
    // Listing has no resource-level permission: the reconciler and the sync function (a
    // stand-down disables every schedule) list, on "*".
    const listing = ofType('AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.filter((s) =>
        actions(s).includes('scheduler:ListSchedules'),
      ).map((s) => ({ roles: JSON.stringify(p.Properties.Roles), s })),
    );
    expect(listing.map(({ s }) => s)).toEqual([
      expect.objectContaining({ Action: 'scheduler:ListSchedules', Resource: '*' }),
      expect.objectContaining({ Action: 'scheduler:ListSchedules', Resource: '*' }),
    ]);
    expect(
      listing.map(({ roles }) => roles.match(/(Sync|Reconciler)FunctionServiceRole/)?.[1]).sort(),
    ).toEqual(['Reconciler', 'Sync']);
    for (const s of scheduler) {
      expect(JSON.stringify(s.Resource)).toContain(':schedule/sundial-dev/*');
      expect(actions(s).sort()).toEqual([
        'scheduler:CreateSchedule',
        'scheduler:DeleteSchedule',
        'scheduler:GetSchedule',
        'scheduler:UpdateSchedule',
      ]);
    }
    const passRole = statements.filter((s) => actions(s).includes('iam:PassRole'));
    expect(passRole).toHaveLength(3);
    for (const s of passRole) {
      expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SchedulerRole/), 'Arn'] });
      expect(s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    }
  });

  it('has no IAM statement on "*" but for the actions that have no resource-level permission', () => {
    const noResourceLevel = new Set([
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'scheduler:ListSchedules',
    ]);
    const statements = ofType('AWS::IAM::Policy').flatMap(
      ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const star = statements.filter((s) => asList(s.Resource).includes('*'));
    expect(star.length).toBeGreaterThan(0);
    for (const s of star) for (const a of actions(s)) expect(noResourceLevel.has(a), a).toBe(true);
  });

  it('lets only the worker and the completion function (retries, dependents), the api (run now) and the sync function (catch-up) send to the queues', () => {
    const roleOf = (matches: (description: string) => boolean) => {
      const fn = logicalIdOf('AWS::Lambda::Function', (r) => matches(String(r.Properties.Description)));
      return (resources[fn]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    };
    const workerRole = roleOf((d) => d.startsWith('Sundial worker'));
    const apiRole = roleOf((d) => d === 'Sundial job API and web console');
    const completionRole = roleOf((d) => d.startsWith('Sundial completion'));
    const syncRole = roleOf((d) => d.includes('sweeper'));
    const senders = ofType('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some((s) =>
        actions(s).includes('sqs:SendMessage'),
      ),
    );
    const roles = senders.map(([, p]) => JSON.stringify(p.Properties.Roles));
    expect(roles.some((r) => r.includes(workerRole))).toBe(true);
    expect(roles.some((r) => r.includes(apiRole))).toBe(true);
    expect(roles.some((r) => r.includes(completionRole))).toBe(true);
    expect(roles.some((r) => r.includes(syncRole))).toBe(true);
    expect(
      roles.every(
        (r) =>
          r.includes(workerRole) ||
          r.includes(apiRole) ||
          r.includes(completionRole) ||
          r.includes(syncRole) ||
          r.includes('SchedulerRole'),
      ),
    ).toBe(true);
  });

  it('grants the worker exactly the AWS targets the configuration allows, and nothing by default', () => {
    const targetActions = ['lambda:InvokeFunction', 'sqs:SendMessage', 'events:PutEvents'];
    const statementsOf = (t: Template) =>
      Object.values(t.toJSON().Resources as Record<string, Resource>)
        .filter((r) => r.Type === 'AWS::IAM::Policy')
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
    // By default: no Lambda invoke, no event bus, and SendMessage only on Sundial's own queues.
    const defaults = statementsOf(template);
    expect(
      defaults.filter((s) =>
        actions(s).some((a) => a === 'lambda:InvokeFunction' || a === 'events:PutEvents'),
      ),
    ).toEqual([]);
    for (const s of defaults.filter((x) => actions(x).includes('sqs:SendMessage'))) {
      // Sundial's own queues, referenced by attribute; no queue named by a literal ARN.
      for (const r of asList(s.Resource)) expect(r).toHaveProperty(['Fn::GetAtt']);
    }

    const fn = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
    const queues = 'arn:aws:sqs:eu-west-1:123456789012:team-*';
    const bus = 'arn:aws:events:eu-west-1:123456789012:event-bus/orders';
    const app = unbundledApp();
    const stack = new SundialStack(app, 'Sundial-targets', {
      stage: 'dev',
      allowedTargetArns: [fn, queues, bus],
    });
    const custom = Template.fromStack(stack);
    const granted = statementsOf(custom).filter((s) => actions(s).some((a) => targetActions.includes(a)));
    const literal = granted
      .map((s) => ({ actions: actions(s), resources: asList(s.Resource) }))
      .filter((s) => s.resources.every((r) => typeof r === 'string'));
    expect(literal).toEqual(
      expect.arrayContaining([
        { actions: ['lambda:InvokeFunction'], resources: [fn, `${fn}:*`] },
        { actions: ['sqs:SendMessage'], resources: [queues] },
        { actions: ['events:PutEvents'], resources: [bus] },
      ]),
    );
    expect(literal).toHaveLength(3);
    // Only the worker holds them, and both functions that validate or call targets know the list.
    const policy = ofTypeIn(custom, 'AWS::IAM::Policy').find(([, p]) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('lambda:InvokeFunction'),
    );
    expect(JSON.stringify(policy?.[1].Properties.Roles)).toMatch(/Worker/);
    expect(readersOf('allowedTargetArns')).toEqual(['Api', 'Worker', 'Completion']);
    for (const id of readersOf('allowedTargetArns')) {
      expect(environmentIn(custom, id)[ENV.allowedTargetArns], id).toBe(JSON.stringify([fn, queues, bus]));
    }
    // The wildcard grants are acknowledged with a reason, so the synth still passes cdk-nag (in
    // a fresh app: an app synthesizes once, and Template.fromStack already did).
    const nagApp = unbundledApp();
    new SundialStack(nagApp, 'Sundial-targets-nag', { stage: 'dev', allowedTargetArns: [fn, queues, bus] });
    Validations.of(nagApp).addPlugins(new AwsSolutionsChecks(nagApp));
    expect(() => nagApp.synth()).not.toThrow();
  });

  it('takes per-tenant limits from context, validated', () => {
    const context = (values: Record<string, string>) => (key: string) => values[key];
    expect(parseTenantLimits(context({}))).toEqual({});
    // Keyed as in lib/environment.ts, so each limit goes to the function that reads it.
    expect(parseTenantLimits(context({ tenantMaxJobs: '500', tenantRequestsPerSecond: '20' }))).toEqual({
      tenantMaxJobs: '500',
      tenantRequestsPerSecond: '20',
    });
    expect(() => parseTenantLimits(context({ tenantMaxJobs: 'many' }))).toThrow(
      /tenantMaxJobs must be a whole number/,
    );
    // Fair share may be turned off, the other limits may not.
    expect(parseTenantLimits(context({ tenantRunsInProgress: '0' }))).toEqual({ tenantRunsInProgress: '0' });
    expect(() => parseTenantLimits(context({ tenantRunsInProgress: '-1' }))).toThrow(/at least 0/);
    expect(() => parseTenantLimits(context({ tenantMaxJobs: '0' }))).toThrow(/at least 1/);
    // The circuit breaker: off with 0 failures; a cool-down of at least a second, within its maximum.
    expect(parseTenantLimits(context({ breakerFailures: '0' }))).toEqual({ breakerFailures: '0' });
    expect(() => parseTenantLimits(context({ breakerCoolDownSeconds: '0' }))).toThrow(
      /breakerCoolDownSeconds must be a whole number of at least 1/,
    );
    expect(() =>
      parseTenantLimits(context({ breakerCoolDownSeconds: '300', breakerMaxCoolDownSeconds: '120' })),
    ).toThrow(/breakerMaxCoolDownSeconds \(120\) must be at least breakerCoolDownSeconds \(300\)/);
  });

  it('opens internal HTTP hosts and ports only as configured, validated', () => {
    expect(parseAllowedHttpHosts(undefined)).toEqual([]);
    const entries = [
      'reports.internal',
      '*.internal.example.com:443',
      'metrics.svc.local:8000-8099',
      '10.0.0.5:8080',
      '[::1]:8080',
      '[fd00::1]',
      'edge:1-65535',
      'single:443-443',
    ];
    // Passed through as given (trimmed), from a comma list or a cdk.json array.
    expect(parseAllowedHttpHosts(entries.join(' , '))).toEqual(entries);
    expect(parseAllowedHttpHosts(entries)).toEqual(entries);
    for (const [bad, why] of [
      ['http://x/', /"http:\/\/x\/": a host and port only, not a URL/],
      ['x:0', /"x:0": port "0" is not a whole number from 1 to 65535/],
      ['x:65536', /"x:65536": port "65536"/],
      ['x:080', /"x:080": port "080"/],
      ['x:', /"x:": port ""/],
      ['x:80-', /"x:80-": port ""/],
      ['x:http', /"x:http": port "http"/],
      ['x:90-80', /"x:90-80": port range 90-80 runs backwards/],
      ['::1', /"::1": expected host, host:port or host:low-high/],
      ['[::1', /"\[::1": expected host/],
      ['[::1]:80:90', /"\[::1\]:80:90": expected host/],
      ['[db.internal]:80', /"\[db.internal\]" is not an IPv6 address/],
      ['*:443', /"\*" is not a host name/],
      ['*.:443', /"\*\." is not a host name/],
      ['a..b', /"a..b" is not a host name/],
      ['under_score', /"under_score" is not a host name/],
    ] as const) {
      expect(() => parseAllowedHttpHosts(`ok.internal:443,${bad}`), bad).toThrow(why);
    }
    // Every bad entry is named, not only the first.
    expect(() => parseAllowedHttpHosts('a:0,b:1-0')).toThrow(/"a:0": .*; "b:1-0": /);
    const custom = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-hosts', { stage: 'dev', allowedHttpHosts: entries }),
    );
    expect(readersOf('allowedHttpHosts')).toEqual(['Api', 'Worker', 'Completion']);
    for (const id of readersOf('allowedHttpHosts')) {
      expect(environmentIn(template, id)[ENV.allowedHttpHosts], id).toBe('');
      expect(environmentIn(custom, id)[ENV.allowedHttpHosts], id).toBe(entries.join(','));
    }
  });

  it('refuses target ARNs that are not Lambda functions, queues or buses', () => {
    expect(parseAllowedTargetArns(undefined)).toEqual([]);
    expect(
      parseAllowedTargetArns(
        'arn:aws:sqs:eu-west-1:123456789012:a, arn:aws:lambda:*:123456789012:function:b',
      ),
    ).toEqual(['arn:aws:sqs:eu-west-1:123456789012:a', 'arn:aws:lambda:*:123456789012:function:b']);
    expect(() => parseAllowedTargetArns('arn:aws:s3:::bucket')).toThrow(
      /allowedTargetArns must be Lambda function/,
    );
    expect(() => parseAllowedTargetArns('*')).toThrow(/allowedTargetArns/);
  });

  it('archives every DLQ with the dead-letter function', () => {
    const archiver = logicalIdOf('AWS::Lambda::Function', (r) =>
      String(r.Properties.Description).startsWith('Sundial dead-letter archiver'),
    );
    const dlqIds = mainDlqIds();
    expect(dlqIds).toHaveLength(QUEUES.length);
    const sources = ofType('AWS::Lambda::EventSourceMapping')
      .filter(([, m]) => JSON.stringify(m.Properties.FunctionName).includes(archiver))
      .map(([, m]) => (m.Properties.EventSourceArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0])
      .sort();
    expect(sources).toEqual(dlqIds);
  });

  it('has an encrypted failure topic only the worker and the completion function may publish to', () => {
    // Two topics: final run failures here, alarms on the other; both encrypted.
    template.resourceCountIs('AWS::SNS::Topic', 2);
    for (const [, t] of ofType('AWS::SNS::Topic')) {
      expect(JSON.stringify(t.Properties.KmsMasterKeyId)).toContain(':alias/aws/sns');
    }
    const topic = logicalIdOf('AWS::SNS::Topic', (r) =>
      String(r.Properties.DisplayName).includes('finally failed'),
    );
    const publishers = ofType('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some((s) =>
        actions(s).includes('sns:Publish'),
      ),
    );
    expect(publishers.map(([, p]) => JSON.stringify(p.Properties.Roles))).toEqual([
      expect.stringMatching(/WorkerFunction/),
      expect.stringMatching(/CompletionFunction/),
    ]);
    for (const [, p] of publishers) expect(JSON.stringify(p.Properties.PolicyDocument)).toContain(topic);
    template.hasOutput('FailureTopicArn', {});
  });

  it('runs the sync sweeper every minute', () => {
    const sync = logicalIdOf('AWS::Lambda::Function', (r) =>
      String(r.Properties.Description).includes('sweeper'),
    );
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [sync, 'Arn'] } })],
    });
  });
});

describe("Sundial's own infrastructure (invariants 8 and 9)", () => {
  const roleOfFunction = (id: FunctionId) => roleIdOf(resources[sundialFunction(id)]!);
  const schedulerRole = () =>
    logicalIdOf('AWS::IAM::Role', (r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
  const queueIds = (dlq: boolean) =>
    dlq
      ? mainDlqIds()
      : ofType('AWS::SQS::Queue')
          .filter(([, q]) => q.Properties.RedrivePolicy)
          .map(([id]) => id);
  /** The statements of the one queue policy on a queue. */
  const queuePolicyOf = (queueId: string) => {
    const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) =>
      (p.Properties.Queues as unknown[]).some((q) => JSON.stringify(q) === JSON.stringify({ Ref: queueId })),
    );
    expect(policies, queueId).toHaveLength(1);
    return (policies[0]![1].Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
  };
  const expectSendDeniedExcept = (queueId: string, roleIds: string[]) => {
    const statements = queuePolicyOf(queueId);
    const denies = statements.filter(
      (s) => s.Effect === 'Deny' && actions(s as Statement).includes('sqs:SendMessage'),
    );
    expect(denies, queueId).toEqual([
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [queueId, 'Arn'] },
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': expect.any(Array) } },
      },
    ]);
    const exempt = (denies[0]!.Condition as { ArnNotEquals: { 'aws:PrincipalArn': unknown[] } }).ArnNotEquals[
      'aws:PrincipalArn'
    ];
    expect(exempt.map((r) => (r as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'])).toEqual(
      expect.arrayContaining(roleIds.map((id) => [id, 'Arn'])),
    );
    expect(exempt).toHaveLength(roleIds.length);
    // enforceSSL stays.
    expect(JSON.stringify(statements)).toContain('"aws:SecureTransport":"false"');
    // Nothing in the policy allows anything.
    expect(statements.filter((s) => s.Effect === 'Allow')).toEqual([]);
  };

  it('lets only the Scheduler role, the api, the worker, the completion and the sync function send to each priority queue', () => {
    expect(queueIds(false)).toHaveLength(QUEUES.length);
    for (const queue of queueIds(false)) {
      expectSendDeniedExcept(queue, [
        schedulerRole(),
        roleOfFunction('Api'),
        roleOfFunction('Worker'),
        roleOfFunction('Completion'),
        roleOfFunction('Sync'),
      ]);
    }
  });

  it('lets only the api and the worker send to each DLQ (SQS redrive is no SendMessage)', () => {
    expect(queueIds(true)).toHaveLength(QUEUES.length);
    for (const dlq of queueIds(true))
      expectSendDeniedExcept(dlq, [roleOfFunction('Api'), roleOfFunction('Worker')]);
  });

  it("tells the functions that check targets Sundial's own ARNs: queues, DLQs, the completion and sync DLQs, tables, the failure topic, its functions", () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(FUNCTION_IDS.length);
    const topic = logicalIdOf('AWS::SNS::Topic', (r) =>
      String(r.Properties.DisplayName).includes('finally failed'),
    );
    const tables = ofType('AWS::DynamoDB::Table').map(([id]) => arnOf(id));
    expect(tables).toHaveLength(2);
    const mustMatch = [
      ...ofType('AWS::SQS::Queue').map(([id]) => arnOf(id)),
      ...tables,
      ...tables.flatMap((t) => [
        `${t}/index/bySyncPending`,
        `${t}/index/byWatch`,
        `${t}/stream/2024-01-01T00:00:00.000`,
      ]),
      arnOf(topic),
      // Every function, unqualified and by version or alias.
      ...fns.flatMap(([id]) => [arnOf(id), `${arnOf(id)}:live`, `${arnOf(id)}:7`]),
    ];
    expect(ofType('AWS::SQS::Queue').map(([id]) => id)).toEqual(
      expect.arrayContaining([completionDlqId(), syncDlqId()]),
    );
    expect(mustMatch.length).toBe(8 + 2 + 6 + 1 + 3 * FUNCTION_IDS.length);
    const mustNot = [
      'arn:aws:lambda:eu-west-1:123456789012:function:report',
      'arn:aws:lambda:eu-west-1:123456789012:function:sundial-prod-Worker',
      'arn:aws:sqs:eu-west-1:123456789012:team-orders',
      'arn:aws:events:eu-west-1:123456789012:event-bus/default',
    ];
    // Named sundial-<stage>-<id>, so one pattern covers them without a function naming itself.
    for (const [id, fn] of fns) expect(fn.Properties.FunctionName, id).toMatch(/^sundial-dev-[A-Za-z]+$/);
    expect(readersOf('protectedArns')).toEqual(['Api', 'Worker', 'Completion']);
    for (const id of readersOf('protectedArns')) {
      const env = environmentIn(template, id);
      const patterns = JSON.parse(resolve(env[ENV.protectedArns])) as string[];
      expect(
        patterns.every((p) => typeof p === 'string' && p.startsWith('arn:aws:')),
        id,
      ).toBe(true);
      for (const arn of mustMatch)
        expect(
          patterns.some((p) => matchesArn(p, arn)),
          `${id}: ${arn}`,
        ).toBe(true);
      for (const arn of mustNot)
        expect(
          patterns.some((p) => matchesArn(p, arn)),
          `${id}: ${arn}`,
        ).toBe(false);
      // A function's environment never refers to a function (that would be circular).
      expect(JSON.stringify(env[ENV.protectedArns])).not.toMatch(/Function[0-9A-F]{8}/);
    }
  });

  it('grants the firing-signing key: sync and reconciler seal and open it, the archiver only reads it', () => {
    const key = logicalIdOf('AWS::KMS::Key', () => true);
    const jobs = logicalIdOf('AWS::DynamoDB::Table', (r) =>
      JSON.stringify(r.Properties).includes('bySyncPending'),
    );
    const onKey = (roleId: string) =>
      statementsOfRole(roleId)
        .filter((s) => JSON.stringify(s.Resource) === JSON.stringify({ 'Fn::GetAtt': [key, 'Arn'] }))
        .flatMap(actions)
        .sort();
    const onJobs = (roleId: string) =>
      statementsOfRole(roleId)
        .filter((s) => JSON.stringify(s.Resource).includes(`"${jobs}"`))
        .flatMap(actions)
        .sort();
    for (const id of ['Api', 'Worker', 'Completion', 'Sync', 'Reconciler'] as const) {
      expect(onKey(roleOfFunction(id)), id).toEqual(['kms:Decrypt', 'kms:Encrypt']);
    }
    for (const id of ['Sync', 'Reconciler'] as const) {
      // The key item is created by a conditional UpdateItem and read by GetItem.
      expect(onJobs(roleOfFunction(id)), id).toEqual(
        expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem']),
      );
    }
    const archiver = roleOfFunction('DeadLetters');
    expect(onKey(archiver)).toEqual(['kms:Decrypt']);
    expect(onJobs(archiver)).toEqual(['dynamodb:GetItem']);
  });
});

describe('function environments (lib/environment.ts)', () => {
  /** Every optional setting given, so that each lands somewhere. */
  let full: Template;
  beforeAll(() => {
    full = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-full', {
        stage: 'dev',
        runRetentionDays: 90,
        allowedTargetArns: ['arn:aws:sqs:eu-west-1:123456789012:team-inbox'],
        allowedHttpHosts: ['reports.internal:8443'],
        tenantLimits: {
          tenantMaxJobs: '500',
          tenantJobCreatesPerMinute: '60',
          tenantRequestsPerSecond: '20',
          tenantRunsInProgress: '3',
          breakerFailures: '3',
          breakerCoolDownSeconds: '30',
          breakerMaxCoolDownSeconds: '600',
        },
        degradation: '{"cheapPageSize":10}',
        jwt: {
          issuer: 'https://login.example.com/',
          audience: 'sundial',
          jwksUri: 'https://login.example.com/jwks',
          tenantClaim: 'org',
          roleClaim: 'role',
        },
        workerTracing: true,
        capacity: parseCapacity((key) => ({ queueConcurrencyLow: '8' })[key]),
      }),
    );
  });

  it('sets on each function every variable it requires and nothing its configuration does not read', () => {
    for (const t of [template, full]) {
      for (const id of FUNCTION_IDS) {
        const { required, optional } = environmentNames(id);
        const names = Object.keys(environmentIn(t, id));
        expect(names, id).toEqual(expect.arrayContaining(required));
        const allowed = new Set([...required, ...optional, ...CONSTRUCT_ENVIRONMENT]);
        expect(
          names.filter((n) => !allowed.has(n)),
          id,
        ).toEqual([]);
        // Lambda sets the region itself (CloudFormation refuses it); the SQS endpoint is local only.
        expect(names, id).not.toContain(ENV.region);
        expect(names, id).not.toContain(ENV.sqsEndpoint);
      }
    }
  });

  it('passes each optional setting to exactly the functions that read it', () => {
    // The console's sign-in domain comes with the stack's own user pool, which `full` (an
    // external issuer) has not; the identity tests check it. DR_REGIONS comes with two regions,
    // RUN_EXPIRY with a strongly consistent runs table (test/cdk/dr.test.ts).
    const twoRegionsOnly: EnvKey[] = ['drRegions', 'runExpiry'];
    const settable = (Object.keys(ENV) as EnvKey[]).filter(
      (k) =>
        k !== 'region' && k !== 'sqsEndpoint' && k !== 'consoleSignInDomain' && !twoRegionsOnly.includes(k),
    );
    for (const key of settable) {
      const holders = FUNCTION_IDS.filter((id) => ENV[key] in environmentIn(full, id));
      expect(holders, key).toEqual(readersOf(key));
    }
    expect(environmentIn(full, 'Api')).toMatchObject({
      [ENV.tenantMaxJobs]: '500',
      [ENV.tenantJobCreatesPerMinute]: '60',
      [ENV.tenantRequestsPerSecond]: '20',
      [ENV.jwtJwksUri]: 'https://login.example.com/jwks',
      [ENV.jwtRoleClaim]: 'role',
    });
    // -c degradation reaches the three functions that act on the level, as it was given.
    for (const id of ['Api', 'Worker', 'Completion'] as const)
      expect(environmentIn(full, id)[ENV.degradationSettings], id).toBe('{"cheapPageSize":10}');
    expect(environmentIn(full, 'Worker')).toMatchObject({
      [ENV.tenantRunsInProgress]: '3',
      [ENV.breakerFailures]: '3',
      [ENV.breakerCoolDownSeconds]: '30',
      [ENV.breakerMaxCoolDownSeconds]: '600',
      [ENV.failureTopic]: { Ref: expect.stringMatching(/^FailureTopic/) },
    });
    // Without context, no limit is set: the functions' defaults apply.
    for (const id of FUNCTION_IDS)
      expect(Object.keys(environmentIn(template, id)).join(), id).not.toMatch(/TENANT_/);
  });

  it('takes each variable from the resource it names', () => {
    const queueRef = (name: string) => ({ Ref: expect.stringMatching(new RegExp(`^${name}Queue`)) });
    const expected: Partial<Record<EnvKey, unknown>> = {
      jobsTable: { Ref: expect.stringMatching(/^JobsTable/) },
      runsTable: { Ref: expect.stringMatching(/^RunsTable/) },
      scheduleGroup: 'sundial-dev',
      schedulerRole: { 'Fn::GetAtt': [expect.stringMatching(/^SchedulerRole/), 'Arn'] },
      queueUrlHigh: queueRef('JobsHigh'),
      queueUrlDefault: queueRef('JobsDefault'),
      queueUrlLow: queueRef('JobsLow'),
      secretsKey: { 'Fn::GetAtt': [expect.stringMatching(/^SecretsKey/), 'Arn'] },
      allowedTargetArns: '[]',
      allowedHttpHosts: '',
      runRetentionDays: '30',
    };
    for (const id of FUNCTION_IDS) {
      const env = environmentIn(template, id);
      for (const [key, value] of Object.entries(expected)) {
        if (ENV[key as EnvKey] in env) expect(env[ENV[key as EnvKey]], `${id} ${key}`).toEqual(value);
      }
      if (ENV.queueArns in env) {
        expect(JSON.stringify(env[ENV.queueArns]), id).toMatch(
          /JobsHighQueue.*JobsDefaultQueue.*JobsLowQueue/,
        );
      }
    }
    expect(JSON.stringify(environmentIn(template, 'DeadLetters')[ENV.deadLetterQueueArns])).toMatch(
      /"high\\":\\".*JobsHighDlqQueue.*"default\\":\\".*JobsDefaultDlqQueue.*"low\\":\\".*JobsLowDlqQueue/,
    );
  });
});

describe('the split into parts (lib/constructs)', () => {
  it('keeps the logical id of every resource and output the one-constructor stack had (and those added since)', () => {
    for (const [id, type] of Object.entries(LOGICAL_IDS.resources)) {
      // A deployment's id is a hash of the API's methods by design: a new one per change.
      if (type === 'AWS::ApiGateway::Deployment') continue;
      expect(resources[id]?.Type, id).toBe(type);
    }
    expect(Object.keys(resources).length).toBe(Object.keys(LOGICAL_IDS.resources).length);
    expect(Object.keys(template.toJSON().Outputs).sort()).toEqual([...LOGICAL_IDS.outputs].sort());
  });

  it('keeps the logical ids of what holds data or a fixed name: replacing them would lose it or collide', () => {
    const kept = {
      'AWS::DynamoDB::Table': ['JobsTable1970BC16', 'RunsTable9D121A51'],
      'AWS::SQS::Queue': [
        'JobsHighQueue4249D81C',
        'JobsHighDlqQueue5A5E2CD4',
        'JobsDefaultQueueA57D6DF0',
        'JobsDefaultDlqQueueB34FA67E',
        'JobsLowQueueD4BC41DB',
        'JobsLowDlqQueueBF929171',
        'CompletionDlqQueueCB37986A',
        'SyncDlqQueue5EE4F1FF',
      ],
      'AWS::KMS::Key': ['SecretsKey317DCF94'],
      'AWS::Cognito::UserPool': ['Users0A0EEA89'],
      'AWS::Cognito::UserPoolClient': ['UsersApiClientD8D32A2C'],
      'AWS::SNS::Topic': ['FailureTopic74C6EA16', 'MonitoringAlarmTopicAF62D4F1'],
      'AWS::Scheduler::ScheduleGroup': ['ScheduleGroup'],
      'AWS::ApiGateway::RestApi': ['RestApi0C43BF4B'],
      'AWS::Lambda::Function': [
        'ApiFunction6BF808ED',
        'WorkerFunctionAF8A26AF',
        'CompletionFunctionE6066774',
        'DeadLettersFunctionBF80D8DA',
        'SyncFunction878007FF',
        'ReconcilerFunction0432B6FF',
      ],
      'AWS::Lambda::EventSourceMapping': [
        'WorkerFunctionSqsEventSourceSundialtestJobsHighQueue41CD468418A21DC1',
        'WorkerFunctionSqsEventSourceSundialtestJobsDefaultQueue4D259AC96D13101B',
        'WorkerFunctionSqsEventSourceSundialtestJobsLowQueue4BD4119EAA2E23B7',
        'DeadLettersFunctionSqsEventSourceSundialtestJobsHighDlqQueue580DB52EAB2DBCF7',
        'DeadLettersFunctionSqsEventSourceSundialtestJobsDefaultDlqQueue58286CCA634BC4C9',
        'DeadLettersFunctionSqsEventSourceSundialtestJobsLowDlqQueue87BED485CF7918AE',
        'SyncFunctionDynamoDBEventSourceSundialtestJobsStream7D7638D53BD58090',
      ],
      'AWS::Logs::LogGroup': [
        'ApiLogsCD139AD4',
        'WorkerLogs4B5B6506',
        'CompletionLogs691A8D26',
        'DeadLettersLogs5A2CF3D6',
        'SyncLogs28E2F86F',
        'ReconcilerLogs9E8D7B0E',
        'ApiAccessLogsE9DF007D',
      ],
    };
    for (const [type, ids] of Object.entries(kept)) {
      expect(
        ofType(type)
          .map(([id]) => id)
          .sort(),
        type,
      ).toEqual([...ids].sort());
      for (const id of ids) expect((LOGICAL_IDS.resources as Record<string, string>)[id], id).toBe(type);
    }
  });

  it("keeps each function's permissions as the one-constructor stack granted them", () => {
    for (const id of FUNCTION_IDS) {
      const roleId = roleIdOf(resources[sundialFunction(id)]!);
      const statements = statementsOfRole(roleId).map((s) =>
        Array.isArray(s.Action) ? { ...s, Action: [...s.Action].sort() } : s,
      );
      const before = (
        FUNCTION_IAM as unknown as Record<string, { managedPolicies: unknown; statements: unknown }>
      )[id]!;
      expect(statements, id).toEqual(before.statements);
      expect(resources[roleId]!.Properties.ManagedPolicyArns, id).toEqual(before.managedPolicies);
    }
  });
});

describe('API', () => {
  it('proxies every request to the api function, with access logs and throttling', () => {
    const api = logicalIdOf(
      'AWS::Lambda::Function',
      (r) => r.Properties.Description === 'Sundial job API and web console',
    );
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'ANY',
      Integration: Match.objectLike({
        Type: 'AWS_PROXY',
        Uri: Match.objectLike({
          'Fn::Join': Match.arrayWith([Match.arrayWith([{ 'Fn::GetAtt': [api, 'Arn'] }])]),
        }),
      }),
    });
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: '{proxy+}' });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 })],
    });
    template.hasOutput('ApiUrl', {});
  });

  it("packages the web console's files beside the api function's handler, which serves them", () => {
    const code = resources[sundialFunction('Api')]!.Properties.Code as { S3Key: string };
    const bundle = join(assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    const index = readFileSync(join(bundle, 'console', 'index.html'), 'utf8');
    expect(index).toContain('<html');
    // Assets are referred to relatively: the console lives below the stage (/dev/console/).
    for (const [, src] of index.matchAll(/(?:src|href)="([^"]+)"/g)) expect(src).not.toMatch(/^(\/|https?:)/);
    expect(readFileSync(join(bundle, 'console', 'app.js'), 'utf8').length).toBeGreaterThan(1000);
  });
});

describe('identity', () => {
  it('makes a Cognito user pool: no self sign-up, MFA, role groups, a tenant users cannot change', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenant', AttributeDataType: 'String' })]),
    });
    for (const group of ['admin', 'operator', 'viewer']) {
      template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: group });
    }
    const [, client] = ofType('AWS::Cognito::UserPoolClient')[0]!;
    expect(client.Properties.WriteAttributes).toEqual(['email']);
    expect(client.Properties.ReadAttributes).toEqual(expect.arrayContaining(['custom:tenant']));
    // The api function verifies tokens from that pool, for that client.
    const env = environmentIn(template, 'Api');
    expect(JSON.stringify(env[ENV.jwtIssuer])).toContain('cognito-idp.');
    expect(env[ENV.jwtAudience]).toEqual({ Ref: expect.stringMatching(/^UsersApiClient/) });
    template.hasOutput('UserPoolClientId', {});
  });

  it('signs the console in through the pool: a hosted domain, authorization code with PKCE back to ConsoleUrl only', () => {
    const consoleUrl = template.toJSON().Outputs.ConsoleUrl.Value;
    // https://<rest api id>.execute-api.<region>.<suffix>/dev/console/
    expect(JSON.stringify(consoleUrl)).toContain('execute-api.');
    expect(JSON.stringify(consoleUrl)).toContain('/dev/console/');
    expect(JSON.stringify(consoleUrl)).toContain('"Ref":"RestApi0C43BF4B"');
    const [, client] = ofType('AWS::Cognito::UserPoolClient')[0]!;
    expect(client.Properties).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: expect.arrayContaining(['openid', 'email']),
      CallbackURLs: [consoleUrl],
      LogoutURLs: [consoleUrl],
      SupportedIdentityProviders: ['COGNITO'],
    });
    const [domainId, domain] = ofType('AWS::Cognito::UserPoolDomain')[0]!;
    expect(JSON.stringify(domain.Properties.Domain)).toContain('sundial-dev-');
    // The api function tells the console where that sign-in is.
    expect(JSON.stringify(environmentIn(template, 'Api')[ENV.consoleSignInDomain])).toContain(domainId);
  });

  it('accepts an external OIDC issuer instead, and then makes no user pool', () => {
    const external = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-oidc', {
        stage: 'dev',
        jwt: { issuer: 'https://login.example.com/', audience: 'sundial', tenantClaim: 'org' },
      }),
    );
    external.resourceCountIs('AWS::Cognito::UserPool', 0);
    // The console then signs in with API keys only.
    expect(environmentIn(external, 'Api')[ENV.consoleSignInDomain]).toBeUndefined();
    expect(external.toJSON().Outputs.ConsoleUrl).toBeDefined();
    expect(environmentIn(external, 'Api')).toMatchObject({
      [ENV.jwtIssuer]: 'https://login.example.com/',
      [ENV.jwtAudience]: 'sundial',
      [ENV.jwtTenantClaim]: 'org',
    });
    const context = (values: Record<string, string>) => (key: string) => values[key];
    expect(parseJwtContext(context({}))).toBeUndefined();
    expect(parseJwtContext(context({ jwtIssuer: 'https://idp.example.com', jwtAudience: 'app' }))).toEqual({
      issuer: 'https://idp.example.com',
      audience: 'app',
    });
    expect(() => parseJwtContext(context({ jwtIssuer: 'http://idp.example.com', jwtAudience: 'a' }))).toThrow(
      /jwtIssuer must be the https:/,
    );
    expect(() => parseJwtContext(context({ jwtIssuer: 'https://idp.example.com' }))).toThrow(
      /jwtAudience is required/,
    );
  });
});

describe('monitoring', () => {
  const alarms = () => ofType('AWS::CloudWatch::Alarm');
  const topicId = () =>
    logicalIdOf('AWS::SNS::Topic', (r) => String(r.Properties.DisplayName).endsWith('alarms'));

  it('alarms on every dead-letter queue having a message, the completion DLQ too', () => {
    const dlqIds = [...mainDlqIds(), completionDlqId()];
    expect(dlqIds).toHaveLength(QUEUES.length + 1);
    for (const dlq of dlqIds) {
      const watching = alarms().filter(
        ([, a]) =>
          a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          JSON.stringify(a.Properties.Dimensions).includes(dlq),
      );
      expect(watching, dlq).toHaveLength(1);
      // One message is enough (>= 1, or > 0 for the completion DLQ: the same for a count).
      expect(watching[0]![1].Properties, dlq).toMatchObject(
        dlq === completionDlqId()
          ? { Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', Statistic: 'Maximum', Period: 60 }
          : { Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' },
      );
    }
  });

  it("sends every alarm, and the composite over all of Sundial's own, to the one alarm topic", () => {
    const topic = topicId();
    expect(alarms().length).toBeGreaterThanOrEqual(19);
    for (const [id, alarm] of alarms()) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topic }]);
      expect(alarm.Properties.AlarmDescription, id).toBeTruthy();
    }
    const [[, composite]] = ofType('AWS::CloudWatch::CompositeAlarm') as [[string, Resource]];
    expect(composite.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    // A tenant's breaker opening is about the tenant's endpoint, not Sundial's health.
    const tenants = alarms()
      .filter(([, a]) => a.Properties.AlarmName === 'sundial-dev-CircuitOpened')
      .map(([id]) => id);
    expect(tenants).toHaveLength(1);
    for (const [id] of alarms()) {
      if (tenants.includes(id)) expect(rule, id).not.toContain(id);
      else expect(rule, id).toContain(id);
    }
  });

  it('watches failures, lag, backlog, the worker, the sweeper and the API', () => {
    const names = alarms().map(([, a]) => String(a.Properties.AlarmName));
    for (const expected of [
      'RunFailureRate',
      'ScheduleLag-high',
      'OldestMessage-low',
      'WorkerErrors',
      'WorkerThrottles',
      'CompletionErrors',
      'LongRunsOverdue',
      'CompletionDeadLetters',
      'ScheduleSyncErrors',
      'ScheduleRepairsFailed',
      'ScheduleDrift',
      'ReconcilerIncomplete',
      'Api5xx',
      'ApiLatencyP99',
    ]) {
      expect(names).toContain(`sundial-dev-${expected}`);
    }
    const rate = alarms().find(([, a]) => a.Properties.AlarmName === 'sundial-dev-RunFailureRate')![1];
    expect(rate.Properties).toMatchObject({ Threshold: 5, EvaluationPeriods: 2 });
  });

  it('alarms when a circuit breaker opens, and graphs openings and the runs they deferred', () => {
    const opened = alarms().find(([, a]) => a.Properties.AlarmName === 'sundial-dev-CircuitOpened')![1];
    expect(opened.Properties).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: CIRCUIT_OPENED_METRIC,
      Dimensions: [{ Name: 'service', Value: 'sundial' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(String(opened.Properties.AlarmDescription)).toMatch(/GET \/v1\/breakers/);
    const [[, dashboard]] = ofType('AWS::CloudWatch::Dashboard') as [[string, Resource]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain(CIRCUIT_OPENED_METRIC);
    expect(body).toContain(RUNS_DEFERRED_BY_CIRCUIT_METRIC);
  });

  it('builds a dashboard and puts its URL and the alarm topic in the outputs', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasOutput('DashboardUrl', {});
    template.hasOutput('AlarmTopicArn', {});
  });

  it('subscribes an e-mail address to the alarms when one is given', () => {
    const withEmail = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-email', { stage: 'dev', alarmEmail: 'oncall@example.com' }),
    );
    withEmail.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('gives every function a log group with a retention', () => {
    for (const id of FUNCTION_IDS) {
      const fn = resources[sundialFunction(id)]!;
      const group = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[group]?.Properties.RetentionInDays, id).toBeGreaterThan(0);
    }
  });
});

describe('template snapshot', () => {
  it('matches the reviewed template (asset hashes aside)', () => {
    // Code changes move asset hashes; everything else changing is a change to review.
    // The order CDK merges IAM actions in is not stable across synths; their set is.
    const normalized = JSON.parse(
      JSON.stringify(template.toJSON(), (key, value) =>
        key === 'Action' && Array.isArray(value) ? [...value].sort() : value,
      )
        .replace(/[0-9a-f]{64}(\.zip|\.json)?/g, '<asset-hash>$1')
        .replace(/"cdk-hnb659fds-assets-[^"]*"/g, '"<assets-bucket>"'),
    );
    expect(normalized).toMatchSnapshot();
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes with every finding fixed or acknowledged with a reason', () => {
    for (const stage of ['dev', 'prod'] as const) {
      const app = unbundledApp();
      new SundialStack(app, `Sundial-nag-${stage}`, { stage });
      // cdk-nag 3 is a policy-validation plugin, not an Aspect writing Annotations: its
      // verdict is the synth's validation report.
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      const assembly = app.synth();
      const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
        pluginReports: {
          pluginName: string;
          conclusion: string;
          violations: { ruleName: string; severity: string }[];
          suppressedViolations?: { ruleName: string; reason?: string }[];
        }[];
      };
      const nag = report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
      expect(nag).toHaveLength(1);
      // No unacknowledged AwsSolutions error or warning...
      expect(nag[0]!.violations.map((v) => `${v.severity} ${v.ruleName}`)).toEqual([]);
      expect(nag[0]!.conclusion).toBe('success');
      // ...and every acknowledgement says why.
      const acknowledged = nag[0]!.suppressedViolations ?? [];
      expect(acknowledged.length).toBeGreaterThan(0);
      for (const a of acknowledged) expect(a.reason?.trim(), a.ruleName).toBeTruthy();
    }
  });

  it('would fail the synth on an unacknowledged finding', () => {
    const app = unbundledApp();
    const stack = new SundialStack(app, 'Sundial-nag-control', { stage: 'dev' });
    new Queue(stack, 'UnprotectedQueue');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/SQS queue is not used as a dead-letter queue/);
  });
});

describe('stage', () => {
  it('accepts dev and prod and refuses anything else', () => {
    expect(parseStage(undefined)).toBe('dev');
    expect(parseStage('prod')).toBe('prod');
    expect(() => parseStage('staging')).toThrow(
      'stage must be one of dev, prod (pass -c stage=dev), got "staging"',
    );
  });

  it('takes the run retention from context, validated', () => {
    expect(parseRetentionDays(undefined, 30)).toBe(30);
    expect(parseRetentionDays('90', 30)).toBe(90);
    expect(() => parseRetentionDays('0', 30)).toThrow(
      'runRetentionDays must be a whole number of days from 1 to 3650',
    );
    const custom = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-retention', { stage: 'dev', runRetentionDays: 7 }),
    );
    expect(readersOf('runRetentionDays')).toEqual(['Api', 'Worker', 'Completion', 'DeadLetters', 'Sync']);
    for (const id of readersOf('runRetentionDays')) {
      expect(environmentIn(custom, id)[ENV.runRetentionDays], id).toBe('7');
      expect(environmentIn(template, id)[ENV.runRetentionDays], id).toBe('30');
    }
  });

  it('keeps prod data when the stack is deleted', () => {
    const prod = Template.fromStack(new SundialStack(unbundledApp(), 'Sundial-prod', { stage: 'prod' }));
    prod.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    prod.allResourcesProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});
