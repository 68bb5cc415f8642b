/**
 * Lambda's DynamoDB-stream event source mapping, locally: reads a table's stream from
 * DynamoDB Local and hands the records, in order, to a handler as the stream event Lambda
 * would deliver. With ReportBatchItemFailures semantics: a record the handler reports failed
 * is delivered again, with everything after it, at the next poll; nothing is skipped.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { latestStreamArn } from './resources.js';

interface Shard {
  id: string;
  iterator: string | undefined;
}

export interface TableStreamPoller {
  /** Delivers everything the stream holds now; returns how many records the handler took. */
  poll(): Promise<number>;
  stop(): void;
}

export async function startTableStreamPoller(options: {
  db: DynamoDBClient;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  tableName: string;
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  batchSize?: number;
}): Promise<TableStreamPoller> {
  const arn = await latestStreamArn(options.db, options.tableName);
  const streams = new DynamoDBStreamsClient({
    endpoint: options.endpoint,
    region: options.region,
    credentials: options.credentials,
  });
  const shards = new Map<string, Shard>();
  // Records taken from the stream and not yet accepted by the handler (a reported failure).
  let pending: StreamRecord[] = [];
  let stopped = false;

  const discover = async (type: 'LATEST' | 'TRIM_HORIZON') => {
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
    for (const shard of StreamDescription?.Shards ?? []) {
      const id = shard.ShardId!;
      if (shards.has(id)) continue;
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({ StreamArn: arn, ShardId: id, ShardIteratorType: type }),
      );
      shards.set(id, { id, iterator: ShardIterator });
    }
  };
  // What happened before the poller started is not its to deliver (the mapping starts now).
  await discover('LATEST');

  const read = async (): Promise<StreamRecord[]> => {
    // Shards opened since: read from their start.
    await discover('TRIM_HORIZON');
    const records: StreamRecord[] = [];
    for (const shard of shards.values()) {
      while (shard.iterator) {
        const page = await streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator }));
        shard.iterator = page.NextShardIterator;
        records.push(...(page.Records ?? []));
        if (!page.Records?.length) break;
      }
    }
    return records;
  };

  return {
    async poll() {
      if (stopped) return 0;
      pending.push(...(await read()));
      let delivered = 0;
      const size = options.batchSize ?? 100;
      while (pending.length > 0 && !stopped) {
        const batch = pending.slice(0, size);
        const { batchItemFailures } = await options.handler({
          Records: batch as unknown as DynamoDBStreamEvent['Records'],
        });
        const failed = batchItemFailures[0]?.itemIdentifier;
        const at = failed === undefined ? -1 : batch.findIndex((r) => r.dynamodb?.SequenceNumber === failed);
        if (at >= 0) {
          delivered += at;
          pending = pending.slice(at);
          break;
        }
        delivered += batch.length;
        pending = pending.slice(batch.length);
      }
      return delivered;
    },
    stop() {
      stopped = true;
      streams.destroy();
    },
  };
}
