/**
 * What keeps Sundial whole besides the request and run paths: the sync function (every minute
 * it repairs the schedules a crash left behind and writes this region's heartbeat; fed by the
 * jobs table's stream, it keeps a passive region's schedules in step and acts on a change of
 * the active region), the reconciler (compares every job with its schedule, every 15 minutes)
 * and the dead-letter archiver (records what the queues gave up on).
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  FilterCriteria,
  FilterRule,
  type Function as LambdaFn,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { QUEUES, RECONCILE_MINUTES, SYNC_SWEEP_MINUTES } from '../definitions.js';
import type { Stage } from '../stage.js';
import { type Data, QUEUE_URL_KEYS } from './data.js';
import { SundialFunction } from './function.js';
import { StackPart } from './part.js';
import type { Scheduling } from './scheduling.js';

export interface MaintenanceProps {
  stage: Stage;
  data: Data;
  scheduling: Scheduling;
  runRetentionDays: number;
}

/**
 * The sync function's time limit. A takeover enables every job's schedule within the
 * Scheduler's UpdateSchedule quota (100,000 jobs at a few hundred a second: a few minutes),
 * then catches each job up; a batch that fails or times out is retried by the stream's event
 * source, and a takeover carries on where it stopped (it is idempotent).
 */
export const SYNC_TIMEOUT = Duration.minutes(15);
/** Jobs-stream records per invocation. */
export const SYNC_STREAM_BATCH_SIZE = 100;
/**
 * How old a stream record may get while its batch keeps failing before it goes to the sync
 * DLQ: the stream's own retention, 24 hours (Amazon DynamoDB Developer Guide, "Change data
 * capture for DynamoDB Streams": stream records are kept for 24 hours), so none is dropped
 * sooner than the stream itself would drop it.
 */
export const SYNC_STREAM_MAX_RECORD_AGE = Duration.hours(24);

export class Maintenance extends StackPart {
  readonly deadLetters: LambdaFn;
  readonly sync: LambdaFn;
  readonly reconciler: LambdaFn;
  /** Every function of this part, to set what they all read (DR_REGIONS). */
  readonly handlers: SundialFunction[];

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
      description:
        'Sundial schedule-sync sweeper and jobs-stream consumer: repairs schedules a crash left behind, keeps a passive region in step, takes over or stands down',
      timeout: SYNC_TIMEOUT,
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
    // A takeover catches each job up: it reads the job's recent runs (Query on the table, no
    // index), records the missed ones (a conditional PutItem) and drives runs left behind again.
    sync
      .bind(
        'runsTable',
        data.runs.tableName,
        data.grantRuns('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'),
      )
      .setEnv('runRetentionDays', String(props.runRetentionDays));
    // ...and sends the catch-up firings to the job's priority queue.
    for (const def of QUEUES) sync.bindQueue(QUEUE_URL_KEYS[def.priority], data.queues[def.priority].queue);
    // A stand-down disables every schedule of the group, listed (no resource-level permission).
    this.sync.addToRolePolicy(
      new PolicyStatement({ actions: ['scheduler:ListSchedules'], resources: ['*'] }),
    );
    new Rule(this, 'SyncSweepRule', {
      description: 'Runs the Sundial schedule-sync sweeper',
      schedule: Schedule.rate(Duration.minutes(SYNC_SWEEP_MINUTES)),
      targets: [new LambdaFunction(this.sync, { retryAttempts: 2 })],
    });
    // The jobs table's stream, in every deployment (one region behaves as two do): the records
    // of one shard in order (one batch at a time), a failing batch split to find the record
    // it fails on and retried until the stream would drop it, then its position to the DLQ.
    this.sync.addEventSource(
      new DynamoEventSource(data.jobsStream, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: SYNC_STREAM_BATCH_SIZE,
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        retryAttempts: -1,
        maxRecordAge: SYNC_STREAM_MAX_RECORD_AGE,
        parallelizationFactor: 1,
        onFailure: new SqsDlq(data.syncDlq),
        // Only jobs and the active-region item: the rate-limit counters, idempotency records
        // and keys written to the same table on every API request invoke nothing (filtered
        // records are not billed as invocations).
        filters: [
          FilterCriteria.filter({ dynamodb: { Keys: { sk: { S: FilterRule.beginsWith('JOB#') } } } }),
          FilterCriteria.filter({
            dynamodb: {
              Keys: { pk: { S: FilterRule.isEqual('REGION') }, sk: { S: FilterRule.isEqual('ACTIVE') } },
            },
          }),
        ],
      }),
    );

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
    this.handlers = [deadLetters, sync, reconciler];
  }
}
