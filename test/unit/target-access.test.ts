/** Which AWS resources a target may name: region, partition, endpoint, allowlist and Sundial's own. */
import { describe, expect, it } from 'vitest';
import type { Target } from '../../functions/domain/target.js';
import {
  awsTargetArns,
  awsTargetRefusal,
  isArnAllowed,
  partitionOf,
  queueArnFor,
  type TargetAccess,
} from '../../functions/domain/target-access.js';

const FUNCTION = 'arn:aws:lambda:eu-west-1:123456789012:function:report';
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/reports';
const OWN_QUEUE = 'arn:aws:sqs:eu-west-1:123456789012:Sundial-prod-JobsDefaultQueue-AbC';

const access: TargetAccess = {
  region: 'eu-west-1',
  // Account-wide, as an operator might write it: it covers Sundial's own resources too.
  allowedArns: ['arn:aws:*:eu-west-1:123456789012:*'],
  protectedArns: [OWN_QUEUE, 'arn:aws:lambda:eu-west-1:123456789012:function:Sundial-prod-*'],
};

const sqs = (queueUrl: string): Target => ({
  type: 'sqs',
  queueUrl,
  body: 'x',
  messageAttributes: {},
  messageGroupId: null,
  timeoutSeconds: 30,
});
const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/batch';
const TASK_DEFINITION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/import:3';
const ecs = (cluster: string, taskDefinition: string): Target => ({
  type: 'ecs',
  cluster,
  taskDefinition,
  launchType: 'FARGATE',
  network: null,
  containerOverrides: [],
  timeoutSeconds: 30,
  runTimeoutSeconds: 3600,
  heartbeatTimeoutSeconds: null,
});
const lambda = (functionArn: string): Target => ({
  type: 'lambda',
  functionArn,
  payload: {},
  timeoutSeconds: 30,
});

