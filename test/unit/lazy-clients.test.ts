/**
 * The worker's SDK clients for AWS targets are made, and their code loaded, when a job of that
 * type first runs (functions/commons/lazy.ts): each target type gets a working client, made
 * once however many runs use it, and a run of one type makes no client of another.
 */
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqsFiringQueue } from '../../functions/adapters/firing-queue.js';
import { createLongTargets } from '../../functions/adapters/long-targets.js';
import { createTargetCaller } from '../../functions/adapters/targets.js';
import { lazy, ready } from '../../functions/commons/lazy.js';
import type { LongStartContext } from '../../functions/domain/ports.js';
import { targetSchema } from '../../functions/domain/target.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const access = { region: REGION, allowedArns: [`arn:aws:*:${REGION}:${ACCOUNT}:*`], protectedArns: [] };
const context: LongStartContext = {
  jobId: 'job_1',
  runId: 'run_1',
  scheduledAt: '2026-12-01T00:00:00Z',
  tenantId: 't',
  attempt: 1,
  attemptKey: 'sundial-run_1-1',
  callbackUrl: 'https://api.example.com/callbacks/x',
};

/** A factory that counts how often it made its client. */
function counted<C>(make: () => C) {
  const made = vi.fn(async () => make());
  return { made, client: lazy(made) };
}

afterEach(() => vi.restoreAllMocks());

describe('lazy', () => {
  it('makes the value once, for callers at the same time too', async () => {
    const make = vi.fn(async () => ({}));
    const get = lazy(make);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(make).toHaveBeenCalledTimes(1);
  });

  it('makes it again after a make that failed', async () => {
    const make = vi.fn().mockRejectedValueOnce(new Error('no')).mockResolvedValue('made');
    const get = lazy(make);
    await expect(get()).rejects.toThrow('no');
    expect(await get()).toBe('made');
    expect(make).toHaveBeenCalledTimes(2);
  });
});

describe('AWS target clients, made at the first job of their type', () => {
  it('calls a Lambda target and an EventBridge target with clients made once each', async () => {
    const lambdaMock = mockClient(LambdaClient).on(InvokeCommand).resolves({ StatusCode: 200 });
    const busMock = mockClient(EventBridgeClient)
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const lambda = counted(() => new LambdaClient({ region: REGION }));
    const eventBridge = counted(() => new EventBridgeClient({ region: REGION }));
    const call = createTargetCaller({
      clients: {
        lambda: lambda.client,
        sqs: ready(new SQSClient({ region: REGION })),
        eventBridge: eventBridge.client,
      },
      access,
    });
    const fn = targetSchema.parse({
      type: 'lambda',
      functionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:report`,
    });
    const bus = targetSchema.parse({
      type: 'eventbridge',
      eventBusArn: `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/orders`,
      source: 'sundial.test',
      detailType: 'tick',
    });

    expect(lambda.made).not.toHaveBeenCalled();
    expect(await call(fn, context)).toMatchObject({ kind: 'delivered', statusCode: 200 });
    expect(await call(fn, context)).toMatchObject({ kind: 'delivered' });
    expect(lambda.made).toHaveBeenCalledTimes(1);
    expect(lambdaMock.commandCalls(InvokeCommand)).toHaveLength(2);
    expect(eventBridge.made).not.toHaveBeenCalled();

    expect(await call(bus, context)).toMatchObject({ kind: 'delivered', bodyExcerpt: '{"eventId":"e-1"}' });
    expect(eventBridge.made).toHaveBeenCalledTimes(1);
    expect(busMock.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('starts an ECS task and a Step Functions execution with clients made once each', async () => {
    const taskArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:task/batch/abc`;
    const ecsMock = mockClient(ECSClient);
    ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn }] });
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:pipeline:sundial-run_1-1`;
    mockClient(SFNClient).on(StartExecutionCommand).resolves({ executionArn });
    const ecs = counted(() => new ECSClient({ region: REGION }));
    const sfn = counted(() => new SFNClient({ region: REGION }));
    const long = createLongTargets({
      ecs: ecs.client,
      sfn: sfn.client,
      callHttp: async () => ({ kind: 'error', message: 'no HTTP here' }),
      access,
    });
    const task = targetSchema.parse({
      type: 'ecs',
      cluster: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`,
      taskDefinition: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/import:3`,
    });
    const machine = targetSchema.parse({
      type: 'stepfunctions',
      stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:pipeline`,
    });
    if (task.type !== 'ecs' || machine.type !== 'stepfunctions') throw new Error('unexpected target types');

    expect(await long.start(task, context)).toMatchObject({ kind: 'started', ref: taskArn });
    expect(await long.start(task, context)).toMatchObject({ kind: 'started', ref: taskArn });
    expect(ecs.made).toHaveBeenCalledTimes(1);
    expect(sfn.made).not.toHaveBeenCalled();

    expect(await long.start(machine, context)).toMatchObject({ kind: 'started', ref: executionArn });
    expect(sfn.made).toHaveBeenCalledTimes(1);
  });

  it('takes an already made client as it is (the local runtime)', async () => {
    const client = new LambdaClient({ region: REGION });
    expect(await ready(client)()).toBe(client);
  });

  it('makes the SQS client at the first message sent, once, and sends signed messages with it', async () => {
    const sqsMock = mockClient(SQSClient).on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const sqs = counted(() => new SQSClient({ region: REGION }));
    const queue = new SqsFiringQueue(
      sqs.client,
      { high: 'https://sqs/high', default: 'https://sqs/default', low: 'https://sqs/low' },
      { now: () => new Date('2026-12-01T00:00:00Z') },
      { sign: async (m) => ({ ...m, mac: 'signed' }), verify: async () => true },
    );
    expect(sqs.made).not.toHaveBeenCalled();
    const message = {
      v: 1,
      tenantId: 't',
      jobId: 'job_1',
      trigger: 'schedule',
      scheduledTime: '2026-12-01T00:00:00Z',
    } as const;
    await queue.send('high', message);
    await queue.send('low', message);
    expect(sqs.made).toHaveBeenCalledTimes(1);
    const sent = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input);
    expect(sent.map((i) => i.QueueUrl)).toEqual(['https://sqs/high', 'https://sqs/low']);
    expect(JSON.parse(sent[0]?.MessageBody ?? '{}')).toMatchObject({ jobId: 'job_1', mac: 'signed' });
  });
});
