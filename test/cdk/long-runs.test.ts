/**
 * Long-running targets in the stack: the allowlist's ECS and Step Functions ARNs, exactly the
 * permissions the worker and the completion function get from them, the completion function,
 * its rules, their DLQ and the alarms; and that without such targets none of it is granted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONSTRUCT_ENVIRONMENT } from '../../lib/constructs/function.js';
import { checkLongRunTargets } from '../../lib/constructs/targets.js';
import {
  ATTEMPT_KEY_PREFIX,
  COMPLETION_SWEEP_MINUTES,
  COMPLETION_TIMEOUT_SECONDS,
  METRICS_NAMESPACE,
  OVERDUE_RUNS_METRIC,
} from '../../lib/definitions.js';
import { ENV, environmentNames, type FunctionId } from '../../lib/environment.js';
import { parseAllowedTargetArns, parseEcsPassRoleArns } from '../../lib/stage.js';
import { SundialStack, type SundialStackProps } from '../../lib/sundial-stack.js';

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/batch';
const FAMILY = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/ingest';
const REVISION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/report:3';
const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline';
const PASS_ROLE = 'arn:aws:iam::123456789012:role/ingest-task';
const LONG_RUN_ACTION = /^(ecs|states):|^iam:PassRole$/;

/** Extra stacks skip esbuild bundling: the construct, not the code, is under test. */
const synth = (id: string, props: Omit<SundialStackProps, 'stage'> = {}) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SundialStack(app, id, { stage: 'dev', ...props });
  return { app, stack, template: Template.fromStack(stack) };
};
/**
 * What cdk-nag AwsSolutions finds in a fresh app's synth (a fresh one: an app synthesizes
 * once, so a plugin added after Template.fromStack would never run).
 */
