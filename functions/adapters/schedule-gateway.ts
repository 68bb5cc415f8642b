/**
 * The one EventBridge Scheduler schedule of each job. The schedule is derived from the job
 * (invariant 1): `apply` makes it match the job whatever state it was in, `remove` makes
 * it gone (as does applying a job that has no schedule); both are idempotent, so the sync loop and the sweeper can repeat them freely.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import type { Priority } from '../../lib/definitions.js';
import type { Job } from '../domain/job.js';
import type { FiringSigner } from './firing-signer.js';

export interface ScheduleGateway {
  apply(job: Job): Promise<void>;
  remove(jobId: string): Promise<void>;
}

export function scheduleName(jobId: string): string {
  return jobId;
}

/** A schedule's Input: the firing message, signed (invariant 8); Scheduler fills in the time. */
export async function scheduleInput(
  job: Pick<Job, 'tenantId' | 'id'>,
  signer: FiringSigner,
): Promise<string> {
  const signed = await signer.sign({ v: 1, tenantId: job.tenantId, jobId: job.id, trigger: 'schedule' });
  return JSON.stringify({ ...signed, scheduledTime: '<aws.scheduler.scheduled-time>' });
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
    private readonly client: SchedulerClient,
    private readonly options: SchedulerGatewayOptions,
  ) {}

  async toScheduleInput(
    job: Job & { schedule: NonNullable<Job['schedule']> },
  ): Promise<CreateScheduleCommandInput> {
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

  async apply(job: Job): Promise<void> {
    // A job without a schedule (on demand, or dependencies only) has no EventBridge schedule.
    if (!job.schedule) return this.remove(job.id);
    const input = await this.toScheduleInput({ ...job, schedule: job.schedule });
    const create = () => this.client.send(new CreateScheduleCommand(input));
    const update = () => this.client.send(new UpdateScheduleCommand(input));
    // A new job almost never has a schedule yet, so try the likely call first and fall
    // back: both orders converge on the same schedule.
    try {
      await (job.version === 1 ? create() : update());
    } catch (error) {
      if (error instanceof ConflictException) await update();
      else if (error instanceof ResourceNotFoundException) {
        try {
          await create();
        } catch (createError) {
          if (!(createError instanceof ConflictException)) throw createError;
          await update();
        }
      } else throw error;
    }
  }

  async remove(jobId: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteScheduleCommand({ Name: scheduleName(jobId), GroupName: this.options.groupName }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}
