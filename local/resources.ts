/** Creates the local tables and queues from the same definitions the CDK stack uses. */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type StreamSpecification,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  type Priority,
  QUEUES,
  type QueueDefinition,
  type RunExpiry,
  type TableDefinition,
  tablesFor,
} from '../lib/definitions.js';

export function localTableName(table: TableDefinition): string {
  return `sundial-local-${table.id.toLowerCase()}`;
}

/**
 * Every local table has a stream with both images, as a global table's replicas must (global tables
 * version 2019.11.21 need NEW_AND_OLD_IMAGES): local/replicator.ts reads it to copy the table
 * to another local region, standing in for global tables.
 */
export const LOCAL_STREAM: StreamSpecification = {
  StreamEnabled: true,
  StreamViewType: 'NEW_AND_OLD_IMAGES',
};

export function tableInput(table: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, string>();
  const keys = [
    table.partitionKey,
    table.sortKey,
    ...table.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey]),
  ];
  for (const key of keys) if (key) attributes.set(key.name, key.type);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: LOCAL_STREAM,
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType: AttributeType as 'S' | 'N',
    })),
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: table.sortKey.name, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes:
      table.globalSecondaryIndexes.length === 0
        ? undefined
        : table.globalSecondaryIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: [
              { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
              ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }] : []),
            ],
            Projection:
              index.nonKeyAttributes && index.nonKeyAttributes.length > 0
                ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: index.nonKeyAttributes }
                : { ProjectionType: 'KEYS_ONLY' as const },
          })),
  };
}

/**
 * The tables, each made unless there already (kept data, or a table two local regions share).
 * `runExpiry` shapes the runs table (no TTL and the expiry index under `sweep`); `runsIn` makes
 * the runs table in another DynamoDB Local (the strongly consistent runs table of two regions).
 */
export async function createTables(
  client: DynamoDBClient,
  options: { runExpiry?: RunExpiry; runsIn?: DynamoDBClient } = {},
): Promise<Record<TableDefinition['id'], string>> {
  const names = {} as Record<TableDefinition['id'], string>;
  for (const table of tablesFor(options.runExpiry ?? 'ttl')) {
    const home = table.id === 'Runs' && options.runsIn ? options.runsIn : client;
    names[table.id] = await createTable(home, table);
  }
  return names;
}

async function createTable(client: DynamoDBClient, table: TableDefinition): Promise<string> {
  const name = localTableName(table);
  try {
    await client.send(new CreateTableCommand(tableInput(table, name)));
  } catch (error) {
    // Kept data (-dbPath) already has the tables, perhaps made before they had a stream.
    if ((error as Error).name !== 'ResourceInUseException') throw error;
    await ensureStream(client, name);
  }
  if (table.timeToLiveAttribute) {
    await client
      .send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: table.timeToLiveAttribute, Enabled: true },
        }),
      )
      .catch((error: Error) => {
        if (!/already enabled/i.test(error.message)) throw error;
      });
  }
  return name;
}

async function ensureStream(client: DynamoDBClient, tableName: string): Promise<void> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const stream = Table?.StreamSpecification;
  if (stream?.StreamEnabled && stream.StreamViewType === LOCAL_STREAM.StreamViewType) return;
  if (stream?.StreamEnabled) {
    // A stream's view type cannot be changed in place: turn it off, then on with both images.
    await client.send(
      new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: false } }),
    );
  }
  await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: LOCAL_STREAM }));
}

/** The ARN of the table's current stream (DescribeTable's LatestStreamArn). */
export async function latestStreamArn(client: DynamoDBClient, tableName: string): Promise<string> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (!Table?.StreamSpecification?.StreamEnabled || !Table.LatestStreamArn) {
    throw new Error(`table ${tableName} has no stream`);
  }
  return Table.LatestStreamArn;
}

export interface LocalQueue {
  definition: QueueDefinition;
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

async function queueArn(client: SQSClient, url: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`queue ${url} has no ARN`);
  return Attributes.QueueArn;
}

export async function createQueues(client: SQSClient): Promise<Record<Priority, LocalQueue>> {
  const out = {} as Record<Priority, LocalQueue>;
  for (const definition of QUEUES) {
    const dlq = await client.send(
      new CreateQueueCommand({
        QueueName: `sundial-${definition.dlqName}`,
        Attributes: { MessageRetentionPeriod: String(definition.dlqRetentionSeconds) },
      }),
    );
    const dlqUrl = dlq.QueueUrl!;
    const dlqArn = await queueArn(client, dlqUrl);
    const main = await client.send(
      new CreateQueueCommand({
        QueueName: `sundial-${definition.name}`,
        Attributes: {
          VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: definition.maxReceiveCount,
          }),
        },
      }),
    );
    const url = main.QueueUrl!;
    out[definition.priority] = { definition, url, arn: await queueArn(client, url), dlqUrl, dlqArn };
  }
  return out;
}