const nagFindings = (id: string, props: Omit<SundialStackProps, 'stage'>) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  new SundialStack(app, id, { stage: 'dev', ...props });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
    pluginReports: {
      pluginName: string;
      conclusion: string;
      violations: { ruleName: string }[];
      suppressedViolations?: { ruleName: string; reason?: string }[];
    }[];
  };
  const nag = report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
  expect(nag).toHaveLength(1);
  return nag[0]!;
};
const resourcesOf = (t: Template) => t.toJSON().Resources as Record<string, Resource>;
const ofType = (t: Template, type: string) =>
  Object.entries(resourcesOf(t)).filter(([, r]) => r.Type === type);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const functionOf = (t: Template, id: FunctionId) => {
  const found = ofType(t, 'AWS::Lambda::Function').filter(
    ([, r]) => r.Properties.FunctionName === `sundial-dev-${id}`,
  );
  expect(found, id).toHaveLength(1);
  return found[0]!;
};
const roleOf = (t: Template, id: FunctionId) =>
  (functionOf(t, id)[1].Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
const statementsOf = (t: Template, id: FunctionId) =>
  ofType(t, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleOf(t, id)}"`))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
/** A function's statements on ECS, Step Functions or PassRole, as literal JSON. */
const longRunStatementsOf = (t: Template, id: FunctionId) =>
  statementsOf(t, id).filter((s) => actions(s).some((a) => LONG_RUN_ACTION.test(a)));
const allStatements = (t: Template) =>
  ofType(t, 'AWS::IAM::Policy').flatMap(
    ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );
const environmentOf = (t: Template, id: FunctionId) =>
  (functionOf(t, id)[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
const rulesTargeting = (t: Template, fnId: string) =>
  ofType(t, 'AWS::Events::Rule').filter(([, r]) =>
    JSON.stringify(r.Properties.Targets).includes(`"${fnId}"`),
  );

describe('allowed target ARNs (-c allowedTargetArns, -c ecsPassRoleArns)', () => {
  it('accepts ECS clusters, task definitions and state machines, wildcards as today', () => {
    const arns = [
      CLUSTER,
      'arn:aws:ecs:*:123456789012:cluster/team-*',
      FAMILY,
      REVISION,
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/report:*',
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-*',
      STATE_MACHINE,
      'arn:aws:states:eu-west-1:*:stateMachine:nightly-*',
      'arn:aws:lambda:eu-west-1:123456789012:function:report',
    ];
    expect(parseAllowedTargetArns(arns.join(', '))).toEqual(arns);
    expect(parseAllowedTargetArns(arns)).toEqual(arns);
  });

  it('refuses other ECS and Step Functions resources, naming every kind it takes', () => {
    for (const bad of [
      'arn:aws:ecs:eu-west-1:123456789012:service/batch/web',
      'arn:aws:ecs:eu-west-1:123456789012:task/batch/0123456789abcdef',
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/report:latest',
      'arn:aws:ecs:eu-west-1:123456789012:*',
      'arn:aws:states:eu-west-1:123456789012:activity:approve',
      'arn:aws:states:eu-west-1:123456789012:execution:pipeline:run-1',
      'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline:prod',
    ]) {
      expect(() => parseAllowedTargetArns(`${CLUSTER},${bad}`), bad).toThrow(
        `allowedTargetArns must be Lambda function, SQS queue, EventBridge bus, ECS cluster, ECS task definition or Step Functions state machine ARNs (wildcards allowed; an ECS task definition as task-definition/<family>, <family>:<revision> or <family>:*), got "${bad}"`,
      );
    }
  });

  it('takes the roles ECS tasks may be passed, IAM role ARNs only, none by default', () => {
    expect(parseEcsPassRoleArns(undefined)).toEqual([]);
    expect(parseEcsPassRoleArns('')).toEqual([]);
    const roles = [PASS_ROLE, 'arn:aws:iam::123456789012:role/service/etl-*'];
    expect(parseEcsPassRoleArns(roles.join(' ,'))).toEqual(roles);
    expect(parseEcsPassRoleArns(roles)).toEqual(roles);
    for (const bad of [
      'arn:aws:iam::123456789012:user/alice',
      'arn:aws:iam::*:role/any',
      'arn:aws:iam::123456789012:policy/p',
      '*',
      'ingest-task',
    ]) {
      expect(() => parseEcsPassRoleArns(`${PASS_ROLE},${bad}`), bad).toThrow(
        `ecsPassRoleArns must be IAM role ARNs (arn:aws:iam::<account>:role/<name>, * allowed in the name), got "${bad}"`,
      );
    }
  });

  it('refuses an ECS allowlist no job could use', () => {
    expect(() => checkLongRunTargets([CLUSTER, FAMILY], [PASS_ROLE])).not.toThrow();
    expect(() => checkLongRunTargets([STATE_MACHINE], [])).not.toThrow();
    expect(() => checkLongRunTargets([CLUSTER], [])).toThrow(/clusters only \(.*cluster\/batch\)/);
    expect(() => checkLongRunTargets([FAMILY], [])).toThrow(/task definitions only/);
    expect(() => checkLongRunTargets([STATE_MACHINE], [PASS_ROLE])).toThrow(
      'ecsPassRoleArns is set, but allowedTargetArns allows no ECS cluster and task definition',
    );
    expect(() => synth('Sundial-clusteronly', { allowedTargetArns: [CLUSTER] })).toThrow(/clusters only/);
  });
});

describe('with ECS and Step Functions targets allowed', () => {
  let long: Template;
  beforeAll(() => {
    long = synth('Sundial-long', {
      allowedTargetArns: [CLUSTER, FAMILY, REVISION, STATE_MACHINE],
      ecsPassRoleArns: [PASS_ROLE],
    }).template;
  });
  const inCluster = { ArnEquals: { 'ecs:cluster': [CLUSTER] } };

  it('grants the worker exactly: run, find, describe and stop the tasks, pass the roles, start and watch the executions', () => {
    expect(longRunStatementsOf(long, 'Worker')).toEqual([
      {
        Action: 'ecs:RunTask',
        Effect: 'Allow',
        // A family without a revision: every revision of it.
        Resource: [FAMILY, `${FAMILY}:*`, REVISION],
        Condition: inCluster,
      },
      // Listing a cluster's tasks is authorized on "*": the condition holds it to the cluster.
      { Action: 'ecs:ListTasks', Effect: 'Allow', Resource: '*', Condition: inCluster },
      {
        Action: ['ecs:DescribeTasks', 'ecs:StopTask'],
        Effect: 'Allow',
        Resource: 'arn:aws:ecs:eu-west-1:123456789012:task/batch/*',
        Condition: inCluster,
      },
      // No resource-level permission.
      { Action: 'ecs:DescribeTaskDefinition', Effect: 'Allow', Resource: '*' },
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: PASS_ROLE,
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: STATE_MACHINE },
      {
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Effect: 'Allow',
        Resource: 'arn:aws:states:eu-west-1:123456789012:execution:pipeline:*',
      },
    ]);
  });

  it('grants the completion function only describing and stopping them: no RunTask, StartExecution or PassRole', () => {
    expect(longRunStatementsOf(long, 'Completion')).toEqual([
      {
        Action: ['ecs:DescribeTasks', 'ecs:StopTask'],
        Effect: 'Allow',
        Resource: 'arn:aws:ecs:eu-west-1:123456789012:task/batch/*',
        Condition: inCluster,
      },
      {
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Effect: 'Allow',
        Resource: 'arn:aws:states:eu-west-1:123456789012:execution:pipeline:*',
      },
    ]);
  });

  it('grants no other function anything on ECS or Step Functions, and PassRole to ECS to the worker only', () => {
    for (const id of ['Api', 'DeadLetters', 'Sync', 'Reconciler'] as const) {
      expect(
        statementsOf(long, id).filter((s) => actions(s).some((a) => /^(ecs|states):/.test(a))),
        id,
      ).toEqual([]);
    }
    const toEcs = allStatements(long).filter((s) => JSON.stringify(s.Condition ?? {}).includes('ecs-tasks'));
    expect(toEcs).toHaveLength(1);
    expect(statementsOf(long, 'Worker')).toContainEqual(toEcs[0]);
    // On "*" only what has no resource-level permission, or is held by a condition.
    const star = allStatements(long).filter((s) =>
      (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).includes('*'),
    );
    expect([...new Set(star.flatMap(actions))].sort()).toEqual([
      'ecs:DescribeTaskDefinition',
      'ecs:ListTasks',
      'scheduler:ListSchedules',
      'xray:PutTelemetryRecords',
      'xray:PutTraceSegments',
    ]);
  });

  it('routes stopped ECS tasks Sundial started, in the allowed clusters, to the completion function', () => {
    const [fnId] = functionOf(long, 'Completion');
    const ecs = rulesTargeting(long, fnId).filter(([, r]) =>
      JSON.stringify(r.Properties).includes('aws.ecs'),
    );
    expect(ecs).toHaveLength(1);
    expect(ecs[0]![1].Properties.EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: {
        lastStatus: ['STOPPED'],
        startedBy: [{ prefix: ATTEMPT_KEY_PREFIX }],
        clusterArn: [CLUSTER],
      },
    });
  });

  it('routes ended executions Sundial started, of the allowed state machines, to the completion function', () => {
    const [fnId] = functionOf(long, 'Completion');
    const sfn = rulesTargeting(long, fnId).filter(([, r]) =>
      JSON.stringify(r.Properties).includes('aws.states'),
    );
    expect(sfn).toHaveLength(1);
    expect(sfn[0]![1].Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
        name: [{ prefix: ATTEMPT_KEY_PREFIX }],
        stateMachineArn: [STATE_MACHINE],
      },
    });
  });

  it('retries every delivery to the completion function and dead-letters what still fails', () => {
    const [fnId] = functionOf(long, 'Completion');
    const rules = rulesTargeting(long, fnId);
    expect(rules).toHaveLength(3);
    const [dlq] = ofType(long, 'AWS::SQS::Queue').find(([id]) => id.startsWith('CompletionDlqQueue'))!;
    for (const [id, rule] of rules) {
      const targets = rule.Properties.Targets as Record<string, unknown>[];
      expect(targets, id).toHaveLength(1);
      expect(targets[0], id).toMatchObject({
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        RetryPolicy: {
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        },
      });
    }
    // EventBridge may send to the DLQ for these rules only, over TLS only.
    const [[, policy]] = ofType(long, 'AWS::SQS::QueuePolicy').filter(
      ([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: dlq }]),
    ) as [[string, Resource]];
    const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] })
      .Statement;
    expect(JSON.stringify(statements)).toContain('"aws:SecureTransport":"false"');
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(3);
    for (const s of allows) {
      expect(s).toMatchObject({
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: {
          ArnEquals: {
            'aws:SourceArn': { 'Fn::GetAtt': [expect.stringMatching(/^Completion.*Rule/), 'Arn'] },
          },
        },
      });
    }
    const queue = resourcesOf(long)[dlq]!;
    expect(queue.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it('matches wildcard ARNs with EventBridge wildcard filters and ArnLike', () => {
    const clusters = 'arn:aws:ecs:*:123456789012:cluster/team-*';
    const machines = 'arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-*';
    const props = {
      allowedTargetArns: [
        clusters,
        CLUSTER,
        'arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-*',
        machines,
      ],
      ecsPassRoleArns: ['arn:aws:iam::123456789012:role/etl-*'],
    };
    const { template } = synth('Sundial-wildcards', props);
    const patterns = ofType(template, 'AWS::Events::Rule').map(([, r]) => r.Properties.EventPattern);
    expect(patterns).toContainEqual(
      expect.objectContaining({
        detail: expect.objectContaining({ clusterArn: [{ wildcard: clusters }, CLUSTER] }),
      }),
    );
    expect(patterns).toContainEqual(
      expect.objectContaining({
        detail: expect.objectContaining({ stateMachineArn: [{ wildcard: machines }] }),
      }),
    );
    const runTask = longRunStatementsOf(template, 'Worker').find((s) => s.Action === 'ecs:RunTask');
    expect(runTask).toEqual({
      Action: 'ecs:RunTask',
      Effect: 'Allow',
      Resource: [
        'arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-*',
        'arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-*:*',
      ],
      Condition: { ArnLike: { 'ecs:cluster': [clusters, CLUSTER] } },
    });
    expect(longRunStatementsOf(template, 'Completion')[0]).toMatchObject({
      Resource: [
        'arn:aws:ecs:*:123456789012:task/team-*/*',
        'arn:aws:ecs:eu-west-1:123456789012:task/batch/*',
      ],
      Condition: { ArnLike: { 'ecs:cluster': [clusters, CLUSTER] } },
    });
    // Each wildcard grant is acknowledged, naming the resource, with a reason: cdk-nag passes.
    const nag = nagFindings('Sundial-wildcards-nag', props);
    expect(nag.violations.map((v) => v.ruleName)).toEqual([]);
    expect(nag.conclusion).toBe('success');
    const acknowledged = (nag.suppressedViolations ?? []).map((v) => v.ruleName);
    for (const resource of [
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/etl-*:*',
      'arn:aws:ecs:*:123456789012:task/team-*/*',
      'arn:aws:ecs:eu-west-1:123456789012:task/batch/*',
      'arn:aws:states:eu-west-1:123456789012:execution:nightly-*:*',
      'arn:aws:iam::123456789012:role/etl-*',
    ]) {
      expect(acknowledged, resource).toContain(`AwsSolutions-IAM5[Resource::${resource}]`);
    }
  });

  it('passes cdk-nag with literal ECS and Step Functions ARNs too', () => {
    const nag = nagFindings('Sundial-long-nag', {
      allowedTargetArns: [CLUSTER, FAMILY, STATE_MACHINE],
      ecsPassRoleArns: [PASS_ROLE],
    });
    expect(nag.violations.map((v) => v.ruleName)).toEqual([]);
    expect(nag.conclusion).toBe('success');
  });
});

