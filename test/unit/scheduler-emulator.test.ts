/**
 * The Scheduler emulator through the real @aws-sdk/client-scheduler, delivering into fauxqs
 * through the real SQS client, with time moved by hand.
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
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type FauxqsServer, startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../local/manual-clock.js';
import {
  createSchedulerEmulator,
  type DeliveryTarget,
  type SchedulerEmulator,
  sqsDeliverer,
} from '../../local/scheduler-emulator/index.js';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const clock = new ManualClock('2026-11-23T00:00:00.000Z');
let fauxqs: FauxqsServer;
let sqs: SQSClient;
let emulator: SchedulerEmulator;
let scheduler: SchedulerClient;
let queue: { queueUrl: string; queueArn: string };
let dlq: { queueUrl: string; queueArn: string };
let failingArns = new Set<string>();
let counter = 0;

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({ endpoint: `http://127.0.0.1:${fauxqs.port}`, region: 'us-east-1', credentials });
  const urls = new Map<string, string>();
  const deliver = sqsDeliverer(sqs, (arn) => urls.get(arn)!);
  emulator = createSchedulerEmulator({
    clock,
    random: () => 0.5,
    deliver: async (target: DeliveryTarget) => {
      if (failingArns.has(target.arn)) throw new Error('AccessDenied: not allowed to send');
      await deliver(target);
    },
  });
  scheduler = new SchedulerClient({ endpoint: await emulator.listen(0), region: 'us-east-1', credentials });
  queue = fauxqs.createQueue('emulator-target');
  dlq = fauxqs.createQueue('emulator-dlq');
  urls.set(queue.queueArn, queue.queueUrl);
  urls.set(dlq.queueArn, dlq.queueUrl);
});

afterAll(async () => {
  await emulator?.close();
  scheduler?.destroy();
  sqs?.destroy();
  await fauxqs?.stop();
});

beforeEach(async () => {
  failingArns = new Set();
  counter++;
  await drain(queue.queueUrl);
  await drain(dlq.queueUrl);
});

async function drain(url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ''));
  }
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
    const dead = await drain(dlq.queueUrl);
    expect(dead.map((b) => JSON.parse(b))).toEqual([{ at: '2026-11-23T00:01:00Z', attempt: '3' }]);
    expect(await drain(queue.queueUrl)).toEqual([]);
    await scheduler.send(new DeleteScheduleCommand({ Name: `s-${counter}` }));
  });
});
