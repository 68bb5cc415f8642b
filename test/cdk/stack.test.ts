/** The synthesized stack: resources, wiring, least privilege and cdk-nag, from a real synth. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  JOBS_TABLE,
  PROTECTED_ARNS_ENV,
  QUEUE_ARNS_ENV,
  QUEUES,
  RUNS_TABLE,
  SCHEDULE_GROUP_ENV,
  SCHEDULER_ROLE_ENV,
  WORKER_TIMEOUT_SECONDS,
} from '../../lib/definitions.js';
import {
  parseAllowedHttpHosts,
  parseAllowedTargetArns,
  parseJwtContext,
  parseRetentionDays,
  parseStage,
  parseTenantLimits,
  parseWorkerTracing,
} from '../../lib/stage.js';
import { SundialStack } from '../../lib/sundial-stack.js';

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
const ofTypeIn = (t: Template, type: string) =>
  Object.entries(t.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);
const roleIdOf = (fn: Resource) => (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
/** The Sundial function named `sundial-dev-<id>`. */
const sundialFunction = (id: string) =>
  logicalIdOf('AWS::Lambda::Function', (r) => r.Properties.FunctionName === `sundial-dev-${id}`);
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

beforeAll(() => {
  const app = new App();
  const stack = new SundialStack(app, 'Sundial-test', { stage: 'dev' });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
});

