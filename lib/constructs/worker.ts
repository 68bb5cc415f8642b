/**
 * The worker: fed by every priority queue, it runs each firing's target and records the
 * run; it may call exactly the AWS targets the operator allowed, and start, find and stop
 * the long ones (ECS tasks, Step Functions executions) that the completion function ends.
 */
import { Duration } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFn } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { QUEUES, WORKER_TIMEOUT_SECONDS } from '../definitions.js';
import { type Capacity, DEFAULT_CAPACITY, type Stage, type TenantLimits } from '../stage.js';
import { type Data, QUEUE_URL_KEYS } from './data.js';
import { SundialFunction } from './function.js';
import { StackPart } from './part.js';
import { workerLongRunStatements, workerSyncTargetStatements } from './targets.js';

export interface WorkerProps {
  stage: Stage;
  data: Data;
  runRetentionDays: number;
  /**
   * Lambda, SQS, EventBridge, ECS and Step Functions ARN patterns jobs may target: the worker
   * is granted exactly these (lib/constructs/targets.ts).
   */
  allowedTargetArns: readonly string[];
  /** IAM roles the worker may pass to ECS with RunTask (task and execution roles); none by default. */
  ecsPassRoleArns: readonly string[];
  /** The API's base URL: long HTTP targets call back to `<it>/v1/callbacks/<token>`. */
  callbackBaseUrl: string;
  allowedHttpHosts: readonly string[];
  tenantLimits: TenantLimits;
  /** X-Ray active tracing; default true. */
  tracing?: boolean;
  /** Queue concurrency and reserved concurrency. */
  capacity: Pick<Capacity, 'queueConcurrency' | 'workerReservedConcurrency'>;
}

export class Worker extends StackPart {
  readonly handler: SundialFunction;
  readonly function: LambdaFn;

  constructor(scope: Construct, id: string, props: WorkerProps) {
    super(scope, id);
    const { data } = props;
    this.handler = new SundialFunction(this, 'Worker', {
      entry: 'functions/worker.ts',
      description: 'Sundial worker: runs firings and records their runs',
      timeout: Duration.seconds(WORKER_TIMEOUT_SECONDS),
      stage: props.stage,
      // Untraced unless asked for (`-c workerTracing=true`): see lib/stage.ts.
      tracing: props.tracing ?? false,
      ...(props.capacity.workerReservedConcurrency === undefined
        ? {}
        : { reservedConcurrency: props.capacity.workerReservedConcurrency }),
    });
    const { queueConcurrency } = props.capacity;
    // Only what differs from the defaults: fair share's default follows each queue's concurrency.
    const changed = Object.fromEntries(
      QUEUES.filter(
        (q) => queueConcurrency[q.priority] !== DEFAULT_CAPACITY.queueConcurrency[q.priority],
      ).map((q) => [q.priority, queueConcurrency[q.priority]]),
    );
    if (Object.keys(changed).length > 0) this.handler.setEnv('queueConcurrency', JSON.stringify(changed));
    this.function = this.handler.function;
    this.handler
      // Query: the dependents of a job whose run succeeded.
      .bindTable('jobsTable', data.jobs, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem')
      .bind('allowedTargetArns', JSON.stringify(props.allowedTargetArns), (fn) =>
        grantTargets(fn, props.allowedTargetArns, props.ecsPassRoleArns),
      )
      // Opens secret headers and signing secrets; makes a tenant's first signing secret.
      .bindKey('secretsKey', data.secretsKey, 'kms:Encrypt', 'kms:Decrypt')
      .bind(
        'runsTable',
        data.runs.tableName,
        data.grantRuns('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'),
      )
      .bind('failureTopic', data.failureTopic.topicArn, (fn) => data.failureTopic.grantPublish(fn))
      .setEnv('protectedArns', data.protectedArnsJson())
      .setEnv('allowedHttpHosts', props.allowedHttpHosts.join(','))
      .setEnv('runRetentionDays', String(props.runRetentionDays))
      .setEnv('callbackBaseUrl', props.callbackBaseUrl)
      .setEnvWhereRead(props.tenantLimits);
    // Retries go back on the job's priority queue.
    for (const def of QUEUES)
      this.handler.bindQueue(QUEUE_URL_KEYS[def.priority], data.queues[def.priority].queue);
    for (const def of QUEUES) {
      this.function.addEventSource(
        new SqsEventSource(data.queues[def.priority].queue, {
          batchSize: def.batchSize,
          reportBatchItemFailures: true,
          maxConcurrency: queueConcurrency[def.priority],
        }),
      );
    }
  }
}

/** The worker may call exactly the AWS targets the configuration allows, and nothing else. */
function grantTargets(worker: IGrantable, arns: readonly string[], passRoles: readonly string[]): void {
  for (const statement of [...workerSyncTargetStatements(arns), ...workerLongRunStatements(arns, passRoles)])
    worker.grantPrincipal.addToPrincipalPolicy(statement);
}
