/**
 * The completion function: it ends long runs. ECS tasks and Step Functions executions that
 * Sundial started report their end as EventBridge state-change events (a rule each, only when
 * such a target is allowed), and a sweep every minute reads the runs waiting on a deadline, a
 * heartbeat or a poll (the runs table's byWatch index) for the events that come late or never.
 * Under RUN_EXPIRY=sweep (a strongly consistent runs table, which has no TTL) the sweep also
 * deletes the expired records it finds through the byExpiry index.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { Function as LambdaFn } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { Construct } from 'constructs';
import {
  ATTEMPT_KEY_PREFIX,
  COMPLETION_SWEEP_MINUTES,
  COMPLETION_TIMEOUT_SECONDS,
  EXPIRY_INDEX,
  QUEUES,
  RUNS_TABLE,
} from '../definitions.js';
import type { Stage, TenantLimits } from '../stage.js';
import { type Data, QUEUE_URL_KEYS } from './data.js';
import { SundialFunction } from './function.js';
import { StackPart } from './part.js';
import { completionLongRunStatements, targetsOf } from './targets.js';

export interface CompletionProps {
  stage: Stage;
  data: Data;
  runRetentionDays: number;
  /** The allowed target ARN patterns: which clusters' and state machines' events to take, and poll. */
  allowedTargetArns: readonly string[];
  allowedHttpHosts: readonly string[];
  tenantLimits: TenantLimits;
  /** The API's base URL; a callback URL is `<it>/v1/callbacks/<token>`. */
  callbackBaseUrl: string;
}

/** The sparse index of the runs the sweep watches (lib/definitions.ts). */
const WATCH_INDEX = 'byWatch';

/** How a rule retries a delivery to the function before it gives the event to the DLQ. */
const EVENT_DELIVERY = { retryAttempts: 8, maxEventAge: Duration.hours(2) };
/** A sweep missed is made good by the next one: retried briefly, then dead-lettered (and alarmed). */
const SWEEP_DELIVERY = { retryAttempts: 2, maxEventAge: Duration.minutes(5) };

export class Completion extends StackPart {
  readonly handler: SundialFunction;
  readonly function: LambdaFn;
  readonly sweepRule: Rule;
  /** Only when an ECS cluster is allowed. */
  readonly ecsRule?: Rule;
  /** Only when a state machine is allowed. */
  readonly stepFunctionsRule?: Rule;

  constructor(scope: Construct, id: string, props: CompletionProps) {
    super(scope, id);
    const { data } = props;
    if (!RUNS_TABLE.globalSecondaryIndexes.some((i) => i.indexName === WATCH_INDEX)) {
      throw new Error(
        `the completion sweep reads the runs table's ${WATCH_INDEX} index, which lib/definitions.ts no longer defines`,
      );
    }
    this.handler = new SundialFunction(this, 'Completion', {
      entry: 'functions/completion.ts',
      description: 'Sundial completion: ends long runs (ECS tasks, Step Functions executions, callbacks)',
      timeout: Duration.seconds(COMPLETION_TIMEOUT_SECONDS),
      stage: props.stage,
    });
    this.function = this.handler.function;
    this.handler
      // GetItem: a run's job; Query: the dependents of a job whose run succeeded; UpdateItem:
      // the success records dependents wait on (and the signing key's first seal).
      .bindTable('jobsTable', data.jobs, 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem')
      // PutItem: a retry's attempt; Query on the watch index only (the sweep).
      .bind(
        'runsTable',
        data.runs.tableName,
        data.grantRuns('dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'),
        data.grantRunsIndex(WATCH_INDEX, 'dynamodb:Query'),
      )
      // Describes and stops the allowed tasks and executions; it never starts one.
      .bind('allowedTargetArns', JSON.stringify(props.allowedTargetArns), (fn) => {
        for (const statement of completionLongRunStatements(props.allowedTargetArns))
          fn.addToRolePolicy(statement);
      })
      // Signs the firing messages of retries and dependents: seals or opens the signing key.
      .bindKey('secretsKey', data.secretsKey, 'kms:Encrypt', 'kms:Decrypt')
      .bind('failureTopic', data.failureTopic.topicArn, (fn) => data.failureTopic.grantPublish(fn))
      .setEnv('protectedArns', data.protectedArnsJson())
      .setEnv('allowedHttpHosts', props.allowedHttpHosts.join(','))
      .setEnv('runRetentionDays', String(props.runRetentionDays))
      .setEnv('callbackBaseUrl', props.callbackBaseUrl)
      .setEnvWhereRead(props.tenantLimits);
    // RUN_EXPIRY=sweep (set by the stack where it is read): the sweep Queries the expiry index
    // and deletes each expired record from this region's table, conditionally on its expiry.
    if (data.runExpiry === 'sweep') {
      data.grantRuns('dynamodb:DeleteItem')(this.function);
      data.grantRunsIndex(EXPIRY_INDEX.indexName, 'dynamodb:Query')(this.function);
    }
    // Retries and dependents go back on the job's priority queue.
    for (const def of QUEUES)
      this.handler.bindQueue(QUEUE_URL_KEYS[def.priority], data.queues[def.priority].queue);

    // EventBridge invokes asynchronously: an event Lambda accepted but the function failed on
    // (after Lambda's own retries) goes to the same DLQ as one the rule could not deliver.
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsDestination(data.completionDlq),
    });
    const target = (delivery: typeof EVENT_DELIVERY) =>
      new LambdaFunction(this.function, { ...delivery, deadLetterQueue: data.completionDlq });

    const clusters = targetsOf(props.allowedTargetArns, 'ecsCluster');
    if (clusters.length > 0) {
      this.ecsRule = new Rule(this, 'CompletionEcsRule', {
        description: 'Sundial: ECS tasks Sundial started have stopped',
        eventPattern: {
          source: ['aws.ecs'],
          detailType: ['ECS Task State Change'],
          detail: {
            lastStatus: ['STOPPED'],
            // startedBy is the attempt key: Sundial's own tasks only.
            startedBy: [{ prefix: ATTEMPT_KEY_PREFIX }],
            clusterArn: arnMatchers(clusters),
          },
        },
        targets: [target(EVENT_DELIVERY)],
      });
    }
    const stateMachines = targetsOf(props.allowedTargetArns, 'stateMachine');
    if (stateMachines.length > 0) {
      this.stepFunctionsRule = new Rule(this, 'CompletionStepFunctionsRule', {
        description: 'Sundial: Step Functions executions Sundial started have ended',
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: {
            status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
            // The execution is named after the attempt key: Sundial's own executions only.
            name: [{ prefix: ATTEMPT_KEY_PREFIX }],
            stateMachineArn: arnMatchers(stateMachines),
          },
        },
        targets: [target(EVENT_DELIVERY)],
      });
    }
    this.sweepRule = new Rule(this, 'CompletionSweepRule', {
      description: 'Runs the Sundial completion sweep (deadlines, heartbeats, polls)',
      schedule: Schedule.rate(Duration.minutes(COMPLETION_SWEEP_MINUTES)),
      targets: [target(SWEEP_DELIVERY)],
    });
  }
}

/**
 * An event-pattern value matching any of the allowed ARNs: an exact string, or EventBridge's
 * wildcard filter for a pattern with `*` (the same meaning as in IAM, where allowedTargetArns
 * patterns come from).
 */
function arnMatchers(arns: readonly string[]): (string | { wildcard: string })[] {
  return arns.map((arn) => (arn.includes('*') ? { wildcard: arn } : arn));
}