describe('data', () => {
  it('has the jobs and runs tables with PITR, encryption, TTL and the sync index', () => {
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
    const index = JOBS_TABLE.globalSecondaryIndexes[0]!;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey!.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('has a queue per priority, each redriving to its own DLQ, all encrypted', () => {
    template.resourceCountIs('AWS::SQS::Queue', QUEUES.length * 2);
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
    // enforceSSL: every queue has a policy denying insecure transport.
    const policies = ofType('AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(QUEUES.length * 2);
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
  const functions = () =>
    ofType('AWS::Lambda::Function').filter(([id]) => /^(Api|Worker|Sync|DeadLetters)Function/.test(id));

  it('runs four arm64 Node.js 24 functions with their configuration from resources', () => {
    expect(functions()).toHaveLength(4);
    for (const [, fn] of functions()) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env[JOBS_TABLE.envVar]).toEqual({ Ref: expect.stringMatching(/^JobsTable/) });
      expect(env[RUNS_TABLE.envVar]).toEqual({ Ref: expect.stringMatching(/^RunsTable/) });
      expect(env[SCHEDULER_ROLE_ENV]).toEqual({
        'Fn::GetAtt': [expect.stringMatching(/^SchedulerRole/), 'Arn'],
      });
      expect(env[SCHEDULE_GROUP_ENV]).toBe('sundial-dev');
      expect(JSON.stringify(env[QUEUE_ARNS_ENV])).toMatch(/JobsHighQueue.*JobsDefaultQueue.*JobsLowQueue/);
      for (const q of QUEUES) expect(env[q.envVar]).toEqual({ Ref: expect.stringMatching(/Queue/) });
      expect(fn.Properties.LoggingConfig).toEqual({ LogGroup: { Ref: expect.stringMatching(/Logs/) } });
    }
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('traces the worker unless -c workerTracing=false, and always the other functions', () => {
    expect(parseWorkerTracing(undefined)).toBe(true);
    expect(parseWorkerTracing('false')).toBe(false);
    expect(() => parseWorkerTracing('sometimes')).toThrow(/workerTracing must be true or false/);
    const untraced = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-untraced', { stage: 'dev', workerTracing: false }),
    );
    const modes = ofTypeIn(untraced, 'AWS::Lambda::Function').map(([, fn]) => ({
      worker: String(fn.Properties.Description).startsWith('Sundial worker'),
      mode: (fn.Properties.TracingConfig as { Mode: string }).Mode,
      tracer: (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
        .POWERTOOLS_TRACE_ENABLED,
    }));
    expect(modes.filter((m) => m.worker)).toEqual([{ worker: true, mode: 'PassThrough', tracer: 'false' }]);
    expect(modes.filter((m) => !m.worker).every((m) => m.mode === 'Active' && m.tracer === undefined)).toBe(
      true,
    );
  });

  it('feeds the worker from each queue with partial batch responses and a concurrency cap', () => {
    const worker = logicalIdOf('AWS::Lambda::Function', (r) =>
      String(r.Properties.Description).startsWith('Sundial worker'),
    );
    // One mapping per main queue for the worker, one per DLQ for the dead-letter archiver.
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', QUEUES.length * 2);
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
    // Listing has no resource-level permission: only the reconciler lists, on "*".
    const listing = statements.filter((s) => actions(s).includes('scheduler:ListSchedules'));
    expect(listing).toEqual([expect.objectContaining({ Action: 'scheduler:ListSchedules', Resource: '*' })]);
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

  it('lets only the worker (retries) and the api (run now) send to the queues', () => {
    const roleOf = (matches: (description: string) => boolean) => {
      const fn = logicalIdOf('AWS::Lambda::Function', (r) => matches(String(r.Properties.Description)));
      return (resources[fn]!.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    };
    const workerRole = roleOf((d) => d.startsWith('Sundial worker'));
    const apiRole = roleOf((d) => d === 'Sundial job API');
    const senders = ofType('AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.some((s) =>
        actions(s).includes('sqs:SendMessage'),
      ),
    );
    const roles = senders.map(([, p]) => JSON.stringify(p.Properties.Roles));
    expect(roles.some((r) => r.includes(workerRole))).toBe(true);
    expect(roles.some((r) => r.includes(apiRole))).toBe(true);
    expect(
      roles.every((r) => r.includes(workerRole) || r.includes(apiRole) || r.includes('SchedulerRole')),
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
    custom.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ ALLOWED_TARGET_ARNS: JSON.stringify([fn, queues, bus]) }),
      },
    });
    // The wildcard grants are acknowledged with a reason, so the synth still passes cdk-nag.
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('takes per-tenant limits from context, validated', () => {
    const context = (values: Record<string, string>) => (key: string) => values[key];
    expect(parseTenantLimits(context({}))).toEqual({});
    expect(parseTenantLimits(context({ tenantMaxJobs: '500', tenantRequestsPerSecond: '20' }))).toEqual({
      TENANT_MAX_JOBS: '500',
      TENANT_REQUESTS_PER_SECOND: '20',
    });
    expect(() => parseTenantLimits(context({ tenantMaxJobs: 'many' }))).toThrow(
      /tenantMaxJobs must be a whole number/,
    );
    // Fair share may be turned off, the other limits may not.
    expect(parseTenantLimits(context({ tenantRunsInProgress: '0' }))).toEqual({
      TENANT_RUNS_IN_PROGRESS: '0',
    });
    expect(() => parseTenantLimits(context({ tenantRunsInProgress: '-1' }))).toThrow(/at least 0/);
    expect(() => parseTenantLimits(context({ tenantMaxJobs: '0' }))).toThrow(/at least 1/);
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
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ALLOWED_HTTP_HOSTS: '' }) },
    });
    const custom = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-hosts', { stage: 'dev', allowedHttpHosts: entries }),
    );
    custom.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ALLOWED_HTTP_HOSTS: entries.join(',') }) },
    });
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
    const dlqIds = ofType('AWS::SQS::Queue')
      .filter(([, q]) => !q.Properties.RedrivePolicy)
      .map(([id]) => id)
      .sort();
    const sources = ofType('AWS::Lambda::EventSourceMapping')
      .filter(([, m]) => JSON.stringify(m.Properties.FunctionName).includes(archiver))
      .map(([, m]) => (m.Properties.EventSourceArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0])
      .sort();
    expect(sources).toEqual(dlqIds);
  });

  it('has an encrypted failure topic only the worker may publish to', () => {
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
    expect(publishers).toHaveLength(1);
    expect(JSON.stringify(publishers[0]![1].Properties.Roles)).toMatch(/WorkerFunction/);
    expect(JSON.stringify(publishers[0]![1].Properties.PolicyDocument)).toContain(topic);
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
  const roleOfFunction = (id: string) => roleIdOf(resources[sundialFunction(id)]!);
  const schedulerRole = () =>
    logicalIdOf('AWS::IAM::Role', (r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
  const queueIds = (dlq: boolean) =>
    ofType('AWS::SQS::Queue')
      .filter(([, q]) => !q.Properties.RedrivePolicy === dlq)
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

  it('lets only the Scheduler role, the api and the worker send to each priority queue', () => {
    expect(queueIds(false)).toHaveLength(QUEUES.length);
    for (const queue of queueIds(false)) {
      expectSendDeniedExcept(queue, [schedulerRole(), roleOfFunction('Api'), roleOfFunction('Worker')]);
    }
  });

  it('lets only the api and the worker send to each DLQ (SQS redrive is no SendMessage)', () => {
    expect(queueIds(true)).toHaveLength(QUEUES.length);
    for (const dlq of queueIds(true))
      expectSendDeniedExcept(dlq, [roleOfFunction('Api'), roleOfFunction('Worker')]);
  });

  it("tells every function Sundial's own ARNs: queues, DLQs, tables, the failure topic, its functions", () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns).toHaveLength(5);
    const topic = logicalIdOf('AWS::SNS::Topic', (r) =>
      String(r.Properties.DisplayName).includes('finally failed'),
    );
    const tables = ofType('AWS::DynamoDB::Table').map(([id]) => arnOf(id));
    expect(tables).toHaveLength(2);
    const mustMatch = [
      ...ofType('AWS::SQS::Queue').map(([id]) => arnOf(id)),
      ...tables,
      ...tables.flatMap((t) => [`${t}/index/bySyncPending`, `${t}/stream/2024-01-01T00:00:00.000`]),
      arnOf(topic),
      // Every function, unqualified and by version or alias.
      ...fns.flatMap(([id]) => [arnOf(id), `${arnOf(id)}:live`, `${arnOf(id)}:7`]),
    ];
    expect(mustMatch.length).toBe(6 + 2 + 4 + 1 + 15);
    const mustNot = [
      'arn:aws:lambda:eu-west-1:123456789012:function:report',
      'arn:aws:lambda:eu-west-1:123456789012:function:sundial-prod-Worker',
      'arn:aws:sqs:eu-west-1:123456789012:team-orders',
      'arn:aws:events:eu-west-1:123456789012:event-bus/default',
    ];
    for (const [id, fn] of fns) {
      // Named sundial-<stage>-<id>, so one pattern covers them without a function naming itself.
      expect(fn.Properties.FunctionName, id).toMatch(/^sundial-dev-[A-Za-z]+$/);
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      const patterns = JSON.parse(resolve(env[PROTECTED_ARNS_ENV])) as string[];
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
      expect(JSON.stringify(env[PROTECTED_ARNS_ENV])).not.toMatch(/Function[0-9A-F]{8}/);
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
    for (const id of ['Api', 'Worker', 'Sync', 'Reconciler']) {
      expect(onKey(roleOfFunction(id)), id).toEqual(['kms:Decrypt', 'kms:Encrypt']);
    }
    for (const id of ['Sync', 'Reconciler']) {
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

describe('API', () => {
  it('proxies every request to the api function, with access logs and throttling', () => {
    const api = logicalIdOf('AWS::Lambda::Function', (r) => r.Properties.Description === 'Sundial job API');
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
    const api = logicalIdOf('AWS::Lambda::Function', (r) => r.Properties.Description === 'Sundial job API');
    const env = (resources[api]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(env.JWT_ISSUER)).toContain('cognito-idp.');
    expect(env.JWT_AUDIENCE).toEqual({ Ref: expect.stringMatching(/^UsersApiClient/) });
    template.hasOutput('UserPoolClientId', {});
  });

  it('accepts an external OIDC issuer instead, and then makes no user pool', () => {
    const external = Template.fromStack(
      new SundialStack(unbundledApp(), 'Sundial-oidc', {
        stage: 'dev',
        jwt: { issuer: 'https://login.example.com/', audience: 'sundial', tenantClaim: 'org' },
      }),
    );
    external.resourceCountIs('AWS::Cognito::UserPool', 0);
    external.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          JWT_ISSUER: 'https://login.example.com/',
          JWT_AUDIENCE: 'sundial',
          JWT_TENANT_CLAIM: 'org',
        }),
      },
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

  it('alarms on every dead-letter queue having a message', () => {
    const dlqIds = ofType('AWS::SQS::Queue')
      .filter(([id]) => /Dlq/i.test(id))
      .map(([id]) => id);
    expect(dlqIds).toHaveLength(QUEUES.length);
    for (const dlq of dlqIds) {
      const watching = alarms().filter(
        ([, a]) =>
          a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          JSON.stringify(a.Properties.Dimensions).includes(dlq) &&
          a.Properties.Threshold === 1,
      );
      expect(watching, dlq).toHaveLength(1);
    }
  });

  it('sends every alarm, and the composite over all of them, to the one alarm topic', () => {
    const topic = topicId();
    expect(alarms().length).toBeGreaterThanOrEqual(16);
    for (const [id, alarm] of alarms()) {
      expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topic }]);
      expect(alarm.Properties.AlarmDescription, id).toBeTruthy();
    }
    const [[, composite]] = ofType('AWS::CloudWatch::CompositeAlarm') as [[string, Resource]];
    expect(composite.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    for (const [id] of alarms()) expect(rule, id).toContain(id);
  });

  it('watches failures, lag, backlog, the worker, the sweeper and the API', () => {
    const names = alarms().map(([, a]) => String(a.Properties.AlarmName));
    for (const expected of [
      'RunFailureRate',
      'ScheduleLag-high',
      'OldestMessage-low',
      'WorkerErrors',
      'WorkerThrottles',
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
    const fns = ofType('AWS::Lambda::Function').filter(([, f]) => f.Properties.LoggingConfig);
    expect(fns.length).toBeGreaterThanOrEqual(4);
    for (const [id, fn] of fns) {
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
    custom.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RUN_RETENTION_DAYS: '7' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RUN_RETENTION_DAYS: '30' }) },
    });
  });

  it('keeps prod data when the stack is deleted', () => {
    const prod = Template.fromStack(new SundialStack(unbundledApp(), 'Sundial-prod', { stage: 'prod' }));
    prod.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    prod.allResourcesProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    template.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });
});
