/**
 * What keeps Sundial whole besides the request and run paths: the sync sweeper (repairs the
 * schedules a crash left behind, every minute), the reconciler (compares every job with its
 * schedule, every 15 minutes) and the dead-letter archiver (records what the queues gave up on).
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { QUEUES, RECONCILE_MINUTES, SYNC_SWEEP_MINUTES } from '../definitions.js';
import type { Stage } from '../stage.js';
import type { Data } from './data.js';
import { SundialFunction } from './function.js';
import { StackPart } from './part.js';
import type { Scheduling } from './scheduling.js';

export interface MaintenanceProps {
  stage: Stage;
  data: Data;
  scheduling: Scheduling;
  runRetentionDays: number;
}

export class Maintenance extends StackPart {
  readonly deadLetters: NodejsFunction;
  readonly sync: NodejsFunction;
  readonly reconciler: NodejsFunction;

  constructor(scope: Construct, id: string, props: MaintenanceProps) {
    super(scope, id);
    const { stage, data, scheduling } = props;

    const deadLetters = new SundialFunction(this, 'DeadLetters', {
      entry: 'functions/deadletters.ts',
      description: 'Sundial dead-letter archiver: records what the queues gave up on, per tenant',
      timeout: Duration.seconds(30),
      stage,
    });
    this.deadLetters = deadLetters.function;
    deadLetters
      .bind('runsTable', data.runs.tableName, data.grantRuns('dynamodb:GetItem', 'dynamodb:PutItem'))
      // Verifies firing signatures: reads the deployment's signing key from the jobs table and
      // opens it; it never makes one (worker, sync and reconciler create it on first use).
      .bindTable('jobsTable', data.jobs, 'dynamodb:GetItem')
      .bindKey('secretsKey', data.secretsKey, 'kms:Decrypt')
      // Which priority a dead letter came from, by its queue's ARN.
      .bind('deadLetterQueueArns', data.deadLetterQueueArnsJson(), (fn) => {
        for (const def of QUEUES) {
          fn.addEventSource(
            new SqsEventSource(data.queues[def.priority].dlq, {
              batchSize: 10,
              reportBatchItemFailures: true,
            }),
          );
        }
      })
      .setEnv('runRetentionDays', String(props.runRetentionDays));

    const sync = new SundialFunction(this, 'Sync', {
      entry: 'functions/sync.ts',
      description: 'Sundial schedule-sync sweeper: repairs schedules a crash left behind',
      timeout: Duration.seconds(60),
      stage,
    });
    this.sync = sync.function;
    sync.bindTable(
      'jobsTable',
      data.jobs,
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    scheduling.bindSchedules(sync);
    // Signs the firing messages of the schedules it writes: seals the deployment's signing
    // key on first use (a conditional UpdateItem on the jobs table) and opens it after.
    sync.bindKey('secretsKey', data.secretsKey, 'kms:Encrypt', 'kms:Decrypt');
    new Rule(this, 'SyncSweepRule', {
      description: 'Runs the Sundial schedule-sync sweeper',
      schedule: Schedule.rate(Duration.minutes(SYNC_SWEEP_MINUTES)),
      targets: [new LambdaFunction(this.sync, { retryAttempts: 2 })],
    });

    const reconciler = new SundialFunction(this, 'Reconciler', {
      entry: 'functions/reconciler.ts',
      description: 'Sundial reconciler: repairs drift between the jobs table and the schedules',
      timeout: Duration.minutes(15),
      stage,
    });
    this.reconciler = reconciler.function;
    // Scan to compare; GetItem and UpdateItem to re-read a job before repairing it and to
    // record when its schedule was last written or checked (scheduleSyncedAt).
    reconciler.bindTable('jobsTable', data.jobs, 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    scheduling.bindSchedules(reconciler);
    // Signs firing messages like the sync sweeper: seals or opens the deployment's signing key.
    reconciler.bindKey('secretsKey', data.secretsKey, 'kms:Encrypt', 'kms:Decrypt');
    this.reconciler.addToRolePolicy(
      new PolicyStatement({
        // ListSchedules has no resource-level permission: it is authorised on "*" only.
        actions: ['scheduler:ListSchedules'],
        resources: ['*'],
      }),
    );
    new Rule(this, 'ReconcileRule', {
      description: 'Runs the Sundial reconciler',
      schedule: Schedule.rate(Duration.minutes(RECONCILE_MINUTES)),
      targets: [new LambdaFunction(this.reconciler, { retryAttempts: 0 })],
    });
  }
}
