/**
 * Sundial's state: the jobs and runs tables and the priority queues with their DLQs (from
 * lib/definitions.ts, as the local runtime builds them), the dead-letter queues of the
 * completion function's events and of the jobs stream, the key that seals secrets at rest,
 * and the topic told of every final run failure.
 *
 * In two regions (issue 16, lib/constructs/dr.ts) the home stack's tables are DynamoDB global
 * tables with a replica in the standby region and its key a multi-Region key; the standby
 * stack uses the replicas (by name) and a replica of the key. With `-c tableConsistency=strong`
 * the runs table has multi-Region strong consistency, no TTL and the byExpiry index (its
 * records deleted by the completion sweep, RUN_EXPIRY=sweep), in both stacks' view of it.
 */
import { ArnFormat, CfnOutput, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  type AttributeType,
  Billing,
  BillingMode,
  type CfnGlobalTable,
  type GlobalSecondaryIndexProps,
  type GlobalSecondaryIndexPropsV2,
  type ITable,
  type ITableV2,
  MultiRegionConsistency,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
  TableEncryptionV2,
  TableV2,
} from 'aws-cdk-lib/aws-dynamodb';
import {
  AccountRootPrincipal,
  AnyPrincipal,
  Effect,
  type IRole,
  PolicyDocument,
  PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import { Alias, CfnReplicaKey, type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import {
  type IndexDefinition,
  type Priority,
  QUEUES,
  RUNS_TABLE,
  type RunExpiry,
  TABLES,
  type TableDefinition,
  tablesFor,
} from '../definitions.js';
import type { EnvKey } from '../environment.js';
import type { Stage } from '../stage.js';
import {
  type DrSettings,
  drTableName,
  peerRegion,
  publishForStandby,
  readFromHome,
  replicaStreamArn,
  runExpiryOf,
} from './dr.js';
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
  /** Two regions: which stack this is, and the regions. One region when not given. */
  dr?: DrSettings;
}

/** The table whose stream feeds the sync function (in every deployment, one region or two). */
const STREAMED_TABLE: TableDefinition['id'] = 'Jobs';

export class Data extends StackPart {
  /**
   * The tables as this region's functions use them: grants name this region's table (and its
   * indexes) only, never a replica in another region.
   */
  readonly tables: Record<TableDefinition['id'], ITable>;
  readonly jobs: ITable;
  readonly runs: ITable;
  /** Home stack of two regions: the global tables themselves, replicas included. */
  readonly globalTables?: Record<TableDefinition['id'], TableV2>;
  /**
   * This region's jobs table stream, as the sync function's event source reads it: its
   * grants name the stream alone (an imported TableV2, so ListStreams is not granted on "*").
   */
  readonly jobsStream: ITableV2;
  /**
   * Stream batches the sync function failed on until they were 24 hours old (the stream's
   * retention): the event source mapping's on-failure destination, which records where in the
   * stream they were, not the records. Nothing reads it; it raises an alarm.
   */
  readonly syncDlq: Queue;
  readonly queues: Record<Priority, { queue: Queue; dlq: Queue }>;
  /**
   * Where the completion function's events go when they cannot be delivered or handled: the
   * dead-letter queue of its EventBridge rules and the on-failure destination of its
   * asynchronous invocations. Nothing reads it; it raises an alarm (the sweep polls every
   * long run anyway, so a lost event delays a run's end, and the alarm says why).
   */
  readonly completionDlq: Queue;
  /**
   * Seals tenants' signing secrets, secret target headers and the firing-signing key. In two
   * regions the home stack's is a multi-Region primary key and the standby's its replica.
   */
  readonly secretsKey: IKey;
  readonly failureTopic: Topic;
  /**
   * How old runs leave the runs table: `ttl`, or `sweep` for a strongly consistent runs table
   * (no TTL; the completion sweep deletes them through the byExpiry index).
   */
  readonly runExpiry: RunExpiry;
  /** The tables as this deployment builds them (lib/definitions.ts tablesFor the run expiry). */
  readonly tableDefinitions: readonly TableDefinition[];
  private readonly stage: Stage;
  private readonly dr: DrSettings | undefined;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { stage, removalPolicy, dr } = props;
    this.stage = stage;
    this.dr = dr;
    this.runExpiry = runExpiryOf(dr);
    this.tableDefinitions = tablesFor(this.runExpiry);

    const tables = !dr
      ? this.regionalTables(stage, removalPolicy)
      : dr.role === 'home'
        ? this.globalTablesOf(stage, removalPolicy, dr)
        : this.replicaTables(stage);
    this.tables = tables.tables;
    this.jobs = this.tables.Jobs;
    this.runs = this.tables.Runs;
    if (tables.global) this.globalTables = tables.global;
    this.jobsStream = TableV2.fromTableAttributes(this, 'JobsStream', {
      tableArn: this.jobs.tableArn,
      tableStreamArn: tables.jobsStreamArn,
    });
    this.syncDlq = new Queue(this, 'SyncDlqQueue', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy,
    });

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

    this.secretsKey = this.secretsKeyOf(stage, removalPolicy, dr);

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
    new CfnOutput(this, 'SyncDlqQueueUrl', {
      value: this.syncDlq.queueUrl,
      description: 'Jobs-stream batches the sync function failed on for 24 hours (alarmed)',
    });
    for (const def of QUEUES) {
      new CfnOutput(this, `${pascal(def.name)}QueueUrl`, { value: this.queues[def.priority].queue.queueUrl });
      new CfnOutput(this, `${pascal(def.dlqName)}QueueUrl`, {
        value: this.queues[def.priority].dlq.queueUrl,
      });
    }
  }

  /** One region: a table per definition; the jobs table's stream feeds the sync function. */
  private regionalTables(stage: Stage, removalPolicy: RemovalPolicy): TableSet {
    const tables = {} as Record<TableDefinition['id'], Table>;
    for (const def of this.tableDefinitions) {
      const table = new Table(this, `${def.id}Table`, {
        partitionKey: { name: def.partitionKey.name, type: def.partitionKey.type as AttributeType },
        sortKey: { name: def.sortKey.name, type: def.sortKey.type as AttributeType },
        billingMode: BillingMode.PAY_PER_REQUEST,
        // AWS-owned keys cost nothing and need no key policy; a customer key is a later option.
        encryption: TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        // Adding a stream to a table updates it in place (no replacement, no interruption:
        // AWS CloudFormation Template Reference, AWS::DynamoDB::Table StreamSpecification).
        ...(def.id === STREAMED_TABLE ? { stream: StreamViewType.NEW_AND_OLD_IMAGES } : {}),
        deletionProtection: stage === 'prod',
        removalPolicy,
      });
      for (const index of def.globalSecondaryIndexes) table.addGlobalSecondaryIndex(indexProps(index));
      tables[def.id] = table;
    }
    return { tables, jobsStreamArn: tables[STREAMED_TABLE].tableStreamArn! };
  }

  /**
   * Two regions, the home stack: each table a DynamoDB global table (AWS::DynamoDB::GlobalTable)
   * with a replica in the standby region. Every replica has PITR and (prod) deletion
   * protection, as the table has; the eventually consistent tables' streams carry new and old
   * images in both regions (the standby's sync function reads its own jobs stream).
   *
   * Strong consistency (lib/constructs/dr.ts runExpiryOf): the runs table alone is an MRSC
   * global table, with a witness or a third replica in the third Region of its Region set, no
   * TTL and the byExpiry index (runsTableFor('sweep')), and no stream: nothing in Sundial reads
   * the runs table's stream (the sync function reads the jobs table's). MRSC tables support no TTL,
   * no LSIs and no transactions, and span exactly three Regions (Amazon DynamoDB Developer
   * Guide, "How DynamoDB global tables work",
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html).
   * The jobs table stays eventually consistent, with TTL and its stream. The consistency mode
   * of a global table is fixed when it is created: an eventually consistent deployment does
   * not become a strong one by deploying this.
   *
   * An existing one-region deployment is not converted by deploying this: its tables are
   * AWS::DynamoDB::Table resources, and AWS warns that changing a resource's type to
   * AWS::DynamoDB::GlobalTable "might result in the deletion of your DynamoDB table" (AWS
   * CloudFormation Template Reference, AWS::DynamoDB::GlobalTable,
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-globaltable.html).
   * AWS's way is to set the table's DeletionPolicy to Retain, remove it from the stack, add the
   * replica outside CloudFormation (console or UpdateTable), then import the global table into
   * the stack as a new AWS::DynamoDB::GlobalTable resource (Amazon DynamoDB Developer Guide,
   * "Best practices for global tables", Using AWS CloudFormation,
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/globaltables-bestpractices.html);
   * these tables have fixed names besides (the standby finds its replicas by name), so moving
   * an existing deployment's data is a migration of its own (see the README).
   */
  private globalTablesOf(stage: Stage, removalPolicy: RemovalPolicy, dr: DrSettings): TableSet {
    const strong = dr.consistency === 'strong';
    const global = {} as Record<TableDefinition['id'], TableV2>;
    for (const def of this.tableDefinitions) {
      // Strong consistency for the runs table only, where a run's claim must hold across
      // regions; the job store's transactions keep the jobs table eventually consistent.
      const mrsc = strong && def.id === RUNS_TABLE.id;
      const table = new TableV2(this, `${def.id}Table`, {
        tableName: drTableName(stage, def.id),
        partitionKey: { name: def.partitionKey.name, type: def.partitionKey.type as AttributeType },
        sortKey: { name: def.sortKey.name, type: def.sortKey.type as AttributeType },
        billing: Billing.onDemand(),
        // The AWS managed key, as the one-region tables have; each replica its region's.
        encryption: TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(def.timeToLiveAttribute ? { timeToLiveAttribute: def.timeToLiveAttribute } : {}),
        ...(mrsc ? {} : { dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES }),
        deletionProtection: stage === 'prod',
        removalPolicy,
        globalSecondaryIndexes: def.globalSecondaryIndexes.map(indexProps),
        replicas: [
          { region: dr.standbyRegion },
          ...(mrsc && dr.thirdReplicaRegion ? [{ region: dr.thirdReplicaRegion }] : []),
        ],
        ...(mrsc
          ? {
              multiRegionConsistency: MultiRegionConsistency.STRONG,
              ...(dr.witnessRegion ? { witnessRegion: dr.witnessRegion } : {}),
            }
          : {}),
      });
      // TableV2 gives every table with replicas a stream, which only MREC needs: "For
      // Multi-Region Strong Consistency (MRSC), Streams are not required" (AWS CloudFormation
      // Template Reference, AWS::DynamoDB::GlobalTable StreamSpecification,
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-globaltable-streamspecification.html).
      if (mrsc)
        (table.node.defaultChild as CfnGlobalTable).addPropertyDeletionOverride('StreamSpecification');
      global[def.id] = table;
    }
    const tables = {} as Record<TableDefinition['id'], ITable>;
    for (const def of this.tableDefinitions) tables[def.id] = this.inRegion(def, global[def.id].tableName);
    return { tables, global, jobsStreamArn: global[STREAMED_TABLE].tableStreamArn! };
  }

  /**
   * Two regions, the standby stack: the home stack's replicas in this region, by their fixed
   * names (defined as the home stack defines them, indexes included), and this replica's own
   * stream (its ARN read from DynamoDB: it is not predictable).
   */
  private replicaTables(stage: Stage): TableSet {
    const tables = {} as Record<TableDefinition['id'], ITable>;
    for (const def of this.tableDefinitions) tables[def.id] = this.inRegion(def, drTableName(stage, def.id));
    const jobsStreamArn = replicaStreamArn(this, 'JobsReplicaStream', drTableName(stage, STREAMED_TABLE));
    return { tables, jobsStreamArn };
  }

  /**
   * A replicated table as this region's functions see it: its ARN in this region and its
   * indexes, so that a grant never reaches the replica in the other region (a TableV2's own
   * grants name every replica).
   */
  private inRegion(def: TableDefinition, tableName: string): ITable {
    return Table.fromTableAttributes(this, `${def.id}TableInRegion`, {
      tableName,
      globalIndexes: def.globalSecondaryIndexes.map((i) => i.indexName),
    });
  }

  /**
   * The key that seals secrets. Two regions: a multi-Region primary key in the home stack and
   * its replica (AWS::KMS::ReplicaKey) in the standby's, "the same key ID and key material",
   * so that a secret sealed in either region opens in the other without a cross-Region call:
   * the sealed secrets live in the replicated jobs table (AWS KMS Developer Guide, "Multi-Region
   * keys in AWS KMS", https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-overview.html,
   * and "How multi-Region keys work", https://docs.aws.amazon.com/kms/latest/developerguide/mrk-how-it-works.html).
   * Whether a key is multi-Region is fixed when it is created: "You cannot convert a
   * single-Region key to multi-Region key" (AWS KMS Developer Guide, "Creating multi-Region
   * keys", https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-create.html;
   * CloudFormation's AWS::KMS::Key reference says an update of MultiRegion on an existing key
   * fails rather than replacing it). So a one-region deployment turned into two regions needs
   * a new key and its secrets sealed again.
   */
  private secretsKeyOf(stage: Stage, removalPolicy: RemovalPolicy, dr: DrSettings | undefined): IKey {
    const description = `Sundial ${stage}: seals signing secrets and secret target headers`;
    if (dr?.role !== 'standby') {
      const key = new Key(this, 'SecretsKey', {
        description,
        enableKeyRotation: true,
        ...(dr ? { multiRegion: true } : {}),
        removalPolicy,
      });
      if (dr)
        publishForStandby(
          this,
          stage,
          'secretsKeyArn',
          key.keyArn,
          'the secrets key (multi-Region primary) to replicate',
        );
      return key;
    }
    // Rotation is the primary's: a replica shares its key material and rotation status.
    const replica = new CfnReplicaKey(this, 'SecretsKey', {
      primaryKeyArn: readFromHome(this, dr, stage, 'secretsKeyArn'),
      description: `${description} (replica of the home region's key)`,
      enabled: true,
      // As CDK's default key policy: the account's IAM policies decide (each function is
      // granted its own actions on this key).
      keyPolicy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            actions: ['kms:*'],
            principals: [new AccountRootPrincipal()],
            resources: ['*'],
          }),
        ],
      }),
    });
    replica.applyRemovalPolicy(removalPolicy);
    return Key.fromKeyArn(this, 'SecretsReplicaKey', replica.attrArn);
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
      this.syncDlq.queueArn,
      ...TABLES.flatMap((def) => [this.tables[def.id].tableArn, `${this.tables[def.id].tableArn}/*`]),
      this.failureTopic.topicArn,
      stack.formatArn({
        service: 'lambda',
        resource: 'function',
        resourceName: `${functionNamePrefix(this.stage)}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
      // Two regions: the peer's functions and table replicas, whose names are the same there.
      // (Its queues' names are not predictable; their policies refuse any sender but the
      // peer's own, invariant 8.)
      ...(this.dr ? this.peerProtectedArns(this.dr) : []),
    ]);
  }

  private peerProtectedArns(dr: DrSettings): string[] {
    const stack = Stack.of(this);
    const region = peerRegion(dr);
    return [
      ...TABLES.flatMap((def) => {
        const arn = stack.formatArn({
          service: 'dynamodb',
          region,
          resource: 'table',
          resourceName: drTableName(this.stage, def.id),
        });
        return [arn, `${arn}/*`];
      }),
      stack.formatArn({
        service: 'lambda',
        region,
        resource: 'function',
        resourceName: `${functionNamePrefix(this.stage)}*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
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

/** The tables of one stack, and the jobs table's stream ARN in this region. */
interface TableSet {
  tables: Record<TableDefinition['id'], ITable>;
  global?: Record<TableDefinition['id'], TableV2>;
  jobsStreamArn: string;
}

/** A global secondary index as lib/definitions.ts defines it (sparse: keys only, or a few attributes). */
function indexProps(index: IndexDefinition): GlobalSecondaryIndexProps & GlobalSecondaryIndexPropsV2 {
  const nonKey = index.nonKeyAttributes ?? [];
  return {
    indexName: index.indexName,
    partitionKey: { name: index.partitionKey.name, type: index.partitionKey.type as AttributeType },
    ...(index.sortKey
      ? { sortKey: { name: index.sortKey.name, type: index.sortKey.type as AttributeType } }
      : {}),
    ...(nonKey.length > 0
      ? { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: nonKey }
      : { projectionType: ProjectionType.KEYS_ONLY }),
  };
}
