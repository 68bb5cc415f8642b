/**
 * The one EventBridge Scheduler schedule of each job. The schedule is derived from the job
 * (invariant 1): `apply` makes it match the job whatever state it was in, `remove` makes
 * it gone (as does applying a job that has no schedule); both are idempotent, so the sync loop and the sweeper can repeat them freely.
 */
import type { CreateScheduleCommandInput, SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Priority } from '../../lib/definitions.js';
import type { Lazy } from '../commons/lazy.js';
import { firing } from '../domain/firing.js';
import type { StoredJob } from '../domain/job.js';
import type { FiringSigner, ListedSchedule, ScheduleGateway, ScheduleView } from '../domain/ports.js';

type Scheduled = StoredJob & { schedule: NonNullable<StoredJob['schedule']> };
/** The SDK's error of that name (ConflictException, ResourceNotFoundException). */
const isError = (error: unknown, name: string) => error instanceof Error && error.name === name;
const iso = (d: Date | undefined) => (d ? new Date(d).toISOString() : null);

export function scheduleName(jobId: string): string {
  return jobId;
}

/**
 * A schedule's Input: the firing message, signed (invariant 8); Scheduler fills in the time.
 * It names the job's version, so every change to the job rewrites it.
 */
export async function scheduleInput(
  job: Pick<StoredJob, 'tenantId' | 'id' | 'version'>,
  signer: FiringSigner,
): Promise<string> {
  return JSON.stringify(await signer.sign(firing.scheduleTemplate(job)));
}

export interface SchedulerGatewayOptions {
  groupName: string;
  roleArn: string;
  queueArns: Record<Priority, string>;
  /** Signs each schedule's input. */
  signer: FiringSigner;
}

export class EventBridgeScheduleGateway implements ScheduleGateway {
  constructor(
    private readonly client: Lazy<SchedulerClient>,
    private readonly options: SchedulerGatewayOptions,
  ) {}

  /** The client and the SDK's commands, loaded together: an API cold start that only reads needs neither. */
  private async sdk() {
    const [client, commands] = await Promise.all([this.client(), import('@aws-sdk/client-scheduler')]);
    return { client, ...commands };
  }

  async toScheduleInput(job: Scheduled): Promise<CreateScheduleCommandInput> {
    const { schedule } = job;
    return {
      Name: scheduleName(job.id),
      GroupName: this.options.groupName,
      Description: `Sundial job ${job.id} (tenant ${job.tenantId})`.slice(0, 512),
      ScheduleExpression: schedule.expression,
      ScheduleExpressionTimezone: schedule.timezone,
      StartDate: schedule.startAt ? new Date(schedule.startAt) : undefined,
      EndDate: schedule.endAt ? new Date(schedule.endAt) : undefined,
      FlexibleTimeWindow:
        schedule.flexibleWindowMinutes > 0
          ? { Mode: 'FLEXIBLE', MaximumWindowInMinutes: schedule.flexibleWindowMinutes }
          : { Mode: 'OFF' },
      State: job.state === 'enabled' ? 'ENABLED' : 'DISABLED',
      // Keep one-time schedules after they fire: the job row still exists, and a schedule
      // vanishing on its own would look like drift to the reconciler.
      ActionAfterCompletion: 'NONE',
      Target: {
        Arn: this.options.queueArns[job.priority],
        RoleArn: this.options.roleArn,
        Input: await scheduleInput(job, this.options.signer),
        RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      },
    };
  }

  async desired(job: Scheduled): Promise<ScheduleView> {
    const input = await this.toScheduleInput(job);
    return {
      name: input.Name!,
      expression: input.ScheduleExpression!,
      timezone: input.ScheduleExpressionTimezone ?? 'UTC',
      enabled: input.State === 'ENABLED',
      startAt: iso(input.StartDate),
      endAt: iso(input.EndDate),
      flexibleWindowMinutes: input.FlexibleTimeWindow?.MaximumWindowInMinutes ?? 0,
      targetArn: input.Target!.Arn!,
      roleArn: input.Target!.RoleArn!,
      input: input.Target!.Input ?? '',
    };
  }

  async list(nextToken?: string): Promise<{ schedules: ListedSchedule[]; nextToken?: string }> {
    const { client, ListSchedulesCommand } = await this.sdk();
    const page = await client.send(
      new ListSchedulesCommand({ GroupName: this.options.groupName, MaxResults: 100, NextToken: nextToken }),
    );
    const schedules: ListedSchedule[] = [];
    for (const s of page.Schedules ?? []) {
      if (!s.Name) continue;
      schedules.push({
        name: s.Name,
        enabled: s.State === 'ENABLED',
        targetArn: s.Target?.Arn,
        modifiedAt: iso(s.LastModificationDate) ?? undefined,
      });
    }
    return page.NextToken ? { schedules, nextToken: page.NextToken } : { schedules };
  }

  async get(name: string): Promise<ScheduleView | undefined> {
    const { client, GetScheduleCommand } = await this.sdk();
    try {
      const got = await client.send(
        new GetScheduleCommand({ Name: name, GroupName: this.options.groupName }),
      );
      return {
        name,
        expression: got.ScheduleExpression ?? '',
        timezone: got.ScheduleExpressionTimezone ?? 'UTC',
        enabled: got.State === 'ENABLED',
        startAt: iso(got.StartDate),
        endAt: iso(got.EndDate),
        flexibleWindowMinutes:
          got.FlexibleTimeWindow?.Mode === 'FLEXIBLE'
            ? (got.FlexibleTimeWindow.MaximumWindowInMinutes ?? 0)
            : 0,
        targetArn: got.Target?.Arn ?? '',
        roleArn: got.Target?.RoleArn ?? '',
        input: got.Target?.Input ?? '',
        ...(got.LastModificationDate ? { modifiedAt: iso(got.LastModificationDate)! } : {}),
      };
    } catch (error) {
      if (isError(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  }

  async apply(job: StoredJob, hint: { exists?: boolean } = {}): Promise<void> {
    // A job without a schedule (on demand, or dependencies only) has no EventBridge schedule.
    if (!job.schedule) return this.remove(job.id);
    const input = await this.toScheduleInput({ ...job, schedule: job.schedule });
    const { client, CreateScheduleCommand, UpdateScheduleCommand } = await this.sdk();
    const create = () => client.send(new CreateScheduleCommand(input));
    const update = () => client.send(new UpdateScheduleCommand(input));
    // A new job almost never has a schedule yet, so try the likely call first and fall
    // back: both orders converge on the same schedule. A region's change of role knows its
    // schedules exist (`exists`): one UpdateSchedule each, not a refused CreateSchedule first.
    try {
      await (job.version === 1 && !hint.exists ? create() : update());
    } catch (error) {
      if (isError(error, 'ConflictException')) await update();
      else if (isError(error, 'ResourceNotFoundException')) {
        try {
          await create();
        } catch (createError) {
          if (!isError(createError, 'ConflictException')) throw createError;
          await update();
        }
      } else throw error;
    }
  }

  async remove(jobId: string): Promise<void> {
    const { client, DeleteScheduleCommand } = await this.sdk();
    try {
      await client.send(
        new DeleteScheduleCommand({ Name: scheduleName(jobId), GroupName: this.options.groupName }),
      );
    } catch (error) {
      if (!isError(error, 'ResourceNotFoundException')) throw error;
    }
  }
}