describe('queue URLs', () => {
  it("derive their ARN only from this region's SQS endpoints", () => {
    expect(queueArnFor(QUEUE_URL, access)).toEqual({ arn: 'arn:aws:sqs:eu-west-1:123456789012:reports' });
    expect(queueArnFor('https://eu-west-1.queue.amazonaws.com/123456789012/r.fifo', access)).toEqual({
      arn: 'arn:aws:sqs:eu-west-1:123456789012:r.fifo',
    });
    expect(
      queueArnFor('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/r', { region: 'cn-north-1' }),
    ).toEqual({ arn: 'arn:aws-cn:sqs:cn-north-1:123456789012:r' });
  });

  it.each([
    // The metadata service, with a queue-shaped path: signed credentials would go there.
    'http://169.254.169.254/000000000000/x',
    'https://attacker.example/123456789012/reports',
    // Another region's endpoint, plain HTTP, another port, a look-alike host.
    'https://sqs.us-east-1.amazonaws.com/123456789012/reports',
    'http://sqs.eu-west-1.amazonaws.com/123456789012/reports',
    'https://sqs.eu-west-1.amazonaws.com:8443/123456789012/reports',
    'https://sqs.eu-west-1.amazonaws.com.attacker.example/123456789012/reports',
    'https://user@sqs.eu-west-1.amazonaws.com/123456789012/reports',
  ])('refuses %s', (url) => {
    expect(queueArnFor(url, access)).toHaveProperty('refusal');
    expect(awsTargetRefusal(sqs(url), access)).toEqual({
      field: 'queueUrl',
      message: expect.stringMatching(/deployment's SQS endpoint|must be/),
    });
  });

  it('accept the configured local endpoint, and only its exact origin', () => {
    const local = { ...access, sqsEndpoint: 'http://127.0.0.1:4566' };
    expect(queueArnFor('http://127.0.0.1:4566/123456789012/jobs', local)).toEqual({
      arn: 'arn:aws:sqs:eu-west-1:123456789012:jobs',
    });
    expect(queueArnFor('http://127.0.0.1:4567/123456789012/jobs', local)).toHaveProperty('refusal');
    expect(queueArnFor('http://localhost:4566/123456789012/jobs', local)).toHaveProperty('refusal');
  });
});

describe('AWS target ARNs', () => {
  it("are refused when they name Sundial's own resources, whatever the allowlist says", () => {
    expect(
      awsTargetRefusal(sqs('https://sqs.eu-west-1.amazonaws.com/123456789012/reports'), access),
    ).toBeNull();
    expect(
      awsTargetRefusal(
        sqs('https://sqs.eu-west-1.amazonaws.com/123456789012/Sundial-prod-JobsDefaultQueue-AbC'),
        access,
      ),
    ).toEqual({ field: 'queueUrl', message: expect.stringMatching(/part of Sundial itself/) });
    expect(
      awsTargetRefusal(
        lambda('arn:aws:lambda:eu-west-1:123456789012:function:Sundial-prod-Worker:live'),
        access,
      ),
    ).toEqual({ field: 'functionArn', message: expect.stringMatching(/part of Sundial itself/) });
  });

  it("are refused outside this deployment's region and partition", () => {
    expect(awsTargetRefusal(lambda(FUNCTION), access)).toBeNull();
    expect(
      awsTargetRefusal(lambda('arn:aws:lambda:us-east-1:123456789012:function:report'), access)?.message,
    ).toMatch(/not in this deployment's region/);
    expect(
      awsTargetRefusal(lambda('arn:aws-cn:lambda:eu-west-1:123456789012:function:report'), {
        ...access,
        allowedArns: ['*'],
      })?.message,
    ).toMatch(/not in this deployment's region/);
  });

  it('are refused when the allowlist does not name them', () => {
    expect(awsTargetRefusal(lambda(FUNCTION), { ...access, allowedArns: [] })).toEqual({
      field: 'functionArn',
      message: expect.stringMatching(/not among the target ARNs/),
    });
  });

  it('of an ECS task are the cluster and the task definition, and both must be allowed', () => {
    const ecsTarget = ecs(CLUSTER, TASK_DEFINITION);
    expect(awsTargetArns(ecsTarget, access)).toEqual([
      { field: 'cluster', arn: CLUSTER },
      { field: 'taskDefinition', arn: TASK_DEFINITION },
    ]);
    expect(awsTargetRefusal(ecsTarget, access)).toBeNull();
    const onlyTheCluster = { ...access, allowedArns: [CLUSTER] };
    expect(awsTargetRefusal(ecsTarget, onlyTheCluster)).toEqual({
      field: 'taskDefinition',
      message: expect.stringMatching(/not among the target ARNs/),
    });
    const onlyTheTask = { ...access, allowedArns: [TASK_DEFINITION] };
    expect(awsTargetRefusal(ecsTarget, onlyTheTask)).toEqual({
      field: 'cluster',
      message: expect.stringMatching(/not among the target ARNs/),
    });
    // A task definition of another region is refused as any ARN is.
    expect(
      awsTargetRefusal(ecs(CLUSTER, 'arn:aws:ecs:us-east-1:123456789012:task-definition/import:3'), access),
    ).toEqual({ field: 'taskDefinition', message: expect.stringMatching(/not in this deployment's region/) });
  });

  it('of a Step Functions target is its state machine', () => {
    const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pipeline';
    const target: Target = {
      type: 'stepfunctions',
      stateMachineArn: machine,
      input: {},
      timeoutSeconds: 30,
      runTimeoutSeconds: 3600,
    };
    expect(awsTargetArns(target, access)).toEqual([{ field: 'stateMachineArn', arn: machine }]);
    expect(awsTargetRefusal(target, access)).toBeNull();
    expect(awsTargetRefusal(target, { ...access, protectedArns: [machine] })).toEqual({
      field: 'stateMachineArn',
      message: expect.stringMatching(/part of Sundial itself/),
    });
  });

  it('of an HTTP target are none', () => {
    const http: Target = {
      type: 'http',
      url: 'https://example.com/',
      method: 'POST',
      headers: {},
      body: null,
      secretHeaders: {},
      timeoutSeconds: 30,
      completion: 'response',
    };
    expect(awsTargetArns(http, access)).toEqual([]);
    expect(awsTargetRefusal(http, { ...access, allowedArns: [] })).toBeNull();
  });

  it('knows the partitions of regions', () => {
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('cn-northwest-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
  });
});

describe('ARN patterns', () => {
  it('match exact ARNs and * wildcards, and nothing else', () => {
    expect(isArnAllowed(FUNCTION, [FUNCTION])).toBe(true);
    expect(isArnAllowed(FUNCTION, ['arn:aws:lambda:eu-west-1:123456789012:function:rep*'])).toBe(true);
    expect(isArnAllowed(FUNCTION, ['arn:aws:lambda:eu-west-1:123456789012:function:other'])).toBe(false);
    expect(isArnAllowed(FUNCTION, [])).toBe(false);
    // The dot in an ARN pattern is literal, not "any character".
    expect(
      isArnAllowed('arn:aws:sqs:eu-west-1:123456789012:aXb', ['arn:aws:sqs:eu-west-1:123456789012:a.b']),
    ).toBe(false);
  });

  it('match a qualified function (version or alias) when the function is matched', () => {
    expect(isArnAllowed(`${FUNCTION}:live`, [FUNCTION])).toBe(true);
    expect(isArnAllowed(FUNCTION, [`${FUNCTION}:live`])).toBe(false);
  });

  it("match a task definition's revision when its family is matched, and not the other way round", () => {
    const family = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/import';
    expect(isArnAllowed(`${family}:3`, [family])).toBe(true);
    expect(isArnAllowed(`${family}:3`, [`${family}:3`])).toBe(true);
    expect(isArnAllowed(`${family}:4`, [`${family}:3`])).toBe(false);
    expect(isArnAllowed(family, [`${family}:3`])).toBe(false);
    expect(isArnAllowed(`${family}-other:3`, [family])).toBe(false);
  });
});
