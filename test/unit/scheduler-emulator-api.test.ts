/**
 * The Scheduler emulator's API against the real @aws-sdk/client-scheduler: what the API model
 * requires is refused with AWS's ValidationException (400, naming the member), schedule
 * groups keep their tags, ListScheduleGroups pages.
 */
import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  ListTagsForResourceCommand,
  paginateListScheduleGroups,
  ResourceNotFoundException,
  SchedulerClient,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../local/manual-clock.js';
import { createSchedulerEmulator, type SchedulerEmulator } from '../../local/scheduler-emulator/index.js';

const ACCOUNT = '000000000000';
const QUEUE = `arn:aws:sqs:us-east-1:${ACCOUNT}:target`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/scheduler`;
const clock = new ManualClock('2026-11-23T00:00:00.000Z');
let emulator: SchedulerEmulator;
let scheduler: SchedulerClient;

beforeAll(async () => {
  emulator = createSchedulerEmulator({ clock, deliver: async () => undefined, logger: () => undefined });
  scheduler = new SchedulerClient({
    endpoint: await emulator.listen(0),
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  await emulator?.close();
  scheduler?.destroy();
});

let n = 0;
function schedule(overrides: Record<string, unknown> = {}): CreateScheduleCommandInput {
  return {
    Name: `v-${++n}`,
    ScheduleExpression: 'rate(1 hour)',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: QUEUE, RoleArn: ROLE, Input: '{}' },
    ...overrides,
  } as CreateScheduleCommandInput;
}
const target = (overrides: Record<string, unknown>) => ({
  Arn: QUEUE,
  RoleArn: ROLE,
  Input: '{}',
  ...overrides,
});

/** The request is refused with a ValidationException (HTTP 400) whose message matches. */
async function refused(request: Promise<unknown>, message: RegExp | string): Promise<ValidationException> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationException);
  const validation = error as ValidationException;
  expect(validation.$metadata.httpStatusCode).toBe(400);
  expect(validation.message).toMatch(message);
  return validation;
}

const at = (path: string) => new RegExp(`at '${path.replaceAll('.', '\\.')}' failed to satisfy constraint`);

describe('validation, as the API model requires', () => {
  // [what, request overrides, the member named, the constraint]
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['a target without RoleArn', { Target: { Arn: QUEUE } }, 'target.roleArn', /Member must not be null/],
    [
      'a RoleArn that is no role ARN',
      { Target: target({ RoleArn: 'arn:aws:iam::000000000000:user/me' }) },
      'target.roleArn',
      /regular expression pattern: \^arn:aws\(-\[a-z\]\+\)\?:iam::\\d\{12\}:role/,
    ],
    ['a target without Arn', { Target: { RoleArn: ROLE } }, 'target.arn', /Member must not be null/],
    [
      'a dead-letter ARN that is no queue',
      { Target: target({ DeadLetterConfig: { Arn: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` } }) },
      'target.deadLetterConfig.arn',
      /regular expression pattern: \^arn:aws\(-\[a-z\]\+\)\?:sqs:/,
    ],
    [
      'a dead-letter ARN without an account',
      { Target: target({ DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1::dlq' } }) },
      'target.deadLetterConfig.arn',
      /regular expression pattern/,
    ],
    [
      'a KMS key ARN that is no key',
      { KmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:grant/abc` },
      'kmsKeyArn',
      /regular expression pattern: \^arn:aws\(-\[a-z\]\+\)\?:kms:/,
    ],
    ['a KMS key id instead of its ARN', { KmsKeyArn: '1234abcd-12ab' }, 'kmsKeyArn', /pattern/],
    [
      'a State other than ENABLED|DISABLED',
      { State: 'PAUSED' },
      'state',
      /enum value set: \[ENABLED, DISABLED\]/,
    ],
    ['no ScheduleExpression', { ScheduleExpression: undefined }, 'scheduleExpression', /not be null/],
    ['no FlexibleTimeWindow', { FlexibleTimeWindow: undefined }, 'flexibleTimeWindow', /not be null/],
    ['no FlexibleTimeWindow.Mode', { FlexibleTimeWindow: {} }, 'flexibleTimeWindow.mode', /not be null/],
    [
      'a window of more than 1440 minutes',
      { FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1441 } },
      'flexibleTimeWindow.maximumWindowInMinutes',
      /less than or equal to 1440/,
    ],
    ['no Target', { Target: undefined }, 'target', /not be null/],
    [
      'more than 185 retries',
      { Target: target({ RetryPolicy: { MaximumRetryAttempts: 186 } }) },
      'target.retryPolicy.maximumRetryAttempts',
      /less than or equal to 185/,
    ],
    [
      'an event age under a minute',
      { Target: target({ RetryPolicy: { MaximumEventAgeInSeconds: 59 } }) },
      'target.retryPolicy.maximumEventAgeInSeconds',
      /greater than or equal to 60/,
    ],
    [
      'a MessageGroupId of 129 characters',
      { Target: target({ SqsParameters: { MessageGroupId: 'g'.repeat(129) } }) },
      'target.sqsParameters.messageGroupId',
      /less than or equal to 128/,
    ],
    [
      'EventBridgeParameters without Source',
      { Target: target({ EventBridgeParameters: { DetailType: 't' } }) },
      'target.eventBridgeParameters.source',
      /not be null/,
    ],
    [
      'EcsParameters without TaskDefinitionArn',
      { Target: target({ EcsParameters: { TaskCount: 1 } }) },
      'target.ecsParameters.taskDefinitionArn',
      /not be null/,
    ],
    [
      'an ECS task count of 11',
      { Target: target({ EcsParameters: { TaskDefinitionArn: 'td', TaskCount: 11 } }) },
      'target.ecsParameters.taskCount',
      /less than or equal to 10/,
    ],
    [
      'a description of 513 characters',
      { Description: 'd'.repeat(513) },
      'description',
      /less than or equal to 512/,
    ],
    ['a group name with a space', { GroupName: 'my group' }, 'groupName', /pattern: \^\[0-9a-zA-Z-_\.\]\+\$/],
    ['a ClientToken with a space', { ClientToken: 'a token' }, 'clientToken', /pattern/],
    [
      'an ActionAfterCompletion other than NONE|DELETE',
      { ActionAfterCompletion: 'KEEP' },
      'actionAfterCompletion',
      /enum value set: \[NONE, DELETE\]/,
    ],
    ['a name of 65 characters', { Name: 'n'.repeat(65) }, 'name', /less than or equal to 64/],
    ['a name with a slash-free but invalid character', { Name: 'a+b' }, 'name', /pattern/],
    [
      'an empty ScheduleExpression',
      { ScheduleExpression: '' },
      'scheduleExpression',
      /greater than or equal to 1/,
    ],
    [
      'a time zone of 51 characters',
      { ScheduleExpressionTimezone: 'z'.repeat(51) },
      'scheduleExpressionTimezone',
      /less than or equal to 50/,
    ],
  ];

  it.each(cases)(
    'refuses %s on CreateSchedule, naming the member',
    async (_what, overrides, member, constraint) => {
      const error = await refused(scheduler.send(new CreateScheduleCommand(schedule(overrides))), at(member));
      expect(error.message).toMatch(constraint);
      expect(error.message).toMatch(/^1 validation error detected: Value /);
    },
  );

  it.each(cases.filter(([, overrides]) => !('Name' in overrides)))(
    'refuses %s on UpdateSchedule too',
    async (_what, overrides, member) => {
      await refused(scheduler.send(new UpdateScheduleCommand(schedule(overrides))), at(member));
    },
  );

  it('quotes the value it refuses, but never the target input', async () => {
    const error = await refused(
      scheduler.send(new CreateScheduleCommand(schedule({ State: 'PAUSED' }))),
      "Value 'PAUSED' at 'state'",
    );
    expect(error.name).toBe('ValidationException');
    const secret = await refused(
      scheduler.send(
        new CreateScheduleCommand(
          schedule({ Target: target({ Input: '', RoleArn: 'secret-looking-role' }) }),
        ),
      ),
      /^2 validation errors detected: /,
    );
    expect(secret.message).toContain("Value '*** Sensitive Data Redacted ***' at 'target.input'");
    expect(secret.message).toContain("Value 'secret-looking-role' at 'target.roleArn'");
    const big = 'x'.repeat(256 * 1024 + 1);
    const tooBig = await refused(
      scheduler.send(new CreateScheduleCommand(schedule({ Target: target({ Input: big }) }))),
      'Target.Input must be at most 256 KB',
    );
    expect(tooBig.message).not.toContain('xxxx');
  });

  it('accepts what the model allows', async () => {
    const ok = schedule({
      KmsKeyArn: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      State: 'DISABLED',
      Description: 'd'.repeat(512),
      ClientToken: 'token_1-2',
      ActionAfterCompletion: 'DELETE',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1440 },
      Target: target({
        DeadLetterConfig: { Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:my-dlq` },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        SqsParameters: { MessageGroupId: 'g'.repeat(128) },
        RoleArn: `arn:aws-cn:iam::${ACCOUNT}:role/path/to/role+name=x,y.z@w-v`,
      }),
    });
    await scheduler.send(new CreateScheduleCommand(ok));
    // Lengths are in characters: 512 of them are 1,024 UTF-16 units here.
    const emoji = schedule({ Description: '\u{1F552}'.repeat(512) });
    await scheduler.send(new CreateScheduleCommand(emoji));
    await scheduler.send(new DeleteScheduleCommand({ Name: emoji.Name! }));
    await refused(
      scheduler.send(new CreateScheduleCommand(schedule({ Description: '\u{1F552}'.repeat(513) }))),
      at('description'),
    );
    await scheduler.send(
      new CreateScheduleCommand(
        schedule({ Name: 'n'.repeat(64), KmsKeyArn: `arn:aws:kms:eu-west-1:${ACCOUNT}:alias/my-key` }),
      ),
    );
    await scheduler.send(new DeleteScheduleCommand({ Name: ok.Name! }));
    await scheduler.send(new DeleteScheduleCommand({ Name: 'n'.repeat(64) }));
  });

  it('refuses MaxResults outside 1-100 on ListSchedules and ListScheduleGroups', async () => {
    for (const MaxResults of [0, 101, -1]) {
      await refused(scheduler.send(new ListSchedulesCommand({ MaxResults })), at('maxResults'));
      await refused(scheduler.send(new ListScheduleGroupsCommand({ MaxResults })), at('maxResults'));
    }
    await refused(scheduler.send(new ListSchedulesCommand({ MaxResults: 0 })), 'greater than or equal to 1');
    await refused(scheduler.send(new ListSchedulesCommand({ MaxResults: 101 })), 'less than or equal to 100');
    await scheduler.send(new ListSchedulesCommand({ MaxResults: 1 }));
    await scheduler.send(new ListScheduleGroupsCommand({ MaxResults: 100 }));
  });

  it('refuses bad list filters, names and tokens', async () => {
    await refused(
      scheduler.send(new ListSchedulesCommand({ State: 'PAUSED' as 'ENABLED' })),
      /Value 'PAUSED' at 'state'.*enum value set/,
    );
    await refused(scheduler.send(new ListSchedulesCommand({ NamePrefix: 'a b' })), at('namePrefix'));
    await refused(scheduler.send(new ListSchedulesCommand({ GroupName: 'a/b' })), at('groupName'));
    await refused(scheduler.send(new ListScheduleGroupsCommand({ NamePrefix: 'a*' })), at('namePrefix'));
    await refused(
      scheduler.send(new ListScheduleGroupsCommand({ NextToken: 'bm9wZQ' })),
      'Invalid NextToken',
    );
    await refused(scheduler.send(new GetScheduleCommand({ Name: 'a b' })), at('name'));
    await refused(scheduler.send(new GetScheduleCommand({ Name: 'ok', GroupName: 'a b' })), at('groupName'));
    await refused(scheduler.send(new DeleteScheduleCommand({ Name: 'x'.repeat(65) })), at('name'));
    await refused(scheduler.send(new GetScheduleGroupCommand({ Name: 'a b' })), at('name'));
    await refused(scheduler.send(new DeleteScheduleGroupCommand({ Name: 'a b' })), at('name'));
    await refused(scheduler.send(new CreateScheduleGroupCommand({ Name: 'a b' })), at('name'));
  });
});

