/**
 * The Scheduler emulator through the real @aws-sdk/client-scheduler, delivering into fauxqs
 * (bound to loopback by local/fauxqs.ts) through the real SQS client, with time moved by hand.
 * The queues are made with the SQS API, as a user would make their own: the emulator finds
 * each by its ARN.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalFauxqs, startFauxqs } from '../../local/fauxqs.js';
import { ManualClock } from '../../local/manual-clock.js';
import {
  createSchedulerEmulator,
  type DeliveryTarget,
  type SchedulerEmulator,
  type SqsDeliverer,
  sqsDeliverer,
} from '../../local/scheduler-emulator/index.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const ACCOUNT = '000000000000';
const clock = new ManualClock('2026-11-23T00:00:00.000Z');
let fauxqs: LocalFauxqs;
let sqs: SQSClient;
let sqsEu: SQSClient;
let deliver: SqsDeliverer;
let emulator: SchedulerEmulator;
let scheduler: SchedulerClient;
let queue: { queueUrl: string; queueArn: string };
let dlq: { queueUrl: string; queueArn: string };
let failingArns = new Set<string>();
let logs: { level: 'warn' | 'debug'; message: string; data: Record<string, unknown> }[] = [];
let counter = 0;

const sqsClient = (region: string) =>
  new SQSClient({
    endpoint: `http://127.0.0.1:${fauxqs.port}`,
    region,
    credentials,
    useQueueUrlAsEndpoint: false,
  });

/** A queue made through the SQS API, as a user makes one; its ARN from GetQueueAttributes. */
async function userQueue(name: string, client = sqs): Promise<{ queueUrl: string; queueArn: string }> {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  return { queueUrl: QueueUrl!, queueArn: Attributes!.QueueArn! };
}

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0 });
  sqs = sqsClient('us-east-1');
  sqsEu = sqsClient('eu-west-1');
  deliver = sqsDeliverer(sqs);
  emulator = createSchedulerEmulator({
    clock,
    random: () => 0.5,
    logger: {
      warn: (message, data) => logs.push({ level: 'warn', message, data }),
      debug: (message, data) => logs.push({ level: 'debug', message, data }),
    },
    deliver: async (target: DeliveryTarget) => {
      if (failingArns.has(target.arn)) throw new Error('AccessDenied: not allowed to send');
      await deliver(target);
    },
  });
  scheduler = new SchedulerClient({ endpoint: await emulator.listen(0), region: 'us-east-1', credentials });
  queue = await userQueue('emulator-target');
  dlq = await userQueue('emulator-dlq');
});

afterAll(async () => {
  await emulator?.close();
  scheduler?.destroy();
  deliver?.destroy();
  sqs?.destroy();
  sqsEu?.destroy();
  await fauxqs?.stop();
});

beforeEach(async () => {
  failingArns = new Set();
  logs = [];
  counter++;
  await drain(queue.queueUrl);
  await drain(dlq.queueUrl);
});