describe('without ECS or Step Functions targets', () => {
  let plain: Template;
  beforeAll(() => {
    plain = synth('Sundial-plain', {
      allowedTargetArns: ['arn:aws:lambda:eu-west-1:123456789012:function:report'],
    }).template;
  });

  it('grants nothing on ECS or Step Functions and passes no role to ECS', () => {
    expect(allStatements(plain).filter((s) => actions(s).some((a) => /^(ecs|states):/.test(a)))).toEqual([]);
    expect(JSON.stringify(allStatements(plain))).not.toContain('ecs-tasks.amazonaws.com');
  });

  it('has only the sweep rule for the completion function', () => {
    const [fnId] = functionOf(plain, 'Completion');
    const rules = rulesTargeting(plain, fnId);
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties).toMatchObject({
      ScheduleExpression: `rate(${COMPLETION_SWEEP_MINUTES} minute)`,
      Targets: [
        expect.objectContaining({ RetryPolicy: expect.any(Object), DeadLetterConfig: expect.any(Object) }),
      ],
    });
    expect(JSON.stringify(ofType(plain, 'AWS::Events::Rule'))).not.toMatch(/aws\.ecs|aws\.states/);
  });
});

describe('the completion function', () => {
  let t: Template;
  beforeAll(() => {
    t = synth('Sundial-completion').template;
  });

  it('is named sundial-<stage>-Completion, with its timeout, bundled from functions/completion.ts', () => {
    const [, fn] = functionOf(t, 'Completion');
    expect(fn.Properties).toMatchObject({
      FunctionName: 'sundial-dev-Completion',
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Timeout: COMPLETION_TIMEOUT_SECONDS,
      TracingConfig: { Mode: 'Active' },
    });
  });

  it('has exactly its environment: what it requires, its retention and failure topic, nothing else', () => {
    const { required } = environmentNames('Completion');
    const names = Object.keys(environmentOf(t, 'Completion')).sort();
    expect(names).toEqual(
      [...required, ENV.runRetentionDays, ENV.failureTopic, 'POWERTOOLS_SERVICE_NAME', 'NODE_OPTIONS'].sort(),
    );
    expect(
      names.every((n) =>
        [...required, ENV.runRetentionDays, ENV.failureTopic, ...CONSTRUCT_ENVIRONMENT].includes(n),
      ),
    ).toBe(true);
  });

  it("hands the worker and the completion function the API's URL as the callback base", () => {
    const apiUrl = (t.toJSON().Outputs as Record<string, { Value: unknown }>).ApiUrl!.Value;
    expect(JSON.stringify(apiUrl)).toMatch(/RestApi0C43BF4B.*execute-api.*RestApiDeploymentStagedev/);
    for (const id of ['Worker', 'Completion'] as const) {
      expect(environmentOf(t, id)[ENV.callbackBaseUrl], id).toEqual(apiUrl);
    }
  });

  it('sends an event it failed on (after Lambda retries) to the completion DLQ', () => {
    const [fnId] = functionOf(t, 'Completion');
    const configs = ofType(t, 'AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(1);
    expect(configs[0]![1].Properties).toEqual({
      FunctionName: { Ref: fnId },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^CompletionDlqQueue/), 'Arn'] } },
      },
    });
  });

  it('queries the runs table by its watch index only, and the table itself for the rest', () => {
    const onRuns = statementsOf(t, 'Completion').filter((s) =>
      JSON.stringify(s.Resource).includes('RunsTable'),
    );
    expect(onRuns).toEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^RunsTable/), 'Arn'] },
      },
      {
        Action: 'dynamodb:Query',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [expect.stringMatching(/^RunsTable/), 'Arn'] }, '/index/byWatch'],
          ],
        },
      },
    ]);
    // The other functions keep the runs table without its index.
    for (const id of ['Api', 'Worker', 'DeadLetters'] as const) {
      const onIndex = statementsOf(t, id).filter((s) => JSON.stringify(s.Resource).match(/RunsTable.*index/));
      expect(onIndex, id).toEqual([]);
    }
  });

  it('is watched: its errors, long runs overdue, its DLQ, and on the dashboard', () => {
    const alarms = Object.fromEntries(
      ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => [String(a.Properties.AlarmName), a.Properties]),
    );
    const [fnId] = functionOf(t, 'Completion');
    expect(alarms['sundial-dev-CompletionErrors']).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Threshold: 1,
    });
    const overdue = alarms['sundial-dev-LongRunsOverdue']!;
    expect(overdue).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: OVERDUE_RUNS_METRIC,
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    // Published by the sweep with Powertools' service dimension, as FiringsRejected is.
    expect(overdue.Dimensions).toEqual([{ Name: 'service', Value: 'sundial' }]);
    expect(alarms['sundial-dev-CompletionDeadLetters']).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [expect.stringMatching(/^CompletionDlqQueue/), 'QueueName'] },
        },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const [[, dashboard]] = ofType(t, 'AWS::CloudWatch::Dashboard') as [[string, Resource]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain(fnId);
    expect(body).toContain(OVERDUE_RUNS_METRIC);
  });
});