describe('schedule group tags', () => {
  const arn = (name: string) => `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule-group/${name}`;
  const tagsOf = async (name: string) =>
    (await scheduler.send(new ListTagsForResourceCommand({ ResourceArn: arn(name) }))).Tags;

  it('keeps the tags of CreateScheduleGroup, and TagResource/UntagResource change them', async () => {
    const created = await scheduler.send(
      new CreateScheduleGroupCommand({
        Name: 'tagged',
        Tags: [
          { Key: 'team', Value: 'payments' },
          { Key: 'env', Value: 'dev' },
        ],
      }),
    );
    expect(created.ScheduleGroupArn).toBe(arn('tagged'));
    expect(await tagsOf('tagged')).toEqual([
      { Key: 'team', Value: 'payments' },
      { Key: 'env', Value: 'dev' },
    ]);
    await scheduler.send(
      new TagResourceCommand({
        ResourceArn: arn('tagged'),
        Tags: [
          { Key: 'env', Value: 'prod' },
          { Key: 'cost-centre', Value: '42' },
        ],
      }),
    );
    expect(await tagsOf('tagged')).toEqual([
      { Key: 'team', Value: 'payments' },
      { Key: 'env', Value: 'prod' },
      { Key: 'cost-centre', Value: '42' },
    ]);
    await scheduler.send(
      new UntagResourceCommand({ ResourceArn: arn('tagged'), TagKeys: ['team', 'cost-centre', 'absent'] }),
    );
    expect(await tagsOf('tagged')).toEqual([{ Key: 'env', Value: 'prod' }]);
    // Tags are not part of the group's description.
    const group = await scheduler.send(new GetScheduleGroupCommand({ Name: 'tagged' }));
    expect(Object.keys(group).sort()).toEqual(
      ['$metadata', 'Arn', 'CreationDate', 'LastModificationDate', 'Name', 'State'].sort(),
    );
    // A group without tags lists none; a group made again after deletion starts without any.
    expect(await tagsOf('default')).toEqual([]);
    await scheduler.send(new DeleteScheduleGroupCommand({ Name: 'tagged' }));
    await expect(tagsOf('tagged')).rejects.toBeInstanceOf(ResourceNotFoundException);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: 'tagged' }));
    expect(await tagsOf('tagged')).toEqual([]);
    await scheduler.send(new DeleteScheduleGroupCommand({ Name: 'tagged' }));
  });

  it('refuses what the model does not allow, and groups that do not exist', async () => {
    await refused(
      scheduler.send(new CreateScheduleGroupCommand({ Name: 'bad-tags', Tags: [{ Key: '', Value: 'v' }] })),
      /Value '' at 'tags\.1\.member\.key'.*greater than or equal to 1/,
    );
    await refused(
      scheduler.send(
        new CreateScheduleGroupCommand({ Name: 'bad-tags', Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }),
      ),
      at('tags.1.member.value'),
    );
    await refused(
      scheduler.send(new CreateScheduleGroupCommand({ Name: 'bad-tags', Tags: [{ Key: 'k' } as never] })),
      /Value null at 'tags\.1\.member\.value'/,
    );
    await refused(
      scheduler.send(
        new CreateScheduleGroupCommand({
          Name: 'bad-tags',
          Tags: Array.from({ length: 201 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
        }),
      ),
      /at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200/,
    );
    await expect(scheduler.send(new GetScheduleGroupCommand({ Name: 'bad-tags' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    // Only schedule groups carry tags: a schedule's ARN is no TagResourceArn.
    await refused(
      scheduler.send(
        new ListTagsForResourceCommand({
          ResourceArn: `arn:aws:scheduler:us-east-1:${ACCOUNT}:schedule/default/s`,
        }),
      ),
      at('resourceArn'),
    );
    await refused(
      scheduler.send(new TagResourceCommand({ ResourceArn: arn('default'), Tags: undefined as never })),
      /Value null at 'tags'/,
    );
    await refused(
      scheduler.send(new UntagResourceCommand({ ResourceArn: arn('default'), TagKeys: undefined as never })),
      /Value null at 'tagKeys'/,
    );
    await refused(
      scheduler.send(
        new TagResourceCommand({ ResourceArn: arn('default'), Tags: [{ Key: 'k'.repeat(129), Value: 'v' }] }),
      ),
      at('tags.1.member.key'),
    );
    for (const command of [
      new ListTagsForResourceCommand({ ResourceArn: arn('nowhere') }),
      new TagResourceCommand({ ResourceArn: arn('nowhere'), Tags: [{ Key: 'k', Value: 'v' }] }),
      new UntagResourceCommand({ ResourceArn: arn('nowhere'), TagKeys: ['k'] }),
      // Another account's group is not one of these.
      new ListTagsForResourceCommand({
        ResourceArn: 'arn:aws:scheduler:us-east-1:111111111111:schedule-group/default',
      }),
    ]) {
      await expect(scheduler.send(command as never)).rejects.toBeInstanceOf(ResourceNotFoundException);
    }
  });

  it('makes a group once per ClientToken', async () => {
    const first = await scheduler.send(
      new CreateScheduleGroupCommand({ Name: 'once', ClientToken: 'tok-1' }),
    );
    const again = await scheduler.send(
      new CreateScheduleGroupCommand({ Name: 'once', ClientToken: 'tok-1' }),
    );
    expect(again.ScheduleGroupArn).toBe(first.ScheduleGroupArn);
    await expect(
      scheduler.send(new CreateScheduleGroupCommand({ Name: 'once', ClientToken: 'tok-2' })),
    ).rejects.toThrow(/already exists/);
    await scheduler.send(new DeleteScheduleGroupCommand({ Name: 'once' }));
  });
});

describe('ListScheduleGroups', () => {
  it('pages by NextToken and MaxResults, in name order, filtered by NamePrefix', async () => {
    const names = ['pg-e', 'pg-a', 'pg-d', 'pg-b', 'pg-c'];
    for (const Name of names) await scheduler.send(new CreateScheduleGroupCommand({ Name }));
    try {
      const pages: string[][] = [];
      let NextToken: string | undefined;
      do {
        const page = await scheduler.send(
          new ListScheduleGroupsCommand({ NamePrefix: 'pg-', MaxResults: 2, NextToken }),
        );
        pages.push(page.ScheduleGroups!.map((g) => g.Name!));
        expect(page.ScheduleGroups!.every((g) => g.State === 'ACTIVE' && g.Arn?.endsWith(`/${g.Name}`))).toBe(
          true,
        );
        NextToken = page.NextToken;
      } while (NextToken);
      expect(pages).toEqual([['pg-a', 'pg-b'], ['pg-c', 'pg-d'], ['pg-e']]);

      // A full last page has no NextToken; no MaxResults gives them all (the default group too).
      const exact = await scheduler.send(new ListScheduleGroupsCommand({ NamePrefix: 'pg-', MaxResults: 5 }));
      expect(exact.NextToken).toBeUndefined();
      const all = await scheduler.send(new ListScheduleGroupsCommand({}));
      expect(all.ScheduleGroups!.map((g) => g.Name)).toEqual(expect.arrayContaining(['default', ...names]));
      expect(all.NextToken).toBeUndefined();

      // A group made between pages, after the last one returned, still shows; one before it does not repeat.
      const first = await scheduler.send(new ListScheduleGroupsCommand({ NamePrefix: 'pg-', MaxResults: 2 }));
      await scheduler.send(new CreateScheduleGroupCommand({ Name: 'pg-aa' }));
      await scheduler.send(new CreateScheduleGroupCommand({ Name: 'pg-f' }));
      const rest: string[] = [];
      for await (const page of paginateListScheduleGroups(
        { client: scheduler, pageSize: 2 },
        { NamePrefix: 'pg-', NextToken: first.NextToken },
      ))
        rest.push(...page.ScheduleGroups!.map((g) => g.Name!));
      expect([...first.ScheduleGroups!.map((g) => g.Name), ...rest]).toEqual([
        'pg-a',
        'pg-b',
        'pg-c',
        'pg-d',
        'pg-e',
        'pg-f',
      ]);
    } finally {
      for (const Name of [...names, 'pg-aa', 'pg-f'])
        await scheduler.send(new DeleteScheduleGroupCommand({ Name })).catch(() => undefined);
    }
  });
});
