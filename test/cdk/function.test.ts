/** The function construct's environment: set with its grant, only what the function reads, never short. */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { describe, expect, it } from 'vitest';
import { SundialFunction } from '../../lib/constructs/function.js';
import { ENV, type EnvKey, FUNCTION_ENVIRONMENT, type FunctionId } from '../../lib/environment.js';

/** A stack with one Sundial function, unbundled (the construct, not the code, is under test). */
function withFunction(id: FunctionId) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'FunctionTest');
  const fn = new SundialFunction(stack, id, {
    entry: 'functions/sync.ts',
    description: `test ${id}`,
    timeout: Duration.seconds(10),
    stage: 'dev',
  });
  const table = new Table(stack, 'Table', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const key = new Key(stack, 'Key');
  return { app, stack, fn, table, key };
}

/** Sets every other variable the function requires to a placeholder, so the stack synthesizes. */
const bindTheRest = (fn: SundialFunction, done: EnvKey[]) => {
  for (const key of FUNCTION_ENVIRONMENT[fn.id].required) if (!done.includes(key)) fn.setEnv(key, `<${key}>`);
};

const variablesOf = (stack: Stack) =>
  Object.values(
    Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<
      string,
      { Properties: { Environment: { Variables: Record<string, unknown> } } }
    >,
  )[0]!.Properties.Environment.Variables;

describe('SundialFunction.bind', () => {
  it('sets the variable and grants its permission in one call', () => {
    const { stack, fn, table, key } = withFunction('Sync');
    fn.bind('jobsTable', table.tableName, (f) => table.grant(f, 'dynamodb:GetItem'))
      .bindKey('secretsKey', key, 'kms:Decrypt')
      .setEnv('scheduleGroup', 'sundial-dev');
    bindTheRest(fn, ['jobsTable', 'secretsKey', 'scheduleGroup']);
    expect(variablesOf(stack)).toMatchObject({
      [ENV.jobsTable]: { Ref: expect.stringMatching(/^Table/) },
      [ENV.secretsKey]: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
      [ENV.scheduleGroup]: 'sundial-dev',
    });
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown }[] } } }).Properties
          .PolicyDocument.Statement,
    );
    expect(statements.map((s) => s.Action)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'kms:Decrypt']),
    );
  });

  it('refuses a variable the function does not read, naming it', () => {
    const { fn, table } = withFunction('Reconciler');
    expect(FUNCTION_ENVIRONMENT.Reconciler.required).not.toContain('runsTable');
    expect(FUNCTION_ENVIRONMENT.Reconciler.optional).not.toContain('runsTable');
    expect(() => fn.bindTable('runsTable', table, 'dynamodb:GetItem')).toThrow(
      'Reconciler does not read RUNS_TABLE_NAME (runsTable): FUNCTION_ENVIRONMENT in lib/environment.ts lists what it reads',
    );
    expect(() => fn.setEnv('failureTopic', 'arn:aws:sns:eu-west-1:123456789012:t')).toThrow(
      /Reconciler does not read FAILURE_TOPIC_ARN/,
    );
  });

  it('never sets the region or the local SQS endpoint, though functions read them', () => {
    const { fn } = withFunction('Api');
    expect(FUNCTION_ENVIRONMENT.Api.optional).toEqual(expect.arrayContaining(['region', 'sqsEndpoint']));
    expect(() => fn.setEnv('region', 'eu-west-1')).toThrow(
      /AWS_REGION \(region\) is never set on a function/,
    );
    expect(() => fn.setEnv('sqsEndpoint', 'http://127.0.0.1:9324')).toThrow(
      /SUNDIAL_LOCAL_SQS_ORIGIN \(sqsEndpoint\) is never set on a function/,
    );
  });

  it('refuses binding a variable twice', () => {
    const { fn, table } = withFunction('Reconciler');
    fn.bindTable('jobsTable', table, 'dynamodb:Scan');
    expect(() => fn.bindTable('jobsTable', table, 'dynamodb:GetItem')).toThrow(
      'JOBS_TABLE_NAME (jobsTable) is already bound on Reconciler',
    );
  });

  it('sets only the values the function reads from a set meant for several', () => {
    const { stack, fn } = withFunction('Worker');
    fn.setEnvWhereRead({ tenantMaxJobs: '5', tenantRunsInProgress: '2' });
    bindTheRest(fn, []);
    const variables = variablesOf(stack);
    expect(variables[ENV.tenantRunsInProgress]).toBe('2');
    expect(variables).not.toHaveProperty(ENV.tenantMaxJobs);
  });

  it('fails the synth when a required variable was never bound, naming each', () => {
    const { app, fn, table, key } = withFunction('DeadLetters');
    fn.bindTable('jobsTable', table, 'dynamodb:GetItem').bindKey('secretsKey', key, 'kms:Decrypt');
    expect(() => app.synth()).toThrow(
      /RUNS_TABLE_NAME \(runsTable\) is required by DeadLetters but was never bound[\s\S]*DEAD_LETTER_QUEUE_ARNS \(deadLetterQueueArns\) is required by DeadLetters but was never bound/,
    );
  });

  it('synthesizes once every required variable is bound', () => {
    const { app, fn, table, key } = withFunction('DeadLetters');
    fn.bindTable('jobsTable', table, 'dynamodb:GetItem')
      .bindTable('runsTable', table, 'dynamodb:PutItem')
      .bindKey('secretsKey', key, 'kms:Decrypt')
      .setEnv('deadLetterQueueArns', '{}');
    expect(() => app.synth()).not.toThrow();
  });
});
