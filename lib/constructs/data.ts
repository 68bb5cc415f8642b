/**
 * Sundial's state: the jobs and runs tables and the priority queues with their DLQs (from
 * lib/definitions.ts, as the local runtime builds them), the dead-letter queue of the
 * completion function's events, the key that seals secrets at rest, and the topic told of
 * every final run failure.
 */
import { ArnFormat, CfnOutput, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  type AttributeType,
  BillingMode,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { AnyPrincipal, Effect, type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Alias, Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type Priority, QUEUES, TABLES, type TableDefinition } from '../definitions.js';
import type { EnvKey } from '../environment.js';
import type { Stage } from '../stage.js';
import { functionNamePrefix, type Grant } from './function.js';
import { StackPart } from './part.js';

/** The variable holding each priority queue's URL. */
export const QUEUE_URL_KEYS: Record<Priority, EnvKey> = {
  high: 'queueUrlHigh',
  default: 'queueUrlDefault',
  low: 'queueUrlLow',
};

export interface DataProps {
  stage: Stage;
  removalPolicy: RemovalPolicy;
}

export class Data extends StackPart {
  readonly tables: Record<TableDefinition['id'], Table>;
  readonly jobs: Table;
  readonly runs: Table;
  readonly queues: Record<Priority, { queue: Queue; dlq: Queue }>;
  /**
   * Where the completion function's events go when they cannot be delivered or handled: the
   * dead-letter queue of its EventBridge rules and the on-failure destination of its
   * asynchronous invocations. Nothing reads it; it raises an alarm (the sweep polls every
   * long run anyway, so a lost event delays a run's end, and the alarm says why).
   */
  readonly completionDlq: Queue;
  /** Seals tenants' signing secrets, secret target headers and the firing-signing key. */
  readonly secretsKey: Key;
  readonly failureTopic: Topic;
  private readonly stage: Stage;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { stage, removalPolicy } = props;
    this.stage = stage;

    this.tables = {} as Record<TableDefinition['id'], Table>;
    for (const def of TABLES) {
      const table = new Table(this, `${def.id}Table`, {
        partitionKey: { name: def.partitionKey.name, type: def.partitionKey.type as AttributeType },
        sortKey: { name: def.sortKey.name, type: def.sortKey.type as AttributeType },
        billingMode: BillingMode.PAY_PER_REQUEST,
        // AWS-owned keys cost nothing and need no key policy; a customer key is a later option.
        encryption: TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        deletionProtection: stage === 'prod',
        removalPolicy,
      });
      for (const index of def.globalSecondaryIndexes) {
        const nonKey = index.nonKeyAttributes ?? [];
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: { name: index.partitionKey.name, type: index.partitionKey.type as AttributeType },
          ...(index.sortKey
            ? { sortKey: { name: index.sortKey.name, type: index.sortKey.type as AttributeType } }
            : {}),
          ...(nonKey.length > 0
            ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: nonKey }
            : { projectionType: ProjectionType.KEYS_ONLY }),
        });
      }
      this.tables[def.id] = table;
    }
    this.jobs = this.tables.Jobs;
    this.runs = this.tables.Runs;

    this.queues = {} as Record<Priority, { queue: Queue; dlq: Queue }>;
    for (const def of QUEUES) {
      const dlq = new Queue(this, `${pascal(def.dlqName)}Queue`, {
        retentionPeriod: Duration.seconds(def.dlqRetentionSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        removalPolicy,
      });
      const queue = new Queue(this, `${pascal(def.name)}Queue`, {
        visibilityTimeout: Duration.seconds(def.visibilityTimeoutSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: dlq, maxReceiveCount: def.maxReceiveCount },
        removalPolicy,
      });
      this.queues[def.priority] = { queue, dlq };
    }

    this.completionDlq = new Queue(this, 'CompletionDlqQueue', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });

    this.secretsKey = new Key(this, 'SecretsKey', {
      description: `Sundial ${stage}: seals signing secrets and secret target headers`,
      enableKeyRotation: true,
      removalPolicy,
    });

    this.failureTopic = new Topic(this, 'FailureTopic', {
      displayName: `Sundial ${stage}: runs that finally failed`,
      // The AWS-managed SNS key: encrypted at rest with no key policy to keep.
      masterKey: Alias.fromAliasName(this, 'AwsManagedSnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });

    new CfnOutput(this, 'JobsTableName', {
      value: this.jobs.tableName,
      description: 'For npm run create-key: the first admin key of a tenant',
    });
    new CfnOutput(this, 'FailureTopicArn', {
      value: this.failureTopic.topicArn,
      description: 'Every final run failure; subscribe e-mail, chat or a queue',
    });
    new CfnOutput(this, 'CompletionDlqQueueUrl', {
      value: this.completionDlq.queueUrl,
      description: 'Completion events that could not be delivered or handled (alarmed)',
    });
    for (const def of QUEUES) {
      new CfnOutput(this, `${pascal(def.name)}QueueUrl`, { value: this.queues[def.priority].queue.queueUrl });
      new CfnOutput(this, `${pascal(def.dlqName)}QueueUrl`, {
        value: this.queues[def.priority].dlq.queueUrl,
      });
    }
  }

  /** The main queues, by priority. */
  mainQueues(): Queue[] {
    return QUEUES.map((q) => this.queues[q.priority].queue);
  }

  /**
   * The given actions on the runs table itself, not on its indexes (Table.grant would add
   * `index/*` for every action once the table has one): only the completion sweep reads an
   * index, and it is granted that one index alone (grantRunsIndex).
   */
  grantRuns(...actions: string[]): Grant {
    return (fn: IFunction) =>
      fn.addToRolePolicy(new PolicyStatement({ actions, resources: [this.runs.tableArn] }));
  }

  /** The given actions on one index of the runs table. */
  grantRunsIndex(indexName: string, ...actions: string[]): Grant {
    return (fn: IFunction) =>
      fn.addToRolePolicy(
        new PolicyStatement({ actions, resources: [`${this.runs.tableArn}/index/${indexName}`] }),
      );
  }

  /** JSON map priority -> main queue ARN (QUEUE_ARNS). */
  queueArnsJson(): string {
    return Stack.of(this).toJsonString(
      Object.fromEntries(QUEUES.map((q) => [q.priority, this.queues[q.priority].queue.queueArn])),
    );
  }

  /** JSON map priority -> dead-letter queue ARN (DEAD_LETTER_QUEUE_ARNS). */
  deadLetterQueueArnsJson(): string {
    return Stack.of(this).toJsonString(
      Object.fromEntries(QUEUES.map((q) => [q.priority, this.queues[q.priority].dlq.queueArn])),
    );
  }

  /**
   * JSON array of Sundial's own resources, never a target whatever an allowlist says
   * (invariant 9): the queues, their DLQs and the completion DLQ, the tables, the topic. The
   * functions by their name pattern (see functionNamePrefix): an exact ARN of each would put
   * a function's own ARN in its environment, a circular dependency.
   */
  protectedArnsJson(): string {
    const stack = Stack.of(this);
    return stack.toJsonString([
      ...QUEUES.flatMap((q) => [
        this.queues[q.priority].queue.queueArn,
        this.queues[q.priority].dlq.queueArn,
      ]),
      this.completionDlq.queueArn,
      ...TABLES.flatMap((def) => [this.tables[def.id].tableArn, `${this.tables[def.id].tableArn}/*`]),
      this.failureTopic.topicArn,
      stack.formatArn({
        service: 'lambda',
        resource: 'function',
        resourceName: `${functionNamePrefix(this.stage)}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ]);
  }

  /**
   * Who may put a message on the queues (invariant 8). A firing Sundial did not send never
   * runs: each main queue takes SendMessage only from `senders` (the Scheduler role for
   * schedules, the api for run now, the worker and the completion function for retries and
   * dependents), whatever another principal's IAM policy says. aws:PrincipalArn is the role
   * ARN for the assumed-role sessions they send as. An operator's console "start DLQ redrive"
   * needs the operator's own sqs:SendMessage on the queue, so it is refused too: redrive
   * through the API.
   * A DLQ takes SendMessage only from `dlqSenders`. SQS moving a message into a DLQ after
   * maxReceiveCount (redrive) is the service's own move, not a SendMessage by a principal,
   * so this deny leaves it working.
   */
  allowSendersOnly(senders: IRole[], dlqSenders: IRole[]): void {
    const denySendExcept = (queue: Queue, roles: IRole[]) =>
      queue.addToResourcePolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          principals: [new AnyPrincipal()],
          actions: ['sqs:SendMessage'],
          resources: [queue.queueArn],
          conditions: { ArnNotEquals: { 'aws:PrincipalArn': roles.map((r) => r.roleArn) } },
        }),
      );
    for (const def of QUEUES) {
      const { queue, dlq } = this.queues[def.priority];
      denySendExcept(queue, senders);
      denySendExcept(dlq, dlqSenders);
    }
  }
}

function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}
