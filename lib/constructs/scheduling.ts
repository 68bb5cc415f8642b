/**
 * EventBridge Scheduler: the group every job's schedule lives in, so Sundial never touches
 * other schedules, and the role the Scheduler assumes to send a firing to a queue.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import type { Construct } from 'constructs';
import type { Stage } from '../stage.js';
import type { Data } from './data.js';
import type { SundialFunction } from './function.js';
import { StackPart } from './part.js';

export interface SchedulingProps {
  stage: Stage;
  data: Data;
}

export class Scheduling extends StackPart {
  readonly group: CfnScheduleGroup;
  readonly groupName: string;
  readonly role: Role;
  private readonly queueArnsJson: string;

  constructor(scope: Construct, id: string, props: SchedulingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.group = new CfnScheduleGroup(this, 'ScheduleGroup', { name: `sundial-${props.stage}` });
    this.groupName = this.group.name!;
    this.role = new Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to deliver Sundial firings to its queues',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: props.data.mainQueues().map((q) => q.queueArn),
      }),
    );
    this.queueArnsJson = props.data.queueArnsJson();
    new CfnOutput(this, 'ScheduleGroupName', { value: this.groupName });
  }

  /** Sundial's schedules: one per job, named by job id, all in its own group. */
  scheduleArns(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.groupName}/*`,
    });
  }

  /**
   * Lets a function manage Sundial's schedules: the group and the actions on its
   * schedules, the role it passes to the Scheduler, the queues the schedules send to.
   */
  bindSchedules(fn: SundialFunction): void {
    fn.bind('scheduleGroup', this.groupName, (grantee) =>
      grantee.addToRolePolicy(
        new PolicyStatement({
          actions: [
            'scheduler:CreateSchedule',
            'scheduler:UpdateSchedule',
            'scheduler:DeleteSchedule',
            'scheduler:GetSchedule',
          ],
          resources: [this.scheduleArns()],
        }),
      ),
    )
      .bind('schedulerRole', this.role.roleArn, (grantee) =>
        grantee.addToRolePolicy(
          new PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [this.role.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
          }),
        ),
      )
      .bind('queueArns', this.queueArnsJson);
  }
}