async function receive(url: string, client = sqs) {
  const messages = [];
  for (;;) {
    const { Messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 300,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

async function drain(url: string, client = sqs): Promise<string[]> {
  return (await receive(url, client)).map((m) => m.Body ?? '');
}

function input(overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput {
  return {
    Name: `s-${counter}`,
    ScheduleExpression: 'rate(1 minute)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: {
      Arn: queue.queueArn,
      RoleArn: 'arn:aws:iam::000000000000:role/scheduler',
      Input: '{"at":"<aws.scheduler.scheduled-time>","attempt":"<aws.scheduler.attempt-number>"}',
    },
    ...overrides,
  };
}

const scheduledTimes = (bodies: string[]) => bodies.map((b) => (JSON.parse(b) as { at: string }).at).sort();

describe('the Scheduler API', () => {
  it('creates, reads, lists, updates and deletes a schedule', async () => {
    const created = await scheduler.send(
      new CreateScheduleCommand(input({ ScheduleExpressionTimezone: 'Europe/Berlin', Description: 'd' })),
    );
    expect(created.ScheduleArn).toBe(
      `arn:aws:scheduler:us-east-1:000000000000:schedule/default/s-${counter}`,
    );
    const got = await scheduler.send(new GetScheduleCommand({ Name: `s-${counter}` }));
    expect(got).toMatchObject({
      Name: `s-${counter}`,
      GroupName: 'default',
      ScheduleExpression: 'rate(1 minute)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'ENABLED',
      Description: 'd',
      Target: { Arn: queue.queueArn },
    });
    expect(got.CreationDate?.toISOString()).toBe(clock.now().toISOString());

    await scheduler.send(
      new UpdateScheduleCommand({ ...input(), ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' }),
    );
    const updated = await scheduler.send(new GetScheduleCommand({ Name: `s-${counter}` }));
    expect(updated).toMatchObject({ ScheduleExpression: 'rate(5 minutes)', State: 'DISABLED' });

    const listed = await scheduler.send(
      new ListSchedulesCommand({ NamePrefix: `s-${counter}`, State: 'DISABLED' }),
    );
    expect(listed.Schedules?.map((s) => s.Name)).toEqual([`s-${counter}`]);
    const none = await scheduler.send(
      new ListSchedulesCommand({ NamePrefix: `s-${counter}`, State: 'ENABLED' }),
    );
    expect(none.Schedules).toEqual([]);

    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
    await expect(scheduler.send(new GetScheduleCommand({ Name: `s-${counter}` }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('answers with the errors the SDK knows', async () => {
    await scheduler.send(new CreateScheduleCommand(input()));
    await expect(scheduler.send(new CreateScheduleCommand(input()))).rejects.toBeInstanceOf(
      ConflictException,
    );
    await expect(
      scheduler.send(new UpdateScheduleCommand(input({ Name: 'missing' }))),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      scheduler.send(new CreateScheduleCommand(input({ Name: 'x', GroupName: 'no-such-group' }))),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    const bad = scheduler.send(
      new CreateScheduleCommand(input({ Name: 'bad', ScheduleExpression: 'rate(5 minute)' })),
    );
    await expect(bad).rejects.toBeInstanceOf(ValidationException);
    await expect(bad).rejects.toThrow(/rate\(\) unit must be plural/);
    await expect(
      scheduler.send(
        new CreateScheduleCommand(input({ Name: 'bad tz', ScheduleExpressionTimezone: 'Mars/Base' })),
      ),
    ).rejects.toBeInstanceOf(ValidationException);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });
});

describe('firing', () => {
  it('fires rate(1 minute) once per minute with the scheduled time substituted', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(new CreateScheduleCommand(input()));
    clock.advance(5 * 60_000);
    const reports = await emulator.fireDue();
    expect(reports.map((r) => r.outcome)).toEqual([
      'delivered',
      'delivered',
      'delivered',
      'delivered',
      'delivered',
    ]);
    expect(scheduledTimes(await drain(queue.queueUrl))).toEqual([
      '2026-11-23T00:01:00Z',
      '2026-11-23T00:02:00Z',
      '2026-11-23T00:03:00Z',
      '2026-11-23T00:04:00Z',
      '2026-11-23T00:05:00Z',
    ]);
    expect(await emulator.fireDue()).toEqual([]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('fires a cron schedule at the wall time of its time zone', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({ ScheduleExpression: 'cron(0 9 * * ? *)', ScheduleExpressionTimezone: 'America/New_York' }),
      ),
    );
    clock.set('2026-11-23T13:59:00.000Z');
    expect(await emulator.fireDue()).toEqual([]);
    clock.set('2026-11-23T14:00:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.scheduledTime)).toEqual(['2026-11-23T14:00:00Z']);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('fires at() once and deletes it afterwards when ActionAfterCompletion is DELETE', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({ ScheduleExpression: 'at(2026-11-23T00:10:00)', ActionAfterCompletion: 'DELETE' }),
      ),
    );
    clock.set('2026-11-23T01:00:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.scheduledTime)).toEqual(['2026-11-23T00:10:00Z']);
    expect(await emulator.fireDue()).toEqual([]);
    await expect(scheduler.send(new GetScheduleCommand({ Name: `s-${counter}` }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('does not fire while DISABLED, and does not replay missed firings when enabled again', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(new CreateScheduleCommand(input({ State: 'DISABLED' })));
    clock.advance(3 * 60_000);
    expect(await emulator.fireDue()).toEqual([]);
    await scheduler.send(new UpdateScheduleCommand(input({ State: 'ENABLED' })));
    clock.advance(2 * 60_000);
    expect((await emulator.fireDue()).map((r) => r.scheduledTime)).toEqual([
      '2026-11-23T00:04:00Z',
      '2026-11-23T00:05:00Z',
    ]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('honours StartDate and EndDate', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'cron(0 * * * ? *)',
          StartDate: new Date('2026-11-23T02:30:00Z'),
          EndDate: new Date('2026-11-23T05:00:00Z'),
        }),
      ),
    );
    clock.set('2026-11-23T08:00:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.scheduledTime)).toEqual([
      '2026-11-23T03:00:00Z',
      '2026-11-23T04:00:00Z',
      '2026-11-23T05:00:00Z',
    ]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('delays delivery within a flexible window but keeps the scheduled time', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'cron(0 1 * * ? *)',
          FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 10 },
        }),
      ),
    );
    clock.set('2026-11-23T01:04:59.000Z'); // random() = 0.5: delivery at 01:05
    expect(await emulator.fireDue()).toEqual([]);
    clock.set('2026-11-23T01:05:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.scheduledTime)).toEqual(['2026-11-23T01:00:00Z']);
    expect(scheduledTimes(await drain(queue.queueUrl))).toEqual(['2026-11-23T01:00:00Z']);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('retries a failing delivery per the retry policy, then sends it to the dead-letter queue', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    failingArns.add(queue.queueArn);
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          Target: {
            ...input().Target!,
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: dlq.queueArn },
          },
        }),
      ),
    );
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(60_000);
      outcomes.push(...(await emulator.fireDue()).map((r) => `${r.attempt}:${r.outcome}`));
    }
    expect(outcomes).toEqual(['1:retrying', '2:retrying', '3:dead-lettered']);
    const dead = await receive(dlq.queueUrl);
    expect(dead.map((m) => JSON.parse(m.Body!))).toEqual([{ at: '2026-11-23T00:01:00Z', attempt: '3' }]);
    expect(dead[0]!.MessageAttributes?.ERROR_MESSAGE?.StringValue).toBe('AccessDenied: not allowed to send');
    expect(await drain(queue.queueUrl)).toEqual([]);
    // Logged when it first fails (not again for the same failure), and when it is dead-lettered.
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => [l.message, l.data.attempt])).toEqual([
      ['firing not delivered; retrying per the retry policy', 1],
      ['firing not delivered (retry policy exhausted); sent to the dead-letter queue', 3],
    ]);
    expect(warnings[0]!.data).toMatchObject({
      schedule: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/s-${counter}`,
      target: queue.queueArn,
      scheduledTime: '2026-11-23T00:01:00Z',
      reason: 'AccessDenied: not allowed to send',
      retryable: true,
      nextAttemptAt: '2026-11-23T00:01:01.000Z',
    });
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });
});

describe('any queue of the local SQS', () => {
  it('delivers to a queue the user made, found by the ARN they wrote', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    // Made after the emulator started, and named nowhere but in the schedule's target.
    const mine = await userQueue(`users-own-queue-${counter}`);
    const arn = `arn:aws:sqs:us-east-1:${ACCOUNT}:users-own-queue-${counter}`;
    expect(mine.queueArn).toBe(arn);
    await scheduler.send(
      new CreateScheduleCommand(
        input({ ScheduleExpression: 'at(2026-11-23T00:05:00)', Target: { ...input().Target!, Arn: arn } }),
      ),
    );
    clock.set('2026-11-23T00:05:00.000Z');
    expect((await emulator.fireDue()).map((r) => [r.target, r.outcome])).toEqual([[arn, 'delivered']]);
    expect(await drain(mine.queueUrl)).toEqual(['{"at":"2026-11-23T00:05:00Z","attempt":"1"}']);
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('delivers to a queue of another region, looked up in that region', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    const far = await userQueue(`far-queue-${counter}`, sqsEu);
    expect(far.queueArn).toBe(`arn:aws:sqs:eu-west-1:${ACCOUNT}:far-queue-${counter}`);
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:05:00)',
          Target: { ...input().Target!, Arn: far.queueArn },
        }),
      ),
    );
    clock.set('2026-11-23T00:05:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['delivered']);
    expect(await drain(far.queueUrl, sqsEu)).toHaveLength(1);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it("sends FIFO queues the target's MessageGroupId", async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `ordered-${counter}.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    );
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:05:00)',
          Target: {
            ...input().Target!,
            Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:ordered-${counter}.fifo`,
            SqsParameters: { MessageGroupId: 'group-1' },
          },
        }),
      ),
    );
    clock.set('2026-11-23T00:05:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['delivered']);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['MessageGroupId'] }),
    );
    expect(Messages.map((m) => m.Attributes?.MessageGroupId)).toEqual(['group-1']);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('lets an override name some queues and resolves the rest itself', async () => {
    const mine = await userQueue(`override-${counter}`);
    const overridden = sqsDeliverer(sqs, (arn) =>
      arn === 'arn:aws:sqs:us-east-1:000000000000:alias' ? dlq.queueUrl : undefined,
    );
    try {
      await overridden({ arn: 'arn:aws:sqs:us-east-1:000000000000:alias', input: 'to the alias' });
      await overridden({ arn: mine.queueArn, input: 'to my queue' });
      expect(await drain(dlq.queueUrl)).toEqual(['to the alias']);
      expect(await drain(mine.queueUrl)).toEqual(['to my queue']);
    } finally {
      overridden.destroy();
    }
  });
});

describe('a schedule without Input', () => {
  it('delivers the default notification: a Scheduled Event from aws.scheduler naming the schedule', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    const { Input: _none, ...target } = input().Target!;
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'cron(0 9 * * ? *)',
          ScheduleExpressionTimezone: 'Europe/Berlin',
          Target: target,
        }),
      ),
    );
    expect((await scheduler.send(new GetScheduleCommand({ Name: `s-${counter}` }))).Target?.Input).toBe(
      undefined,
    );
    clock.set('2026-11-24T08:00:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['delivered', 'delivered']);
    const events = (await drain(queue.queueUrl)).map((b) => JSON.parse(b) as Record<string, unknown>);
    const event = (time: string) => ({
      version: '0',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      'detail-type': 'Scheduled Event',
      source: 'aws.scheduler',
      account: ACCOUNT,
      time,
      region: 'us-east-1',
      resources: [`arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/s-${counter}`],
      detail: '{}',
    });
    events.sort((a, b) => String(a.time).localeCompare(String(b.time)));
    expect(events).toEqual([event('2026-11-23T08:00:00Z'), event('2026-11-24T08:00:00Z')]);
    expect(Object.keys(events[0]!)).toEqual([
      'version',
      'id',
      'detail-type',
      'source',
      'account',
      'time',
      'region',
      'resources',
      'detail',
    ]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it("keeps the notification's id across retries of one firing", async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    failingArns.add(queue.queueArn);
    const { Input: _none, ...target } = input().Target!;
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          Target: {
            ...target,
            RetryPolicy: { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 3600 },
            DeadLetterConfig: { Arn: dlq.queueArn },
          },
        }),
      ),
    );
    clock.set('2026-11-23T00:01:00.000Z');
    await emulator.fireDue();
    failingArns.clear();
    clock.advance(60_000);
    expect((await emulator.fireDue()).map((r) => `${r.attempt}:${r.outcome}`)).toEqual(['2:delivered']);
    const [delivered] = (await drain(queue.queueUrl)).map((b) => JSON.parse(b) as { id: string });
    expect(delivered!.id).toMatch(/^[0-9a-f-]{36}$/);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });
});

describe('a firing it cannot deliver', () => {
  const SECRET = 'do-not-log-this-secret-input';
  const missing = () => `arn:aws:sqs:us-east-1:${ACCOUNT}:no-such-queue-${counter}`;

  it('is logged, not retried, and sent to the dead-letter queue when the queue does not exist', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          Target: {
            ...input().Target!,
            Arn: missing(),
            Input: `{"token":"${SECRET}"}`,
            DeadLetterConfig: { Arn: dlq.queueArn },
          },
        }),
      ),
    );
    clock.set('2026-11-23T00:01:00.000Z');
    expect((await emulator.fireDue()).map((r) => `${r.attempt}:${r.outcome}`)).toEqual(['1:dead-lettered']);
    clock.advance(3_600_000);
    expect(await emulator.fireDue()).toEqual([]); // nothing left to retry
    const dead = await receive(dlq.queueUrl);
    expect(dead.map((m) => m.Body)).toEqual([`{"token":"${SECRET}"}`]);
    expect(dead[0]!.MessageAttributes?.ERROR_MESSAGE?.StringValue).toMatch(/QueueDoesNotExist/);

    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toEqual([
      {
        level: 'warn',
        message: 'firing not delivered (not retryable); sent to the dead-letter queue',
        data: {
          schedule: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/s-${counter}`,
          target: missing(),
          scheduledTime: '2026-11-23T00:01:00Z',
          attempt: 1,
          reason: `QueueDoesNotExist: no queue no-such-queue-${counter} in us-east-1`,
          retryable: false,
          deadLetterQueue: dlq.queueArn,
        },
      },
    ]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('is logged and dropped without a dead-letter queue; the queue made later gets the next firing', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'rate(5 minutes)',
          Target: { ...input().Target!, Arn: missing(), Input: `{"token":"${SECRET}"}` },
        }),
      ),
    );
    clock.set('2026-11-23T00:05:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['dropped']);
    expect(logs.filter((l) => l.level === 'warn').map((l) => [l.message, l.data.target])).toEqual([
      ['firing not delivered (not retryable); dropped (no dead-letter queue)', missing()],
    ]);
    const made = await userQueue(`no-such-queue-${counter}`);
    clock.set('2026-11-23T00:10:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['delivered']);
    expect(await drain(made.queueUrl)).toEqual([`{"token":"${SECRET}"}`]);
    // Deleted again: the cached URL is dropped and the firing fails as missing, not retried.
    await sqs.send(new DeleteQueueCommand({ QueueUrl: made.queueUrl }));
    clock.set('2026-11-23T00:15:00.000Z');
    expect((await emulator.fireDue()).map((r) => [r.outcome, r.error])).toEqual([
      ['dropped', expect.stringMatching(/^QueueDoesNotExist: /)],
    ]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('does not take a queue of another account for the one of the same name here', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          // fauxqs answers GetQueueUrl for its one account whatever owner is asked for.
          Target: { ...input().Target!, Arn: 'arn:aws:sqs:us-east-1:111111111111:emulator-target' },
        }),
      ),
    );
    clock.set('2026-11-23T00:01:00.000Z');
    expect((await emulator.fireDue()).map((r) => [r.outcome, r.error])).toEqual([
      ['dropped', 'QueueDoesNotExist: no queue emulator-target of account 111111111111 in us-east-1'],
    ]);
    expect(await drain(queue.queueUrl)).toEqual([]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('is logged when the target is no queue at all', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          Target: { ...input().Target!, Arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:f` },
        }),
      ),
    );
    clock.set('2026-11-23T00:01:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['dropped']);
    expect(logs.filter((l) => l.level === 'warn').map((l) => l.data.reason)).toEqual([
      'UnsupportedTarget: the target is not an SQS queue ARN (the emulator delivers to SQS queues only)',
    ]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });

  it('is logged when the dead-letter queue does not exist either', async () => {
    clock.set('2026-11-23T00:00:00.000Z');
    await scheduler.send(
      new CreateScheduleCommand(
        input({
          ScheduleExpression: 'at(2026-11-23T00:01:00)',
          Target: {
            ...input().Target!,
            Arn: missing(),
            DeadLetterConfig: { Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:no-such-dlq` },
          },
        }),
      ),
    );
    clock.set('2026-11-23T00:01:00.000Z');
    expect((await emulator.fireDue()).map((r) => r.outcome)).toEqual(['dropped']);
    const [warning] = logs.filter((l) => l.level === 'warn');
    expect(warning).toMatchObject({
      message: 'firing not delivered (not retryable) nor dead-lettered; dropped',
      data: {
        target: missing(),
        deadLetterQueue: `arn:aws:sqs:us-east-1:${ACCOUNT}:no-such-dlq`,
        deadLetterReason: 'QueueDoesNotExist: no queue no-such-dlq in us-east-1',
      },
    });
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });
});
